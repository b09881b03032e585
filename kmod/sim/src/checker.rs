//! The cross-modification checker.
//!
//! **Rule `concurrent-modification`** (Arm ARM B2.2.5, arm-probes.md §1.15): when one core
//! writes an instruction word that another core may be executing, the behaviour is
//! unpredictable "except where the instruction before modification and the instruction after
//! modification is a B, BL, BRK, HVC, ISB, NOP, SMC, or SVC instruction". The checker flags
//! every data write that changes a 32-bit word while some *other*, *running* core may execute
//! it, unless both encodings are on that list (the list is the ISA's, see
//! [`crate::Arch::concurrent_modification_safe`]).
//!
//! A core *may execute* a word when the word is in its I-cache (it has fetched the line and
//! nobody invalidated it), in its prefetch window, or in the I-cache line holding its PC
//! ([`crate::CheckerScope::Pipeline`] drops the I-cache criterion).
//! Cores parked by the host ([`crate::Machine::park`]) and halted cores are not running:
//! this is how a stop-all-CPUs protocol makes a non-B2.2.5 patch legal.

use crate::memory::Pa;
use crate::system::CoreId;

/// How the executing core was exposed to the modified word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// The word's line was in the core's I-cache.
    ICache,
    /// The word was in the core's prefetch window.
    Prefetch,
    /// The core's PC was in the word's I-cache line.
    ProgramCounter,
}

/// One flagged write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrossModification {
    /// The core that wrote.
    pub writer: CoreId,
    /// The virtual address the writer wrote through.
    pub va: u64,
    /// The physical address of the modified word.
    pub pa: Pa,
    /// The core that may have been executing the word.
    pub executor: CoreId,
    pub exposure: Exposure,
    /// Encoding before the write.
    pub old: u32,
    /// Encoding after the write.
    pub new: u32,
}

impl std::fmt::Display for CrossModification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "core {} modified the instruction at va {:#x} (pa {:#x}) from {:#010x} to {:#010x} \
             while core {} may execute it ({:?}); only B2.2.5 encodings may change under a running core",
            self.writer, self.va, self.pa, self.old, self.new, self.executor, self.exposure
        )
    }
}

/// Most flagged writes kept; later ones are only counted.
pub const MAX_RECORDED: usize = 1024;

/// The checker's findings.
#[derive(Debug, Default)]
pub struct Checker {
    pub(crate) found: Vec<CrossModification>,
    pub(crate) dropped: u64,
}

impl Checker {
    pub(crate) fn record(&mut self, finding: CrossModification) {
        if self.found.len() < MAX_RECORDED {
            self.found.push(finding);
        } else {
            self.dropped += 1;
        }
    }
}
