//! ELF and DWARF of probed programs: loading modules (executables, PIEs, shared libraries and
//! their separate debug files), resolving `process(…)` probe points to probe sites, target
//! variables and their types, registers, symbolization and user-space unwinding.
//!
//! Addresses are link-time virtual addresses of a module unless a name says otherwise; the
//! load bias of the mapping (see `maps`) turns them into run-time addresses.

pub mod cache;
mod debug_file;
pub mod dwarf_index;
pub mod elf;
pub mod error;
pub mod lines;
pub mod location;
pub mod maps;
pub mod path;
pub mod pattern;
pub mod plt;
pub mod pretty;
pub mod registers;
pub mod resolve;
pub mod scope;
pub mod sdt;
pub mod symbolize;
pub mod symbols;
pub mod target;
pub mod types;
pub mod unwind;

pub use cache::ModuleCache;
pub use elf::{Arch, Module, ModuleKind};
pub use error::{DebugInfoError, Fault};
pub use location::Hit;
pub use registers::{MemoryReader, RegisterSet};
pub use resolve::{FunctionFlavor, ProbeSite, ProcessPoint, Resolution, SiteKind, resolve};
pub use target::{CompiledTarget, TargetCompiler, TargetExpr, TargetPlan, TargetValue};
