//! What the AArch64 engine needs from the core it runs on, beyond the generic
//! [`Platform`](crate::platform::Platform): cache maintenance, barriers and the parts of the
//! interrupted context a [`PtRegs`](super::regs::PtRegs) does not hold.

/// The shareability domain of a `DSB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Barrier {
    /// `DSB ISH`: completes all earlier memory accesses and maintenance, inner shareable.
    Ish,
    /// `DSB ISHST`: completes earlier stores only.
    IshSt,
}

/// Operations executed on the *current* core, in its current translation regime (the kernel,
/// plus the current task's address space for user addresses).
pub trait Cpu {
    /// CTR_EL0 as the engine must use it: on a system whose cores differ (big.LITTLE), the
    /// sanitised system-wide value with the *smallest* line sizes (Linux 116c81f427ff: a task
    /// that migrates to a core with smaller lines would otherwise skip lines), with DIC
    /// cleared where erratum 1542419 (Neoverse-N1) applies.
    fn ctr_el0(&self) -> u64;
    /// `DC CVAU, va`: clean the data cache line holding `va` to the point of unification.
    /// Implementations for Cortex-A53 r0p0–r0p2 issue `DC CIVAC` instead (errata 819472,
    /// 826319, 827319, 824069; Linux `ARM64_WORKAROUND_CLEAN_CACHE`).
    fn dc_cvau(&self, va: u64);
    /// `IC IVAU, va`: invalidate the instruction cache line holding `va` to the point of
    /// unification, broadcast in the inner shareable domain.
    fn ic_ivau(&self, va: u64);
    /// `IC IALLUIS`: invalidate all instruction caches of the inner shareable domain.
    fn ic_ialluis(&self);
    /// `DSB <domain>`.
    fn dsb(&self, barrier: Barrier);
    /// `ISB`: a context synchronization event on this core.
    fn isb(&self);
    /// Writes SIMD&FP register `Vn` of the interrupted context (all 128 bits; bits above 128
    /// of SVE's `Zn` become zero). For a user task whose FP state is not live on this core,
    /// the saved copy.
    fn write_simd_reg(&self, n: u8, value: u128);
    /// For a user task with the Guarded Control Stack enabled: pushes `value` (Linux
    /// `push_user_gcs()`). Returns `false` if the push faulted. A no-op returning `true`
    /// where GCS is not enabled, which is the default.
    fn gcs_push(&self, _value: u64) -> bool {
        true
    }
    /// For a user task with the Guarded Control Stack enabled: pops the GCS and returns
    /// whether the popped value equals `target` (Linux `pop_user_gcs()`). `true` where GCS is
    /// not enabled, which is the default.
    fn gcs_pop_check(&self, _target: u64) -> bool {
        true
    }
}
