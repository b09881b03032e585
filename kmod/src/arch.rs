//! Per-architecture code, laid out as the kernel's `arch/*/probes/` directories are: the same
//! file names (`decode.rs`, `simulate.rs`, `cache.rs`, `patch.rs`, …) under each architecture.

pub mod aarch64;
