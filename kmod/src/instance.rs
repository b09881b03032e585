//! Recorded function returns (kretprobe / uretprobe instances).
//!
//! At a probed function's entry the return address is saved and replaced by the trampoline's
//! address; when the trampoline's breakpoint is hit the saved address is restored. Instances
//! belong to the thread that made the call and are matched by the stack pointer, which is the
//! same at a function's entry and just after its return (Linux matches kretprobes by frame
//! pointer, uretprobes by stack pointer; the stack pointer does not depend on frame pointers
//! being kept).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::arch::Arch;
use crate::hit::{Fatal, Outcome};
use crate::platform::Platform;
use crate::table::Handle;

/// One recorded return. All fields are written by the owning thread after it claimed the
/// instance and read by the same thread when it returns.
pub struct Instance {
    /// Owner + 1; 0 while free.
    owner: AtomicU64,
    sequence: AtomicU64,
    probe_index: AtomicU32,
    probe_generation: AtomicU32,
    function: AtomicU64,
    return_address: AtomicU64,
    stack_pointer: AtomicU64,
}

impl Instance {
    pub const fn new() -> Self {
        Instance {
            owner: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
            probe_index: AtomicU32::new(0),
            probe_generation: AtomicU32::new(0),
            function: AtomicU64::new(0),
            return_address: AtomicU64::new(0),
            stack_pointer: AtomicU64::new(0),
        }
    }
}

impl Default for Instance {
    fn default() -> Self {
        Self::new()
    }
}

/// A return popped from the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub probe: Handle,
    pub function: u64,
    pub return_address: u64,
    pub stack_pointer: u64,
}

/// A fixed pool of instances shared by all threads (Linux's `maxactive`, made global).
pub struct Instances<'a> {
    pool: &'a [Instance],
    sequence: AtomicU64,
}

impl<'a> Instances<'a> {
    pub const fn new(pool: &'a [Instance]) -> Self {
        Instances {
            pool,
            sequence: AtomicU64::new(1),
        }
    }

    /// Records a return of `owner`; false if the pool is full (the return is then missed).
    pub fn push(&self, owner: u64, record: Record) -> bool {
        let Some(instance) = self.pool.iter().find(|i| {
            i.owner
                .compare_exchange(0, owner + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        }) else {
            return false;
        };
        instance
            .probe_index
            .store(record.probe.index, Ordering::Relaxed);
        instance
            .probe_generation
            .store(record.probe.generation, Ordering::Relaxed);
        instance.function.store(record.function, Ordering::Relaxed);
        instance
            .return_address
            .store(record.return_address, Ordering::Relaxed);
        instance
            .stack_pointer
            .store(record.stack_pointer, Ordering::Relaxed);
        instance.sequence.store(
            self.sequence.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        true
    }

    /// Removes and returns the most recent return of `owner`.
    pub fn pop(&self, owner: u64) -> Option<Record> {
        let instance = self
            .pool
            .iter()
            .filter(|i| i.owner.load(Ordering::Relaxed) == owner + 1)
            .max_by_key(|i| i.sequence.load(Ordering::Relaxed))?;
        let record = Record {
            probe: Handle {
                index: instance.probe_index.load(Ordering::Relaxed),
                generation: instance.probe_generation.load(Ordering::Relaxed),
            },
            function: instance.function.load(Ordering::Relaxed),
            return_address: instance.return_address.load(Ordering::Relaxed),
            stack_pointer: instance.stack_pointer.load(Ordering::Relaxed),
        };
        instance.owner.store(0, Ordering::Release);
        Some(record)
    }

    /// Whether `owner` has recorded returns.
    pub fn has(&self, owner: u64) -> bool {
        self.pool
            .iter()
            .any(|i| i.owner.load(Ordering::Relaxed) == owner + 1)
    }

    /// How many returns `owner` has recorded.
    pub fn count(&self, owner: u64) -> usize {
        self.pool
            .iter()
            .filter(|i| i.owner.load(Ordering::Relaxed) == owner + 1)
            .count()
    }

    /// The returns to handle for a trampoline hit by `owner` with stack pointer `sp`, most
    /// recent first, passed to `each`; returns the address to continue at.
    ///
    /// Returns recorded below `sp` belong to frames already left without returning
    /// (`longjmp`, exceptions): they are dropped unhandled. A handled return whose saved
    /// address is the trampoline itself was a tail call from another probed function, whose
    /// return is then handled too (Linux's "chained" uretprobes). `None` if no return is
    /// recorded.
    pub fn unwind(
        &self,
        owner: u64,
        sp: u64,
        trampoline: u64,
        mut each: impl FnMut(Record),
    ) -> Option<u64> {
        loop {
            let record = self.pop(owner)?;
            if record.stack_pointer < sp {
                continue;
            }
            each(record);
            if record.return_address != trampoline {
                return Some(record.return_address);
            }
        }
    }

    /// Drops every return of `owner` (the thread exited).
    pub fn forget(&self, owner: u64) {
        for instance in self.pool {
            let _ =
                instance
                    .owner
                    .compare_exchange(owner + 1, 0, Ordering::Release, Ordering::Relaxed);
        }
    }
}

/// Continues a trampoline hit at the return address [`Instances::unwind`] found (LR too, so
/// the context looks as if the function had returned normally); none found is fatal.
pub fn finish_return<P: Platform, A: Arch<P>>(regs: &mut A::Regs, next: Option<u64>) -> Outcome {
    let Some(addr) = next else {
        return Outcome::Fatal(Fatal::NoReturnRecorded);
    };
    A::set_pc(regs, addr);
    A::set_return_address(regs, addr);
    A::finish_in_place(regs);
    Outcome::Handled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(function: u64, return_address: u64, stack_pointer: u64) -> Record {
        Record {
            probe: Handle {
                index: 0,
                generation: 0,
            },
            function,
            return_address,
            stack_pointer,
        }
    }

    #[test]
    fn nesting_longjmp_and_tail_calls() {
        let pool: [Instance; 4] = Default::default();
        let instances = Instances::new(&pool);
        const TRAMPOLINE: u64 = 0xf000;
        // f (sp 0x1000) calls g (sp 0xf00), which longjmps back into f; f then tail-calls h.
        assert!(instances.push(7, record(0xf, 0x100, 0x1000)));
        assert!(instances.push(7, record(0x9, 0x200, 0xf00)));
        assert!(instances.push(7, record(0x4, TRAMPOLINE, 0x1000)));
        assert!(
            instances.push(8, record(0x1, 0x300, 0x2000)),
            "another thread"
        );
        assert!(!instances.push(7, record(0, 0, 0)), "pool full");
        let mut handled = [0u64; 4];
        let mut n = 0;
        let next = instances.unwind(7, 0x1000, TRAMPOLINE, |r| {
            handled[n] = r.function;
            n += 1;
        });
        assert_eq!(next, Some(0x100), "h's return chains to f's");
        assert_eq!(
            &handled[..n],
            &[0x4, 0xf],
            "g's stale return is dropped unhandled"
        );
        assert!(!instances.has(7));
        assert_eq!(instances.unwind(7, 0x1000, TRAMPOLINE, |_| ()), None);
        instances.forget(8);
        assert!(!instances.has(8));
    }
}
