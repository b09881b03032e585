//! Everything of the machine that is not a core's architectural state: physical memory,
//! address spaces, and each core's micro-architecture (I-cache, prefetch window, TLBs,
//! exclusive monitor, pending cache maintenance). An ISA's `step` reaches memory only
//! through this type, so every fetch, load, store and maintenance operation follows the
//! model's rules whatever the ISA.

use crate::cache::{ICache, Prefetch};
use crate::checker::{Checker, CrossModification, Exposure};
use crate::config::{CacheType, CheckerScope, MachineConfig};
use crate::maintenance::{BarrierKind, DcOp, Pending};
use crate::memory::{PAGE_SIZE, POU_GRANULE, Pa, PhysMemory};
use crate::mmu::{self, Access, AddressSpace, FaultKind, MemFault, Perms, Pte, SpaceId, VaLayout};

/// Index of a core.
pub type CoreId = usize;

/// Size of an exclusives reservation granule in bytes (`CTR_EL0.ERG` = 4, 16 words).
pub const EXCLUSIVE_GRANULE: u64 = 64;

/// Whether a core takes part in scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreStatus {
    /// Has a thread and runs when scheduled (unless parked).
    Running,
    /// Has nothing to run (never started, or the host halted it).
    Halted,
}

#[derive(Debug, Clone, Copy, Default)]
struct Tlb {
    valid: bool,
    generation: u64,
    vpage: u64,
    pa_page: Pa,
    perms: Perms,
}

/// One core's micro-architectural state.
#[derive(Debug)]
pub struct CoreUarch {
    pub(crate) cache_type: CacheType,
    pub(crate) icache: ICache,
    pub(crate) prefetch: Prefetch,
    pub(crate) user_space: Option<SpaceId>,
    pub(crate) monitor: Option<Pa>,
    pub(crate) pending: Vec<Pending>,
    itlb: Tlb,
    dtlb: Tlb,
    pub(crate) status: CoreStatus,
    pub(crate) parked: bool,
    /// Nesting depth of host exception handlers running on this core: while non-zero the
    /// core belongs to the host (only [`crate::Machine::call`] runs it), so a scheduler run
    /// started from inside a handler runs the *other* cores.
    pub(crate) in_host: u32,
    /// An interrupt (IPI) is pending; taken at the next instruction boundary where the ISA's
    /// interrupt mask allows it.
    pub(crate) irq_pending: bool,
    /// The PC as of the last time the core stopped running (quantum end, exception, park):
    /// what the checker looks at for cores that are not the writer.
    pub(crate) pc: u64,
    pub(crate) steps: u64,
    pub(crate) exceptions: u64,
    pub(crate) icache_misses: u64,
    pub(crate) prefetch_fills: u64,
}

impl CoreUarch {
    fn new(cache_type: CacheType) -> CoreUarch {
        CoreUarch {
            cache_type,
            icache: ICache::new(&cache_type),
            prefetch: Prefetch::default(),
            user_space: None,
            monitor: None,
            pending: Vec::new(),
            itlb: Tlb::default(),
            dtlb: Tlb::default(),
            status: CoreStatus::Halted,
            parked: false,
            in_host: 0,
            irq_pending: false,
            pc: 0,
            steps: 0,
            exceptions: 0,
            icache_misses: 0,
            prefetch_fills: 0,
        }
    }

    /// The core's cache type.
    pub fn cache_type(&self) -> &CacheType {
        &self.cache_type
    }

    /// The core's instruction cache.
    pub fn icache(&self) -> &ICache {
        &self.icache
    }

    /// The core's prefetch window.
    pub fn prefetch(&self) -> &Prefetch {
        &self.prefetch
    }

    /// Started, not yet completed maintenance operations.
    pub fn pending_maintenance(&self) -> &[Pending] {
        &self.pending
    }

    /// Whether an interrupt is pending.
    pub fn irq_pending(&self) -> bool {
        self.irq_pending
    }

    /// Whether a host handler is running on the core.
    pub fn in_host(&self) -> bool {
        self.in_host > 0
    }

    /// Whether the core's exclusive monitor is armed.
    pub fn monitor_armed(&self) -> bool {
        self.monitor.is_some()
    }
}

/// The machine minus the cores' architectural state.
pub struct System {
    pub(crate) mem: PhysMemory,
    pub(crate) spaces: Vec<AddressSpace>,
    pub(crate) kernel_space: SpaceId,
    pub(crate) layout: VaLayout,
    /// Bumped on every mapping change: invalidates the micro-TLBs (the model's TLB
    /// maintenance is implicit — see `TLBI` in the ISA code).
    generation: u64,
    pub(crate) cpus: Vec<CoreUarch>,
    prefetch_depth: usize,
    checker_scope: CheckerScope,
    monitors_armed: u64,
    pub(crate) checker: Checker,
    concurrent_modification_safe: fn(u32, u32) -> bool,
    /// Instructions executed by all cores: the source of the virtual counter.
    pub(crate) ticks: u64,
}

impl System {
    pub(crate) fn new(
        config: &MachineConfig,
        concurrent_modification_safe: fn(u32, u32) -> bool,
        layout: VaLayout,
    ) -> System {
        System {
            mem: PhysMemory::default(),
            spaces: vec![AddressSpace::default()],
            kernel_space: SpaceId(0),
            layout,
            generation: 1,
            cpus: (0..config.cores)
                .map(|c| CoreUarch::new(config.cache_type(c)))
                .collect(),
            prefetch_depth: config.prefetch_depth,
            checker_scope: config.checker_scope,
            monitors_armed: 0,
            checker: Checker::default(),
            concurrent_modification_safe,
            ticks: 0,
        }
    }

    /// Records where `core` stopped running, for the checker: the PC's frame counts as
    /// exposed to the core even before the core fetched it.
    pub(crate) fn note_pc(&mut self, core: CoreId, pc: u64) {
        self.cpus[core].pc = pc;
        if let Some(pa) = self.lookup(core, pc) {
            self.mem.mark_fetched(pa, core);
        }
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.cpus.len()
    }

    /// A core's micro-architectural state.
    pub fn cpu(&self, core: CoreId) -> &CoreUarch {
        &self.cpus[core]
    }

    /// Instructions executed so far by all cores together.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    // ----- address spaces -----

    pub(crate) fn new_space(&mut self) -> SpaceId {
        self.spaces.push(AddressSpace::default());
        SpaceId(self.spaces.len() - 1)
    }

    pub(crate) fn space_mut(&mut self, id: SpaceId) -> Option<&mut AddressSpace> {
        self.generation += 1;
        self.spaces.get_mut(id.0)
    }

    pub(crate) fn space(&self, id: SpaceId) -> Option<&AddressSpace> {
        self.spaces.get(id.0)
    }

    pub(crate) fn set_user_space(&mut self, core: CoreId, space: Option<SpaceId>) {
        self.generation += 1;
        self.cpus[core].user_space = space;
    }

    fn regime(&self, core: CoreId, va: u64) -> Option<&AddressSpace> {
        if self.layout.is_kernel(va) {
            self.spaces.get(self.kernel_space.0)
        } else {
            self.cpus[core]
                .user_space
                .and_then(|s| self.spaces.get(s.0))
        }
    }

    /// Translates `va` for `core` at exception level `el`, checking permissions.
    pub fn translate(
        &mut self,
        core: CoreId,
        va: u64,
        access: Access,
        el: u8,
    ) -> Result<Pa, MemFault> {
        let vpage = va / PAGE_SIZE;
        let generation = self.generation;
        let cpu = &self.cpus[core];
        let tlb = if access == Access::Exec {
            &cpu.itlb
        } else {
            &cpu.dtlb
        };
        let (pa_page, perms) = if tlb.valid && tlb.vpage == vpage && tlb.generation == generation {
            (tlb.pa_page, tlb.perms)
        } else {
            let fault = |kind| MemFault { va, access, kind };
            if !self.layout.is_valid(va) {
                return Err(fault(FaultKind::Translation));
            }
            let pte = self.pte(core, va).ok_or(fault(FaultKind::Translation))?;
            let entry = Tlb {
                valid: true,
                generation,
                vpage,
                pa_page: pte.pa,
                perms: pte.perms,
            };
            let cpu = &mut self.cpus[core];
            if access == Access::Exec {
                cpu.itlb = entry;
            } else {
                cpu.dtlb = entry;
            }
            (pte.pa, pte.perms)
        };
        if !mmu::permits(perms, access, el) {
            return Err(MemFault {
                va,
                access,
                kind: FaultKind::Permission,
            });
        }
        Ok(pa_page + va % PAGE_SIZE)
    }

    /// Translates without permission checks or TLB side effects (the checker's and the
    /// host's view).
    pub fn lookup(&self, core: CoreId, va: u64) -> Option<Pa> {
        if !self.layout.is_valid(va) {
            return None;
        }
        self.pte(core, va).map(|pte| pte.pa + va % PAGE_SIZE)
    }

    /// The entry translating `va` for `core`: its regime's page table, else the kernel's
    /// linear map (every allocated frame at [`VaLayout::linear_base`] + its physical address,
    /// read-write, never executable — Linux's linear map, through which the kernel reaches
    /// user pages and XOL pages: `Platform::linear_alias` in the engine).
    fn pte(&self, core: CoreId, va: u64) -> Option<Pte> {
        if let Some(pte) = self.regime(core, va).and_then(|s| s.lookup(va)) {
            return Some(pte);
        }
        let pa = self.layout.linear_map_pa(va)?;
        self.mem.is_backed(pa).then_some(Pte {
            pa: pa & !(PAGE_SIZE - 1),
            perms: Perms::RW,
        })
    }

    /// Takes `core`'s pending interrupt, if any (the ISA calls this when its mask allows).
    pub fn take_irq(&mut self, core: CoreId) -> bool {
        std::mem::take(&mut self.cpus[core].irq_pending)
    }

    /// Whether `core` has an interrupt pending.
    #[inline]
    pub fn irq_pending(&self, core: CoreId) -> bool {
        self.cpus[core].irq_pending
    }

    // ----- instruction side -----

    /// Fetches the 32-bit instruction at `va` for `core` at `el`, through the prefetch window
    /// and the I-cache (rules `prefetch-window`, `icache-no-snoop`).
    #[inline]
    pub fn fetch(&mut self, core: CoreId, va: u64, el: u8) -> Result<u32, MemFault> {
        if let Some(word) = self.cpus[core].prefetch.get(va) {
            return Ok(word);
        }
        self.refill_prefetch(core, va, el)
    }

    /// Fetches the 16-bit halfword at `va` (2-byte aligned) for `core` at `el`, for a Thumb
    /// instruction stream: the half of the aligned word [`System::fetch`] returns (instructions
    /// are little-endian), so the prefetch window and the I-cache apply unchanged.
    #[inline]
    pub fn fetch_half(&mut self, core: CoreId, va: u64, el: u8) -> Result<u16, MemFault> {
        let word = self
            .fetch(core, va & !3, el)
            .map_err(|fault| MemFault { va, ..fault })?;
        Ok((word >> ((va & 2) * 8)) as u16)
    }

    fn refill_prefetch(&mut self, core: CoreId, va: u64, el: u8) -> Result<u32, MemFault> {
        let pa = self.translate(core, va, Access::Exec, el)?;
        let room = ((PAGE_SIZE - va % PAGE_SIZE) / 4) as usize;
        let count = self.prefetch_depth.min(room);
        let mut words = [0u32; crate::cache::MAX_PREFETCH_DEPTH];
        let cpu = &mut self.cpus[core];
        for (i, word) in words[..count].iter_mut().enumerate() {
            let off = 4 * i as u64;
            let (w, missed) = cpu
                .icache
                .fetch_word(va + off, pa + off, &self.mem)
                .map_err(|_| MemFault {
                    va,
                    access: Access::Exec,
                    kind: FaultKind::External,
                })?;
            *word = w;
            cpu.icache_misses += u64::from(missed);
        }
        cpu.prefetch.fill(va, pa, &words[..count]);
        cpu.prefetch_fills += 1;
        self.mem.mark_fetched(pa, core);
        Ok(words[0])
    }

    /// A context synchronization event on `core` (`ISB`, exception entry or return): the
    /// prefetch window is discarded (rule `prefetch-window`).
    pub fn context_synchronize(&mut self, core: CoreId) {
        self.cpus[core].prefetch.flush();
    }

    // ----- data side -----

    /// Reads `buf.len()` bytes at `va` as `core` at `el`.
    pub fn read(&mut self, core: CoreId, va: u64, buf: &mut [u8], el: u8) -> Result<(), MemFault> {
        let mut done = 0;
        while done < buf.len() {
            let at = va.wrapping_add(done as u64);
            let chunk = ((PAGE_SIZE - at % PAGE_SIZE) as usize).min(buf.len() - done);
            let pa = self.translate(core, at, Access::Read, el)?;
            self.mem
                .read(pa, &mut buf[done..done + chunk])
                .map_err(|_| MemFault {
                    va: at,
                    access: Access::Read,
                    kind: FaultKind::External,
                })?;
            done += chunk;
        }
        Ok(())
    }

    /// Writes `bytes` at `va` as `core` at `el`: the data side changes at once for every core;
    /// the PoU only if the writer's `CTR_EL0.IDC` is set (rule `pou-shadow`). Runs the
    /// cross-modification checker and clears other cores' exclusive monitors on the granule.
    pub fn write(&mut self, core: CoreId, va: u64, bytes: &[u8], el: u8) -> Result<(), MemFault> {
        // Translate every page first so that a fault leaves memory unchanged.
        let mut chunks = [(0u64, 0usize, 0usize); 2];
        let mut count = 0;
        let mut done = 0;
        while done < bytes.len() {
            let at = va.wrapping_add(done as u64);
            let len = ((PAGE_SIZE - at % PAGE_SIZE) as usize).min(bytes.len() - done);
            let pa = self.translate(core, at, Access::Write, el)?;
            if !self.mem.is_backed(pa) {
                return Err(MemFault {
                    va: at,
                    access: Access::Write,
                    kind: FaultKind::External,
                });
            }
            chunks[count] = (pa, done, len);
            count += 1;
            done += len;
        }
        for &(pa, off, len) in &chunks[..count] {
            self.write_phys_as(
                core,
                va.wrapping_add(off as u64),
                pa,
                &bytes[off..off + len],
            );
        }
        Ok(())
    }

    /// A data write by `core` to physical memory (already translated, within one page).
    pub(crate) fn write_phys_as(&mut self, core: CoreId, va: u64, pa: Pa, bytes: &[u8]) {
        let exposed = self.mem.fetched_by(pa);
        let idc = self.cpus[core].cache_type.idc;
        let old = (exposed & !(1 << core) != 0).then(|| self.read_words(pa, bytes.len()));
        self.mem
            .write(pa, bytes, !idc)
            .expect("translated writes hit backed frames");
        if let Some((start, old)) = old {
            self.check_cross_modification(core, va, pa, start, &old);
        }
        if self.monitors_armed & !(1 << core) != 0 {
            self.clear_other_monitors(core, pa, bytes.len() as u64);
        }
        if idc && exposed != 0 {
            self.snoop_dic(pa, bytes.len() as u64);
        }
    }

    /// The aligned words overlapping `[pa, pa + len)`: their start and contents.
    fn read_words(&self, pa: Pa, len: usize) -> (Pa, Vec<u8>) {
        let start = pa & !3;
        let end = (pa + len as u64 + 3) & !3;
        let mut buf = vec![0; (end - start) as usize];
        self.mem
            .read(start, &mut buf)
            .expect("translated writes hit backed frames");
        (start, buf)
    }

    fn check_cross_modification(&mut self, writer: CoreId, va: u64, pa: Pa, start: Pa, old: &[u8]) {
        let (_, new) = self.read_words(pa, (start + old.len() as u64 - pa) as usize);
        for (i, (old_w, new_w)) in old.chunks_exact(4).zip(new.chunks_exact(4)).enumerate() {
            if old_w == new_w {
                continue;
            }
            let old_insn = u32::from_le_bytes(old_w.try_into().expect("4 bytes"));
            let new_insn = u32::from_le_bytes(new_w.try_into().expect("4 bytes"));
            if (self.concurrent_modification_safe)(old_insn, new_insn) {
                continue;
            }
            let word_pa = start + 4 * i as u64;
            for executor in 0..self.cpus.len() {
                if executor == writer || !self.is_running(executor) {
                    continue;
                }
                if let Some(exposure) = self.exposure(executor, word_pa) {
                    self.checker.record(CrossModification {
                        writer,
                        va: va.wrapping_sub(pa - word_pa),
                        pa: word_pa,
                        executor,
                        exposure,
                        old: old_insn,
                        new: new_insn,
                    });
                }
            }
        }
    }

    fn is_running(&self, core: CoreId) -> bool {
        let cpu = &self.cpus[core];
        cpu.status == CoreStatus::Running && !cpu.parked
    }

    fn exposure(&self, core: CoreId, pa: Pa) -> Option<Exposure> {
        let cpu = &self.cpus[core];
        if cpu.prefetch.holds(pa) {
            return Some(Exposure::Prefetch);
        }
        if self.checker_scope == CheckerScope::CacheOrPipeline && cpu.icache.holds(pa) {
            return Some(Exposure::ICache);
        }
        let line = cpu.icache.line_size();
        match self.lookup(core, cpu.pc) {
            Some(pc_pa) if pc_pa & !(line - 1) == pa & !(line - 1) => {
                Some(Exposure::ProgramCounter)
            }
            _ => None,
        }
    }

    // ----- exclusives -----

    /// Marks `[pa]`'s reservation granule for `core` (a load-exclusive).
    pub fn arm_monitor(&mut self, core: CoreId, pa: Pa) {
        self.cpus[core].monitor = Some(pa & !(EXCLUSIVE_GRANULE - 1));
        self.monitors_armed |= 1 << core;
    }

    /// Clears `core`'s monitor (`CLREX`, exception return, a store-exclusive); returns whether
    /// it was armed for `pa`'s granule.
    pub fn take_monitor(&mut self, core: CoreId, pa: Option<Pa>) -> bool {
        self.monitors_armed &= !(1 << core);
        let armed = self.cpus[core].monitor.take();
        matches!((armed, pa), (Some(g), Some(pa)) if g == pa & !(EXCLUSIVE_GRANULE - 1))
    }

    fn clear_other_monitors(&mut self, writer: CoreId, pa: Pa, len: u64) {
        let first = pa & !(EXCLUSIVE_GRANULE - 1);
        let last = (pa + len.max(1) - 1) & !(EXCLUSIVE_GRANULE - 1);
        for (core, cpu) in self.cpus.iter_mut().enumerate() {
            if core != writer && matches!(cpu.monitor, Some(g) if g >= first && g <= last) {
                cpu.monitor = None;
                self.monitors_armed &= !(1 << core);
            }
        }
    }

    // ----- cache maintenance -----

    /// Starts a `DC` operation by virtual address on `core` (rule
    /// `maintenance-completes-at-dsb`): the core's D-cache line holding `va` is cleaned when
    /// a `DSB` completes it. `DC ZVA` is a store and goes through [`System::write`].
    pub fn dc(&mut self, core: CoreId, op: DcOp, va: u64, el: u8) -> Result<(), MemFault> {
        let _ = op; // every DcOp cleans to (at least) the PoU in this model
        let line = self.cpus[core].cache_type.dcache_line;
        let base = va & !(line - 1);
        let pa = self.translate(core, base, Access::Read, el)?;
        // A line never crosses a page (lines are at most 2 KiB and pages 4 KiB).
        self.cpus[core]
            .pending
            .push(Pending::DcClean { pa, len: line });
        Ok(())
    }

    /// Starts `IC IVAU` on `core`: invalidates, in every core, the lines overlapping the
    /// issuing core's I-cache line holding `va`, when a `DSB` completes it.
    pub fn ic_ivau(&mut self, core: CoreId, va: u64, el: u8) -> Result<(), MemFault> {
        let line = self.cpus[core].icache.line_size();
        let base = va & !(line - 1);
        let pa = self.translate(core, base, Access::Read, el)?;
        self.cpus[core].pending.push(Pending::IcInvalidate {
            va: base,
            pa,
            len: line,
            broadcast: true,
        });
        Ok(())
    }

    /// Starts `IC IALLU` (`broadcast == false`) or `IC IALLUIS` (`broadcast == true`).
    pub fn ic_iall(&mut self, core: CoreId, broadcast: bool) {
        self.cpus[core]
            .pending
            .push(Pending::IcInvalidateAll { broadcast });
    }

    /// A `DSB` on `core`: completes the pending maintenance its kind covers (rules
    /// `maintenance-completes-at-dsb`, `maintenance-completion-order`).
    pub fn dsb(&mut self, core: CoreId, kind: BarrierKind) {
        if self.cpus[core].pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.cpus[core].pending);
        let (ic, dc): (Vec<Pending>, Vec<Pending>) = pending.into_iter().partition(Pending::is_ic);
        let mut left = Vec::new();
        if kind.completes_ic() {
            for op in ic {
                self.complete(core, op);
            }
        } else {
            left.extend(ic);
        }
        if kind.completes_dc() {
            for op in dc {
                self.complete(core, op);
            }
        } else {
            left.extend(dc);
        }
        self.cpus[core].pending = left;
    }

    fn complete(&mut self, issuer: CoreId, op: Pending) {
        match op {
            Pending::DcClean { pa, len } => {
                let mut at = pa;
                while at < pa + len {
                    let changed = self.mem.clean_to_pou(at, POU_GRANULE).unwrap_or(false);
                    if changed {
                        self.snoop_dic(at, POU_GRANULE);
                    }
                    at += POU_GRANULE;
                }
            }
            Pending::IcInvalidate {
                va,
                pa,
                len,
                broadcast,
            } => {
                let stale = self.mem.is_dirty(pa, len);
                for core in self.targets(issuer, broadcast) {
                    let icache = &mut self.cpus[core].icache;
                    let held: Vec<u64> = if stale {
                        icache.cached_colours(pa)
                    } else {
                        Vec::new()
                    };
                    icache.invalidate(Some(va), pa, len);
                    // Rule `speculative-refill`: old bytes come straight back.
                    for colour in held {
                        let alias = ICache::va_of_colour(colour);
                        let _ = icache.refill(alias, pa, &self.mem);
                    }
                }
            }
            Pending::IcInvalidateAll { broadcast } => {
                for core in self.targets(issuer, broadcast) {
                    self.cpus[core].icache.invalidate_all();
                }
            }
        }
    }

    fn targets(&self, issuer: CoreId, broadcast: bool) -> std::ops::Range<CoreId> {
        if broadcast {
            0..self.cpus.len()
        } else {
            issuer..issuer + 1
        }
    }

    /// Rule `dic-snoop`.
    fn snoop_dic(&mut self, pa: Pa, len: u64) {
        for cpu in &mut self.cpus {
            if cpu.cache_type.dic {
                cpu.icache.invalidate(None, pa, len);
            }
        }
    }
}
