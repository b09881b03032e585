//! A small test double of a multi-CPU AArch64 machine for the engine's state machines:
//! memory per address space, a data side that holds written words until `DC CVAU` cleans
//! them to the point of unification, and per-CPU instruction caches that fetch from the PoU
//! and drop lines only on `IC IVAU` / `IC IALLUIS`. It does not execute instructions: tests
//! play the CPU, fetching words through [`Double::fetch`] and calling the engine's handlers
//! as a trapping CPU would. The simulator (`rtap-armsim`) is where real code runs.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use rtap_kmod::arch::aarch64::cpu::{Barrier, Cpu};
use rtap_kmod::platform::{
    CpuId, Platform, PlatformError, ProcessId, Space, TEXT_BLOCK_SIZE, Task, ThreadId,
};

/// Addresses at or above this are kernel addresses (TTBR1).
const KERNEL: u64 = 0xffff_0000_0000_0000;
/// Where linear-map aliases of user pages live.
const LINEAR: u64 = 0xffff_8000_0000_0000;
/// A Cortex-A72's CTR_EL0 with IminLine = DminLine = 64 bytes, PIPT I-cache.
pub const CTR_A72: u64 = 0x8444_c004;

type Key = (Space, u64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Write(Space, u64, u32),
    Stop,
    IcIalluis,
}

#[derive(Default)]
struct State {
    /// Words at the point of unification.
    pou: BTreeMap<Key, u32>,
    /// Words written but not yet cleaned.
    dirty: BTreeMap<Key, u32>,
    /// Per CPU: cached I-cache lines (space, line address) and their words.
    icache: Vec<BTreeMap<Key, [u32; 16]>>,
    /// Linear-map alias → the user page it shows.
    aliases: BTreeMap<u64, Key>,
    next_block: u64,
    events: Vec<Event>,
    claimed: BTreeSet<u32>,
}

pub struct Double {
    state: RefCell<State>,
    cpu: Cell<CpuId>,
    task: Cell<Task>,
    cpus: usize,
    ctr: u64,
}

impl Double {
    pub fn new(cpus: usize, ctr: u64) -> Self {
        let state = State {
            icache: vec![BTreeMap::new(); cpus],
            ..State::default()
        };
        Double {
            state: RefCell::new(state),
            cpu: Cell::new(0),
            task: Cell::new(Task {
                process: ProcessId(1),
                thread: ThreadId(1),
            }),
            cpus,
            ctr,
        }
    }

    /// Makes the following calls run on `cpu` as `task`.
    pub fn on(&self, cpu: CpuId, task: Task) -> &Self {
        self.cpu.set(cpu);
        self.task.set(task);
        self
    }

    /// Places words in memory (already at the PoU, as a loaded program's text is).
    pub fn load_text(&self, space: Space, addr: u64, words: &[u32]) {
        let mut state = self.state.borrow_mut();
        for (i, word) in words.iter().enumerate() {
            state.pou.insert((space, addr + 4 * i as u64), *word);
        }
    }

    /// The word `cpu` fetches at `addr` in `space`, filling its I-cache from the PoU.
    pub fn fetch(&self, cpu: CpuId, space: Space, addr: u64) -> u32 {
        let mut state = self.state.borrow_mut();
        let line = addr & !63;
        if !state.icache[cpu].contains_key(&(space, line)) {
            let words: [u32; 16] = std::array::from_fn(|i| {
                state
                    .pou
                    .get(&(space, line + 4 * i as u64))
                    .copied()
                    .unwrap_or(0)
            });
            state.icache[cpu].insert((space, line), words);
        }
        state.icache[cpu][&(space, line)][((addr - line) / 4) as usize]
    }

    pub fn events(&self) -> Vec<Event> {
        std::mem::take(&mut self.state.borrow_mut().events)
    }

    pub fn stops(&self) -> usize {
        self.state
            .borrow()
            .events
            .iter()
            .filter(|e| **e == Event::Stop)
            .count()
    }

    pub fn claimed(&self) -> BTreeSet<u32> {
        self.state.borrow().claimed.clone()
    }

    /// The (space, address) a VA of the current regime names.
    fn resolve(&self, state: &State, va: u64) -> Key {
        let page = va & !(TEXT_BLOCK_SIZE - 1);
        if let Some((space, base)) = state.aliases.get(&page) {
            return (*space, base + (va - page));
        }
        if va >= KERNEL {
            (Space::Kernel, va)
        } else {
            (Space::User(self.task.get().process), va)
        }
    }
}

impl Platform for Double {
    fn cpu(&self) -> CpuId {
        self.cpu.get()
    }
    fn cpu_count(&self) -> usize {
        self.cpus
    }
    fn task(&self) -> Task {
        self.task.get()
    }
    fn read_insn(&self, space: Space, addr: u64) -> Result<u32, PlatformError> {
        let state = self.state.borrow();
        state
            .dirty
            .get(&(space, addr))
            .or_else(|| state.pou.get(&(space, addr)))
            .copied()
            .ok_or(PlatformError::Fault(addr))
    }
    fn write_insn(&self, space: Space, addr: u64, insn: u32) -> Result<(), PlatformError> {
        let mut state = self.state.borrow_mut();
        if !state.pou.contains_key(&(space, addr)) && !state.dirty.contains_key(&(space, addr)) {
            return Err(PlatformError::Fault(addr));
        }
        state.dirty.insert((space, addr), insn);
        state.events.push(Event::Write(space, addr, insn));
        Ok(())
    }
    fn linear_alias(&self, space: Space, addr: u64) -> Result<u64, PlatformError> {
        let page = addr & !(TEXT_BLOCK_SIZE - 1);
        let mut state = self.state.borrow_mut();
        let alias = LINEAR + (state.aliases.len() as u64) * TEXT_BLOCK_SIZE;
        let alias = state
            .aliases
            .iter()
            .find(|(_, key)| **key == (space, page))
            .map_or(alias, |(a, _)| *a);
        state.aliases.insert(alias, (space, page));
        Ok(alias + (addr - page))
    }
    fn load(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), PlatformError> {
        let mut bytes = Vec::new();
        for word in (addr & !3..addr + buf.len() as u64).step_by(4) {
            bytes.extend(self.read_insn(space, word)?.to_le_bytes());
        }
        let skip = (addr & 3) as usize;
        let value = &bytes[skip..skip + buf.len()];
        // `buf` receives a native-endian integer; the double's data is little-endian.
        let mut le = value.to_vec();
        if cfg!(target_endian = "big") {
            le.reverse();
        }
        buf.copy_from_slice(&le);
        Ok(())
    }
    fn alloc_text_block(&self, space: Space) -> Result<u64, PlatformError> {
        let mut state = self.state.borrow_mut();
        state.next_block += 1;
        let base = match space {
            Space::Kernel => 0xffff_0000_4000_0000 + state.next_block * TEXT_BLOCK_SIZE,
            Space::User(_) => 0x0000_7f00_0000_0000 + state.next_block * TEXT_BLOCK_SIZE,
        };
        // Fresh pages hold garbage, as reused memory does.
        for i in 0..TEXT_BLOCK_SIZE / 4 {
            state.pou.insert((space, base + 4 * i), 0xdead_beef);
        }
        Ok(base)
    }
    fn free_text_block(&self, _space: Space, _addr: u64) {}
    fn stop_machine(&self, work: &mut dyn FnMut()) {
        self.state.borrow_mut().events.push(Event::Stop);
        work();
    }
    fn claim_breakpoints(&self, breakpoints: &[u32]) -> Result<(), PlatformError> {
        self.state.borrow_mut().claimed.extend(breakpoints);
        Ok(())
    }
    fn release_breakpoints(&self, breakpoints: &[u32]) {
        let mut state = self.state.borrow_mut();
        for word in breakpoints {
            state.claimed.remove(word);
        }
    }
}

impl Cpu for Double {
    fn ctr_el0(&self) -> u64 {
        self.ctr
    }
    fn dc_cvau(&self, va: u64) {
        let mut state = self.state.borrow_mut();
        let (space, line) = self.resolve(&state, va & !63);
        for i in 0..16 {
            let key = (space, line + 4 * i);
            if let Some(word) = state.dirty.remove(&key) {
                state.pou.insert(key, word);
            }
        }
    }
    fn ic_ivau(&self, va: u64) {
        let mut state = self.state.borrow_mut();
        let key = self.resolve(&state, va & !63);
        for cache in &mut state.icache {
            cache.remove(&key);
        }
    }
    fn ic_ialluis(&self) {
        let mut state = self.state.borrow_mut();
        state.events.push(Event::IcIalluis);
        for cache in &mut state.icache {
            cache.clear();
        }
    }
    fn dsb(&self, _barrier: Barrier) {}
    fn isb(&self) {}
    fn write_simd_reg(&self, _n: u8, _value: u128) {}
}
