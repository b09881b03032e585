//! The [`Platform`] trait: everything the engine needs from its host.
//!
//! Two implementations exist: the kernel glue (issue 9: C shims over Linux's fixmap text
//! poking, `stop_machine()`, break hooks, `vmalloc`, the uprobe XOL mapping, `smp_processor_id()`)
//! and the simulator integration in `kmod/tests/`. Architecture-specific needs (cache
//! maintenance, barriers, CTR_EL0, SIMD registers) are a second trait beside it, e.g.
//! [`arch::aarch64::cpu::Cpu`](crate::arch::aarch64::cpu::Cpu).
//!
//! *Architecture Invariant.* The engine allocates nothing itself and never sleeps: all its
//! storage is the fixed-size tables its owner hands it (sized at build time, like a SystemTap
//! module's probe tables), and every platform call it makes from a breakpoint handler must be
//! callable with interrupts masked in exception context.

/// A CPU number, `0..cpu_count()`.
pub type CpuId = usize;

/// A process (Linux: the thread group id; for uprobes, the `mm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId(pub u32);

/// A thread (Linux: the task's pid).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(pub u32);

/// The task running on the current CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Task {
    pub process: ProcessId,
    pub thread: ThreadId,
}

/// An address space: where an address is interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    Kernel,
    User(ProcessId),
}

/// Failures a platform reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("address {0:#x} is not accessible")]
    Fault(u64),
    #[error("out of memory")]
    NoMemory,
    #[error("the breakpoint {0:#010x} is already claimed by someone else")]
    BreakpointTaken(u32),
    #[error("not supported by this platform")]
    Unsupported,
}

/// The size of the text blocks [`Platform::alloc_text_block`] returns: one 4 KiB page, the
/// smallest page size AArch64 and ARMv7 Linux use.
pub const TEXT_BLOCK_SIZE: u64 = 4096;

/// The engine's view of its host.
pub trait Platform {
    /// The CPU this call runs on, always below [`cpu_count`](Self::cpu_count) (the engine
    /// checks its per-CPU table against that at `init`).
    fn cpu(&self) -> CpuId;
    /// The number of CPUs the per-CPU tables must cover.
    fn cpu_count(&self) -> usize;
    /// The task running on this CPU (the one that trapped, in a breakpoint handler).
    fn task(&self) -> Task;

    /// Reads the instruction word at `addr` in `space` (instructions are stored
    /// little-endian; the platform returns the word's value).
    fn read_insn(&self, space: Space, addr: u64) -> Result<u32, PlatformError>;
    /// Writes the instruction word at `addr` in `space` through a *writable alias* of the
    /// same physical memory (Linux: the `FIX_TEXT_POKE0` fixmap for kernel text; a kernel
    /// mapping of the page for user text and XOL pages), with no cache maintenance: the
    /// engine does that itself, on the alias the word will be fetched through.
    fn write_insn(&self, space: Space, addr: u64, insn: u32) -> Result<(), PlatformError>;
    /// An address of the same memory as `addr` in `space` that is mapped in the current
    /// translation regime (Linux: the linear-map address of the page), for cache maintenance
    /// of text in another address space.
    fn linear_alias(&self, space: Space, addr: u64) -> Result<u64, PlatformError>;
    /// A single-copy-atomic data load of `buf.len()` (4 or 8) bytes at `addr` in `space`, in
    /// the data endianness, stored into `buf` as a native-endian integer. User addresses go
    /// through the user-memory accessors (faults are reported, not taken).
    fn load(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), PlatformError>;

    /// Allocates [`TEXT_BLOCK_SIZE`] bytes of executable memory in `space`: for the kernel,
    /// a read-only executable page (Linux `alloc_insn_page()`); for a process, a page mapped
    /// executable and not writable by the process (Linux's `[uprobes]` XOL mapping). Its
    /// content is undefined: the engine writes and synchronises every word before use.
    fn alloc_text_block(&self, space: Space) -> Result<u64, PlatformError>;
    /// Frees a block from [`alloc_text_block`](Self::alloc_text_block).
    fn free_text_block(&self, space: Space, addr: u64);

    /// Runs `work` exactly once, on one CPU, while every other online CPU is parked: spinning
    /// with interrupts masked, outside any probe handler and XOL slot (a kprobe steps with
    /// interrupts masked, so a CPU cannot be parked inside one). After `work` returns, and
    /// before it runs anything else, every parked CPU executes a context synchronization
    /// event (`ISB`). [`patch::Rendezvous`](crate::patch::Rendezvous) is the protocol for
    /// building this on Linux's `stop_machine()`.
    fn stop_machine(&self, work: &mut dyn FnMut());

    /// Routes the exceptions these breakpoint instructions raise to the engine's handlers
    /// (AArch64: BRK immediates, Linux `register_kernel_break_hook()` /
    /// `register_user_break_hook()`; ARMv7: undefined-instruction hooks).
    fn claim_breakpoints(&self, breakpoints: &[u32]) -> Result<(), PlatformError>;
    /// Stops routing them.
    fn release_breakpoints(&self, breakpoints: &[u32]);
}
