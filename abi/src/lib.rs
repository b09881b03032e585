//! rtap-abi: the contract between generated code and the runtime.
//!
//! `rtap-lang` compiles every probe handler and script function to native code with Cranelift;
//! `rtap-runtime` implements everything that code cannot do inline. Neither crate depends on the
//! other, so the contract lives here:
//!
//! - [`helpers`]: the one list of runtime helpers generated code may call, with their
//!   signatures. The codegen iterates [`Helper::ALL`] to declare Cranelift signatures; the
//!   runtime must fill a [`Helpers`] struct of typed `extern "C"` function pointers, so a
//!   helper that is missing or has the wrong type is a compile error in the runtime.
//! - [`context`]: the `#[repr(C)]` head of the per-session execution context, whose fields
//!   generated code reads and writes inline (pending unwind, action budget, nesting depth,
//!   globals base), with their offsets.
//! - [`strbuf`]: the fixed-capacity string buffer layout every string value lives in.
//! - [`codes`]: the small integer codes passed to helpers (error kinds, aggregate operators,
//!   foreach sort specifications, wildcard masks).
//! - [`format`]: the printf format grammar (SystemTap's one-flag rule), parsed once by the
//!   front end for type checking and handed to the runtime as data.
//!
//! ## Calling convention (Architecture Invariant)
//!
//! Every helper is `extern "C"` and takes `*mut Context` first. Longs are `i64`; ids (map,
//! aggregate, format, regex, location) are `i64` indices into the tables of the program
//! description the runtime was loaded with; every pointer argument is pointer-sized. A helper
//! returns an `i64` or nothing. A helper that can fail records the error in the context, sets
//! [`Context::unwind`] to [`context::UNWIND_ERROR`] and returns normally (with 0 / "" as its
//! result); generated code checks the unwind word after every helper whose entry says
//! [`Helper::may_unwind`] and after every call of a script function. Helpers never unwind
//! the native stack and never panic across the boundary.
//!
//! Handlers run on one dispatcher thread, one at a time, so globals are plain memory and
//! no helper takes a lock on the generated code's behalf.

pub mod codes;
pub mod context;
pub mod format;
pub mod helpers;
pub mod strbuf;

pub use context::Context;
pub use helpers::{Helper, Helpers, ParamKind};
pub use strbuf::StrBuf;
