//! The machine: cores, the scheduler that interleaves them, and the plumbing that delivers
//! exceptions to the host.
//!
//! **Rule `scheduler`:** [`Machine::run`] repeatedly picks a runnable core (running, not
//! parked) uniformly at random and runs it for a random quantum of `1..=max_quantum`
//! instructions, both drawn from a SplitMix64 sequence seeded by
//! [`MachineConfig::seed`]: the same seed and the same host give the same interleaving.
//! Cores only interleave at instruction boundaries (every instruction is atomic; the data
//! side is sequentially consistent, so `DMB` and acquire/release add nothing).

use crate::arch::{Arch, CallSetup};
use crate::checker::CrossModification;
use crate::config::{ConfigError, MachineConfig};
use crate::host::{Host, Resume};
use crate::maintenance::{BarrierKind, DcOp};
use crate::memory::{PAGE_SIZE, Pa, PhysError};
use crate::mmu::{MapError, MemFault, Perms, Pte, SpaceId};
use crate::sched::Rng;
use crate::system::{CoreId, CoreStatus, CoreUarch, System};

/// Why [`Machine::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunExit {
    /// The predicate became true.
    Predicate,
    /// A host hook returned [`Resume::Stop`] (or called [`Machine::request_stop`]).
    Stopped,
    /// No core is runnable (all halted or parked).
    Idle,
    /// The step budget ran out.
    StepLimit,
}

/// Why a nested [`Machine::call`] did not return normally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("the called function did not return within {0} steps")]
    StepLimit(u64),
    #[error("the host halted the core during the call")]
    Halted,
    #[error("the host stopped the machine during the call")]
    Stopped,
    #[error("a call takes at most {max} arguments, not {given}")]
    TooManyArguments { given: usize, max: usize },
}

/// A multi-core machine of ISA `A`.
pub struct Machine<A: Arch> {
    pub(crate) sys: System,
    pub(crate) cores: Vec<A::State>,
    rng: Rng,
    config: MachineConfig,
    stop: bool,
}

impl<A: Arch> Machine<A> {
    /// Builds a machine; all cores start halted, with no user address space.
    pub fn new(config: MachineConfig) -> Result<Machine<A>, ConfigError> {
        config.validate()?;
        let sys = System::new(&config, A::concurrent_modification_safe, A::LAYOUT);
        let cores = (0..config.cores).map(|c| A::reset(c, &config)).collect();
        Ok(Machine {
            sys,
            cores,
            rng: Rng::new(config.seed),
            config,
            stop: false,
        })
    }

    /// The configuration the machine was built with.
    pub fn config(&self) -> &MachineConfig {
        &self.config
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.cores.len()
    }

    /// The architectural state of `core`.
    pub fn core(&self, core: CoreId) -> &A::State {
        &self.cores[core]
    }

    /// The architectural state of `core`, to change.
    pub fn core_mut(&mut self, core: CoreId) -> &mut A::State {
        &mut self.cores[core]
    }

    /// The micro-architectural state of `core` (caches, prefetch, counters).
    pub fn uarch(&self, core: CoreId) -> &CoreUarch {
        self.sys.cpu(core)
    }

    /// The memory system, as the ISA sees it.
    pub fn system(&mut self) -> &mut System {
        &mut self.sys
    }

    // ----- physical memory -----

    /// Allocates `len` bytes (rounded up to pages) of zeroed, physically contiguous memory.
    /// A single page may be a recycled frame (rule `recycled-frame`): zeroed on the data side,
    /// its old contents still at the PoU unless every core has `CTR_EL0.IDC`.
    pub fn alloc_phys(&mut self, len: u64) -> Pa {
        let idc = (0..self.cores()).all(|c| self.sys.cpu(c).cache_type().idc);
        self.sys
            .mem
            .alloc(len.div_ceil(PAGE_SIZE).max(1) as usize, idc)
    }

    /// Frees one page of physical memory.
    pub fn free_phys(&mut self, pa: Pa) -> Result<(), PhysError> {
        self.sys.mem.free(pa)
    }

    /// Reads physical memory (the data side).
    pub fn read_phys(&self, pa: Pa, buf: &mut [u8]) -> Result<(), PhysError> {
        for (page_pa, off, len) in split_pages(pa, buf.len()) {
            self.sys.mem.read(page_pa, &mut buf[off..off + len])?;
        }
        Ok(())
    }

    /// Writes physical memory *and* the PoU image — as if written and cleaned, with no I-cache
    /// effect. For loading programs before they run and for setting up tests; the engine under
    /// test must use [`Machine::write`].
    pub fn write_phys_clean(&mut self, pa: Pa, bytes: &[u8]) -> Result<(), PhysError> {
        for (page_pa, off, len) in split_pages(pa, bytes.len()) {
            self.sys.mem.write_clean(page_pa, &bytes[off..off + len])?;
        }
        Ok(())
    }

    // ----- address spaces -----

    /// The kernel address space (translates the ISA's kernel VAs, see [`crate::Arch::LAYOUT`], on
    /// every core).
    pub fn kernel_space(&self) -> SpaceId {
        self.sys.kernel_space
    }

    /// Creates an empty user address space.
    pub fn new_address_space(&mut self) -> SpaceId {
        self.sys.new_space()
    }

    /// Maps `[va, va + len)` to `[pa, pa + len)` in `space` (page aligned, `len` rounded up).
    pub fn map(
        &mut self,
        space: SpaceId,
        va: u64,
        pa: Pa,
        len: u64,
        perms: Perms,
    ) -> Result<(), MapError> {
        let kernel = space == self.sys.kernel_space;
        let layout = self.sys.layout;
        if layout.is_kernel(va) != kernel || !layout.is_valid(va) {
            let regime = if kernel { "kernel" } else { "user" };
            return Err(MapError::WrongRegime { va, regime });
        }
        let pages = len.div_ceil(PAGE_SIZE).max(1);
        let table = self.sys.space_mut(space).ok_or(MapError::NoSpace(space))?;
        for i in 0..pages {
            table.map_page(va + i * PAGE_SIZE, pa + i * PAGE_SIZE, perms)?;
        }
        Ok(())
    }

    /// Allocates zeroed memory and maps it; returns its physical address.
    pub fn map_new(
        &mut self,
        space: SpaceId,
        va: u64,
        len: u64,
        perms: Perms,
    ) -> Result<Pa, MapError> {
        let pa = self.alloc_phys(len);
        self.map(space, va, pa, len, perms)?;
        Ok(pa)
    }

    /// Removes the mappings of `[va, va + len)` in `space`.
    pub fn unmap(&mut self, space: SpaceId, va: u64, len: u64) -> Result<(), MapError> {
        let table = self.sys.space_mut(space).ok_or(MapError::NoSpace(space))?;
        for i in 0..len.div_ceil(PAGE_SIZE).max(1) {
            table.unmap_page(va + i * PAGE_SIZE)?;
        }
        Ok(())
    }

    /// Changes the permissions of `[va, va + len)` in `space`.
    pub fn protect(
        &mut self,
        space: SpaceId,
        va: u64,
        len: u64,
        perms: Perms,
    ) -> Result<(), MapError> {
        let table = self.sys.space_mut(space).ok_or(MapError::NoSpace(space))?;
        for i in 0..len.div_ceil(PAGE_SIZE).max(1) {
            table.protect_page(va + i * PAGE_SIZE, perms)?;
        }
        Ok(())
    }

    /// The page-table entry for `va` in `space`.
    pub fn lookup(&self, space: SpaceId, va: u64) -> Option<Pte> {
        self.sys.space(space).and_then(|s| s.lookup(va))
    }

    /// The linear-map address of a physical address: a kernel VA that reads and writes it
    /// (never executes it), on every core.
    pub fn linear_alias(&self, pa: Pa) -> u64 {
        self.sys.layout.linear_alias(pa)
    }

    /// Makes `space` the user address space (TTBR0) of `core`.
    pub fn set_user_space(&mut self, core: CoreId, space: Option<SpaceId>) {
        self.sys.set_user_space(core, space);
    }

    /// The user address space of `core`.
    pub fn user_space(&self, core: CoreId) -> Option<SpaceId> {
        self.sys.cpu(core).user_space
    }

    // ----- memory as a core (the host acting on the core it runs on) -----

    /// Reads virtual memory as `core` at EL1.
    pub fn read(&mut self, core: CoreId, va: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        self.sys.read(core, va, buf, 1)
    }

    /// Writes virtual memory as `core` at EL1: a data write, subject to the PoU model, the
    /// cross-modification checker and exclusive-monitor clearing, like a store instruction.
    pub fn write(&mut self, core: CoreId, va: u64, bytes: &[u8]) -> Result<(), MemFault> {
        self.sys.write(core, va, bytes, 1)
    }

    /// Reads a little-endian 32-bit word as `core` at EL1.
    pub fn read_u32(&mut self, core: CoreId, va: u64) -> Result<u32, MemFault> {
        let mut buf = [0; 4];
        self.read(core, va, &mut buf)?;
        Ok(u32::from_le_bytes(buf))
    }

    /// Reads a little-endian 64-bit word as `core` at EL1.
    pub fn read_u64(&mut self, core: CoreId, va: u64) -> Result<u64, MemFault> {
        let mut buf = [0; 8];
        self.read(core, va, &mut buf)?;
        Ok(u64::from_le_bytes(buf))
    }

    /// Writes a little-endian 32-bit word as `core` at EL1.
    pub fn write_u32(&mut self, core: CoreId, va: u64, value: u32) -> Result<(), MemFault> {
        self.write(core, va, &value.to_le_bytes())
    }

    /// Writes a little-endian 64-bit word as `core` at EL1.
    pub fn write_u64(&mut self, core: CoreId, va: u64, value: u64) -> Result<(), MemFault> {
        self.write(core, va, &value.to_le_bytes())
    }

    // ----- cache maintenance and barriers as a core -----

    /// `DC <op>, va` executed by `core` at EL1.
    pub fn dc(&mut self, core: CoreId, op: DcOp, va: u64) -> Result<(), MemFault> {
        self.sys.dc(core, op, va, 1)
    }

    /// `IC IVAU, va` executed by `core` at EL1.
    pub fn ic_ivau(&mut self, core: CoreId, va: u64) -> Result<(), MemFault> {
        self.sys.ic_ivau(core, va, 1)
    }

    /// `IC IALLU` executed by `core`: invalidates its own I-cache (when completed).
    pub fn ic_iallu(&mut self, core: CoreId) {
        self.sys.ic_iall(core, false);
    }

    /// `IC IALLUIS` executed by `core`: invalidates every core's I-cache (when completed).
    pub fn ic_ialluis(&mut self, core: CoreId) {
        self.sys.ic_iall(core, true);
    }

    /// `DSB` of `kind` executed by `core`.
    pub fn dsb(&mut self, core: CoreId, kind: BarrierKind) {
        self.sys.dsb(core, kind);
    }

    /// `ISB` executed by `core` (or any other context synchronization event on it).
    pub fn isb(&mut self, core: CoreId) {
        self.sys.context_synchronize(core);
    }

    // ----- cross-modification checker -----

    /// Writes the checker flagged so far.
    pub fn cross_modifications(&self) -> &[CrossModification] {
        &self.sys.checker.found
    }

    /// Flagged writes beyond [`crate::checker::MAX_RECORDED`], counted only.
    pub fn cross_modifications_dropped(&self) -> u64 {
        self.sys.checker.dropped
    }

    /// Takes the flagged writes, leaving the list empty.
    pub fn take_cross_modifications(&mut self) -> Vec<CrossModification> {
        std::mem::take(&mut self.sys.checker.found)
    }

    // ----- core control -----

    /// Marks `core` running; the caller has set its PC, stack and PSTATE.
    pub fn start(&mut self, core: CoreId) {
        self.sys.cpus[core].status = CoreStatus::Running;
        self.sys.note_pc(core, A::pc(&self.cores[core]));
    }

    /// Stops scheduling `core` until [`Machine::start`].
    pub fn halt(&mut self, core: CoreId) {
        self.sys.cpus[core].status = CoreStatus::Halted;
    }

    /// Whether `core` is running (started and not halted; it may be parked).
    pub fn is_running(&self, core: CoreId) -> bool {
        self.sys.cpus[core].status == CoreStatus::Running
    }

    /// Parks `core` at its current instruction boundary: the scheduler skips it and the
    /// checker no longer counts it as executing. Parking is *not* a context synchronization
    /// event: a host modelling `stop_machine` calls [`Machine::isb`] on each parked core
    /// where the kernel's protocol has it execute `isb()` (arm-probes.md §1.14).
    pub fn park(&mut self, core: CoreId) {
        self.sys.cpus[core].parked = true;
        self.sys.note_pc(core, A::pc(&self.cores[core]));
    }

    /// Lets a parked core run again.
    pub fn unpark(&mut self, core: CoreId) {
        self.sys.cpus[core].parked = false;
    }

    /// Parks every core but `except`; returns the cores it parked (those not already parked).
    pub fn park_others(&mut self, except: CoreId) -> Vec<CoreId> {
        let parked: Vec<CoreId> = (0..self.cores())
            .filter(|&c| c != except && !self.sys.cpus[c].parked)
            .collect();
        for &c in &parked {
            self.park(c);
        }
        parked
    }

    /// Whether `core` is parked.
    pub fn is_parked(&self, core: CoreId) -> bool {
        self.sys.cpus[core].parked
    }

    /// Steps (instructions executed or exceptions taken) of `core` so far.
    pub fn steps(&self, core: CoreId) -> u64 {
        self.sys.cpus[core].steps
    }

    /// Exceptions `core` has taken so far.
    pub fn exceptions(&self, core: CoreId) -> u64 {
        self.sys.cpus[core].exceptions
    }

    /// Asks the current [`Machine::run`] to return [`RunExit::Stopped`] after this step.
    pub fn request_stop(&mut self) {
        self.stop = true;
    }

    // ----- running -----

    fn is_runnable(&self, core: CoreId) -> bool {
        let cpu = &self.sys.cpus[core];
        cpu.status == CoreStatus::Running && !cpu.parked && cpu.in_host == 0
    }

    /// Makes an interrupt pending on `core` (an IPI): the core takes it, as an exception
    /// delivered to the host, at its next instruction boundary where interrupts are unmasked
    /// (AArch64: `PSTATE.I == 0`). A core stepping an XOL slot with interrupts masked
    /// therefore cannot be interrupted — which is why a stop-all-CPUs protocol built on IPIs
    /// never parks a core inside a kprobe step.
    pub fn raise_irq(&mut self, core: CoreId) {
        self.sys.cpus[core].irq_pending = true;
    }

    /// Executes one step of `core` (one instruction, or one exception taken and handled by
    /// `host`), whatever its scheduling state. Returns how the host resumed, if an
    /// exception was taken.
    pub fn step_core(&mut self, host: &mut impl Host<A>, core: CoreId) -> Option<Resume> {
        self.sys.cpus[core].steps += 1;
        self.sys.ticks += 1;
        let exc = A::step(&mut self.cores[core], &mut self.sys, core)?;
        Some(self.deliver(host, core, exc))
    }

    fn deliver(&mut self, host: &mut impl Host<A>, core: CoreId, exc: A::Exception) -> Resume {
        self.sys.cpus[core].exceptions += 1;
        self.sys.note_pc(core, A::pc(&self.cores[core]));
        let mut frame = A::enter_exception(&mut self.cores[core], &exc);
        self.sys.context_synchronize(core);
        self.sys.cpus[core].in_host += 1;
        let resume = host.on_exception(self, core, &exc, &mut frame);
        self.sys.cpus[core].in_host -= 1;
        // Whatever the host decided, the frame is the core's state from now on: it is
        // resumed, or kept for inspection.
        A::exception_return(&mut self.cores[core], frame);
        self.sys.context_synchronize(core);
        // Arm-probes.md §1.5: the exception return clears the exclusive monitor.
        self.sys.take_monitor(core, None);
        match resume {
            Resume::Return => {}
            Resume::Halt => self.halt(core),
            Resume::Stop => self.stop = true,
        }
        self.sys.note_pc(core, A::pc(&self.cores[core]));
        resume
    }

    /// Runs the machine for at most `max_steps` steps (rule `scheduler`). Called from inside
    /// a host handler, it runs the cores not currently in a handler: that is how a host
    /// waits for other cores (e.g. until they took an IPI and parked).
    pub fn run(&mut self, host: &mut impl Host<A>, max_steps: u64) -> RunExit {
        self.run_until(host, max_steps, |_| false)
    }

    /// Runs until `done` holds (checked before every step), a host stops the machine, no
    /// core is runnable, or `max_steps` steps have run.
    pub fn run_until(
        &mut self,
        host: &mut impl Host<A>,
        max_steps: u64,
        mut done: impl FnMut(&Machine<A>) -> bool,
    ) -> RunExit {
        self.stop = false;
        let mut steps = 0;
        let mut runnable = Vec::with_capacity(self.cores());
        loop {
            if done(self) {
                return RunExit::Predicate;
            }
            runnable.clear();
            runnable.extend((0..self.cores()).filter(|&c| self.is_runnable(c)));
            if runnable.is_empty() {
                return RunExit::Idle;
            }
            if steps >= max_steps {
                return RunExit::StepLimit;
            }
            let core = runnable[self.rng.below(runnable.len() as u64) as usize];
            let quantum = 1 + self.rng.below(u64::from(self.config.max_quantum));
            for i in 0..quantum {
                if i > 0 && done(self) {
                    self.sys.note_pc(core, A::pc(&self.cores[core]));
                    return RunExit::Predicate;
                }
                self.step_core(host, core);
                steps += 1;
                if self.stop {
                    self.sys.note_pc(core, A::pc(&self.cores[core]));
                    self.stop = false;
                    return RunExit::Stopped;
                }
                if steps >= max_steps || !self.is_runnable(core) {
                    break;
                }
            }
            self.sys.note_pc(core, A::pc(&self.cores[core]));
        }
    }

    /// Calls the simulated function `call.entry` on `core`, from the host — typically from
    /// inside [`Host::on_exception`] (a probe handler calling simulated code). Only `core`
    /// runs; its exceptions go to `host`, re-entrantly. The core's registers are restored
    /// afterwards; memory, caches and system registers keep what the function did. Returns
    /// the function's return value.
    pub fn call(
        &mut self,
        host: &mut impl Host<A>,
        core: CoreId,
        call: &CallSetup,
        max_steps: u64,
    ) -> Result<u64, CallError> {
        if call.args.len() > A::MAX_CALL_ARGS {
            return Err(CallError::TooManyArguments {
                given: call.args.len(),
                max: A::MAX_CALL_ARGS,
            });
        }
        let saved = A::save(&self.cores[core]);
        let status = self.sys.cpus[core].status;
        self.sys.cpus[core].status = CoreStatus::Running;
        A::setup_call(&mut self.cores[core], call);
        let mut steps = 0;
        let outcome = loop {
            if A::pc(&self.cores[core]) == call.return_to {
                break Ok(A::call_result(&self.cores[core]));
            }
            if steps >= max_steps {
                break Err(CallError::StepLimit(max_steps));
            }
            steps += 1;
            match self.step_core(host, core) {
                None | Some(Resume::Return) => {}
                Some(Resume::Halt) => break Err(CallError::Halted),
                Some(Resume::Stop) => break Err(CallError::Stopped),
            }
        };
        A::restore(&mut self.cores[core], saved);
        if outcome != Err(CallError::Halted) {
            self.sys.cpus[core].status = status;
        }
        self.sys.note_pc(core, A::pc(&self.cores[core]));
        outcome
    }
}

/// Splits `[pa, pa + len)` at page boundaries: `(pa, offset into the buffer, length)`.
fn split_pages(pa: Pa, len: usize) -> impl Iterator<Item = (Pa, usize, usize)> {
    let mut off = 0;
    std::iter::from_fn(move || {
        if off >= len {
            return None;
        }
        let at = pa + off as u64;
        let chunk = ((PAGE_SIZE - at % PAGE_SIZE) as usize).min(len - off);
        let item = (at, off, chunk);
        off += chunk;
        Some(item)
    })
}
