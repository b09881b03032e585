//! The session: SystemTap's life cycle (§1.13) around one dispatcher thread.
//!
//! `begin` probes run in ascending sequence (ties in program order) while the state is
//! STARTING; `exit()` stops the remaining ones. Then the state is RUNNING: the `-c` command is
//! released, and timers, providers (through [`EventSink`]), SIGINT/SIGTERM, the `-c` child's
//! exit and the `-T` deadline feed the dispatcher, which runs one handler at a time until
//! something stops the session. `end` probes then run in STOPPING, or, when errors exceeded
//! MAXERRORS, `error` probes in ERROR.
//!
//! *Provider interface.* A provider (the uprobe engines) takes an [`EventSink`] from
//! [`Session::events`] and sends [`Event::Probe`] for the probe index it serves (probes whose
//! point is `ProbePoint::External`); it may pass the memory `%m` reads from and a channel on
//! which the dispatcher acknowledges that the handler finished (a ptrace engine keeps the
//! thread stopped until then).

use crate::exec::{Exec, SessionState, Sinks, Var};
use crate::map::{KeyVal, Value, ValueType};
use crate::printf::{MemoryReader, NoMemory};
use crate::program::{ProbePoint, ProgramSpec, ScalarInit, SpecError};
use rtap_abi::codes::{SORT_DESCENDING, STAT_AVG, STAT_COUNT, STAT_MAX, STAT_MIN, STAT_SUM};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::{Duration, Instant};

/// Something for the dispatcher to do.
pub enum Event {
    /// Run the handler of probe `probe` (a provider's hit).
    Probe {
        /// Probe index.
        probe: usize,
        /// Memory `%m`/`%M` read from during the handler.
        memory: Option<Box<dyn MemoryReader + Send>>,
        /// Acknowledged when the handler has finished.
        done: Option<SyncSender<()>>,
    },
    /// SIGINT or SIGTERM arrived.
    Signal(i32),
    /// The `-c` command exited.
    ChildExit(std::process::ExitStatus),
}

/// Where providers send their events.
#[derive(Clone)]
pub struct EventSink(Sender<Event>);

impl EventSink {
    /// Queues an event; false when the session is gone.
    pub fn send(&self, event: Event) -> bool {
        self.0.send(event).is_ok()
    }
}

/// The process the session is about (`-c` / `-x`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Target {
    /// Neither.
    #[default]
    None,
    /// `-c CMD`: run by `/bin/sh -c 'exec CMD'` once the probes are armed.
    Command(String),
    /// `-x PID`.
    Pid(i64),
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// `-T SECS`.
    pub time_limit: Option<Duration>,
    /// `-c` / `-x`.
    pub target: Target,
    /// Do not install SIGINT/SIGTERM handlers (tests running sessions in threads).
    pub no_signal_handlers: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// stap's exit status: 1 when an `ERROR:` line was printed or the `-c` command failed.
    pub exit_code: i32,
    /// Run-time errors counted.
    pub errors: i64,
}

/// A session that could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The program description is inconsistent.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// `-c CMD` could not be started.
    #[error("cannot run '{0}': {1}")]
    Command(String, std::io::Error),
}

/// A loaded program, ready to run.
pub struct Session {
    exec: Box<Exec>,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    options: SessionOptions,
    child_failed: bool,
}

/// Write end of the signal self-pipe (-1 when none is installed).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a local byte.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}

/// Routes SIGINT and SIGTERM to the dispatcher through a self-pipe and a reader thread.
fn install_signal_handlers(tx: Sender<Event>) {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) on a 2-element array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return;
    }
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installing a handler that only calls write(2).
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    let read_fd = fds[0];
    std::thread::spawn(move || {
        loop {
            let mut byte = 0u8;
            // SAFETY: reading one byte into a local from the pipe this thread owns.
            let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
            if n == 1 {
                if tx.send(Event::Signal(i32::from(byte))).is_err() {
                    break;
                }
            } else if n == 0
                || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
            {
                break;
            }
        }
    });
}

/// A small xorshift generator for `.randomize` (no quality needed, no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Timer {
    probe: usize,
    period: u64,
    randomize: u64,
    due: Instant,
}

impl Timer {
    fn interval(&self, rng: &mut Rng) -> Duration {
        if self.randomize == 0 {
            return Duration::from_nanos(self.period);
        }
        // period ± uniform[-randomize, randomize]
        let spread = rng.next() % (2 * self.randomize + 1);
        Duration::from_nanos((self.period + spread).saturating_sub(self.randomize).max(1))
    }
}

impl Session {
    /// Loads `program`, writing script output and diagnostics to `sinks`.
    pub fn new(
        program: ProgramSpec,
        sinks: Sinks,
        options: SessionOptions,
    ) -> Result<Session, SessionError> {
        program.validate()?;
        let (tx, rx) = mpsc::channel();
        let mut exec = Exec::new(program, sinks);
        if let Target::Pid(pid) = options.target {
            exec.st.target = pid;
        }
        Ok(Session {
            exec,
            tx,
            rx,
            options,
            child_failed: false,
        })
    }

    /// A sink providers deliver probe events through.
    pub fn events(&self) -> EventSink {
        EventSink(self.tx.clone())
    }

    /// The execution state (for the binary's end-of-run needs and for tests).
    pub fn exec(&mut self) -> &mut Exec {
        &mut self.exec
    }

    /// Probe indices of one kind, ordered by sequence number, ties in program order.
    fn ordered(&self, pick: impl Fn(&ProbePoint) -> Option<i64>) -> Vec<(i64, usize)> {
        let mut v: Vec<(i64, usize)> = self
            .exec
            .st
            .program
            .probes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| pick(&p.point).map(|seq| (seq, i)))
            .collect();
        v.sort_by_key(|&(seq, _)| seq);
        v
    }

    /// Runs the session to its end.
    pub fn run(&mut self) -> Result<Outcome, SessionError> {
        if !self.options.no_signal_handlers {
            install_signal_handlers(self.tx.clone());
        }
        self.exec.st.state = SessionState::Starting;
        for (_, probe) in self.ordered(|p| {
            if let ProbePoint::Begin(n) = p {
                Some(*n)
            } else {
                None
            }
        }) {
            if self.exec.st.state != SessionState::Starting {
                break;
            }
            self.exec.run_probe(probe);
        }
        if self.exec.st.state == SessionState::Starting {
            self.exec.st.state = SessionState::Running;
        }
        let mut child = None;
        if self.exec.st.state == SessionState::Running {
            if let Target::Command(cmd) = self.options.target.clone() {
                child = Some(self.start_command(&cmd)?);
            }
            self.dispatch();
        }
        if let Some(mut child) = child {
            // The session ended for another reason: the command is left running, as stap does
            // after detaching; reap it if it already exited.
            let _ = child.try_wait();
        }
        if self.exec.st.state == SessionState::Running {
            self.exec.st.state = SessionState::Stopping;
        }
        let ends = self.ordered(|p| {
            if let ProbePoint::End(n) = p {
                Some(*n)
            } else {
                None
            }
        });
        let mut displayed = false;
        for (seq, probe) in ends {
            if seq > 0 && !displayed {
                self.display_globals();
                displayed = true;
            }
            if self.exec.st.state == SessionState::Stopping {
                self.exec.run_probe(probe);
            }
        }
        if !displayed {
            self.display_globals();
        }
        for (_, probe) in self.ordered(|p| {
            if let ProbePoint::Error(n) = p {
                Some(*n)
            } else {
                None
            }
        }) {
            if self.exec.st.state == SessionState::Error {
                self.exec.run_probe(probe);
            }
        }
        let errors = self.exec.st.error_count;
        if errors > 0 {
            let line = format!("WARNING: Number of errors: {errors}, skipped probes: 0\n");
            self.exec.diag(line.as_bytes());
        }
        let failed = self.exec.st.error_printed || self.child_failed;
        Ok(Outcome {
            exit_code: i32::from(failed),
            errors,
        })
    }

    fn start_command(&mut self, cmd: &str) -> Result<Child, SessionError> {
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("exec {cmd}"))
            .spawn()
            .map_err(|e| SessionError::Command(cmd.to_string(), e))?;
        self.exec.st.target = i64::from(child.id());
        let pid = child.id() as libc::pid_t;
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let mut status = 0;
            // SAFETY: waitpid on our own child; the Child handle is never waited on elsewhere
            // while this thread runs (the session only try_waits after dispatch ends).
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid {
                use std::os::unix::process::ExitStatusExt;
                let _ = tx.send(Event::ChildExit(std::process::ExitStatus::from_raw(status)));
            }
        });
        Ok(child)
    }

    /// The RUNNING phase: one handler at a time until exit(), a signal, the child's exit, the
    /// time limit or too many errors.
    fn dispatch(&mut self) {
        let start = Instant::now();
        let deadline = self.options.time_limit.map(|t| start + t);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
        let mut timers: Vec<Timer> = Vec::new();
        for (i, p) in self.exec.st.program.probes.iter().enumerate() {
            if let ProbePoint::Timer(t) = p.point {
                let mut timer = Timer {
                    probe: i,
                    period: t.period_ns,
                    randomize: t.randomize_ns,
                    due: start,
                };
                timer.due = start + timer.interval(&mut rng);
                timers.push(timer);
            }
        }
        while self.exec.st.state == SessionState::Running {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                // -T: stap synthesizes `probe timer.ms(SECS*1000) { exit() }`.
                self.exec.request_exit();
                break;
            }
            if let Some(t) = timers
                .iter_mut()
                .filter(|t| t.due <= now)
                .min_by_key(|t| t.due)
            {
                let probe = t.probe;
                t.due += t.interval(&mut rng);
                if t.due < now {
                    // Do not try to catch up after a long handler: next period from now.
                    t.due = now + Duration::from_nanos(t.period);
                }
                self.exec.run_probe(probe);
                continue;
            }
            let next = timers.iter().map(|t| t.due).chain(deadline).min();
            let event = match next {
                Some(at) => match self.rx.recv_timeout(at.saturating_duration_since(now)) {
                    Ok(ev) => ev,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match self.rx.recv() {
                    Ok(ev) => ev,
                    Err(_) => break,
                },
            };
            match event {
                Event::Probe {
                    probe,
                    memory,
                    done,
                } => {
                    if probe < self.exec.st.program.probes.len() {
                        self.exec.st.memory = memory.unwrap_or_else(|| Box::new(NoMemory));
                        self.exec.run_probe(probe);
                        self.exec.st.memory = Box::new(NoMemory);
                    }
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                Event::Signal(_) => self.exec.request_exit(),
                Event::ChildExit(status) => {
                    self.child_exited(status);
                    self.exec.request_exit();
                }
            }
        }
    }

    fn child_exited(&mut self, status: std::process::ExitStatus) {
        use std::os::unix::process::ExitStatusExt;
        // staprun/mainloop.c: a failing command is a warning and makes the run fail.
        let line = if let Some(code) = status.code().filter(|&c| c != 0) {
            format!("WARNING: Child process exited with status {code}\n")
        } else if let Some(sig) = status.signal() {
            // SAFETY: strsignal returns a static string for any signal number.
            let name = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(sig)) }
                .to_string_lossy()
                .into_owned();
            format!("WARNING: Child process exited with signal {sig} ({name})\n")
        } else {
            return;
        };
        self.child_failed = true;
        self.exec.diag(line.as_bytes());
    }

    /// §6.5: globals written but never read, printed at the end of the run.
    fn display_globals(&mut self) {
        if self.exec.st.state != SessionState::Stopping {
            return;
        }
        let mut out = Vec::new();
        for s in self.exec.st.program.scalars.iter().filter(|s| s.display) {
            let base = self
                .exec
                .st
                .globals
                .as_ptr()
                .cast::<u8>()
                .wrapping_add(s.offset);
            match s.init {
                ScalarInit::Long(_) => {
                    // SAFETY: validate() checked the scalar lies in the globals area, 8-aligned.
                    let v = unsafe { base.cast::<i64>().read() };
                    out.extend(format!("{}={v}\n", s.name).bytes());
                }
                ScalarInit::Str(_) => {
                    out.extend(format!("{}=\"", s.name).bytes());
                    // SAFETY: as above; a StrBuf lives there.
                    out.extend_from_slice(unsafe { crate::strings::bytes(base.cast()) });
                    out.extend_from_slice(b"\"\n");
                }
            }
        }
        for (i, spec) in self
            .exec
            .st
            .program
            .maps
            .iter()
            .enumerate()
            .filter(|(_, m)| m.display)
        {
            match &mut self.exec.st.vars[i] {
                Var::Scalar(s, sspec) => {
                    out.extend(spec.name.bytes());
                    out.extend(stats_line(s, sspec).bytes());
                    out.push(b'\n');
                }
                Var::Map(m) => {
                    // `foreach (v = [k...] in a-)`: by value (stats: @count), descending.
                    m.sort(0, SORT_DESCENDING, STAT_COUNT, 0);
                    for id in m.ids() {
                        out.extend(spec.name.bytes());
                        out.push(b'[');
                        for (j, k) in m.keys(id).iter().enumerate() {
                            if j > 0 {
                                out.push(b',');
                            }
                            match k {
                                KeyVal::Long(v) => out.extend(v.to_string().bytes()),
                                KeyVal::Str(s) => {
                                    out.push(b'"');
                                    out.extend_from_slice(s);
                                    out.push(b'"');
                                }
                            }
                        }
                        out.push(b']');
                        match (m.value(id), m.value_type()) {
                            (Value::Long(v), _) => out.extend(format!("={v}").bytes()),
                            (Value::Str(s), _) => {
                                out.extend_from_slice(b"=\"");
                                out.extend_from_slice(s);
                                out.push(b'"');
                            }
                            (Value::Stat(s), ValueType::Stats(sspec)) => {
                                out.extend(stats_line(s, sspec).bytes())
                            }
                            (Value::Stat(_), _) => {}
                        }
                        out.push(b'\n');
                    }
                }
            }
        }
        self.exec.st.out.extend_from_slice(&out);
        self.exec.flush();
    }
}

/// The §6.5 display of an aggregate: ` @count=4 @min=1 @max=4 @sum=10 @avg=2`, or
/// ` @count=0x0` when it is empty.
fn stats_line(s: &crate::stats::Stat, spec: &crate::stats::StatSpec) -> String {
    if s.count == 0 {
        return " @count=0x0".to_string();
    }
    let get = |op| s.get(spec, op, true).unwrap_or(0);
    format!(
        " @count={} @min={} @max={} @sum={} @avg={}",
        get(STAT_COUNT),
        get(STAT_MIN),
        get(STAT_MAX),
        get(STAT_SUM),
        get(STAT_AVG)
    )
}

#[cfg(test)]
mod tests;
