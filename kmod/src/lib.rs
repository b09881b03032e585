//! rtap-kmod: the ARM probe engine.
//!
//! A `#![no_std]` library meant to live inside a kernel module: kprobes, kretprobes,
//! uprobes and uretprobes for AArch64. It reaches the machine only through the
//! [`Platform`](platform::Platform) trait, which the kernel glue and the test simulator
//! (`rtap-armsim`) implement.
#![no_std]

pub mod arch;
