//! User-space unwinding over a register set and a memory reader: call-frame information from
//! `.eh_frame` (through `.eh_frame_hdr`'s sorted table when present) or `.debug_frame`, with a
//! frame-pointer fallback where a module has none. Also the CFA at a hit, which
//! `DW_OP_call_frame_cfa` locations need.

use std::sync::Arc;

use gimli::{CfaRule, RegisterRule, UnwindSection};

use super::elf::{Arch, Module, Reader};
use super::registers::{MemoryReader, RegisterSet, pc_register, sp_register, x86_64};

/// The unwind row for one pc, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnwindRow {
    /// CFA = register + offset.
    pub cfa: (u16, i64),
    /// Rules for saved registers: where the caller's value is.
    pub rules: Vec<(u16, Rule)>,
    /// The return-address column.
    pub return_address: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Undefined,
    SameValue,
    /// Saved at CFA + n.
    Offset(i64),
    /// The value is CFA + n.
    ValOffset(i64),
    /// In another register.
    Register(u16),
}

/// The CFI row in effect at link-time address `pc` of `module`.
pub fn unwind_row(module: &Module, pc: u64) -> Option<UnwindRow> {
    let endian = module.endian;
    let own = &module.own;
    let eh = own.bytes(".eh_frame");
    if !eh.is_empty() {
        let mut bases =
            gimli::BaseAddresses::default().set_eh_frame(own.address(".eh_frame").unwrap_or(0));
        if let Some(t) = own.address(".text") {
            bases = bases.set_text(t);
        }
        if let Some(g) = own.address(".got") {
            bases = bases.set_got(g);
        }
        let section = gimli::EhFrame::new(eh, endian);
        let mut ctx = gimli::UnwindContext::new();
        let hdr_bytes = own.bytes(".eh_frame_hdr");
        let row =
            if let (false, Some(hdr_addr)) = (hdr_bytes.is_empty(), own.address(".eh_frame_hdr")) {
                let bases = bases.clone().set_eh_frame_hdr(hdr_addr);
                gimli::EhFrameHdr::new(hdr_bytes, endian)
                    .parse(&bases, 8)
                    .ok()
                    .and_then(|hdr| {
                        let table = hdr.table()?;
                        let fde = table
                            .fde_for_address(&section, &bases, pc, gimli::EhFrame::cie_from_offset)
                            .ok()?;
                        fde.unwind_info_for_address(&section, &bases, &mut ctx, pc)
                            .ok()
                            .map(|r| owned(r, &fde))
                    })
            } else {
                section
                    .fde_for_address(&bases, pc, gimli::EhFrame::cie_from_offset)
                    .ok()
                    .and_then(|fde| {
                        fde.unwind_info_for_address(&section, &bases, &mut ctx, pc)
                            .ok()
                            .map(|r| owned(r, &fde))
                    })
            };
        if row.is_some() {
            return row;
        }
    }
    let debug = module.debug_sections().bytes(".debug_frame");
    if debug.is_empty() {
        return None;
    }
    let mut section = gimli::DebugFrame::new(debug, endian);
    section.set_address_size(8);
    let bases = gimli::BaseAddresses::default();
    let mut ctx = gimli::UnwindContext::new();
    let fde = section
        .fde_for_address(&bases, pc, gimli::DebugFrame::cie_from_offset)
        .ok()?;
    fde.unwind_info_for_address(&section, &bases, &mut ctx, pc)
        .ok()
        .map(|r| owned(r, &fde))
}

fn owned(
    row: &gimli::UnwindTableRow<usize>,
    fde: &gimli::FrameDescriptionEntry<Reader<'_>>,
) -> UnwindRow {
    let cfa = match row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => (register.0, *offset),
        // Expression CFAs (PLT stubs, signal frames) are left to the frame-pointer fallback.
        CfaRule::Expression(_) => (u16::MAX, 0),
    };
    let rules = row
        .registers()
        .map(|(reg, rule)| {
            let r = match rule {
                RegisterRule::Undefined => Rule::Undefined,
                RegisterRule::SameValue => Rule::SameValue,
                RegisterRule::Offset(n) => Rule::Offset(*n),
                RegisterRule::ValOffset(n) => Rule::ValOffset(*n),
                RegisterRule::Register(r) => Rule::Register(r.0),
                _ => Rule::Undefined,
            };
            (reg.0, r)
        })
        .collect();
    UnwindRow {
        cfa,
        rules,
        return_address: fde.cie().return_address_register().0,
    }
}

/// The canonical frame address at the hit described by `regs` (pc inside `module`, loaded
/// with `bias`).
pub fn cfa(module: &Module, regs: &RegisterSet, bias: u64) -> Option<u64> {
    let pc = regs.pc()?;
    let row = unwind_row(module, pc.wrapping_sub(bias))?;
    Some(regs.get(row.cfa.0)?.wrapping_add(row.cfa.1 as u64))
}

/// The caller's registers, by CFI when `module` has a row for the pc, else by frame pointer.
/// `caller_frame` is true for frames above the first: their pc is a return address, so the
/// row looked up is that of `pc - 1` (the call instruction).
pub fn step(
    module: Option<&Module>,
    bias: u64,
    regs: &RegisterSet,
    mem: &dyn MemoryReader,
    caller_frame: bool,
) -> Option<RegisterSet> {
    let pc = regs.pc()?;
    let lookup = if caller_frame { pc.wrapping_sub(1) } else { pc };
    if let Some(row) = module.and_then(|m| unwind_row(m, lookup.wrapping_sub(bias)))
        && row.cfa.0 != u16::MAX
    {
        return step_cfi(&row, regs, mem);
    }
    step_frame_pointer(regs, mem)
}

fn step_cfi(row: &UnwindRow, regs: &RegisterSet, mem: &dyn MemoryReader) -> Option<RegisterSet> {
    let cfa = regs.get(row.cfa.0)?.wrapping_add(row.cfa.1 as u64);
    let mut caller = regs.clone();
    for &(reg, rule) in &row.rules {
        match rule {
            Rule::Undefined => caller.clear(reg),
            Rule::SameValue => {}
            Rule::Offset(n) => caller.set(reg, mem.read_u64(cfa.wrapping_add(n as u64)).ok()?),
            Rule::ValOffset(n) => caller.set(reg, cfa.wrapping_add(n as u64)),
            Rule::Register(r) => match regs.get(r) {
                Some(v) => caller.set(reg, v),
                None => caller.clear(reg),
            },
        }
    }
    let ra = if row.rules.iter().any(|(r, _)| *r == row.return_address) {
        caller.get(row.return_address)?
    } else {
        regs.get(row.return_address)?
    };
    caller.set(pc_register(regs.arch), ra);
    caller.set(sp_register(regs.arch), cfa);
    Some(caller)
}

/// `push %rbp; mov %rsp,%rbp` frames (x86_64) and `stp x29, x30, [sp, #-N]!; mov x29, sp`
/// frames (AArch64): the saved frame pointer is at [fp], the return address right above it.
fn step_frame_pointer(regs: &RegisterSet, mem: &dyn MemoryReader) -> Option<RegisterSet> {
    let (fp_reg, ra_slot) = match regs.arch {
        Arch::X86_64 => (x86_64::RBP, 8),
        Arch::Aarch64 => (super::registers::aarch64::FP, 8),
    };
    let fp = regs.get(fp_reg)?;
    if fp == 0 || fp % 8 != 0 {
        return None;
    }
    let saved_fp = mem.read_u64(fp).ok()?;
    let ra = mem.read_u64(fp + ra_slot).ok()?;
    let mut caller = regs.clone();
    caller.set(fp_reg, saved_fp);
    caller.set(sp_register(regs.arch), fp + ra_slot + 8);
    caller.set(pc_register(regs.arch), ra);
    Some(caller)
}

/// Finds the module (and its load bias) containing a run-time address.
pub trait ModuleLookup {
    fn module_at(&self, address: u64) -> Option<(Arc<Module>, u64)>;
}

/// Return addresses of the call stack, innermost first, starting with the hit's pc: what
/// `ubacktrace()` and `ucallers()` print. At most `max` frames (stap's MAXBACKTRACE is 20).
pub fn backtrace(
    lookup: &dyn ModuleLookup,
    regs: &RegisterSet,
    mem: &dyn MemoryReader,
    max: usize,
) -> Vec<u64> {
    let mut pcs = Vec::new();
    let mut regs = regs.clone();
    let mut last_sp = 0u64;
    while pcs.len() < max {
        let Some(pc) = regs.pc() else { break };
        if pc == 0 {
            break;
        }
        pcs.push(pc);
        let caller_frame = pcs.len() > 1;
        let lookup_pc = if caller_frame { pc.wrapping_sub(1) } else { pc };
        let module = lookup.module_at(lookup_pc);
        let Some(next) = step(
            module.as_ref().map(|(m, _)| &**m),
            module.as_ref().map_or(0, |(_, b)| *b),
            &regs,
            mem,
            caller_frame,
        ) else {
            break;
        };
        // The stack grows down: a caller's frame is above; anything else is a loop.
        let sp = next.sp().unwrap_or(0);
        if sp <= last_sp && pcs.len() > 1 {
            break;
        }
        last_sp = sp;
        regs = next;
    }
    pcs
}
