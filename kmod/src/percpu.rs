//! State owned by one CPU or one thread.

use core::cell::UnsafeCell;

/// A value only its owner — one CPU, or one thread — reads and writes, from breakpoint
/// handlers running with interrupts masked. Accesses copy the whole value in or out and never
/// hand out references, so a handler nested on the same CPU (a kprobe hit inside a
/// pre-handler) sees the outer handler's last `set` and the outer handler sees the nested
/// one's.
pub struct LocalCell<T> {
    value: UnsafeCell<T>,
}

// SAFETY: each `LocalCell` is touched by its owner only, never concurrently: a CPU's cell by
// that CPU's handlers (interrupts masked, so `Platform::cpu()` is stable and nothing else runs
// there), a thread's cell by that thread's handlers (a thread runs on one CPU at a time; a
// migration between two of its exceptions goes through the scheduler's barriers). Nested
// handlers run strictly inside the outer one's calls, between whole `get`/`set` operations.
// `T: Send` covers the value having been created on another CPU.
unsafe impl<T: Send> Sync for LocalCell<T> {}

impl<T: Copy> LocalCell<T> {
    pub const fn new(value: T) -> Self {
        LocalCell {
            value: UnsafeCell::new(value),
        }
    }

    pub fn get(&self) -> T {
        // SAFETY: see the `Sync` impl: no other access is in progress.
        unsafe { *self.value.get() }
    }

    pub fn set(&self, value: T) {
        // SAFETY: see the `Sync` impl: no other access is in progress.
        unsafe { *self.value.get() = value }
    }
}

/// A CPU's state.
pub type PerCpu<T> = LocalCell<T>;
