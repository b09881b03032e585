//! Execute-out-of-line slots (arm-probes.md §1.7, §4.2, §4.3).
//!
//! A stepped instruction runs from a slot `{instruction, completion breakpoint}` in a text
//! block the platform allocated. Kprobes share kernel blocks ([`KernelSlots`]); each probed
//! process has its own XOL area ([`XolAreas`]) whose slot 0 is the uretprobe trampoline and
//! whose other slots threads take, one each, for the duration of one step.
//!
//! Every word written to a block is made visible to instruction fetch before anything can
//! execute it (`Arch::sync_icache`): at block creation for the whole block (Linux left this to
//! the first page fault's `set_pte_at()`, background scenario 2), and after every slot write
//! (only the D-cache cleaned is background scenario 1).

use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use crate::arch::{Arch, Breakpoint, SlotWords};
use crate::platform::{Platform, PlatformError, ProcessId, Space, TEXT_BLOCK_SIZE};

/// Slots per block at most (4 KiB of 8-byte slots).
const MAX_SLOTS: usize = 512;

/// A text block divided into slots, with a lock-free allocation bitmap.
pub struct SlotBlock {
    /// The block's address, 0 while it has none.
    base: AtomicU64,
    used: [AtomicU64; MAX_SLOTS / 64],
}

impl SlotBlock {
    pub const fn new() -> Self {
        SlotBlock {
            base: AtomicU64::new(0),
            used: [const { AtomicU64::new(0) }; MAX_SLOTS / 64],
        }
    }

    pub fn base(&self) -> u64 {
        self.base.load(Ordering::Acquire)
    }

    /// Takes a free slot numbered at least `first`; returns its number.
    fn take(&self, slots: usize, first: usize) -> Option<usize> {
        for word in first / 64..slots.div_ceil(64) {
            let mut bits = self.used[word].load(Ordering::Relaxed);
            loop {
                let low = (word * 64).max(first) - word * 64;
                let high = (slots - word * 64).min(64);
                let free = !bits & range_mask(low, high);
                if free == 0 {
                    break;
                }
                let bit = free.trailing_zeros() as usize;
                match self.used[word].compare_exchange_weak(
                    bits,
                    bits | 1 << bit,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Some(word * 64 + bit),
                    Err(now) => bits = now,
                }
            }
        }
        None
    }

    fn put(&self, slot: usize) {
        self.used[slot / 64].fetch_and(!(1 << (slot % 64)), Ordering::Release);
    }

    fn reset(&self) {
        for word in &self.used {
            word.store(0, Ordering::Relaxed);
        }
        self.base.store(0, Ordering::Release);
    }
}

impl Default for SlotBlock {
    fn default() -> Self {
        Self::new()
    }
}

/// Bits `low..high` of a word.
fn range_mask(low: usize, high: usize) -> u64 {
    let upto = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    upto(high) & !upto(low)
}

/// Slots in a block for this architecture.
fn slots_per_block<P: Platform, A: Arch<P>>() -> usize {
    ((TEXT_BLOCK_SIZE / A::SLOT_BYTES) as usize).min(MAX_SLOTS)
}

/// Writes a slot's words and makes them fetchable. Skips both if the slot already holds them:
/// the words were synchronised when written, so the I-cache holds them or nothing (Linux's
/// `arch_uprobe_copy_ixol()` does the same comparison).
pub fn write_slot<P: Platform, A: Arch<P>>(
    p: &P,
    space: Space,
    addr: u64,
    words: SlotWords,
) -> Result<(), PlatformError> {
    let mut same = true;
    for (i, word) in words.iter().enumerate() {
        let at = addr + 4 * i as u64;
        if p.read_insn(space, at)? != *word {
            same = false;
            p.write_insn(space, at, *word)?;
        }
    }
    if same {
        return Ok(());
    }
    A::sync_icache(p, space, addr, A::SLOT_BYTES)
}

/// The kernel's XOL slots (kprobes), in blocks allocated on demand.
pub struct KernelSlots<'a> {
    blocks: &'a [SlotBlock],
}

impl<'a> KernelSlots<'a> {
    pub const fn new(blocks: &'a [SlotBlock]) -> Self {
        KernelSlots { blocks }
    }

    /// Takes a slot and writes `words` into it. The slot's last use was retired by a grace
    /// period (see `kprobe.rs`), so no CPU is executing it.
    pub fn alloc<P: Platform, A: Arch<P>>(
        &self,
        p: &P,
        words: SlotWords,
    ) -> Result<u64, PlatformError> {
        let slots = slots_per_block::<P, A>();
        for block in self.blocks {
            if block.base() == 0 {
                // Blocks are added under the owner's registration lock: no race here.
                let base = p.alloc_text_block(Space::Kernel)?;
                block.base.store(base, Ordering::Release);
            }
            if let Some(slot) = block.take(slots, 0) {
                let addr = block.base() + slot as u64 * A::SLOT_BYTES;
                if let Err(err) = write_slot::<P, A>(p, Space::Kernel, addr, words) {
                    block.put(slot);
                    return Err(err);
                }
                return Ok(addr);
            }
        }
        Err(PlatformError::NoMemory)
    }

    /// Returns a slot no CPU can be executing any more.
    pub fn free<P: Platform, A: Arch<P>>(&self, addr: u64) {
        for block in self.blocks {
            let base = block.base();
            if base != 0 && (base..base + TEXT_BLOCK_SIZE).contains(&addr) {
                block.put(((addr - base) / A::SLOT_BYTES) as usize);
            }
        }
    }
}

const AREA_FREE: u8 = 0;
const AREA_BUSY: u8 = 1;
const AREA_LIVE: u8 = 2;

/// One process's XOL area: a block mapped into it whose slot 0 is the uretprobe trampoline.
pub struct XolArea {
    state: AtomicU8,
    process: AtomicU32,
    block: SlotBlock,
}

impl XolArea {
    pub const fn new() -> Self {
        XolArea {
            state: AtomicU8::new(AREA_FREE),
            process: AtomicU32::new(0),
            block: SlotBlock::new(),
        }
    }

    /// The area's address; slot 0, the uretprobe trampoline, is there.
    pub fn base(&self) -> u64 {
        self.block.base()
    }

    /// Takes a step slot (never slot 0) for one thread; `None` if all are busy.
    pub fn take_slot<P: Platform, A: Arch<P>>(&self) -> Option<u64> {
        let slot = self.block.take(slots_per_block::<P, A>(), 1)?;
        Some(self.base() + slot as u64 * A::SLOT_BYTES)
    }

    /// Returns a slot the thread has finished with.
    pub fn put_slot<P: Platform, A: Arch<P>>(&self, addr: u64) {
        let slot = ((addr - self.base()) / A::SLOT_BYTES) as usize;
        if slot != 0 {
            self.block.put(slot);
        }
    }
}

impl Default for XolArea {
    fn default() -> Self {
        Self::new()
    }
}

/// The XOL areas of all probed processes.
pub struct XolAreas<'a> {
    areas: &'a [XolArea],
}

impl<'a> XolAreas<'a> {
    pub const fn new(areas: &'a [XolArea]) -> Self {
        XolAreas { areas }
    }

    /// The area of `process`, if it has one.
    pub fn find(&self, process: ProcessId) -> Option<&'a XolArea> {
        self.areas.iter().find(|a| {
            a.state.load(Ordering::Acquire) == AREA_LIVE
                && a.process.load(Ordering::Relaxed) == process.0
        })
    }

    /// The area of `process`, created if it has none: a new block mapped into the process,
    /// every word written (slot 0 the trampoline breakpoint, the rest `UDF #0`, so nothing of
    /// the block's previous life can run or leak, CVE-2024-46828) and the whole block
    /// synchronised for instruction fetch before the area is published.
    pub fn get_or_create<P: Platform, A: Arch<P>>(
        &self,
        p: &P,
        process: ProcessId,
    ) -> Result<&'a XolArea, PlatformError> {
        if let Some(area) = self.find(process) {
            return Ok(area);
        }
        let area = self
            .areas
            .iter()
            .find(|a| {
                a.state
                    .compare_exchange(AREA_FREE, AREA_BUSY, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            })
            .ok_or(PlatformError::NoMemory)?;
        let space = Space::User(process);
        let created = p.alloc_text_block(space).and_then(|base| {
            let fill = |at: u64| {
                if at == base {
                    A::breakpoint(Breakpoint::Uretprobe)
                } else {
                    0
                }
            };
            let written = (0..TEXT_BLOCK_SIZE / 4)
                .map(|i| base + 4 * i)
                .try_for_each(|at| p.write_insn(space, at, fill(at)))
                .and_then(|()| A::sync_icache(p, space, base, TEXT_BLOCK_SIZE));
            if let Err(err) = written {
                p.free_text_block(space, base);
                return Err(err);
            }
            Ok(base)
        });
        match created {
            Ok(base) => {
                area.block.base.store(base, Ordering::Relaxed);
                area.process.store(process.0, Ordering::Relaxed);
                area.state.store(AREA_LIVE, Ordering::Release);
                Ok(area)
            }
            Err(err) => {
                area.state.store(AREA_FREE, Ordering::Release);
                Err(err)
            }
        }
    }

    /// Every live area.
    pub fn all(&self) -> impl Iterator<Item = &'a XolArea> + 'a {
        self.areas
            .iter()
            .filter(|a| a.state.load(Ordering::Acquire) == AREA_LIVE)
    }

    /// Forgets the area of a process that has exited (its mappings are gone with it).
    pub fn process_exited(&self, process: ProcessId) {
        if let Some(area) = self.find(process) {
            area.block.reset();
            area.state.store(AREA_FREE, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_allocation() {
        let block = SlotBlock::new();
        assert_eq!(block.take(512, 1), Some(1));
        assert_eq!(block.take(512, 1), Some(2));
        assert_eq!(block.take(512, 0), Some(0));
        block.put(1);
        assert_eq!(
            block.take(512, 1),
            Some(1),
            "the lowest free slot is reused first"
        );
        for expected in 3..512 {
            assert_eq!(block.take(512, 1), Some(expected));
        }
        assert_eq!(block.take(512, 1), None, "full");
        assert_eq!(range_mask(1, 64), !1);
        assert_eq!(range_mask(0, 3), 0b111);
    }
}
