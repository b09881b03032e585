//! Decoding the instruction a breakpoint displaces, and making it run somewhere else.
//!
//! Every x86_64 instruction the engine accepts takes exactly one stop per hit:
//! - most run *out of line*: an XOL slot holds the instruction, re-encoded for the slot's
//!   address by iced-x86's `BlockEncoder` (RIP-relative operands and relative branches keep
//!   their absolute targets), followed by `jmp` back to the next original instruction;
//! - `call` (every near form) is *emulated* by the tracer while the thread is stopped: run
//!   from a slot it would push the slot's address as the return address, which unwinders,
//!   `__builtin_return_address` and return probes would then see.
//!
//! Nothing needs single-stepping: `syscall` runs out of line (it leaves `rcx` = the slot's
//! next address, a register the ABI declares clobbered; a restarted system call re-executes
//! the slot's `syscall`, which is still there because slots never change while armed), and a
//! fault in the relocated instruction is reported at the original address (see
//! `Slot::original_pc`). Refused: `int3`/`int1`/`into` (the application's own traps, as Linux
//! refuses them), far branches and calls, and undecodable bytes.

use iced_x86::{
    BlockEncoder, BlockEncoderOptions, Code, Decoder, DecoderOptions, FlowControl, Instruction,
    InstructionBlock, OpKind, Register,
};

use super::Registers;

/// `int3`.
pub const BREAKPOINT: u8 = 0xcc;
/// After an `int3` trap the PC is the breakpoint address plus this.
pub const BREAKPOINT_PC_ADVANCE: u64 = 1;
pub const MAX_INSN_LEN: usize = 15;
/// Room for one relocated instruction (≤ 15 bytes, or a rewritten branch with its 8-byte
/// target) plus the 5-byte `jmp` back.
pub const SLOT_SIZE: u64 = 48;
/// The trampoline return probes hijack return addresses to: a breakpoint.
pub const TRAMPOLINE: &[u8] = &[BREAKPOINT];
/// Relative code references must stay within ±2 GiB (rel32).
pub const REL32_REACH: u64 = 0x7fff_0000;

/// How a displaced instruction is executed after a hit.
#[derive(Clone, Debug)]
pub enum Plan {
    /// From an XOL slot, followed by a jump back.
    OutOfLine,
    /// `call`: pushed and branched by the tracer.
    EmulateCall,
}

/// The analysed instruction under a breakpoint.
#[derive(Clone, Debug)]
pub struct Displaced {
    pub addr: u64,
    pub len: u64,
    pub plan: Plan,
    insn: Instruction,
}

/// The bytes to place in an XOL slot at `addr`.
#[derive(Clone, Debug)]
pub struct SlotCode {
    pub bytes: Vec<u8>,
    /// Where the relocated instruction ends and the `jmp` back begins.
    pub jump_back_at: u64,
}

pub fn analyze(code: &[u8], addr: u64) -> Result<Displaced, String> {
    let mut decoder = Decoder::with_ip(64, code, addr, DecoderOptions::NONE);
    let insn = decoder.decode();
    if insn.is_invalid() {
        return Err(format!(
            "undecodable instruction bytes {:02x?}",
            &code[..code.len().min(8)]
        ));
    }
    let plan = match insn.flow_control() {
        FlowControl::Interrupt if insn.code() != Code::Int_imm8 || insn.immediate8() == 3 => {
            return Err(format!(
                "'{}' is a trap instruction the program uses itself",
                name(&insn)
            ));
        }
        FlowControl::Call | FlowControl::IndirectCall => {
            if insn.code() == Code::Syscall {
                Plan::OutOfLine
            } else if is_near_call(&insn) {
                Plan::EmulateCall
            } else {
                return Err(format!("'{}' cannot be executed out of line", name(&insn)));
            }
        }
        _ if is_far_branch(&insn) => return Err(format!("'{}' is a far branch", name(&insn))),
        _ => Plan::OutOfLine,
    };
    Ok(Displaced {
        addr,
        len: insn.len() as u64,
        plan,
        insn,
    })
}

/// The mnemonic, for messages (the formatter feature of iced-x86 is not built).
fn name(insn: &Instruction) -> String {
    format!("{:?}", insn.mnemonic()).to_lowercase()
}

fn is_near_call(insn: &Instruction) -> bool {
    matches!(insn.code(), Code::Call_rel32_64 | Code::Call_rm64)
}

fn is_far_branch(insn: &Instruction) -> bool {
    matches!(insn.op0_kind(), OpKind::FarBranch16 | OpKind::FarBranch32)
        || matches!(
            insn.code(),
            Code::Jmp_m1664 | Code::Jmp_m1632 | Code::Jmp_m1616
        )
}

impl Displaced {
    /// Re-encodes the instruction for a slot at `slot`, then `jmp` to the next original
    /// instruction.
    pub fn slot_code(&self, slot: u64) -> Result<SlotCode, String> {
        let insns = [self.insn];
        let block = InstructionBlock::new(&insns, slot);
        let encoded = BlockEncoder::encode(64, block, BlockEncoderOptions::NONE)
            .map_err(|e| format!("cannot relocate '{}' to {slot:#x}: {e}", name(&self.insn)))?;
        let mut bytes = encoded.code_buffer;
        let jump_back_at = slot + bytes.len() as u64;
        let next = self.addr + self.len;
        let rel = next.wrapping_sub(jump_back_at + 5) as i64;
        let rel = i32::try_from(rel)
            .map_err(|_| format!("XOL slot {slot:#x} is out of reach of {next:#x}"))?;
        bytes.push(0xe9);
        bytes.extend_from_slice(&rel.to_le_bytes());
        if bytes.len() as u64 > SLOT_SIZE {
            return Err(format!(
                "relocated '{}' needs {} bytes",
                name(&self.insn),
                bytes.len()
            ));
        }
        Ok(SlotCode {
            bytes,
            jump_back_at,
        })
    }

    /// Performs a `call` on stopped registers: returns the return address to push and the new
    /// PC. `read_u64` reads the target's memory (for `call [mem]`).
    pub fn emulate_call(
        &self,
        regs: &Registers,
        read_u64: impl FnOnce(u64) -> Option<u64>,
    ) -> Result<(u64, u64), String> {
        let ret = self.addr + self.len;
        let target = match self.insn.op0_kind() {
            OpKind::NearBranch64 => self.insn.near_branch_target(),
            OpKind::Register => register_value(regs, self.insn.op0_register())
                .ok_or_else(|| format!("unsupported call register in '{}'", name(&self.insn)))?,
            OpKind::Memory => {
                // The memory operand is evaluated with rip = the next instruction, as the CPU does.
                let mut r = *regs;
                r.set_pc(ret);
                let at = self
                    .insn
                    .virtual_address(0, 0, |reg, _, _| register_value(&r, reg))
                    .ok_or_else(|| {
                        format!("cannot evaluate the operand of '{}'", name(&self.insn))
                    })?;
                read_u64(at).ok_or_else(|| format!("cannot read the call target at {at:#x}"))?
            }
            _ => return Err(format!("unsupported call '{}'", name(&self.insn))),
        };
        Ok((ret, target))
    }
}

/// The PC a thread at `pc` inside a slot corresponds to in the original code: the slot's
/// start is the displaced instruction itself, its `jmp` back is the next instruction.
pub fn original_pc(pc: u64, slot: u64, code: &SlotCode, displaced: &Displaced) -> Option<u64> {
    if pc == slot {
        Some(displaced.addr)
    } else if pc == code.jump_back_at {
        Some(displaced.addr + displaced.len)
    } else {
        None
    }
}

fn register_value(regs: &Registers, reg: Register) -> Option<u64> {
    let r = &regs.0;
    Some(match reg {
        Register::RAX => r.rax,
        Register::RBX => r.rbx,
        Register::RCX => r.rcx,
        Register::RDX => r.rdx,
        Register::RSI => r.rsi,
        Register::RDI => r.rdi,
        Register::RBP => r.rbp,
        Register::RSP => r.rsp,
        Register::R8 => r.r8,
        Register::R9 => r.r9,
        Register::R10 => r.r10,
        Register::R11 => r.r11,
        Register::R12 => r.r12,
        Register::R13 => r.r13,
        Register::R14 => r.r14,
        Register::R15 => r.r15,
        Register::RIP => r.rip,
        Register::ES | Register::CS | Register::SS | Register::DS => 0,
        Register::FS => r.fs_base,
        Register::GS => r.gs_base,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_at(bytes: &[u8], ip: u64) -> Instruction {
        Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE).decode()
    }

    #[test]
    fn rip_relative_load_keeps_its_absolute_address() {
        // mov rax, [rip+0x100] at 0x40_0000: reads 0x40_0107.
        let d = analyze(&[0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00], 0x40_0000).unwrap();
        assert!(matches!(d.plan, Plan::OutOfLine));
        let slot = 0x30_0000;
        let code = d.slot_code(slot).unwrap();
        let moved = decode_at(&code.bytes, slot);
        assert_eq!(moved.ip_rel_memory_address(), 0x40_0107);
        // The jump back lands on the next original instruction.
        let back = decode_at(
            &code.bytes[(code.jump_back_at - slot) as usize..],
            code.jump_back_at,
        );
        assert_eq!(back.code(), Code::Jmp_rel32_64);
        assert_eq!(back.near_branch_target(), 0x40_0007);
    }

    #[test]
    fn conditional_branch_keeps_both_targets() {
        // je +0x10 (short) at 0x40_0000: taken → 0x40_0012, else 0x40_0002.
        let d = analyze(&[0x74, 0x10], 0x40_0000).unwrap();
        let slot = 0x30_0000;
        let code = d.slot_code(slot).unwrap();
        let je = decode_at(&code.bytes, slot);
        assert_eq!(je.flow_control(), FlowControl::ConditionalBranch);
        assert_eq!(je.near_branch_target(), 0x40_0012);
        let back = decode_at(
            &code.bytes[(code.jump_back_at - slot) as usize..],
            code.jump_back_at,
        );
        assert_eq!(back.near_branch_target(), 0x40_0002);
    }

    #[test]
    fn calls_are_emulated_with_the_original_return_address() {
        // call rel32 +0x20 at 0x1000 → target 0x1025, returns to 0x1005.
        let d = analyze(&[0xe8, 0x20, 0x00, 0x00, 0x00], 0x1000).unwrap();
        assert!(matches!(d.plan, Plan::EmulateCall));
        assert_eq!(
            d.emulate_call(&Registers::zeroed(), |_| None).unwrap(),
            (0x1005, 0x1025)
        );
        // call [rip+0x10] at 0x1000 (6 bytes): pointer at 0x1016.
        let d = analyze(&[0xff, 0x15, 0x10, 0x00, 0x00, 0x00], 0x1000).unwrap();
        let got = d
            .emulate_call(&Registers::zeroed(), |at| (at == 0x1016).then_some(0xdead))
            .unwrap();
        assert_eq!(got, (0x1006, 0xdead));
        // call rax
        let mut regs = Registers::zeroed();
        regs.0.rax = 0x7777;
        let d = analyze(&[0xff, 0xd0], 0x1000).unwrap();
        assert_eq!(d.emulate_call(&regs, |_| None).unwrap(), (0x1002, 0x7777));
    }

    #[test]
    fn traps_are_refused_and_syscall_runs_out_of_line() {
        assert!(analyze(&[0xcc], 0x1000).is_err());
        assert!(analyze(&[0xcd, 0x03], 0x1000).is_err());
        assert!(analyze(&[0xf1], 0x1000).is_err());
        assert!(matches!(
            analyze(&[0x0f, 0x05], 0x1000).unwrap().plan,
            Plan::OutOfLine
        ));
        assert!(matches!(
            analyze(&[0xcd, 0x80], 0x1000).unwrap().plan,
            Plan::OutOfLine
        ));
    }

    #[test]
    fn slot_beyond_reach_is_an_error() {
        let d = analyze(&[0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00], 0x40_0000).unwrap();
        assert!(d.slot_code(0x7f00_0000_0000).is_err());
    }
}
