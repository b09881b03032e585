//! x86_64 (System V ABI, Linux).

pub mod insn;
pub mod regs;
pub mod syscall;

pub use regs::Registers;
