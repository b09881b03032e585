//! One traced address space: its breakpoints, their XOL slots, the trampoline.

use std::collections::HashMap;

use crate::process::arch::insn::{self, BREAKPOINT, Displaced, MAX_INSN_LEN, Plan, SlotCode};
use crate::process::memory::ProcMem;
use crate::process::{Error, ProbeId};

use super::xol::XolArea;

/// An armed `int3` and what it displaced.
#[derive(Clone, Debug)]
pub struct Breakpoint {
    pub displaced: Displaced,
    pub original: u8,
    /// XOL slot and its code (`Plan::OutOfLine` only).
    pub slot: Option<(u64, SlotCode)>,
    pub entries: Vec<ProbeId>,
    pub returns: Vec<ProbeId>,
}

#[derive(Debug)]
pub struct Space {
    pub mem: ProcMem,
    pub breakpoints: HashMap<u64, Breakpoint>,
    pub areas: Vec<XolArea>,
    pub trampoline: Option<u64>,
    /// Slot address → breakpoint address.
    slots: HashMap<u64, u64>,
}

impl Space {
    pub fn new(mem: ProcMem) -> Self {
        Space {
            mem,
            breakpoints: HashMap::new(),
            areas: Vec::new(),
            trampoline: None,
            slots: HashMap::new(),
        }
    }

    /// A copy for a forked child, whose memory is a copy of this one's.
    pub fn fork(&self, child_mem: ProcMem) -> Self {
        Space {
            mem: child_mem,
            breakpoints: self.breakpoints.clone(),
            areas: self.areas.clone(),
            trampoline: self.trampoline,
            slots: self.slots.clone(),
        }
    }

    pub fn in_area(&self, addr: u64) -> bool {
        self.areas.iter().any(|a| a.contains(addr))
    }

    /// A free slot whose area `addr` reaches, if any.
    pub fn take_slot_near(&mut self, addr: u64) -> Option<u64> {
        self.areas
            .iter_mut()
            .filter(|a| a.reaches(addr))
            .find_map(XolArea::take_slot)
    }

    /// Adds `probe` at `addr`: shares an existing breakpoint, or decodes the instruction,
    /// writes its slot (taken from `slot`, which may map a new area) and the `int3`.
    pub fn add_probe(
        &mut self,
        addr: u64,
        probe: ProbeId,
        is_return: bool,
        slot: impl FnOnce(&mut Space) -> Result<u64, Error>,
    ) -> Result<(), String> {
        if !self.breakpoints.contains_key(&addr) {
            let bp = self.prepare(addr, slot)?;
            self.mem
                .write_all(addr, &[BREAKPOINT])
                .map_err(|e| e.to_string())?;
            if let Some((s, _)) = &bp.slot {
                self.slots.insert(*s, addr);
            }
            self.breakpoints.insert(addr, bp);
        }
        let bp = self.breakpoints.get_mut(&addr).expect("inserted above");
        if is_return {
            bp.returns.push(probe)
        } else {
            bp.entries.push(probe)
        }
        Ok(())
    }

    fn prepare(
        &mut self,
        addr: u64,
        slot: impl FnOnce(&mut Space) -> Result<u64, Error>,
    ) -> Result<Breakpoint, String> {
        let mut code = [0u8; MAX_INSN_LEN];
        // The instruction may end near the end of a mapping: read what is there.
        let n = (1..=MAX_INSN_LEN)
            .rev()
            .find(|&n| self.mem.read_exact(addr, &mut code[..n]).is_ok())
            .ok_or_else(|| format!("address {addr:#x} is not mapped"))?;
        let displaced = insn::analyze(&code[..n], addr)?;
        let slot = match displaced.plan {
            Plan::OutOfLine => {
                let at = slot(self).map_err(|e| e.to_string())?;
                let slot_code = displaced.slot_code(at)?;
                self.mem
                    .write_all(at, &slot_code.bytes)
                    .map_err(|e| e.to_string())?;
                Some((at, slot_code))
            }
            Plan::EmulateCall => None,
        };
        Ok(Breakpoint {
            displaced,
            original: code[0],
            slot,
            entries: Vec::new(),
            returns: Vec::new(),
        })
    }

    /// Restores the original byte of one breakpoint (the slot stays, harmless).
    pub fn remove(&mut self, addr: u64) -> Result<(), Error> {
        if let Some(bp) = self.breakpoints.remove(&addr) {
            self.mem.write_all(addr, &[bp.original])?;
        }
        Ok(())
    }

    /// Restores every original byte; returns the first error but tries them all.
    pub fn remove_all(&mut self) -> Result<(), Error> {
        let addrs: Vec<u64> = self.breakpoints.keys().copied().collect();
        let mut first = Ok(());
        for addr in addrs {
            let r = self.remove(addr);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// The original-code PC for a thread stopped at `pc` inside a slot (at the relocated
    /// instruction or at the jump back), if it is at one of those two points.
    pub fn original_pc(&self, pc: u64) -> Option<u64> {
        if !self.in_area(pc) {
            return None;
        }
        let slot_start = self.areas.iter().find(|a| a.contains(pc))?.start;
        // Slots are SLOT_SIZE-aligned from the area start.
        let slot = slot_start + (pc - slot_start) / insn::SLOT_SIZE * insn::SLOT_SIZE;
        let bp = self.breakpoints.get(self.slots.get(&slot)?)?;
        let (at, code) = bp.slot.as_ref()?;
        insn::original_pc(pc, *at, code, &bp.displaced)
    }
}
