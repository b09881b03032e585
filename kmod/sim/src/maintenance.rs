//! Cache maintenance operations and barriers.
//!
//! **Rule `maintenance-completes-at-dsb`:** a `DC`/`IC` operation only *starts* when the core
//! executes it: it joins the core's pending queue (its address already translated) and takes
//! effect when the same core executes a `DSB` that completes it — any `DSB` except the `LD`
//! kinds completes `DC` operations (they are ordered as stores), only a full `DSB` (not
//! `ST`, not `LD`) completes `IC` operations. Arm ARM "Cache maintenance instructions": the maintenance is only
//! guaranteed complete after a `DSB`; arm-probes.md §1.15 gives the kernel's sequence.
//!
//! **Rule `maintenance-completion-order`:** operations not separated by a `DSB` are unordered;
//! when one `DSB` completes several, the model completes the `IC` invalidations *before* the
//! `DC` cleans — the adversarial order. So `DC CVAU; IC IVAU; DSB` (without the `DSB` between
//! the two that the kernel's `caches_clean_inval_pou` has) leaves stale instructions.
//!
//! **Rule `speculative-refill`:** when an `IC` invalidation completes on a line whose bytes
//! have not reached the PoU (a dirty granule), every core that held the line refills it at
//! once with the PoU's old bytes, as a speculative fetch may. So invalidating before cleaning
//! is observable even if the clean follows before the next fetch.
//!
//! **Rule `dic-snoop`:** a core whose `CTR_EL0.DIC == 1` drops an I-cache line as soon as the
//! PoU image of that line changes (a completed clean, or any write when the writer's
//! `CTR_EL0.IDC == 1`); its prefetch window still needs a context synchronization event.

use crate::memory::Pa;

/// A data-cache maintenance operation by virtual address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcOp {
    /// `DC CVAU`: clean to the point of unification.
    Cvau,
    /// `DC CVAC`: clean to the point of coherency (beyond the PoU, so it also cleans to it).
    Cvac,
    /// `DC CIVAC`: clean and invalidate to the point of coherency (the Cortex-A53 errata
    /// replacement for `DC CVAU`, arm-probes.md §1.16).
    Civac,
    /// `DC IVAC`: invalidate to the point of coherency. Modelled as `DC CIVAC`, which is what
    /// a hypervisor makes of it; the model never loses written data.
    Ivac,
    /// `DC CVAP`/`DC CVADP`: clean to the point of persistence (beyond the PoU).
    Cvap,
}

/// The kinds of `DSB`/`DMB` the `CRm` field encodes, reduced to what matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierKind {
    /// Waits for loads only (`ISHLD`, `NSHLD`, `OSHLD`, `LD`).
    Loads,
    /// Waits for stores only (`ISHST`, `NSHST`, `OSHST`, `ST`).
    Stores,
    /// Waits for everything (`ISH`, `NSH`, `OSH`, `SY`).
    Full,
}

impl BarrierKind {
    /// Decodes the `CRm` field of `DSB`/`DMB`: bits 1:0 are the access types
    /// (01 loads, 10 stores, 11 all).
    pub fn from_crm(crm: u32) -> BarrierKind {
        match crm & 3 {
            1 => BarrierKind::Loads,
            2 => BarrierKind::Stores,
            _ => BarrierKind::Full,
        }
    }

    pub(crate) fn completes_dc(self) -> bool {
        self != BarrierKind::Loads
    }

    pub(crate) fn completes_ic(self) -> bool {
        self == BarrierKind::Full
    }
}

/// A started but not yet completed maintenance operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Clean `[pa, pa + len)` to the PoU.
    DcClean { pa: Pa, len: u64 },
    /// Invalidate the I-cache lines overlapping `[pa, pa + len)`, looked up through `va`
    /// (which selects the colour of an aliasing VIPT cache), in every core when `broadcast`
    /// (`IC IVAU` and `IC IALLUIS` are inner-shareable), else in the issuing core only.
    IcInvalidate {
        va: u64,
        pa: Pa,
        len: u64,
        broadcast: bool,
    },
    /// Invalidate whole I-caches.
    IcInvalidateAll { broadcast: bool },
}

impl Pending {
    pub(crate) fn is_ic(&self) -> bool {
        !matches!(self, Pending::DcClean { .. })
    }
}
