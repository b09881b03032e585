//! Fixed-capacity tables whose entries are published to breakpoint handlers.
//!
//! Registration (one writer at a time, under the owner's lock) fills an entry and publishes
//! it; breakpoint handlers on any CPU look entries up without locks. Removal first *retires*
//! an entry (no new lookup finds it) and frees it only after a grace period — every handler
//! that could have found it has returned — which is how Linux's kprobe hash and uprobe tree
//! use RCU. Handles carry a generation, so a stale handle never reaches a reused entry.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

const FREE: u8 = 0;
const WRITING: u8 = 1;
const LIVE: u8 = 2;
const RETIRED: u8 = 3;

/// Names one entry of one table for as long as it is not freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle {
    pub index: u32,
    pub generation: u32,
}

/// One entry's storage. Tables are slices of these, provided by the engine's owner.
pub struct Entry<T> {
    state: AtomicU8,
    key: AtomicU64,
    generation: AtomicU32,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: `value` is written only by the thread that moved `state` from FREE to WRITING
// (exclusive by the compare-exchange), and read only after observing LIVE or RETIRED with
// Acquire ordering, which the writer's Release store of LIVE orders after the write. It is
// dropped only in `Table::free`, whose contract excludes concurrent readers. So sharing an
// `Entry<T>` shares `&T` across threads (`T: Sync`) and moves `T` between them (`T: Send`).
unsafe impl<T: Send + Sync> Sync for Entry<T> {}

impl<T> Entry<T> {
    pub const fn new() -> Self {
        Entry {
            state: AtomicU8::new(FREE),
            key: AtomicU64::new(0),
            generation: AtomicU32::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    fn value(&self) -> &T {
        // SAFETY: callers observed LIVE or RETIRED with Acquire ordering (see the `Sync`
        // impl), so the value is initialised and not being written.
        unsafe { (*self.value.get()).assume_init_ref() }
    }
}

impl<T> Default for Entry<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A table over caller-provided entries.
pub struct Table<'a, T> {
    entries: &'a [Entry<T>],
}

impl<'a, T> Table<'a, T> {
    pub const fn new(entries: &'a [Entry<T>]) -> Self {
        Table { entries }
    }

    /// Stores `value` under `key` and publishes it. Returns the value back if the table is
    /// full.
    pub fn insert(&self, key: u64, value: T) -> Result<Handle, T> {
        for (index, entry) in self.entries.iter().enumerate() {
            if entry
                .state
                .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // SAFETY: the compare-exchange made this thread the entry's only writer, and no
            // reader reads a WRITING entry.
            unsafe { (*entry.value.get()).write(value) };
            entry.key.store(key, Ordering::Relaxed);
            let generation = entry.generation.load(Ordering::Relaxed);
            entry.state.store(LIVE, Ordering::Release);
            return Ok(Handle {
                index: index as u32,
                generation,
            });
        }
        Err(value)
    }

    /// The live entry with `key` for which `matches` holds.
    pub fn find(&self, key: u64, mut matches: impl FnMut(&T) -> bool) -> Option<(Handle, &'a T)> {
        self.entries.iter().enumerate().find_map(|(index, entry)| {
            if entry.key.load(Ordering::Relaxed) != key
                || entry.state.load(Ordering::Acquire) != LIVE
            {
                return None;
            }
            let value = entry.value();
            // Re-check the key: it is written before LIVE is published, but a retire-free-insert
            // sequence may have replaced the entry between the two loads above.
            if entry.key.load(Ordering::Relaxed) != key || !matches(value) {
                return None;
            }
            Some((
                Handle {
                    index: index as u32,
                    generation: entry.generation.load(Ordering::Relaxed),
                },
                value,
            ))
        })
    }

    /// The entry `handle` names, if it is live (`retired` also accepts retired entries).
    pub fn get(&self, handle: Handle, retired: bool) -> Option<&'a T> {
        let entry = self.entries.get(handle.index as usize)?;
        let state = entry.state.load(Ordering::Acquire);
        let visible = state == LIVE || (retired && state == RETIRED);
        (visible && entry.generation.load(Ordering::Relaxed) == handle.generation)
            .then(|| entry.value())
    }

    /// Every live entry.
    pub fn live(&self) -> impl Iterator<Item = (Handle, &'a T)> + 'a {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.state.load(Ordering::Acquire) == LIVE)
            .map(|(index, entry)| {
                (
                    Handle {
                        index: index as u32,
                        generation: entry.generation.load(Ordering::Relaxed),
                    },
                    entry.value(),
                )
            })
    }

    /// Hides the entry from [`find`](Self::find), [`live`](Self::live) and non-retired
    /// [`get`](Self::get). Returns false if `handle` is not live.
    pub fn retire(&self, handle: Handle) -> bool {
        let Some(entry) = self.entries.get(handle.index as usize) else {
            return false;
        };
        entry.generation.load(Ordering::Relaxed) == handle.generation
            && entry
                .state
                .compare_exchange(LIVE, RETIRED, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// Drops a retired entry and makes it reusable.
    ///
    /// # Safety
    /// A grace period must have passed since [`retire`](Self::retire): no reference obtained
    /// from this table to the entry's value may still be in use.
    pub unsafe fn free(&self, handle: Handle) {
        let Some(entry) = self.entries.get(handle.index as usize) else {
            return;
        };
        if entry.generation.load(Ordering::Relaxed) != handle.generation
            || entry
                .state
                .compare_exchange(RETIRED, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // SAFETY: RETIRED → WRITING made this thread the only one touching the value, and the
        // caller guarantees no reference to it survives.
        unsafe { (*entry.value.get()).assume_init_drop() };
        entry
            .generation
            .store(handle.generation.wrapping_add(1), Ordering::Relaxed);
        entry.state.store(FREE, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        let entries: [Entry<u32>; 2] = [Entry::new(), Entry::new()];
        let table = Table::new(&entries);
        let a = table.insert(0x10, 1).unwrap();
        let b = table.insert(0x20, 2).unwrap();
        assert_eq!(table.insert(0x30, 3), Err(3), "full");
        assert_eq!(
            table.find(0x20, |_| true).map(|(h, v)| (h, *v)),
            Some((b, 2))
        );
        assert!(table.retire(a));
        assert!(table.find(0x10, |_| true).is_none());
        assert_eq!(table.get(a, true), Some(&1));
        assert_eq!(table.get(a, false), None);
        // SAFETY: no reference to entry `a` is held.
        unsafe { table.free(a) };
        let c = table.insert(0x30, 3).unwrap();
        assert_eq!(c.index, a.index);
        assert_ne!(c.generation, a.generation);
        assert_eq!(
            table.get(a, true),
            None,
            "a stale handle does not reach the new entry"
        );
        assert_eq!(table.live().count(), 2);
    }
}
