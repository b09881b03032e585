//! Writing instructions into text other CPUs may be executing (arm-probes.md §1.14).
//!
//! [`apply`] installs a batch of instruction changes. If every change is one the architecture
//! allows to race with execution (Arm ARM B2.2.5, [`Arch::concurrent_modification_safe`]), the
//! words are written and synchronised while other CPUs run; otherwise the whole batch goes
//! through one [`Platform::stop_machine`]: other CPUs parked, every word written and
//! synchronised, then each parked CPU executes `ISB` before it runs again. Batching matters:
//! a SystemTap script arms hundreds of probes, and each stop costs every CPU a round trip.
//!
//! [`Rendezvous`] is the protocol that turns Linux's `stop_machine()` — which runs a callback
//! on every online CPU at once — into that guarantee, with the two fixes its history taught:
//! the *last* CPU to arrive does the writing (Guo Ren 2022: with the first, "the remaining
//! CPUs" are not yet known to be waiting), and the waiters leave only after the writer has
//! finished and count past the number of CPUs (W. Cohen 2015: otherwise a CPU still
//! incrementing never sees its exit condition).

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::arch::Arch;
use crate::platform::{Platform, PlatformError, Space};

/// One instruction change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextChange {
    pub space: Space,
    pub addr: u64,
    /// The word expected there now; a different word means someone else changed the text.
    pub old: u32,
    pub new: u32,
}

/// Why a batch was not applied. On error no change of the batch remains applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("the word at {addr:#x} is {found:#010x}, expected {expected:#010x}")]
    Unexpected {
        addr: u64,
        expected: u32,
        found: u32,
    },
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

/// Applies `changes` atomically with respect to other CPUs: either all of them or none.
/// The iterator is walked more than once (to decide, to write, to undo).
pub fn apply<P, A, I>(p: &P, changes: I) -> Result<(), PatchError>
where
    P: Platform,
    A: Arch<P>,
    I: Iterator<Item = TextChange> + Clone,
{
    if changes.clone().next().is_none() {
        return Ok(());
    }
    if changes
        .clone()
        .all(|c| A::concurrent_modification_safe(c.old, c.new))
    {
        return write_all::<P, A, I>(p, changes);
    }
    let mut result = Ok(());
    p.stop_machine(&mut || result = write_all::<P, A, I>(p, changes.clone()));
    result
}

/// Verifies and writes every change, then synchronises it; on failure restores the ones done.
fn write_all<P, A, I>(p: &P, changes: I) -> Result<(), PatchError>
where
    P: Platform,
    A: Arch<P>,
    I: Iterator<Item = TextChange> + Clone,
{
    for (done, change) in changes.clone().enumerate() {
        let outcome = p
            .read_insn(change.space, change.addr)
            .map_err(PatchError::from)
            .and_then(|found| {
                if found != change.old {
                    return Err(PatchError::Unexpected {
                        addr: change.addr,
                        expected: change.old,
                        found,
                    });
                }
                p.write_insn(change.space, change.addr, change.new)?;
                Ok(A::sync_icache(p, change.space, change.addr, 4)?)
            });
        if let Err(err) = outcome {
            for undo in changes.take(done) {
                // Best effort: the word was just written by us, so writing it back succeeds
                // unless the platform itself fails, which it reported above already.
                let _ = p.write_insn(undo.space, undo.addr, undo.old);
                let _ = A::sync_icache(p, undo.space, undo.addr, 4);
            }
            return Err(err);
        }
    }
    Ok(())
}

/// A probe's arming state. `armed` says whether hits are accepted; `patched` whether the
/// text holds the breakpoint. A breakpoint of ours must never be seen without its probe being
/// armed (the hit would be "not mine"), so `armed` goes up before the breakpoint is written
/// and down after it is removed.
pub struct Arming {
    armed: AtomicBool,
    patched: AtomicBool,
}

impl Arming {
    pub const fn new() -> Self {
        Arming {
            armed: AtomicBool::new(false),
            patched: AtomicBool::new(false),
        }
    }

    /// Whether hits are accepted (read by breakpoint handlers).
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }
}

impl Default for Arming {
    fn default() -> Self {
        Self::new()
    }
}

/// A probe to arm or disarm: its state, where it is, the original word.
#[derive(Clone, Copy)]
pub struct ArmTarget<'s> {
    pub arming: &'s Arming,
    pub space: Space,
    pub addr: u64,
    pub insn: u32,
}

/// Arms (writes `brk` over) or disarms (restores) every target, in one batch ([`apply`]).
/// Called under the owner's registration lock.
pub fn set_armed<'s, P, A, I>(p: &P, targets: I, brk: u32, arm: bool) -> Result<(), PatchError>
where
    P: Platform,
    A: Arch<P>,
    I: Iterator<Item = ArmTarget<'s>> + Clone,
{
    let changes = targets
        .clone()
        .filter(|t| t.arming.patched.load(Ordering::Relaxed) != arm)
        .map(|t| {
            let (old, new) = if arm { (t.insn, brk) } else { (brk, t.insn) };
            TextChange {
                space: t.space,
                addr: t.addr,
                old,
                new,
            }
        });
    if arm {
        targets
            .clone()
            .for_each(|t| t.arming.armed.store(true, Ordering::Release));
    }
    if let Err(err) = apply::<P, A, _>(p, changes) {
        if arm {
            targets
                .filter(|t| !t.arming.patched.load(Ordering::Relaxed))
                .for_each(|t| t.arming.armed.store(false, Ordering::Release));
        }
        return Err(err);
    }
    for t in targets {
        t.arming.patched.store(arm, Ordering::Relaxed);
        t.arming.armed.store(arm, Ordering::Release);
    }
    Ok(())
}

/// The stop-all-CPUs rendezvous for a platform whose `stop_machine()` runs a callback on
/// every CPU at once (Linux `aarch64_insn_patch_text_cb()`): call [`Rendezvous::run`] from
/// each CPU's callback.
pub struct Rendezvous {
    count: AtomicUsize,
    cpus: usize,
}

impl Rendezvous {
    /// A rendezvous of `cpus` CPUs (Linux: `num_online_cpus()` under `cpus_read_lock()`).
    pub const fn new(cpus: usize) -> Self {
        Rendezvous {
            count: AtomicUsize::new(0),
            cpus,
        }
    }

    /// The last CPU to arrive runs `work`; every other CPU waits (calling `relax`) until it
    /// has finished and then calls `isb`. Returns whether this CPU ran `work`.
    pub fn run(&self, work: impl FnOnce(), mut relax: impl FnMut(), isb: impl FnOnce()) -> bool {
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.cpus {
            work();
            // Count past `cpus`: the release signal. Release orders the writes before it.
            self.count.fetch_add(1, Ordering::Release);
            true
        } else {
            while self.count.load(Ordering::Acquire) <= self.cpus {
                relax();
            }
            // The new instructions may already sit in this CPU's pipeline as the old ones;
            // "each PE that is executing the modified instructions must execute an ISB"
            // (Arm ARM B2.2.5).
            isb();
            false
        }
    }
}
