//! Uprobes: breakpoints in user text (arm-probes.md §2, §4).
//!
//! Each probed process gets an XOL area (`xol.rs`) when its first probe is registered. A hit
//! runs the handler in the breakpoint exception, then simulates the instruction or sends the
//! thread to a slot of its own `{instruction, BRK #UPROBE_SS}`: the slot is written (if it
//! held something else) and synchronised for instruction fetch by the thread's own CPU before
//! the thread returns to it. Linux steps uprobes with hardware single-step; a completion
//! breakpoint needs no debug-register state and composes with a debugger's stepping.
//!
//! Per-thread state (`Stepping`, or `Waiting` for a free slot with the handler already run)
//! lives in a table keyed by thread and exists only while a thread is between a hit and its
//! completion. Two threads hitting the same probe take two slots; a slot is rewritten only
//! after its thread finished with it.
//!
//! The platform must not deliver a signal to a thread while [`Uprobes::stepping`] says it is
//! stepping (Linux `uprobe_deny_signal()`), so a signal handler never runs, and hits probes,
//! between the probe's trap and the step's completion.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::{Arch, Breakpoint, Mode};
use crate::error::ProbeError;
use crate::hit::{Fatal, Hit, Outcome, ReturnHit};
use crate::instance::{Instance, Instances};
use crate::patch::{self, ArmTarget, Arming};
use crate::percpu::LocalCell;
use crate::platform::{Platform, ProcessId, Space, TEXT_BLOCK_SIZE, Task, ThreadId};
use crate::sync::SpinLock;
use crate::table::{Entry, Handle, Table};
use crate::uretprobe;
use crate::xol::{XolArea, XolAreas, write_slot};

/// Handlers of a uprobe.
pub trait UprobeHandler<P: Platform, A: Arch<P>>: Sync {
    /// Runs before the probed instruction.
    fn hit(&self, _hit: &mut Hit<'_, P, A>) {}
    /// For a uretprobe, runs when the function returns.
    fn ret(&self, _hit: &mut ReturnHit<'_, P, A>) {}
}

/// A probe to register.
pub struct UprobeSpec<'a, P: Platform, A: Arch<P>> {
    pub process: ProcessId,
    pub addr: u64,
    /// The start of the function containing `addr`, if known (bounds the exclusive scan).
    pub function_start: Option<u64>,
    pub handler: &'a dyn UprobeHandler<P, A>,
    /// Also record the function's return (a uretprobe: `addr` is the function's entry).
    pub ret: bool,
}

/// A registered uprobe.
pub struct Uprobe<'a, P: Platform, A: Arch<P>> {
    pub(crate) process: ProcessId,
    pub(crate) addr: u64,
    insn: u32,
    plan: A::Plan,
    pub(crate) handler: &'a dyn UprobeHandler<P, A>,
    ret: bool,
    arming: Arming,
    nmissed: AtomicU64,
}

// SAFETY: as for `Kprobe`: the handler trait requires `Sync`, `A::Plan` is immutable `Copy`
// data.
unsafe impl<P: Platform, A: Arch<P>> Sync for Uprobe<'_, P, A> {}
// SAFETY: as above.
unsafe impl<P: Platform, A: Arch<P>> Send for Uprobe<'_, P, A> {}

/// Where a thread is between a uprobe hit and its completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadStep<E> {
    Running,
    /// Executing `slot` for the probe at `probe_addr`.
    Stepping {
        probe_addr: u64,
        slot: u64,
        entry: E,
    },
    /// The handler ran, but no slot was free; the thread re-executes the breakpoint and
    /// carries the instruction out when one is.
    Waiting {
        probe: Handle,
    },
}

/// One thread's uprobe state slot.
pub struct ThreadState<E> {
    /// Thread id + 1; 0 while free.
    thread: AtomicU64,
    step: LocalCell<ThreadStep<E>>,
}

impl<E: Copy> ThreadState<E> {
    pub const fn new() -> Self {
        ThreadState {
            thread: AtomicU64::new(0),
            step: LocalCell::new(ThreadStep::Running),
        }
    }
}

impl<E: Copy> Default for ThreadState<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// The uprobes of one engine.
pub struct Uprobes<'a, P: Platform, A: Arch<P>> {
    table: Table<'a, Uprobe<'a, P, A>>,
    threads: &'a [ThreadState<A::SlotEntry>],
    areas: XolAreas<'a>,
    pub(crate) instances: Instances<'a>,
    lock: SpinLock<()>,
}

impl<'a, P: Platform, A: Arch<P>> Uprobes<'a, P, A> {
    pub const fn new(
        entries: &'a [Entry<Uprobe<'a, P, A>>],
        threads: &'a [ThreadState<A::SlotEntry>],
        areas: &'a [XolArea],
        instances: &'a [Instance],
    ) -> Self {
        Uprobes {
            table: Table::new(entries),
            threads,
            areas: XolAreas::new(areas),
            instances: Instances::new(instances),
            lock: SpinLock::new(()),
        }
    }

    /// Registers a probe, disarmed, creating the process's XOL area if it has none.
    pub fn register(&self, p: &P, spec: UprobeSpec<'a, P, A>) -> Result<Handle, ProbeError> {
        let _guard = self.lock.lock();
        let (process, addr) = (spec.process, spec.addr);
        if self
            .table
            .live()
            .any(|(_, u)| u.process == process && u.addr == addr)
        {
            return Err(ProbeError::AlreadyProbed(addr));
        }
        let space = Space::User(process);
        let insn = p.read_insn(space, addr)?;
        let read = |at: u64| p.read_insn(space, at).ok();
        let plan = A::plan(Mode::User, addr, insn, spec.function_start, read)
            .map_err(|reason| ProbeError::Rejected { addr, reason })?;
        self.areas.get_or_create::<P, A>(p, process)?;
        let probe = Uprobe {
            process,
            addr,
            insn,
            plan,
            handler: spec.handler,
            ret: spec.ret,
            arming: Arming::new(),
            nmissed: AtomicU64::new(0),
        };
        self.table
            .insert(addr, probe)
            .map_err(|_| ProbeError::TableFull)
    }

    /// Arms probes (of any processes) in one stop.
    pub fn arm(&self, p: &P, probes: &[Handle]) -> Result<(), ProbeError> {
        let _guard = self.lock.lock();
        self.set_armed(p, probes, true)
    }

    /// Disarms probes in one stop.
    pub fn disarm(&self, p: &P, probes: &[Handle]) -> Result<(), ProbeError> {
        let _guard = self.lock.lock();
        self.set_armed(p, probes, false)
    }

    fn set_armed(&self, p: &P, probes: &[Handle], arm: bool) -> Result<(), ProbeError> {
        if probes.iter().any(|h| self.table.get(*h, false).is_none()) {
            return Err(ProbeError::UnknownProbe);
        }
        let targets = probes
            .iter()
            .filter_map(|h| self.table.get(*h, false))
            .map(|u| ArmTarget {
                arming: &u.arming,
                space: Space::User(u.process),
                addr: u.addr,
                insn: u.insn,
            });
        Ok(patch::set_armed::<P, A, _>(
            p,
            targets,
            A::breakpoint(Breakpoint::Uprobe),
            arm,
        )?)
    }

    /// Disarms and removes probes. Threads stepping one of them finish their step: a step
    /// needs only the thread's own state and slot.
    pub fn unregister(&self, p: &P, probes: &[Handle]) -> Result<(), ProbeError> {
        let _guard = self.lock.lock();
        self.set_armed(p, probes, false)?;
        self.remove(p, probes);
        Ok(())
    }

    fn remove(&self, p: &P, probes: &[Handle]) {
        for handle in probes {
            self.table.retire(*handle);
        }
        // Grace period: see `Kprobes::unregister`.
        p.stop_machine(&mut || {});
        for handle in probes {
            // SAFETY: retired above and a grace period has passed since.
            unsafe { self.table.free(*handle) };
        }
    }

    /// Forgets a process that has exited: its probes (its text is gone, nothing to restore),
    /// its XOL area and its threads' state.
    pub fn process_exited(&self, p: &P, process: ProcessId) {
        let _guard = self.lock.lock();
        let mut batch = [Handle {
            index: 0,
            generation: 0,
        }; 32];
        loop {
            let mut n = 0;
            for (handle, _) in self
                .table
                .live()
                .filter(|(_, u)| u.process == process)
                .take(batch.len())
            {
                batch[n] = handle;
                n += 1;
            }
            if n == 0 {
                break;
            }
            self.remove(p, &batch[..n]);
        }
        self.areas.process_exited(process);
    }

    /// Forgets a thread that has exited (its recorded returns, a step it never finished).
    pub fn thread_exited(&self, thread: ThreadId) {
        self.instances.forget(u64::from(thread.0));
        if let Some(state) = self.thread_state(thread) {
            if let ThreadStep::Stepping { slot, .. } = state.step.get()
                && let Some(area) = self
                    .areas
                    .all()
                    .find(|a| (a.base()..a.base() + TEXT_BLOCK_SIZE).contains(&slot))
            {
                area.put_slot::<P, A>(slot);
            }
            self.release_thread_state(state);
        }
    }

    /// Whether `thread` is between a uprobe's trap and its step's completion: the platform
    /// must hold back signals meanwhile.
    pub fn stepping(&self, thread: ThreadId) -> bool {
        self.thread_state(thread)
            .is_some_and(|t| matches!(t.step.get(), ThreadStep::Stepping { .. }))
    }

    /// The XOL area of `process` (its slot 0 is the uretprobe trampoline).
    pub fn xol_area(&self, process: ProcessId) -> Option<u64> {
        self.areas.find(process).map(XolArea::base)
    }

    /// How many times a thread of a `probe` hit could not record a return (pool full) or find
    /// thread state.
    pub fn nmissed(&self, probe: Handle) -> Option<u64> {
        self.table
            .get(probe, false)
            .map(|u| u.nmissed.load(Ordering::Relaxed))
    }

    /// Handles a BRK of kind `kind` taken by user code.
    pub fn handle(&self, p: &P, kind: Breakpoint, regs: &mut A::Regs) -> Outcome {
        match kind {
            Breakpoint::Uprobe => self.hit(p, regs),
            Breakpoint::UprobeStep => self.step_done(p, regs),
            Breakpoint::Uretprobe => uretprobe::trampoline_hit(self, p, regs),
            _ => Outcome::NotMine,
        }
    }

    fn thread_state(&self, thread: ThreadId) -> Option<&'a ThreadState<A::SlotEntry>> {
        let key = u64::from(thread.0) + 1;
        self.threads
            .iter()
            .find(|t| t.thread.load(Ordering::Acquire) == key)
    }

    fn claim_thread_state(&self, thread: ThreadId) -> Option<&'a ThreadState<A::SlotEntry>> {
        let key = u64::from(thread.0) + 1;
        self.thread_state(thread).or_else(|| {
            self.threads.iter().find(|t| {
                t.thread
                    .compare_exchange(0, key, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            })
        })
    }

    fn release_thread_state(&self, state: &ThreadState<A::SlotEntry>) {
        state.step.set(ThreadStep::Running);
        state.thread.store(0, Ordering::Release);
    }

    fn hit(&self, p: &P, regs: &mut A::Regs) -> Outcome {
        let task = p.task();
        let addr = A::pc(regs);
        let found = self
            .table
            .find(addr, |u| u.process == task.process && u.arming.armed());
        let Some((handle, probe)) = found else {
            return self.not_found(p, task, addr);
        };
        let state = self.claim_thread_state(task.thread);
        let step = state.map_or(ThreadStep::Running, |s| s.step.get());
        match step {
            ThreadStep::Stepping { .. } => {
                return Outcome::Fatal(Fatal::UprobeWhileStepping { addr });
            }
            ThreadStep::Waiting { probe: waiting } if waiting == handle => {}
            _ => {
                probe.handler.hit(&mut Hit {
                    platform: p,
                    regs,
                    addr,
                    probe: handle,
                });
                if probe.ret {
                    uretprobe::entry_hit(self, task, handle, probe, regs);
                }
            }
        }
        self.carry_out(p, task, state, handle, probe, regs)
    }

    fn carry_out(
        &self,
        p: &P,
        task: Task,
        state: Option<&ThreadState<A::SlotEntry>>,
        handle: Handle,
        probe: &Uprobe<'a, P, A>,
        regs: &mut A::Regs,
    ) -> Outcome {
        let space = Space::User(task.process);
        let Some(words) = A::slot(probe.plan, probe.insn, Mode::User) else {
            if let Some(state) = state {
                self.release_thread_state(state);
            }
            if let Err(fault) = A::simulate(p, space, probe.plan, probe.addr, regs) {
                return Outcome::Fault { addr: fault.addr };
            }
            A::finish_in_place(regs);
            return Outcome::Handled;
        };
        let Some(state) = state else {
            // No room to remember a step: re-execute the breakpoint later (the handler will
            // run again, which `nmissed` records).
            probe.nmissed.fetch_add(1, Ordering::Relaxed);
            return Outcome::Handled;
        };
        let slot = self.areas.find(task.process).and_then(|area| {
            let slot = area.take_slot::<P, A>()?;
            if write_slot::<P, A>(p, space, slot, words).is_err() {
                area.put_slot::<P, A>(slot);
                return None;
            }
            Some(slot)
        });
        let Some(slot) = slot else {
            state.step.set(ThreadStep::Waiting { probe: handle });
            return Outcome::Handled;
        };
        let entry = A::enter_slot(regs, slot, Mode::User);
        state.step.set(ThreadStep::Stepping {
            probe_addr: probe.addr,
            slot,
            entry,
        });
        Outcome::Handled
    }

    /// No armed probe of this process at `addr`: the program's own breakpoint (deliver
    /// SIGTRAP), or a probe removed between the trap and the lookup (re-execute: the word is
    /// no longer ours). Linux `handle_swbp()` with `is_trap_at_addr()`.
    fn not_found(&self, p: &P, task: Task, addr: u64) -> Outcome {
        match p.read_insn(Space::User(task.process), addr) {
            Ok(word) if word != A::breakpoint(Breakpoint::Uprobe) => Outcome::Handled,
            _ => Outcome::NotMine,
        }
    }

    /// The `BRK #UPROBE_SS` at the end of a slot: only the slot this thread steps counts.
    fn step_done(&self, p: &P, regs: &mut A::Regs) -> Outcome {
        if self.end_step(p, regs, 4, 4) {
            Outcome::Handled
        } else {
            Outcome::NotMine
        }
    }

    /// A fault taken by user code; the platform calls this before delivering the signal. If
    /// the faulting instruction is the one in the slot this thread steps, the step is
    /// abandoned and the context put back at the probed address, so the signal reports the
    /// instruction where it belongs and the probe hits again if it is retried (Linux
    /// `arch_uprobe_abort_xol()`). Returns whether it did.
    pub fn fault(&self, p: &P, regs: &mut A::Regs) -> bool {
        self.end_step(p, regs, 0, 0)
    }

    /// If this thread steps a slot and its PC is the slot + `at`, ends the step: continue at
    /// the probed address + `resume`, free the slot and the thread state.
    fn end_step(&self, p: &P, regs: &mut A::Regs, at: u64, resume: u64) -> bool {
        let task = p.task();
        let Some(state) = self.thread_state(task.thread) else {
            return false;
        };
        let ThreadStep::Stepping {
            probe_addr,
            slot,
            entry,
        } = state.step.get()
        else {
            return false;
        };
        if A::pc(regs) != slot + at {
            return false;
        }
        A::leave_slot(regs, entry, probe_addr + resume);
        if let Some(area) = self.areas.find(task.process) {
            area.put_slot::<P, A>(slot);
        }
        self.release_thread_state(state);
        true
    }

    pub(crate) fn table(&self) -> &Table<'a, Uprobe<'a, P, A>> {
        &self.table
    }

    pub(crate) fn areas(&self) -> &XolAreas<'a> {
        &self.areas
    }

    pub(crate) fn count_missed(&self, probe: &Uprobe<'a, P, A>) {
        probe.nmissed.fetch_add(1, Ordering::Relaxed);
    }
}
