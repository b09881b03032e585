//! XOL areas: executable memory mapped into the target by an injected `mmap`, holding one
//! slot per armed breakpoint and the return-probe trampoline.
//!
//! Slots are *per breakpoint* and never change while the breakpoint is armed, so any number of
//! threads may execute the same slot at once — the guarantee Linux gets from per-thread slot
//! ownership (arm-probes.md §4.3) holds here because a slot's content is immutable, not because
//! it is owned. Linux must reuse slots because it single-steps them and learns when a thread is
//! done; with a jump back there is no such moment, so a slot must stay valid forever: the area
//! is never unmapped, not even at detach (a thread, or a signal frame, may still point into it).
//!
//! Placement: relocated RIP-relative operands and the `jmp` back reach ±2 GiB, so an area is
//! placed in the free gap just below the probed image (`MAP_FIXED_NOREPLACE`), never just
//! above it, where `brk` grows the heap.

use crate::debuginfo::maps::Mapping;
use crate::process::arch::insn::{REL32_REACH, SLOT_SIZE};

/// 1 MiB of address space (pages are only allocated when written): 21845 slots.
pub const AREA_SIZE: u64 = 1 << 20;
const PAGE: u64 = 4096;
/// `vm.mmap_min_addr`'s usual value; nothing may be mapped below it.
const MIN_ADDR: u64 = 0x10000;

#[derive(Clone, Debug)]
pub struct XolArea {
    pub start: u64,
    next: u64,
}

impl XolArea {
    pub fn new(start: u64) -> Self {
        XolArea { start, next: start }
    }

    pub fn contains(&self, addr: u64) -> bool {
        (self.start..self.start + AREA_SIZE).contains(&addr)
    }

    /// Whether code at `addr` can reach every slot of this area with rel32.
    pub fn reaches(&self, addr: u64) -> bool {
        addr.abs_diff(self.start) < REL32_REACH - AREA_SIZE
    }

    pub fn take_slot(&mut self) -> Option<u64> {
        (self.next + SLOT_SIZE <= self.start + AREA_SIZE).then(|| {
            let slot = self.next;
            self.next += SLOT_SIZE;
            slot
        })
    }
}

/// A free, page-aligned address for a new area near `near` (an address in the probed image):
/// the top of the highest gap below the image that is large enough and within reach.
pub fn place(maps: &[Mapping], near: u64) -> Option<u64> {
    let mut sorted: Vec<(u64, u64)> = maps.iter().map(|m| (m.start, m.end)).collect();
    sorted.sort_unstable();
    let image_start = sorted
        .iter()
        .filter(|(s, e)| *s <= near && near < *e)
        .map(|r| r.0)
        .next()
        .unwrap_or(near);
    let mut prev_end = MIN_ADDR;
    let mut best = None;
    for &(start, end) in &sorted {
        if start > image_start {
            break;
        }
        let gap_top = start & !(PAGE - 1);
        if gap_top >= prev_end + AREA_SIZE {
            let candidate = gap_top - AREA_SIZE;
            if near.abs_diff(candidate) < REL32_REACH / 2 {
                best = Some(candidate);
            }
        }
        prev_end = prev_end.max(end);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debuginfo::maps::ProcessMaps;

    fn parse(text: &str) -> Vec<Mapping> {
        ProcessMaps::parse(text).mappings
    }

    #[test]
    fn area_goes_below_the_image_within_reach() {
        let maps = parse(
            "\
00400000-00401000 r--p 00000000 fd:01 1 /t
00401000-00402000 r-xp 00001000 fd:01 1 /t
00403000-00405000 rw-p 00002000 fd:01 1 /t
01000000-01100000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000100000 r-xp 00000000 fd:01 2 /lib/libc.so.6
",
        );
        let at = place(&maps, 0x401100).unwrap();
        assert_eq!(at, 0x400000 - AREA_SIZE);
        let lib = place(&maps, 0x7f0000000100).unwrap();
        assert_eq!(lib, 0x7f0000000000 - AREA_SIZE);
        let area = XolArea::new(at);
        assert!(area.reaches(0x401100));
        assert!(!area.reaches(0x7f0000000100));
    }

    #[test]
    fn no_room_below_a_low_image() {
        let maps = parse("00010000-00011000 r-xp 00000000 fd:01 1 /t\n");
        assert_eq!(place(&maps, 0x10100), None);
    }
}
