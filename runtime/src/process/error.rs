use std::io;
use std::path::PathBuf;

/// Everything that can go wrong attaching probes to processes or running the engines.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot run '{command}': {source}")]
    Spawn { command: String, source: io::Error },
    #[error("cannot trace process {pid}: {source}{hint}")]
    Attach {
        pid: u32,
        source: io::Error,
        hint: &'static str,
    },
    #[error("ptrace {op} on thread {tid} failed: {source}")]
    Ptrace {
        op: &'static str,
        tid: u32,
        source: io::Error,
    },
    #[error("cannot access memory of process {pid} at {addr:#x}: {source}")]
    Memory {
        pid: u32,
        addr: u64,
        source: io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot probe {}+{offset:#x}: {reason}", path.display())]
    BadProbe {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("cannot map the XOL area into process {pid}: {reason}")]
    XolArea { pid: u32, reason: String },
    #[error("{0}")]
    Permission(String),
    #[error("perf_event_open for {what} failed: {source}")]
    PerfOpen { what: String, source: io::Error },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: io::Error,
    },
}
