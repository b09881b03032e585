//! Probing user processes: the two uprobe engines and the events they deliver.
//!
//! A probe is named the way the kernel's uprobes name it: an ELF file and a *file offset*
//! inside it (`ProbeSpec`). Resolving a probe point (`function("main")`, a statement, a marker)
//! to that offset is the debug-info layer's job; the engines only place breakpoints and report
//! hits.
//!
//! Two engines deliver the same [`Hit`] values to a [`HitHandler`]:
//! - [`ptrace::PtraceEngine`] — rtap's own engine for `-c CMD` / `-x PID` targets (no privilege
//!   needed): `int3` breakpoints, displaced instructions executed out of line from an XOL area
//!   mapped into the target, handlers run while the hitting thread is stopped.
//! - [`perf::PerfEngine`] — kernel uprobes through `perf_event_open`, system-wide (root or
//!   `CAP_PERFMON`); handlers run after the fact on sampled registers and a stack copy.
//!
//! [`backend::choose`] picks one for the binary (`--backend=kernel|ptrace`).

pub mod arch;
// pub mod backend;
mod error;
pub mod memory;
// pub mod perf;
pub mod ptrace;

use std::path::{Path, PathBuf};

use crate::debuginfo::maps::ProcessMaps;
use crate::debuginfo::{MemoryReader, ProbeSite};

pub use arch::Registers;
pub use error::Error;

/// Index of a probe in the list given to an engine (`probes[id.0]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeId(pub usize);

/// Where a probe sits and what it reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSpec {
    /// The ELF file (executable or shared library) containing the probed instruction.
    pub path: PathBuf,
    /// File offset of the probed instruction, as the kernel's uprobe PMU takes it
    /// (`probe_offset`): independent of where the file is mapped, so one spec serves PIE
    /// executables and libraries at any load address.
    pub offset: u64,
    pub kind: ProbeKind,
    /// Only this process (thread group id); `None` = every traced process mapping `path`.
    pub pid: Option<u32>,
}

impl ProbeSpec {
    /// The spec of a resolved probe site (`None` for an address outside the file's
    /// contents, which only `.statement(ADDR).absolute` can name).
    pub fn from_site(site: &ProbeSite, pid: Option<u32>) -> Option<ProbeSpec> {
        Some(ProbeSpec {
            path: site.module.clone(),
            offset: site.file_offset?,
            kind: if site.is_return {
                ProbeKind::Return
            } else {
                ProbeKind::Entry
            },
            pid,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// The instruction at `offset` is about to execute.
    Entry,
    /// The function whose first instruction is at `offset` returns (registers at the return
    /// address; `rax` holds the return value).
    Return,
}

/// Process lifecycle events (`process.begin`, `.end`, `.thread.begin`, `.thread.end`,
/// `.syscall`, `.syscall.return`), reported by the ptrace engine for traced processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LifecycleEvents {
    pub process_begin: bool,
    pub process_end: bool,
    pub thread_begin: bool,
    pub thread_end: bool,
    pub syscall: bool,
    pub syscall_return: bool,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HitKind {
    /// A probe's instruction was reached. `call_id` is set when a return probe on the same
    /// function was armed by this hit; the matching [`HitKind::Return`] carries the same id
    /// (for `@entry` values).
    Entry {
        probe: ProbeId,
        call_id: Option<u64>,
    },
    /// A probed function returned to `return_address`.
    Return {
        probe: ProbeId,
        call_id: u64,
        function: u64,
        return_address: u64,
    },
    /// A new process (a traced `fork`/`vfork` child, the `-c` command after its `exec`, or each
    /// process found at attach).
    ProcessBegin,
    /// A process is about to exit (its last thread is exiting; `code` is the wait status
    /// the kernel will report).
    ProcessEnd {
        status: i32,
    },
    ThreadBegin,
    ThreadEnd,
    Syscall {
        nr: u64,
        args: [u64; 6],
    },
    SyscallReturn {
        nr: u64,
        value: i64,
    },
}

/// One event, as a handler sees it.
pub struct Hit<'a> {
    pub kind: HitKind,
    pub pid: u32,
    pub tid: u32,
    /// `CLOCK_MONOTONIC` nanoseconds (perf: the sample's time; ptrace: when the stop was seen).
    pub time_ns: u64,
    /// The CPU the event was sampled on, when the engine knows it.
    pub cpu: Option<u32>,
    /// Registers at the event. For `Entry` the program counter is the probe address.
    pub regs: &'a Registers,
    /// The target's memory. Exact under ptrace (the thread is stopped); under perf a sampled
    /// stack window backed by a live read of the still-running process.
    pub memory: &'a dyn MemoryReader,
}

/// A handler's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// End the session: remove every probe, detach, return from `run`.
    Stop,
}

/// Receives events on the thread that runs the engine. Under ptrace the hitting thread stays
/// stopped until this returns.
pub trait HitHandler {
    fn on_hit(&mut self, hit: &Hit<'_>) -> Action;
}

impl<F: FnMut(&Hit<'_>) -> Action> HitHandler for F {
    fn on_hit(&mut self, hit: &Hit<'_>) -> Action {
        self(hit)
    }
}

/// How `run` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The spawned (`-c`) command exited with this wait status (`WIFEXITED`/`WIFSIGNALED`).
    TargetExited(i32),
    /// Every traced process is gone (attached targets).
    AllGone,
    /// A handler returned [`Action::Stop`].
    HandlerStop,
    /// A stop was requested ([`StopHandle`], SIGINT, SIGTERM).
    StopRequested,
}

pub use ptrace::stop::StopHandle;

pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The run-time address of `path`+`offset` in a process with these mappings (an executable
/// mapping of that file covering the offset: a probe lives in code).
pub fn probe_address(maps: &ProcessMaps, path: &Path, offset: u64) -> Option<u64> {
    maps.mappings
        .iter()
        .filter(|m| m.executable && m.path.as_deref() == Some(path))
        .find(|m| offset >= m.offset && offset - m.offset < m.end - m.start)
        .map(|m| m.start + (offset - m.offset))
}

/// Reads `/proc/PID/maps`.
pub(crate) fn read_maps(pid: u32) -> Result<ProcessMaps, Error> {
    ProcessMaps::read(pid).map_err(|source| Error::Read {
        path: format!("/proc/{pid}/maps").into(),
        source,
    })
}
