//! rtap-kmod: the ARM probe engine.
//!
//! A `#![no_std]` library meant to live inside a kernel module: kprobes, kretprobes,
//! uprobes and uretprobes for AArch64. It reaches the machine only through the
//! [`Platform`](platform::Platform) trait (plus the architecture's extension, e.g.
//! [`arch::aarch64::cpu::Cpu`]), which the kernel glue and the test simulator implement.
#![no_std]

pub mod arch;
pub mod engine;
pub mod error;
pub mod hit;
pub mod instance;
pub mod kprobe;
pub mod kretprobe;
pub mod patch;
pub mod percpu;
pub mod platform;
pub mod reject;
pub mod sync;
pub mod table;
pub mod uprobe;
pub mod uretprobe;
pub mod xol;
