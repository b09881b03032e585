//! Errors of probe registration and arming.

use crate::patch::PatchError;
use crate::platform::PlatformError;
use crate::reject::RejectReason;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot probe {addr:#x}: {reason}")]
    Rejected { addr: u64, reason: RejectReason },
    #[error("{0:#x} is already probed (one probe per address; the owner multiplexes handlers)")]
    AlreadyProbed(u64),
    #[error("the probe table is full")]
    TableFull,
    #[error("per-CPU state for {have} CPUs, but the platform has {need}")]
    TooFewCpus { have: usize, need: usize },
    #[error("no such probe")]
    UnknownProbe,
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Patch(#[from] PatchError),
}
