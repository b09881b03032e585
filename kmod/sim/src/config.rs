//! Machine configuration.

/// How a core's instruction cache is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcacheIndexing {
    /// Physically indexed, physically tagged: every alias of a frame shares the line
    /// (`CTR_EL0.L1Ip = 0b11`, every ARMv8 core the kernel supports).
    Pipt,
    /// Virtually indexed, physically tagged, with ways larger than a page: the same frame
    /// mapped at two virtual addresses of different *colour* (VA bits above the page offset
    /// within one way) occupies two different lines, and invalidating one alias leaves the
    /// other stale (ARMv7 `icache_is_vipt_aliasing()`, arm-probes.md §3.9).
    AliasingVipt {
        /// Bytes per way; a multiple of the page size. Colours = `way_size / PAGE_SIZE`, at most 16.
        way_size: u64,
    },
}

/// One core's cache geometry and coherence properties, as `CTR_EL0` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheType {
    /// Smallest I-cache line in bytes (`4 << CTR_EL0.IminLine`); a power of two, 16..=2048.
    pub icache_line: u64,
    /// Smallest D-cache line in bytes (`4 << CTR_EL0.DminLine`); a power of two, 16..=2048.
    pub dcache_line: u64,
    /// `CTR_EL0.IDC`: cleaning the D-cache to the PoU is not required for instruction to data
    /// coherence — data writes reach the PoU at once.
    pub idc: bool,
    /// `CTR_EL0.DIC`: invalidating the I-cache is not required — the I-cache snoops the PoU.
    /// The prefetch stage still needs a context synchronization event.
    pub dic: bool,
    pub indexing: IcacheIndexing,
}

impl Default for CacheType {
    /// 64-byte lines, neither IDC nor DIC, PIPT: the configuration that needs the full
    /// `DC CVAU; DSB ISH; IC IVAU; DSB ISH; ISB` sequence (Cortex-A53/A57/A72).
    fn default() -> CacheType {
        CacheType {
            icache_line: 64,
            dcache_line: 64,
            idc: false,
            dic: false,
            indexing: IcacheIndexing::Pipt,
        }
    }
}

/// Errors in a [`MachineConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("a machine needs 1 to 64 cores, not {0}")]
    Cores(usize),
    #[error("core {core}: {what} line size {size} is not a power of two in 16..=2048")]
    LineSize {
        core: usize,
        what: &'static str,
        size: u64,
    },
    #[error("core {core}: aliasing VIPT way size {way_size} must be 1 to 16 pages")]
    WaySize { core: usize, way_size: u64 },
    #[error("prefetch depth {0} is not in 1..={max}", max = crate::cache::MAX_PREFETCH_DEPTH)]
    PrefetchDepth(usize),
    #[error("{0} hardware breakpoints: between 2 and 16 are architecturally possible")]
    Breakpoints(usize),
    #[error("the scheduling quantum must be at least 1")]
    Quantum,
    #[error("per-core cache types given for {given} cores, the machine has {cores}")]
    CacheTypes { given: usize, cores: usize },
}

/// Everything that shapes a [`crate::Machine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineConfig {
    /// Number of cores.
    pub cores: usize,
    /// Seed of the scheduler's interleaving: the same seed gives the same run.
    pub seed: u64,
    /// A core runs for a random number of instructions in `1..=max_quantum` before the
    /// scheduler picks the next core.
    pub max_quantum: u32,
    /// Instructions the prefetch stage fetches ahead (rule `prefetch-window`).
    pub prefetch_depth: usize,
    /// Cache type of every core; empty means [`CacheType::default`] for all. Giving different
    /// line sizes per core models big.LITTLE systems (arm-probes.md §6, #8).
    pub cache_types: Vec<CacheType>,
    /// Hardware breakpoints per core (`ID_AA64DFR0_EL1.BRPs + 1`).
    pub breakpoints: usize,
    /// What counts as "may execute" for the cross-modification checker.
    pub checker_scope: CheckerScope,
}

/// Which cores the cross-modification checker considers exposed to a modified word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckerScope {
    /// The word is in the core's I-cache, in its prefetch window, or in the I-cache line of
    /// its PC: any line the core ever fetched and nobody invalidated may be fetched again
    /// at any time. The strict reading, and the default.
    #[default]
    CacheOrPipeline,
    /// Only the prefetch window and the PC's line: for hosts that rewrite memory no core can
    /// branch to (a free XOL slot) without stopping the cores that once executed it, as
    /// Linux does, relying on the maintenance before the memory becomes live again.
    Pipeline,
}

impl Default for MachineConfig {
    fn default() -> MachineConfig {
        MachineConfig {
            cores: 4,
            seed: 1,
            max_quantum: 64,
            prefetch_depth: 8,
            cache_types: Vec::new(),
            breakpoints: 6,
            checker_scope: CheckerScope::default(),
        }
    }
}

impl MachineConfig {
    /// The cache type of `core`.
    pub fn cache_type(&self, core: usize) -> CacheType {
        self.cache_types.get(core).copied().unwrap_or_default()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=64).contains(&self.cores) {
            return Err(ConfigError::Cores(self.cores));
        }
        if !self.cache_types.is_empty() && self.cache_types.len() != self.cores {
            return Err(ConfigError::CacheTypes {
                given: self.cache_types.len(),
                cores: self.cores,
            });
        }
        for core in 0..self.cores {
            let ct = self.cache_type(core);
            for (what, size) in [("I-cache", ct.icache_line), ("D-cache", ct.dcache_line)] {
                if !size.is_power_of_two() || !(16..=2048).contains(&size) {
                    return Err(ConfigError::LineSize { core, what, size });
                }
            }
            if let IcacheIndexing::AliasingVipt { way_size } = ct.indexing {
                let page = crate::memory::PAGE_SIZE;
                if way_size % page != 0 || !(1..=16).contains(&(way_size / page)) {
                    return Err(ConfigError::WaySize { core, way_size });
                }
            }
        }
        if !(1..=crate::cache::MAX_PREFETCH_DEPTH).contains(&self.prefetch_depth) {
            return Err(ConfigError::PrefetchDepth(self.prefetch_depth));
        }
        if !(2..=16).contains(&self.breakpoints) {
            return Err(ConfigError::Breakpoints(self.breakpoints));
        }
        if self.max_quantum == 0 {
            return Err(ConfigError::Quantum);
        }
        Ok(())
    }
}
