//! Integration tests of the machine model: instruction semantics (assembled by the cross
//! assembler, expectations computed by hand), the cache model's bug visibility, debug
//! exceptions, the cross-modification checker, and the qemu cross-check corpus.

mod alu;
mod cache;
mod checker;
mod corpus;
mod debug;
mod fuzz;
mod harness;
mod ldst;
mod loader;
mod scheduler;
