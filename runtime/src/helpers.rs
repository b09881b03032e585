//! The `extern "C"` helpers of `rtap_abi::for_each_helper!`, and [`helpers`], the table the JIT
//! resolves them from.
//!
//! Every helper receives the context of a live [`Exec`] (the session passes it to handlers,
//! handlers pass it on) and pointers that generated code derived from its own frame, data or
//! the globals area, valid for the duration of the call. Bad ids (which a correct compiler
//! never produces) make a helper do nothing and return 0 rather than crash.

use crate::exec::{Exec, Iter, Var, decode_keys};
use crate::hist::HistStyle;
use crate::map::{KeyVal, Value, ValueType};
use crate::printf;
use crate::stats::{EmptyAggregate, Stat, StatSpec};
use crate::strings;
use rtap_abi::codes::{
    ERROR_DIVISION_BY_ZERO, ERROR_FUNCTIONS_EXHAUSTED, ERROR_MAXACTION, ERROR_MAXNESTING, LOC_NONE,
    decode_sort_spec,
};
use rtap_abi::context::UNWIND_ERROR;
use rtap_abi::{Context, Helpers, StrBuf};

/// The helper table for `JITBuilder::symbol` (via [`Helpers::symbols`]).
pub fn helpers() -> Helpers {
    Helpers {
        rt_str_set,
        rt_str_copy,
        rt_str_concat,
        rt_str_compare,
        rt_str_len,
        rt_raise,
        rt_error,
        rt_catch,
        rt_exit,
        rt_abort,
        rt_warn,
        rt_log,
        rt_printf,
        rt_sprintf,
        rt_map_get_long,
        rt_map_get_str,
        rt_map_set_long,
        rt_map_set_str,
        rt_map_add_long,
        rt_map_exists,
        rt_map_delete,
        rt_map_clear,
        rt_stat_add,
        rt_stat_get,
        rt_hist_print,
        rt_hist_sprint,
        rt_hist_bucket,
        rt_hist_count,
        rt_hist_buckets,
        rt_foreach_start,
        rt_foreach_next,
        rt_foreach_value_long,
        rt_foreach_value_str,
        rt_foreach_value_stat,
        rt_foreach_end,
        rt_pp,
        rt_pn,
        rt_target,
    }
}

/// The execution state behind a helper's context.
macro_rules! exec {
    ($ctx:expr) => {{
        // SAFETY: helpers are only called by generated code with the context of a live Exec.
        unsafe { Exec::from_context($ctx) }
    }};
}

/// An input string's bytes.
macro_rules! input {
    ($s:expr) => {{
        // SAFETY: generated code passes valid string buffers (see the ABI's conventions).
        unsafe { strings::bytes($s) }
    }};
}

/// Stores a result string.
fn store(e: &Exec, dst: *mut StrBuf, bytes: &[u8]) {
    if dst.is_null() {
        return;
    }
    // SAFETY: destinations have room for MAXSTRINGLEN bytes; bytes may alias dst (memmove).
    unsafe { strings::store(dst, bytes, e.limits().max_string_len - 1) }
}

// ---- strings ----

unsafe extern "C" fn rt_str_set(ctx: *mut Context, dst: *mut StrBuf, bytes: *const u8, len: i64) {
    let e = exec!(ctx);
    // SAFETY: `bytes[..len]` is literal data generated code owns.
    let data = unsafe { std::slice::from_raw_parts(bytes, len.max(0) as usize) };
    store(e, dst, data);
}

unsafe extern "C" fn rt_str_copy(ctx: *mut Context, dst: *mut StrBuf, src: *const StrBuf) {
    let e = exec!(ctx);
    store(e, dst, input!(src));
}

unsafe extern "C" fn rt_str_concat(
    ctx: *mut Context,
    dst: *mut StrBuf,
    a: *const StrBuf,
    b: *const StrBuf,
) {
    let e = exec!(ctx);
    // SAFETY: valid buffers; the destination is an input or disjoint from them.
    unsafe { strings::concat(dst, a, b, e.limits().max_string_len - 1) }
}

unsafe extern "C" fn rt_str_compare(_ctx: *mut Context, a: *const StrBuf, b: *const StrBuf) -> i64 {
    strings::compare(input!(a), input!(b))
}

unsafe extern "C" fn rt_str_len(_ctx: *mut Context, s: *const StrBuf) -> i64 {
    input!(s).len() as i64
}

// ---- errors and control ----

unsafe extern "C" fn rt_raise(ctx: *mut Context, kind: i64, loc: i64) {
    let e = exec!(ctx);
    let message = match kind {
        ERROR_DIVISION_BY_ZERO => "division by 0",
        ERROR_MAXACTION => "MAXACTION exceeded",
        ERROR_MAXNESTING => "MAXNESTING exceeded",
        ERROR_FUNCTIONS_EXHAUSTED => "all functions exhausted",
        _ => "unknown run-time error",
    };
    e.raise(message, loc);
}

unsafe extern "C" fn rt_error(ctx: *mut Context, msg: *const StrBuf) {
    let e = exec!(ctx);
    // error() clears the location: SystemTap 4.8 prints just `ERROR: msg`.
    e.raise(input!(msg), LOC_NONE);
}

unsafe extern "C" fn rt_catch(ctx: *mut Context, msg: *mut StrBuf) -> i64 {
    let e = exec!(ctx);
    if e.abi.unwind != UNWIND_ERROR {
        return 0;
    }
    let err =
        e.st.error
            .take()
            .unwrap_or_else(|| crate::exec::PendingError {
                message: Vec::new(),
                loc: None,
            });
    store(e, msg, &err.message);
    e.abi.unwind = 0;
    1
}

unsafe extern "C" fn rt_exit(ctx: *mut Context) {
    exec!(ctx).request_exit();
}

unsafe extern "C" fn rt_abort(ctx: *mut Context) {
    exec!(ctx).abort();
}

unsafe extern "C" fn rt_warn(ctx: *mut Context, msg: *const StrBuf) {
    exec!(ctx).warn(input!(msg));
}

unsafe extern "C" fn rt_log(ctx: *mut Context, msg: *const StrBuf) {
    let e = exec!(ctx);
    e.st.out.extend_from_slice(input!(msg));
    e.st.out.push(b'\n');
}

// ---- output ----

unsafe extern "C" fn rt_printf(ctx: *mut Context, format: i64, args: *const u64, loc: i64) {
    let e = exec!(ctx);
    let st = &mut e.st;
    let Some(fmt) = usize::try_from(format)
        .ok()
        .and_then(|f| st.program.formats.get(f))
    else {
        return;
    };
    // SAFETY: generated code passes one slot per argument the format consumes.
    let args = unsafe { printf::decode_args(fmt, args) };
    if let Err(fault) = printf::print(&mut st.out, fmt, &args, st.memory.as_mut()) {
        e.raise(fault.message(), loc);
    }
}

unsafe extern "C" fn rt_sprintf(
    ctx: *mut Context,
    dst: *mut StrBuf,
    format: i64,
    args: *const u64,
    loc: i64,
) {
    let e = exec!(ctx);
    let Some(fmt) = usize::try_from(format)
        .ok()
        .and_then(|f| e.st.program.formats.get(f))
    else {
        return;
    };
    // SAFETY: as for rt_printf.
    let args = unsafe { printf::decode_args(fmt, args) };
    let max = e.limits().max_string_len;
    match printf::sprint(fmt, &args, max, e.st.memory.as_mut()) {
        Ok(s) => store(e, dst, &s),
        Err(fault) => {
            store(e, dst, b"");
            e.raise(fault.message(), loc);
        }
    }
}

// ---- arrays ----

/// Runs `f` on array `map` with its decoded keys.
fn with_map<R>(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    default: R,
    f: impl FnOnce(&mut Exec, usize, &[crate::map::KeyRef<'_>]) -> R,
) -> R {
    let e = exec!(ctx);
    let Some(Var::Map(m)) = e.var(map) else {
        return default;
    };
    // SAFETY: generated code passes one key slot per key of this array.
    let keys = unsafe { decode_keys(m.key_types(), keys) };
    f(e, map as usize, &keys)
}

fn as_map(e: &mut Exec, map: usize) -> &mut crate::map::Map {
    match &mut e.st.vars[map] {
        Var::Map(m) => m,
        Var::Scalar(..) => unreachable!("with_map checked the variable kind"),
    }
}

unsafe extern "C" fn rt_map_get_long(ctx: *mut Context, map: i64, keys: *const u64) -> i64 {
    with_map(ctx, map, keys, 0, |e, m, k| as_map(e, m).get_long(k))
}

unsafe extern "C" fn rt_map_get_str(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    dst: *mut StrBuf,
) {
    with_map(ctx, map, keys, (), |e, m, k| {
        let value = as_map(e, m).get_str(k).to_vec();
        store(e, dst, &value);
    })
}

unsafe extern "C" fn rt_map_set_long(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    value: i64,
    loc: i64,
) {
    with_map(ctx, map, keys, (), |e, m, k| {
        if as_map(e, m).set_long(k, value).is_err() {
            let msg = e.overflow_message(m);
            e.raise(msg, loc);
        }
    })
}

unsafe extern "C" fn rt_map_set_str(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    value: *const StrBuf,
    loc: i64,
) {
    let value = input!(value);
    with_map(ctx, map, keys, (), |e, m, k| {
        let max = e.limits().max_string_len - 1;
        let v = &value[..strings::stored_len(value, max)];
        if as_map(e, m).set_str(k, v).is_err() {
            let msg = e.overflow_message(m);
            e.raise(msg, loc);
        }
    })
}

unsafe extern "C" fn rt_map_add_long(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    delta: i64,
    loc: i64,
) -> i64 {
    with_map(ctx, map, keys, 0, |e, m, k| {
        match as_map(e, m).add_long(k, delta) {
            Ok(v) => v,
            Err(_) => {
                let msg = e.overflow_message(m);
                e.raise(msg, loc);
                0
            }
        }
    })
}

unsafe extern "C" fn rt_map_exists(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    wildcards: i64,
) -> i64 {
    with_map(ctx, map, keys, 0, |e, m, k| {
        i64::from(as_map(e, m).exists(k, wildcards as u64))
    })
}

unsafe extern "C" fn rt_map_delete(ctx: *mut Context, map: i64, keys: *const u64, wildcards: i64) {
    with_map(ctx, map, keys, (), |e, m, k| {
        as_map(e, m).delete(k, wildcards as u64)
    })
}

unsafe extern "C" fn rt_map_clear(ctx: *mut Context, map: i64) {
    match exec!(ctx).var(map) {
        Some(Var::Map(m)) => m.clear(),
        Some(Var::Scalar(s, _)) => s.clear(),
        None => {}
    }
}

// ---- statistics ----

unsafe extern "C" fn rt_stat_add(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    value: i64,
    loc: i64,
) {
    let e = exec!(ctx);
    if let Some(Var::Scalar(s, spec)) = e.var(map) {
        s.add(spec, value);
        return;
    }
    with_map(ctx, map, keys, (), |e, m, k| {
        if as_map(e, m).stat_add(k, value).is_err() {
            let msg = e.overflow_message(m);
            e.raise(msg, loc);
        }
    })
}

/// Runs `f` on the aggregate `map[keys]` (`None` when the element is absent) and raises the
/// error message it may return, at `loc`.
fn with_stat<R: Default>(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    loc: i64,
    f: impl FnOnce(Option<(&Stat, &StatSpec)>, bool, HistStyle) -> Result<R, &'static str>,
) -> R {
    let e = exec!(ctx);
    let style = e.limits().hist;
    let result = match e.var(map) {
        Some(Var::Scalar(s, spec)) => f(Some((s, spec)), true, style),
        Some(Var::Map(m)) => {
            let ValueType::Stats(spec) = m.value_type() else {
                return R::default();
            };
            // SAFETY: one key slot per key of this array.
            let k = unsafe { decode_keys(m.key_types(), keys) };
            f(m.get_stat(&k).map(|s| (s, spec)), false, style)
        }
        None => Ok(R::default()),
    };
    result.unwrap_or_else(|msg| {
        e.raise(msg, loc);
        R::default()
    })
}

unsafe extern "C" fn rt_stat_get(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    op: i64,
    loc: i64,
) -> i64 {
    with_stat(ctx, map, keys, loc, |stat, scalar, _| {
        let result = match stat {
            Some((s, spec)) => s.get(spec, op, scalar),
            // A missing element is an empty aggregate: @count and @sum are 0.
            None => Stat::default().get(&StatSpec::default(), op, scalar),
        };
        result.map_err(|EmptyAggregate| "empty aggregate")
    })
}

/// The histogram chart of `map[keys]`, or the `empty aggregate` error.
fn chart(ctx: *mut Context, map: i64, keys: *const u64, loc: i64) -> Option<Vec<u8>> {
    with_stat(ctx, map, keys, loc, |stat, _, style| match stat {
        Some((s, spec)) if s.count > 0 => {
            let mut out = Vec::new();
            spec.hist.print(&s.hist, style, &mut out);
            Ok(Some(out))
        }
        _ => Err("empty aggregate"),
    })
}

unsafe extern "C" fn rt_hist_print(ctx: *mut Context, map: i64, keys: *const u64, loc: i64) {
    if let Some(text) = chart(ctx, map, keys, loc) {
        exec!(ctx).st.out.extend_from_slice(&text);
    }
}

unsafe extern "C" fn rt_hist_sprint(
    ctx: *mut Context,
    dst: *mut StrBuf,
    map: i64,
    keys: *const u64,
    loc: i64,
) {
    let text = chart(ctx, map, keys, loc).unwrap_or_default();
    let e = exec!(ctx);
    store(e, dst, &text);
}

unsafe extern "C" fn rt_hist_bucket(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    bucket: i64,
    loc: i64,
) -> i64 {
    with_stat(ctx, map, keys, loc, |stat, _, _| match stat {
        Some((s, _)) if s.count > 0 => usize::try_from(bucket)
            .ok()
            .and_then(|b| s.hist.get(b))
            .copied()
            .ok_or("histogram index out of range"),
        _ => Err("empty aggregate"),
    })
}

unsafe extern "C" fn rt_hist_count(
    ctx: *mut Context,
    map: i64,
    keys: *const u64,
    bucket: i64,
) -> i64 {
    with_stat(ctx, map, keys, LOC_NONE, |stat, _, _| {
        Ok(stat
            .and_then(|(s, _)| {
                usize::try_from(bucket)
                    .ok()
                    .and_then(|b| s.hist.get(b))
                    .copied()
            })
            .unwrap_or(0))
    })
}

unsafe extern "C" fn rt_hist_buckets(ctx: *mut Context, map: i64) -> i64 {
    let e = exec!(ctx);
    let spec = match e.var(map) {
        Some(Var::Scalar(_, spec)) => spec.hist,
        Some(Var::Map(m)) => match m.value_type() {
            ValueType::Stats(spec) => spec.hist,
            _ => return 0,
        },
        None => return 0,
    };
    spec.buckets() as i64
}

// ---- foreach ----

unsafe extern "C" fn rt_foreach_start(
    ctx: *mut Context,
    map: i64,
    sort: i64,
    limit: i64,
    pattern: *const u64,
    wildcards: i64,
) -> i64 {
    let e = exec!(ctx);
    let Some(Var::Map(m)) = e.var(map) else {
        return -1;
    };
    if let Some((column, direction, stat_op)) = decode_sort_spec(sort) {
        // `_stp_map_sortn` takes the limit as a C int.
        m.sort(
            column,
            direction,
            stat_op,
            if limit == i64::MAX { 0 } else { limit as i32 },
        );
    }
    let mut ids = m.ids();
    if wildcards != 0 || !pattern.is_null() {
        // SAFETY: a non-null pattern holds one slot per key.
        let pat = unsafe { decode_keys(m.key_types(), pattern) };
        let all = (1u64 << m.key_types().len()) - 1;
        if wildcards as u64 & all != all {
            ids.retain(|&id| crate::map::Map::matches(m.keys(id), &pat, wildcards as u64));
        }
    }
    ids.truncate(usize::try_from(limit.max(0)).unwrap_or(usize::MAX));
    e.st.iters.push(Iter {
        map: map as usize,
        ids,
        pos: 0,
    });
    (e.st.iters.len() - 1) as i64
}

/// The current element of iterator `iter`.
fn current(e: &mut Exec, iter: i64) -> Option<(usize, u32)> {
    let it = e.st.iters.get(usize::try_from(iter).ok()?)?;
    let id = *it.ids.get(it.pos.checked_sub(1)?)?;
    Some((it.map, id))
}

unsafe extern "C" fn rt_foreach_next(ctx: *mut Context, iter: i64, keys_out: *mut u64) -> i64 {
    let e = exec!(ctx);
    let max = e.limits().max_string_len - 1;
    let Some(it) = usize::try_from(iter)
        .ok()
        .and_then(|i| e.st.iters.get_mut(i))
    else {
        return 0;
    };
    let Some(&id) = it.ids.get(it.pos) else {
        return 0;
    };
    it.pos += 1;
    let map = it.map;
    let Var::Map(m) = &e.st.vars[map] else {
        return 0;
    };
    for (i, key) in m.keys(id).iter().enumerate() {
        // SAFETY: generated code passes one writable slot per key; string slots hold
        // destination buffers.
        unsafe {
            match key {
                KeyVal::Long(v) => *keys_out.add(i) = *v as u64,
                KeyVal::Str(s) => strings::store(*keys_out.add(i) as *mut StrBuf, s, max),
            }
        }
    }
    1
}

unsafe extern "C" fn rt_foreach_value_long(ctx: *mut Context, iter: i64) -> i64 {
    let e = exec!(ctx);
    let Some((map, id)) = current(e, iter) else {
        return 0;
    };
    match &e.st.vars[map] {
        Var::Map(m) => match m.value(id) {
            Value::Long(v) => *v,
            _ => 0,
        },
        Var::Scalar(..) => 0,
    }
}

unsafe extern "C" fn rt_foreach_value_str(ctx: *mut Context, iter: i64, dst: *mut StrBuf) {
    let e = exec!(ctx);
    let value = match current(e, iter) {
        Some((map, id)) => match &e.st.vars[map] {
            Var::Map(m) => match m.value(id) {
                Value::Str(s) => s.clone(),
                _ => Vec::new(),
            },
            Var::Scalar(..) => Vec::new(),
        },
        None => Vec::new(),
    };
    store(e, dst, &value);
}

unsafe extern "C" fn rt_foreach_value_stat(ctx: *mut Context, iter: i64, op: i64, loc: i64) -> i64 {
    let e = exec!(ctx);
    let Some((map, id)) = current(e, iter) else {
        return 0;
    };
    let result = match &e.st.vars[map] {
        Var::Map(m) => match (m.value(id), m.value_type()) {
            (Value::Stat(s), ValueType::Stats(spec)) => s.get(spec, op, false),
            _ => Ok(0),
        },
        Var::Scalar(..) => Ok(0),
    };
    result.unwrap_or_else(|EmptyAggregate| {
        e.raise("empty aggregate", loc);
        0
    })
}

unsafe extern "C" fn rt_foreach_end(ctx: *mut Context, iter: i64) {
    let e = exec!(ctx);
    if let Ok(i) = usize::try_from(iter) {
        e.st.iters.truncate(i);
    }
}

// ---- probe context ----

unsafe extern "C" fn rt_pp(ctx: *mut Context, dst: *mut StrBuf) {
    let e = exec!(ctx);
    let pp = e.st.program.probes[e.st.probe].pp.clone();
    store(e, dst, pp.as_bytes());
}

unsafe extern "C" fn rt_pn(ctx: *mut Context, dst: *mut StrBuf) {
    let e = exec!(ctx);
    let pn = e.st.program.probes[e.st.probe].pn.clone();
    store(e, dst, pn.as_bytes());
}

unsafe extern "C" fn rt_target(ctx: *mut Context) -> i64 {
    exec!(ctx).st.target
}
