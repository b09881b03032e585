//! `rtap-armsim`: a multi-core ARM machine model on which `rtap-kmod`, the probe engine, is
//! verified. It runs real A64 machine code and makes the bugs ARM kernel developers hit with
//! probes *visible*: stale instructions from a non-coherent instruction cache, a missing
//! `ISB`, instructions modified while another core executes them, debug exceptions inside
//! debug-exception handlers.
//!
//! # The model, rule by rule
//!
//! Every rule has a name; the module that implements it documents it and cites the Arm ARM
//! or `shared/reference/arm-probes.md`; the tests named after it show it.
//!
//! | Rule | Where | In one line |
//! |---|---|---|
//! | `pou-shadow` | [`memory`] | data writes reach the PoU only when cleaned; until then the I-side refills old bytes |
//! | `recycled-frame` | [`memory`] | a freed and reallocated frame is zeroed on the data side only; its old bytes stay at the PoU |
//! | `icache-no-snoop` | [`cache`] | per-core I-caches never see data writes; unbounded, never evict |
//! | `prefetch-window` | [`cache`] | up to N instructions fetched ahead, kept until a context synchronization event |
//! | `maintenance-completes-at-dsb` | [`maintenance`] | `DC`/`IC` take effect at the issuing core's next covering `DSB` |
//! | `maintenance-completion-order` | [`maintenance`] | within one `DSB`, `IC` completes before `DC` |
//! | `speculative-refill` | [`maintenance`] | invalidating a line whose bytes are not at the PoU refills it stale |
//! | `dic-snoop` | [`maintenance`] | `CTR_EL0.DIC` cores drop lines when the PoU changes |
//! | `concurrent-modification` | [`checker`] | only B2.2.5 encodings may change under a running core |
//! | `scheduler` | [`machine`] | seeded random interleaving at instruction boundaries |
//!
//! The data side is coherent and sequentially consistent: weak memory ordering is not
//! modelled (the bug class of interest is instruction-side staleness).
//!
//! Not modelled, on purpose: weak memory ordering, TLB maintenance (page-table changes take
//! effect at once), PAN, SP alignment checks, watchpoints, EL2/EL3, AArch32 at EL0,
//! pointer authentication and BTI (their hints execute as `NOP`), floating-point and SIMD
//! arithmetic (only the moves, loads/stores and population count GCC emits for integer
//! code; the rest is an undefined-instruction exception), SVE.
//!
//! # Using it (the contract with `rtap-kmod`'s tests)
//!
//! ```
//! use rtap_armsim::{A64Machine, MachineConfig, Perms, Resume, aarch64::{Exception, ExceptionKind, Regs, encoding}};
//!
//! let mut m = A64Machine::new(MachineConfig::default()).unwrap();
//! let kernel = m.kernel_space();
//! let text = 0xffff_0000_0001_0000;
//! let pa = m.map_new(kernel, text, 4096, Perms::RX).unwrap();
//! m.write_phys_clean(pa, &encoding::brk(4).to_le_bytes()).unwrap();
//! let core = 0;
//! m.core_mut(core).regs.pc = text;
//! m.start(core);
//! let mut hits = 0;
//! let mut host = |m: &mut A64Machine, core: usize, exc: &Exception, frame: &mut Regs| {
//!     assert_eq!(exc.kind, ExceptionKind::Brk { imm: 4 });
//!     hits += 1;
//!     Resume::Halt
//! };
//! m.run(&mut host, 100);
//! assert_eq!(hits, 1);
//! ```
//!
//! - Build a [`Machine`] (`A64Machine`) from a [`MachineConfig`]; map memory with
//!   [`Machine::map`]/[`Machine::map_new`] (one frame may be mapped at several VAs: the
//!   executable and the writable alias); load code with [`load_elf`] or
//!   [`Machine::write_phys_clean`].
//! - Set a core's registers through [`Machine::core_mut`], give it a user address space
//!   with [`Machine::set_user_space`], and [`Machine::start`] it.
//! - [`Machine::run`]/[`Machine::run_until`] interleave the running cores; every
//!   exception goes to the [`Host`], which plays the kernel: it gets the interrupted
//!   context's frame, may read/write memory *as that core* ([`Machine::read`],
//!   [`Machine::write`]), do maintenance as that core ([`Machine::dc`],
//!   [`Machine::ic_ivau`], [`Machine::dsb`], [`Machine::isb`]), park and unpark the other
//!   cores ([`Machine::park_others`]), and call simulated functions on the same core
//!   ([`Machine::call`]) whose exceptions come back to the host re-entrantly.
//! - Stop-all-CPUs the way the kernel does it: [`Machine::raise_irq`] on the other cores,
//!   then [`Machine::run_until`] *from inside the handler* (it runs only the cores not in a
//!   handler) until each took the interrupt (`ExceptionKind::Irq`, only when `PSTATE.I == 0`)
//!   and its handler parked it; patch; [`Machine::isb`] and [`Machine::unpark`] each.
//! - [`Machine::cross_modifications`] lists what the checker flagged.
//! - [`aarch64::linux::LinuxUser`] is a host that emulates the few Linux syscalls static test
//!   programs need.

pub mod arch;
pub mod cache;
pub mod checker;
pub mod config;
pub mod elf;
pub mod host;
pub mod machine;
pub mod maintenance;
pub mod memory;
pub mod mmu;
pub mod sched;
pub mod system;

pub use arch::aarch64::{self, A64Machine, Aarch64};
pub use arch::{Arch, CallSetup};
pub use checker::{CrossModification, Exposure};
pub use config::{CacheType, CheckerScope, ConfigError, IcacheIndexing, MachineConfig};
pub use elf::{LoadError, LoadedImage, load_elf};
pub use host::{Host, Resume};
pub use machine::{CallError, Machine, RunExit};
pub use maintenance::{BarrierKind, DcOp};
pub use memory::{PAGE_SIZE, Pa};
pub use mmu::{Access, FaultKind, MemFault, Perms, SpaceId};
pub use system::{CoreId, System};
