//! AArch64 (A64 instruction set).

pub mod decode;
pub mod insn;
