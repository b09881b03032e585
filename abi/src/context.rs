//! The head of the execution context: the fields generated code touches inline.
//!
//! The runtime allocates one context per session (handlers run one at a time on the
//! dispatcher thread) whose first field is this [`Context`]; the rest is private to the
//! runtime. Every handler and helper receives a `*mut Context` pointing at it.
//!
//! How generated code uses each field (the runtime resets all four before each handler):
//!
//! - [`Context::unwind`]: after a helper with [`crate::Helper::may_unwind`] returns, and after
//!   every call of a script function, load this word; if it is nonzero, leave the current
//!   statement: inside a `try` block go to its catch dispatch, otherwise decrement the nesting
//!   depth (in functions) and return. A catch dispatch calls `rt_catch`, which returns 1 and
//!   clears the word when the pending unwind is a catchable error, 0 when it is not (`abort()`),
//!   in which case the dispatch continues unwinding outward.
//! - [`Context::actions_left`]: the MAXACTION budget of the current handler (SystemTap counts
//!   ≥1 action per statement and loop iteration). Subtract the actions of a straight-line
//!   stretch, and if the result is `<= 0` call `rt_raise(ctx, ERROR_MAXACTION, loc)` and
//!   unwind. With `--suppress-time-limits` the runtime sets it to `i64::MAX`.
//! - [`Context::nesting`]: number of script-function frames active in this handler (0 in the
//!   handler itself). A function prologue checks `nesting >= MAXNESTING` (a compile-time
//!   constant) and, if so, calls `rt_raise(ctx, ERROR_MAXNESTING, loc)` and returns; otherwise
//!   it increments the counter, and every exit path (including unwinding) decrements it.
//!   This matches SystemTap's `c->nesting+1 >= MAXNESTING` check with its count starting at -1.
//! - [`Context::globals`]: base of the area holding the scalar `long` globals (8 bytes each)
//!   and scalar `string` globals (a [`crate::StrBuf`] each), at the offsets the compiler chose
//!   and declared in the program description.

use core::mem::offset_of;

/// [`Context::unwind`] value: executing normally.
pub const UNWIND_NONE: u64 = 0;
/// [`Context::unwind`] value: a run-time error is pending; `try`/`catch` may catch it.
pub const UNWIND_ERROR: u64 = 1;
/// [`Context::unwind`] value: `abort()` was called; leave the handler without stopping at any
/// `catch` (SystemTap 4.0+: abort is not catchable and is not an error).
pub const UNWIND_ABORT: u64 = 2;

/// The `#[repr(C)]` head of the runtime's execution context.
#[repr(C)]
#[derive(Debug)]
pub struct Context {
    /// Nonzero while unwinding: [`UNWIND_ERROR`] or [`UNWIND_ABORT`].
    pub unwind: u64,
    /// Remaining MAXACTION budget of the running handler.
    pub actions_left: i64,
    /// Script-function frames active in the running handler.
    pub nesting: i64,
    /// Base of the scalar-globals area.
    pub globals: *mut u8,
}

/// Byte offset of [`Context::unwind`] (an `i64`/`u64` load).
pub const CONTEXT_UNWIND_OFFSET: i32 = offset_of!(Context, unwind) as i32;
/// Byte offset of [`Context::actions_left`].
pub const CONTEXT_ACTIONS_LEFT_OFFSET: i32 = offset_of!(Context, actions_left) as i32;
/// Byte offset of [`Context::nesting`].
pub const CONTEXT_NESTING_OFFSET: i32 = offset_of!(Context, nesting) as i32;
/// Byte offset of [`Context::globals`] (a pointer-sized load).
pub const CONTEXT_GLOBALS_OFFSET: i32 = offset_of!(Context, globals) as i32;

/// A probe handler as generated code defines it.
pub type HandlerFn = unsafe extern "C" fn(*mut Context);

impl Context {
    /// A context with nothing pending, no budget and no globals.
    pub const fn new() -> Self {
        Self {
            unwind: UNWIND_NONE,
            actions_left: 0,
            nesting: 0,
            globals: core::ptr::null_mut(),
        }
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The offsets are what generated code hard-codes; a reordering of fields must be a
    // deliberate, visible change.
    #[test]
    fn offsets_are_the_documented_ones() {
        assert_eq!(CONTEXT_UNWIND_OFFSET, 0);
        assert_eq!(CONTEXT_ACTIONS_LEFT_OFFSET, 8);
        assert_eq!(CONTEXT_NESTING_OFFSET, 16);
        assert_eq!(CONTEXT_GLOBALS_OFFSET, 24);
        assert_eq!(core::mem::align_of::<Context>(), 8);
    }
}
