//! Why an instruction cannot be probed: the reasons of every architecture's classifier, so the
//! generic layers report them without knowing the architecture.

/// Why an instruction cannot be probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("the address is not aligned to an instruction")]
    Misaligned,
    #[error("the encoding is unallocated or permanently undefined")]
    Undefined,
    #[error("exclusive load/store: an exception between it and its pair clears the monitor")]
    Exclusive,
    #[error("the instruction lies inside a load-exclusive/store-exclusive sequence")]
    InExclusiveSequence,
    #[error("exception-generating instruction")]
    Exception,
    #[error("a breakpoint is already at this address")]
    Breakpoint,
    #[error("exception return")]
    ExceptionReturn,
    #[error("pointer-authenticated branch (not simulated)")]
    AuthenticatedBranch,
    #[error("FEAT_CMPBR compare-and-branch (not simulated)")]
    CompareBranchExtended,
    #[error("uses its own address as a pointer-authentication modifier")]
    PacWithPc,
    #[error("hint that is not known to be safe to step (only the Linux whitelist is)")]
    Hint,
    #[error("writes PSTATE or a system register that the probe's exception return restores")]
    StateWrite,
    #[error("reads an exception register that the probe's own breakpoint exception overwrote")]
    ExceptionRegisterRead,
    #[error("wait instruction")]
    Wait,
    #[error("transactional memory instruction")]
    Transaction,
    #[error("memory copy/set sequence (FEAT_MOPS) must run as three consecutive instructions")]
    MemCopySet,
}
