//! The helper table: every runtime function generated code may call.
//!
//! One declarative list ([`for_each_helper!`]) drives everything:
//! - [`Helper`], an enum with one variant per helper, whose [`Helper::name`],
//!   [`Helper::params`], [`Helper::ret`] and [`Helper::may_unwind`] give the codegen what it
//!   needs to declare the Cranelift signature (`ParamKind::is_pointer` → the target's pointer
//!   type, otherwise `i64`; the return, when present, is `i64`) and to emit the unwind check;
//! - [`Helpers`], a struct with one typed `extern "C"` function-pointer field per helper.
//!   The runtime builds one with a struct literal, so a missing helper or a helper of the
//!   wrong type does not compile; [`Helpers::symbols`] yields the `(name, address)` pairs for
//!   `cranelift_jit::JITBuilder::symbol`.
//!
//! ## Argument conventions
//! - `map`: index into the program description's list of arrays and aggregates. A scalar
//!   statistics global is an aggregate of arity 0 and goes through the same helpers; its
//!   `keys` argument is ignored (may be null).
//! - `keys` ([`ParamKind::Slots`]): `arity` consecutive 8-byte slots, slot *i* holding key *i*:
//!   the `i64` itself for a long key, a `*const StrBuf` for a string key.
//! - `wildcards`: bit *i* set means key *i* is `*` (slicing: `[*, 5] in a`, `delete a[*, 5]`,
//!   `foreach ([x, y] in a[*, 5])`); that slot is then ignored. 0 means an exact key.
//! - `keys_out` ([`ParamKind::SlotsOut`]): like `keys`, filled by `rt_foreach_next`: long slots
//!   receive the key; string slots must already hold a `*mut StrBuf` the key is copied into.
//! - `args` ([`ParamKind::Slots`]) of `rt_printf`/`rt_sprintf`: one slot per argument the
//!   format consumes, in order (see [`crate::format::Format::arg_types`]): `*` widths and
//!   precisions and numeric values as `i64`, `%s` values as `*const StrBuf`.
//! - `loc`: index into the program's location strings (`operator '/' at f.stp:1:22`), used in
//!   the `ERROR: … near …` line if the helper fails; [`crate::codes::LOC_NONE`] for none.
//! - `dst` ([`ParamKind::StrOut`]): a destination buffer with room for MAXSTRINGLEN bytes;
//!   may be the same buffer as a string input of the same call.

use crate::{Context, StrBuf};

/// What a helper parameter is, beyond its machine type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// `*mut Context`, always the first parameter.
    Ctx,
    /// `*const StrBuf`: an input string.
    Str,
    /// `*mut StrBuf`: a destination string buffer.
    StrOut,
    /// `*const u8`: raw bytes (string literal data).
    Bytes,
    /// `*const u64`: key or argument slots.
    Slots,
    /// `*mut u64`: key slots written by the runtime.
    SlotsOut,
    /// `i64`: a long, an id, a code, a location.
    I64,
}

impl ParamKind {
    /// Whether the parameter is passed as a pointer (pointer-sized) rather than an `i64`.
    pub const fn is_pointer(self) -> bool {
        !matches!(self, ParamKind::I64)
    }
}

/// One parameter of a helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The parameter's name in the documentation.
    pub name: &'static str,
    /// Its kind.
    pub kind: ParamKind,
}

/// The Rust type generated code's argument has at the boundary.
#[doc(hidden)]
#[macro_export]
macro_rules! __abi_rust_type {
    (Ctx) => { *mut $crate::Context };
    (Str) => { *const $crate::StrBuf };
    (StrOut) => { *mut $crate::StrBuf };
    (Bytes) => { *const u8 };
    (Slots) => { *const u64 };
    (SlotsOut) => { *mut u64 };
    (I64) => { i64 };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __abi_may_unwind {
    (unwinds) => {
        true
    };
    (total) => {
        false
    };
}

/// Invokes `$callback!` with the helper list. Each entry reads
/// `[unwinds|total] Variant = symbol_name(param: Kind, ...) [-> I64];` where `unwinds` marks
/// helpers after which generated code must check [`Context::unwind`].
#[macro_export]
macro_rules! for_each_helper {
    ($callback:ident) => {
        $callback! {
            // ---- strings ----
            /// `dst = bytes[..len]`, truncated to MAXSTRINGLEN-1 and at the first NUL byte.
            [total] StrSet = rt_str_set(ctx: Ctx, dst: StrOut, bytes: Bytes, len: I64);
            /// `dst = src`, truncated to MAXSTRINGLEN-1.
            [total] StrCopy = rt_str_copy(ctx: Ctx, dst: StrOut, src: Str);
            /// `dst = a . b`, truncated to MAXSTRINGLEN-1 (`.=` is `rt_str_concat(d, d, s)`).
            [total] StrConcat = rt_str_concat(ctx: Ctx, dst: StrOut, a: Str, b: Str);
            /// Compares like C `strcmp` on the bytes: -1, 0 or 1.
            [total] StrCompare = rt_str_compare(ctx: Ctx, a: Str, b: Str) -> I64;
            /// `strlen(s)`.
            [total] StrLen = rt_str_len(ctx: Ctx, s: Str) -> I64;

            // ---- errors and control ----
            /// Raises a run-time error detected inline (`codes::ERROR_*`).
            [unwinds] Raise = rt_raise(ctx: Ctx, kind: I64, loc: I64);
            /// `error(msg)`: raises `msg` as a run-time error (printed without location).
            [unwinds] Error = rt_error(ctx: Ctx, msg: Str);
            /// At a catch dispatch: if the pending unwind is a catchable error, copy its message
            /// into `msg` (when not null), clear it and return 1; otherwise return 0.
            [total] Catch = rt_catch(ctx: Ctx, msg: StrOut) -> I64;
            /// `exit()`: the session stops after this handler (end probes run).
            [total] Exit = rt_exit(ctx: Ctx);
            /// `abort()`: like `exit()`, and leaves the handler at once (not catchable).
            [unwinds] Abort = rt_abort(ctx: Ctx);
            /// `warn(msg)`: `WARNING: msg` on stderr.
            [total] Warn = rt_warn(ctx: Ctx, msg: Str);
            /// `log(msg)`: `msg` and a newline to the script output.
            [total] Log = rt_log(ctx: Ctx, msg: Str);

            // ---- output ----
            /// `printf` (and the print family, lowered to formats) into the handler's output.
            [unwinds] Printf = rt_printf(ctx: Ctx, format: I64, args: Slots, loc: I64);
            /// `sprintf` into `dst`, truncated to MAXSTRINGLEN-1.
            [unwinds] Sprintf = rt_sprintf(ctx: Ctx, dst: StrOut, format: I64, args: Slots, loc: I64);

            // ---- arrays ----
            /// `a[k]` of a long array; 0 when absent (nothing is inserted).
            [total] MapGetLong = rt_map_get_long(ctx: Ctx, map: I64, keys: Slots) -> I64;
            /// `a[k]` of a string array into `dst`; "" when absent.
            [total] MapGetStr = rt_map_get_str(ctx: Ctx, map: I64, keys: Slots, dst: StrOut);
            /// `a[k] = value` (0 inserts too). Fails when the array is full and does not wrap.
            [unwinds] MapSetLong = rt_map_set_long(ctx: Ctx, map: I64, keys: Slots, value: I64, loc: I64);
            /// `a[k] = value` ("" inserts too).
            [unwinds] MapSetStr = rt_map_set_str(ctx: Ctx, map: I64, keys: Slots, value: Str, loc: I64);
            /// `a[k] += delta` in one lookup; returns the new value.
            [unwinds] MapAddLong = rt_map_add_long(ctx: Ctx, map: I64, keys: Slots, delta: I64, loc: I64) -> I64;
            /// `[k...] in a`, with `*` slices: 1 or 0.
            [total] MapExists = rt_map_exists(ctx: Ctx, map: I64, keys: Slots, wildcards: I64) -> I64;
            /// `delete a[k...]` (no error when absent), with `*` slices.
            [total] MapDelete = rt_map_delete(ctx: Ctx, map: I64, keys: Slots, wildcards: I64);
            /// `delete a` / `delete S` (an aggregate of arity 0 is reset).
            [total] MapClear = rt_map_clear(ctx: Ctx, map: I64);

            // ---- statistics ----
            /// `S <<< value` / `a[k] <<< value`.
            [unwinds] StatAdd = rt_stat_add(ctx: Ctx, map: I64, keys: Slots, value: I64, loc: I64);
            /// `@count(S)`… (`codes::STAT_*`); `empty aggregate` for all but count and sum.
            [unwinds] StatGet = rt_stat_get(ctx: Ctx, map: I64, keys: Slots, op: I64, loc: I64) -> I64;
            /// `print(@hist_*(S))`: the ASCII histogram into the handler's output.
            [unwinds] HistPrint = rt_hist_print(ctx: Ctx, map: I64, keys: Slots, loc: I64);
            /// `sprint(@hist_*(S))` into `dst`.
            [unwinds] HistSprint = rt_hist_sprint(ctx: Ctx, dst: StrOut, map: I64, keys: Slots, loc: I64);
            /// `@hist_*(S)[bucket]`: `empty aggregate`, then `histogram index out of range`.
            [unwinds] HistBucket = rt_hist_bucket(ctx: Ctx, map: I64, keys: Slots, bucket: I64, loc: I64) -> I64;
            /// The count in `bucket` with no checks (0 when absent), for `foreach` over buckets.
            [total] HistCount = rt_hist_count(ctx: Ctx, map: I64, keys: Slots, bucket: I64) -> I64;
            /// Number of buckets of the aggregate's histogram (the `foreach` bound).
            [total] HistBuckets = rt_hist_buckets(ctx: Ctx, map: I64) -> I64;

            // ---- foreach ----
            /// Starts iterating (sorting by `codes::sort_spec` or in insertion order), at most
            /// `limit` elements, keys matching `pattern`/`wildcards`; returns an iterator id.
            [total] ForeachStart = rt_foreach_start(ctx: Ctx, map: I64, sort: I64, limit: I64, pattern: Slots, wildcards: I64) -> I64;
            /// Moves to the next element and writes its keys: 1, or 0 when done.
            [total] ForeachNext = rt_foreach_next(ctx: Ctx, iter: I64, keys_out: SlotsOut) -> I64;
            /// Value of the current element of a long array.
            [total] ForeachValueLong = rt_foreach_value_long(ctx: Ctx, iter: I64) -> I64;
            /// Value of the current element of a string array.
            [total] ForeachValueStr = rt_foreach_value_str(ctx: Ctx, iter: I64, dst: StrOut);
            /// An aggregate of the current element of a statistics array.
            [unwinds] ForeachValueStat = rt_foreach_value_stat(ctx: Ctx, iter: I64, op: I64, loc: I64) -> I64;
            /// Ends the loop (also on `break`); unwinding leaves iterators to the runtime.
            [total] ForeachEnd = rt_foreach_end(ctx: Ctx, iter: I64);

            // ---- probe context ----
            /// `pp()`: the probe point of the running handler.
            [total] Pp = rt_pp(ctx: Ctx, dst: StrOut);
            /// `pn()`: the probe point as the script wrote it.
            [total] Pn = rt_pn(ctx: Ctx, dst: StrOut);
            /// `target()`: the `-c`/`-x` process id, 0 without.
            [total] Target = rt_target(ctx: Ctx) -> I64;
        }
    };
}

macro_rules! define_table {
    ($(
        $(#[$doc:meta])*
        [$unwind:ident] $variant:ident = $name:ident ( $( $arg:ident : $kind:ident ),* ) $( -> $ret:ident )? ;
    )*) => {
        /// One runtime helper.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Helper {
            $( $(#[$doc])* $variant, )*
        }

        impl Helper {
            /// Every helper, in table order.
            pub const ALL: &'static [Helper] = &[ $( Helper::$variant, )* ];

            /// The symbol name the JIT resolves.
            pub const fn name(self) -> &'static str {
                match self { $( Helper::$variant => stringify!($name), )* }
            }

            /// The parameters, `ctx` first.
            pub const fn params(self) -> &'static [Param] {
                match self {
                    $( Helper::$variant => &[ $( Param { name: stringify!($arg), kind: ParamKind::$kind }, )* ], )*
                }
            }

            /// Whether the helper returns an `i64`.
            pub const fn returns_i64(self) -> bool {
                match self { $( Helper::$variant => false $( || $crate::__abi_is_i64!($ret) )?, )* }
            }

            /// Whether generated code must check [`Context::unwind`] after calling it.
            pub const fn may_unwind(self) -> bool {
                match self { $( Helper::$variant => $crate::__abi_may_unwind!($unwind), )* }
            }
        }

        /// Typed pointers to every helper; the runtime fills one with a struct literal.
        #[derive(Clone, Copy)]
        pub struct Helpers {
            $(
                $(#[$doc])*
                pub $name: unsafe extern "C" fn( $( $crate::__abi_rust_type!($kind) ),* ) $( -> $crate::__abi_rust_type!($ret) )?,
            )*
        }

        impl Helpers {
            /// `(symbol name, address)` for every helper, in table order.
            pub fn symbols(&self) -> Vec<(&'static str, *const u8)> {
                vec![ $( (stringify!($name), self.$name as *const u8), )* ]
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __abi_is_i64 {
    (I64) => {
        true
    };
}

for_each_helper!(define_table);

// Keep the imported names used by the macro expansion visible to readers of this module.
const _: Option<(*mut Context, *const StrBuf)> = None;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_helper_takes_the_context_first_and_names_are_unique() {
        let mut names = HashSet::new();
        for h in Helper::ALL {
            assert!(h.name().starts_with("rt_"), "{}", h.name());
            assert!(names.insert(h.name()), "duplicate {}", h.name());
            assert_eq!(h.params()[0].kind, ParamKind::Ctx, "{}", h.name());
            assert!(h.params()[1..].iter().all(|p| p.kind != ParamKind::Ctx));
        }
    }

    #[test]
    fn helpers_that_report_errors_take_a_location() {
        // Every helper that can raise an error other than error()/abort() says where.
        for h in Helper::ALL.iter().filter(|h| h.may_unwind()) {
            let has_loc = h.params().iter().any(|p| p.name == "loc");
            assert!(
                has_loc || matches!(h, Helper::Error | Helper::Abort),
                "{}",
                h.name()
            );
        }
    }
}
