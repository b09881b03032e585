//! The execution context: the `#[repr(C)]` [`Exec`] every handler and helper receives (as
//! `*mut rtap_abi::Context`, its first field), holding the session's globals, arrays, output
//! buffer and error state, and the code that runs one handler and accounts for its errors.
//!
//! Handlers run on one thread, one at a time, so this state needs no locks.

use crate::map::{KeyRef, KeyType, Map, ValueType};
use crate::printf::{MemoryReader, NoMemory};
use crate::program::{Limits, ProgramSpec, ScalarInit};
use crate::stats::{Stat, StatSpec};
use rtap_abi::Context;
use rtap_abi::context::{UNWIND_ABORT, UNWIND_ERROR, UNWIND_NONE};
use std::io::Write;

/// SystemTap's session states (§1.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// begin probes run.
    Starting,
    /// ordinary probes run.
    Running,
    /// end probes run.
    Stopping,
    /// error probes run.
    Error,
}

/// One global array or aggregate.
pub enum Var {
    /// An array (of longs, strings or statistics).
    Map(Map),
    /// A scalar aggregate.
    Scalar(Stat, StatSpec),
}

/// A `foreach` in progress: the element ids it will visit and where it is.
pub struct Iter {
    /// The array.
    pub map: usize,
    /// Entry ids, in visiting order.
    pub ids: Vec<u32>,
    /// Index of the next element; the current one is `pos - 1`.
    pub pos: usize,
}

/// A run-time error raised in the running handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingError {
    /// The message (what `catch (msg)` receives).
    pub message: Vec<u8>,
    /// The location id for the `near …` part.
    pub loc: Option<usize>,
}

/// Where script output and diagnostics go.
pub struct Sinks {
    /// Script output (stdout or `-o FILE`).
    pub out: Box<dyn Write + Send>,
    /// `ERROR:` / `WARNING:` lines (stderr).
    pub err: Box<dyn Write + Send>,
}

/// The private state behind the context.
pub struct ExecState {
    /// The program.
    pub program: ProgramSpec,
    /// Backing store of the scalar-globals area (8-aligned).
    pub globals: Vec<u64>,
    /// Arrays and aggregates by `map` id.
    pub vars: Vec<Var>,
    /// Output of the running handler, flushed when it ends.
    pub out: Vec<u8>,
    /// The pending error, if any.
    pub error: Option<PendingError>,
    /// Session state.
    pub state: SessionState,
    /// Active `foreach` loops.
    pub iters: Vec<Iter>,
    /// Index of the running probe.
    pub probe: usize,
    /// `target()`.
    pub target: i64,
    /// Memory `%m`/`%M` read from in the running handler.
    pub memory: Box<dyn MemoryReader + Send>,
    /// Output sinks.
    pub sinks: Sinks,
    /// Errors so far.
    pub error_count: i64,
    /// Whether any `ERROR:` line was printed (stap's exit status 1).
    pub error_printed: bool,
    /// `warn()` messages already printed (staprun prints each once).
    pub warned: std::collections::HashSet<Vec<u8>>,
}

/// The execution context handed to generated code: `abi` first, so a `*mut Exec` is a valid
/// `*mut Context` and back.
#[repr(C)]
pub struct Exec {
    /// The part generated code touches inline.
    pub abi: Context,
    /// Everything else.
    pub st: ExecState,
}

impl Exec {
    /// Builds the state for `program`: globals initialized, arrays empty.
    pub fn new(program: ProgramSpec, sinks: Sinks) -> Box<Exec> {
        let limits = program.limits.clone();
        let mut globals = vec![0u64; program.globals_size.div_ceil(8)];
        for s in &program.scalars {
            let base = globals.as_mut_ptr().cast::<u8>().wrapping_add(s.offset);
            match &s.init {
                // SAFETY: validate() checked offset + size <= globals_size and 8-alignment.
                ScalarInit::Long(v) => unsafe { base.cast::<i64>().write(*v) },
                // SAFETY: as above, for a StrBuf of strbuf_size(max_string_len) bytes.
                ScalarInit::Str(s) => unsafe {
                    crate::strings::store(base.cast(), s, limits.max_string_len - 1)
                },
            }
        }
        let vars = program
            .maps
            .iter()
            .map(|m| match (&m.value, m.keys.is_empty()) {
                (ValueType::Stats(spec), true) => Var::Scalar(Stat::new(spec), spec.clone()),
                _ => Var::Map(Map::new(
                    m.keys.clone(),
                    m.value.clone(),
                    m.size.unwrap_or(limits.max_map_entries),
                    m.wrap,
                )),
            })
            .collect();
        let mut exec = Box::new(Exec {
            abi: Context::new(),
            st: ExecState {
                program,
                globals,
                vars,
                out: Vec::new(),
                error: None,
                state: SessionState::Starting,
                iters: Vec::new(),
                probe: 0,
                target: 0,
                memory: Box::new(NoMemory),
                sinks,
                error_count: 0,
                error_printed: false,
                warned: Default::default(),
            },
        });
        exec.abi.globals = exec.st.globals.as_mut_ptr().cast();
        exec
    }

    /// The context pointer generated code receives.
    pub fn context(&mut self) -> *mut Context {
        (self as *mut Exec).cast()
    }

    /// Recovers the execution state from a context pointer.
    ///
    /// # Safety
    /// `ctx` must come from [`Exec::context`] of a live `Exec` not otherwise borrowed.
    pub unsafe fn from_context<'a>(ctx: *mut Context) -> &'a mut Exec {
        // SAFETY: Exec is repr(C) with the Context first; the pointer covers the whole Exec.
        unsafe { &mut *ctx.cast::<Exec>() }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.st.program.limits
    }

    /// Records a run-time error and starts unwinding.
    pub fn raise(&mut self, message: impl Into<Vec<u8>>, loc: i64) {
        let loc = usize::try_from(loc)
            .ok()
            .filter(|&l| l < self.st.program.locations.len());
        self.st.error = Some(PendingError {
            message: message.into(),
            loc,
        });
        self.abi.unwind = UNWIND_ERROR;
    }

    /// `exit()`: no new probes (other than end probes) run after this handler.
    pub fn request_exit(&mut self) {
        if matches!(
            self.st.state,
            SessionState::Starting | SessionState::Running
        ) {
            self.st.state = SessionState::Stopping;
        } else if self.st.state == SessionState::Error {
            // exit() in an error probe sets STOPPING too: remaining error probes are skipped.
            self.st.state = SessionState::Stopping;
        }
    }

    /// `abort()`.
    pub fn abort(&mut self) {
        self.request_exit();
        self.abi.unwind = UNWIND_ABORT;
    }

    /// Runs probe `index`'s handler: resets the per-handler state, calls it, flushes its
    /// output and reports an uncaught error (`ERROR: msg near loc`, error count, MAXERRORS).
    pub fn run_probe(&mut self, index: usize) {
        let handler = self.st.program.probes[index].handler;
        self.st.probe = index;
        self.abi.unwind = UNWIND_NONE;
        self.abi.nesting = 0;
        self.abi.actions_left = if self.limits().suppress_time_limits {
            i64::MAX
        } else {
            self.limits().max_action
        };
        self.st.error = None;
        let ctx = self.context();
        // SAFETY: generated handlers take the context pointer of a live Exec, as here.
        unsafe { handler(ctx) };
        self.st.iters.clear();
        self.flush();
        if let Some(err) = self.st.error.take() {
            self.report(err);
        }
        self.abi.unwind = UNWIND_NONE;
    }

    /// Writes the handler's output.
    pub fn flush(&mut self) {
        if !self.st.out.is_empty() {
            let _ = self.st.sinks.out.write_all(&self.st.out);
            let _ = self.st.sinks.out.flush();
            self.st.out.clear();
        }
    }

    fn report(&mut self, err: PendingError) {
        self.st.error_count += 1;
        if self.limits().suppress_handler_errors {
            return;
        }
        let mut line = b"ERROR: ".to_vec();
        line.extend_from_slice(&err.message);
        if let Some(loc) = err.loc {
            line.extend_from_slice(b" near ");
            line.extend_from_slice(self.st.program.locations[loc].as_bytes());
        }
        line.push(b'\n');
        self.diag(&line);
        self.st.error_printed = true;
        if self.st.error_count > self.limits().max_errors {
            self.st.state = SessionState::Error;
        }
    }

    /// Writes a diagnostic line to stderr.
    pub fn diag(&mut self, line: &[u8]) {
        let _ = self.st.sinks.err.write_all(line);
        let _ = self.st.sinks.err.flush();
    }

    /// `warn(msg)`: `WARNING: msg`, each distinct message once.
    pub fn warn(&mut self, msg: &[u8]) {
        if self.st.warned.insert(msg.to_vec()) {
            let mut line = b"WARNING: ".to_vec();
            line.extend_from_slice(msg);
            line.push(b'\n');
            self.diag(&line);
        }
    }

    /// The array or aggregate `map`, if the id is valid.
    pub fn var(&mut self, map: i64) -> Option<&mut Var> {
        usize::try_from(map)
            .ok()
            .and_then(|m| self.st.vars.get_mut(m))
    }

    /// `Array overflow, check …` for array `map` (translate.cxx STAP_T_01).
    pub fn overflow_message(&self, map: usize) -> String {
        match self.st.program.maps[map].size {
            Some(n) => format!("Array overflow, check size limit ({n})"),
            None => "Array overflow, check MAXMAPENTRIES".to_string(),
        }
    }
}

/// Keys decoded from generated code's slots (at most nine, no allocation).
pub struct Keys<'a> {
    buf: [KeyRef<'a>; 9],
    len: usize,
}

impl<'a> std::ops::Deref for Keys<'a> {
    type Target = [KeyRef<'a>];
    fn deref(&self) -> &[KeyRef<'a>] {
        &self.buf[..self.len]
    }
}

/// Decodes generated code's key slots by the array's key types.
///
/// # Safety
/// `slots` must hold one slot per key type (it may be null when there are none); string slots
/// must be valid `StrBuf` pointers that outlive the returned keys.
pub unsafe fn decode_keys<'a>(types: &[KeyType], slots: *const u64) -> Keys<'a> {
    let mut keys = Keys {
        buf: [KeyRef::Long(0); 9],
        len: types.len().min(9),
    };
    for (i, t) in types.iter().take(9).enumerate() {
        // SAFETY: per the contract, slot i exists.
        let slot = unsafe { *slots.add(i) };
        keys.buf[i] = match t {
            KeyType::Long => KeyRef::Long(slot as i64),
            // SAFETY: string slots hold valid StrBuf pointers.
            KeyType::Str => KeyRef::Str(unsafe { crate::strings::bytes(slot as *const _) }),
        };
    }
    keys
}
