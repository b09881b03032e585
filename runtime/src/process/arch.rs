//! The per-architecture parts of the engines: registers, instruction analysis and relocation
//! for out-of-line execution, system call injection. Each architecture has the same modules
//! (`regs`, `insn`, `syscall`) under `arch/<name>/`.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("rtap's process engines support x86_64 only so far (aarch64 port: arch/aarch64/)");
