//! Kprobes: breakpoints in kernel text (arm-probes.md §1.7–§1.10, §5).
//!
//! Life of a kprobe: [`Kprobes::register`] reads and classifies the instruction and, if it is
//! stepped, writes its XOL slot `{instruction, BRK #KPROBE_SS}` and synchronises it — before
//! the probe can be armed, so no CPU can reach the slot before its words are fetchable (Linux
//! a0caebbd0460: the arming BRK's exception is the context synchronization event that
//! follows). [`Kprobes::arm`] / [`Kprobes::disarm`] patch many probes in one stop
//! (`patch.rs`). [`Kprobes::unregister`] disarms, retires the probes, waits for a grace
//! period (an empty stop: every CPU was parked outside handlers and slots) and frees them.
//!
//! A hit: the `BRK #KPROBE` handler finds the probe by the PC, runs the pre-handler, then
//! either simulates the instruction (and runs the post-handler at once) or sends the CPU to
//! the slot with DAIF masked; the slot's `BRK #KPROBE_SS` restores DAIF, continues after the
//! probed instruction and runs the post-handler. Per-CPU state follows Linux's
//! `kprobe_ctlblk`: one level of re-entry — a probe hit from a pre- or post-handler is
//! counted in `nmissed`, runs no handler, and its instruction is still carried out; a probe
//! hit while a CPU steps is unrecoverable.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::{Arch, Breakpoint, Mode};
use crate::error::ProbeError;
use crate::hit::{Fatal, Hit, Outcome};
use crate::instance::Instances;
use crate::kretprobe::{self, KretprobeHandler};
use crate::patch::{self, ArmTarget, Arming};
use crate::percpu::PerCpu;
use crate::platform::{Platform, Space};
use crate::sync::SpinLock;
use crate::table::{Entry, Handle, Table};
use crate::xol::{KernelSlots, SlotBlock};

/// Handlers of a kprobe.
pub trait KprobeHandler<P: Platform, A: Arch<P>>: Sync {
    /// Runs before the probed instruction. Returning `true` means the handler changed the
    /// context's path (set a new PC): the instruction is not carried out and `post` is not
    /// called (Linux: a non-zero `pre_handler` return).
    fn pre(&self, _hit: &mut Hit<'_, P, A>) -> bool {
        false
    }
    /// Runs after the probed instruction.
    fn post(&self, _hit: &mut Hit<'_, P, A>) {}
}

/// What a probe does when hit.
pub enum Handler<'a, P: Platform, A: Arch<P>> {
    Kprobe(&'a dyn KprobeHandler<P, A>),
    /// A kretprobe: the kprobe sits on the function's first instruction.
    Kretprobe(&'a dyn KretprobeHandler<P, A>),
}

/// A probe to register.
pub struct KprobeSpec<'a, P: Platform, A: Arch<P>> {
    pub addr: u64,
    /// The start of the function containing `addr`, if known: the exclusive-sequence scan
    /// does not look before it.
    pub function_start: Option<u64>,
    pub handler: Handler<'a, P, A>,
}

/// A registered kprobe.
pub struct Kprobe<'a, P: Platform, A: Arch<P>> {
    pub(crate) addr: u64,
    pub(crate) insn: u32,
    plan: A::Plan,
    slot: Option<u64>,
    pub(crate) handler: Handler<'a, P, A>,
    arming: Arming,
    pub(crate) nmissed: AtomicU64,
}

// SAFETY: the only non-Sync parts are the handler references, whose traits require `Sync`,
// and `A::Plan`, a `Copy` description of an instruction that is never mutated after
// registration.
unsafe impl<P: Platform, A: Arch<P>> Sync for Kprobe<'_, P, A> {}
// SAFETY: as above; a `Kprobe` holds no thread-affine state.
unsafe impl<P: Platform, A: Arch<P>> Send for Kprobe<'_, P, A> {}

/// Where a CPU is in handling a kprobe (Linux `KPROBE_HIT_*`, `KPROBE_REENTER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Idle,
    /// Running the pre-handler.
    Active,
    /// Executing the slot.
    Stepping,
    /// Running the post-handler.
    StepDone,
    /// Carrying out a probe hit from inside a handler.
    Reenter,
}

#[derive(Clone, Copy)]
struct Level<E> {
    probe: Option<Handle>,
    status: Status,
    entry: E,
}

/// One CPU's kprobe state: the current level and the one re-entry saved it from.
#[derive(Clone, Copy)]
pub struct CpuState<E> {
    current: Level<E>,
    previous: Level<E>,
}

/// Storage for one CPU's state.
pub type KprobeCpu<E> = PerCpu<CpuState<E>>;

/// A fresh per-CPU state, for initialising the owner's table.
pub const fn cpu_state<E: Copy>(entry: E) -> KprobeCpu<E> {
    let idle = Level {
        probe: None,
        status: Status::Idle,
        entry,
    };
    PerCpu::new(CpuState {
        current: idle,
        previous: idle,
    })
}

/// The kprobes of one engine.
pub struct Kprobes<'a, P: Platform, A: Arch<P>> {
    table: Table<'a, Kprobe<'a, P, A>>,
    cpus: &'a [KprobeCpu<A::SlotEntry>],
    slots: KernelSlots<'a>,
    pub(crate) instances: Instances<'a>,
    /// The kretprobe trampoline (a kernel slot holding `BRK #KRETPROBE`); 0 until
    /// [`init`](Self::init).
    pub(crate) trampoline: AtomicU64,
    lock: SpinLock<()>,
}

impl<'a, P: Platform, A: Arch<P>> Kprobes<'a, P, A> {
    /// An engine over the owner's storage: probe entries, one state per CPU (at least
    /// `Platform::cpu_count()`), XOL blocks, kretprobe instances.
    pub const fn new(
        entries: &'a [Entry<Kprobe<'a, P, A>>],
        cpus: &'a [KprobeCpu<A::SlotEntry>],
        blocks: &'a [SlotBlock],
        instances: &'a [crate::instance::Instance],
    ) -> Self {
        Kprobes {
            table: Table::new(entries),
            cpus,
            slots: KernelSlots::new(blocks),
            instances: Instances::new(instances),
            trampoline: AtomicU64::new(0),
            lock: SpinLock::new(()),
        }
    }

    /// Checks the per-CPU table covers every CPU and creates the kretprobe trampoline. Call
    /// once before registering probes.
    pub fn init(&self, p: &P) -> Result<(), ProbeError> {
        if self.cpus.len() < p.cpu_count() {
            return Err(ProbeError::TooFewCpus {
                have: self.cpus.len(),
                need: p.cpu_count(),
            });
        }
        let _guard = self.lock.lock();
        if self.trampoline.load(Ordering::Relaxed) == 0 {
            let brk = A::breakpoint(Breakpoint::Kretprobe);
            let slot = self.slots.alloc::<P, A>(p, [brk, brk])?;
            self.trampoline.store(slot, Ordering::Release);
        }
        Ok(())
    }

    /// Registers a probe, disarmed.
    pub fn register(&self, p: &P, spec: KprobeSpec<'a, P, A>) -> Result<Handle, ProbeError> {
        let _guard = self.lock.lock();
        let addr = spec.addr;
        if self.table.live().any(|(_, k)| k.addr == addr) {
            return Err(ProbeError::AlreadyProbed(addr));
        }
        let insn = p.read_insn(Space::Kernel, addr)?;
        let read = |at: u64| p.read_insn(Space::Kernel, at).ok();
        let plan = A::plan(Mode::Kernel, addr, insn, spec.function_start, read)
            .map_err(|reason| ProbeError::Rejected { addr, reason })?;
        let slot = match A::slot(plan, insn, Mode::Kernel) {
            Some(words) => Some(self.slots.alloc::<P, A>(p, words)?),
            None => None,
        };
        let probe = Kprobe {
            addr,
            insn,
            plan,
            slot,
            handler: spec.handler,
            arming: Arming::new(),
            nmissed: AtomicU64::new(0),
        };
        self.table.insert(addr, probe).map_err(|probe| {
            if let Some(slot) = probe.slot {
                self.slots.free::<P, A>(slot);
            }
            ProbeError::TableFull
        })
    }

    /// Arms probes: all their breakpoints are written in one stop.
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
            .map(|k| ArmTarget {
                arming: &k.arming,
                space: Space::Kernel,
                addr: k.addr,
                insn: k.insn,
            });
        Ok(patch::set_armed::<P, A, _>(
            p,
            targets,
            A::breakpoint(Breakpoint::Kprobe),
            arm,
        )?)
    }

    /// Disarms and removes probes.
    pub fn unregister(&self, p: &P, probes: &[Handle]) -> Result<(), ProbeError> {
        let _guard = self.lock.lock();
        self.set_armed(p, probes, false)?;
        for handle in probes {
            self.table.retire(*handle);
        }
        // The grace period: a stop parks every CPU outside breakpoint handlers and XOL slots
        // (the stop_machine contract), so after it no CPU uses the retired entries or slots.
        p.stop_machine(&mut || {});
        for handle in probes {
            if let Some(slot) = self.table.get(*handle, true).and_then(|probe| probe.slot) {
                self.slots.free::<P, A>(slot);
            }
            // SAFETY: retired above and a grace period has passed since.
            unsafe { self.table.free(*handle) };
        }
        Ok(())
    }

    /// How many hits of `probe` ran no handler because they happened inside another probe's
    /// handler (or, for a kretprobe, found the instance pool full).
    pub fn nmissed(&self, probe: Handle) -> Option<u64> {
        self.table
            .get(probe, false)
            .map(|k| k.nmissed.load(Ordering::Relaxed))
    }

    /// Handles a BRK of kind `kind` taken by kernel code.
    pub fn handle(&self, p: &P, kind: Breakpoint, regs: &mut A::Regs) -> Outcome {
        match kind {
            Breakpoint::Kprobe => self.hit(p, regs),
            Breakpoint::KprobeStep => self.step_done(p, regs),
            Breakpoint::Kretprobe => kretprobe::trampoline_hit(self, p, regs),
            _ => Outcome::NotMine,
        }
    }

    fn cpu(&self, p: &P) -> &KprobeCpu<A::SlotEntry> {
        &self.cpus[p.cpu()]
    }

    fn hit(&self, p: &P, regs: &mut A::Regs) -> Outcome {
        let addr = A::pc(regs);
        let Some((handle, probe)) = self.table.find(addr, |k| k.arming.armed()) else {
            return self.not_found(p, addr);
        };
        let cpu = self.cpu(p);
        let state = cpu.get();
        match state.current.status {
            Status::Idle => {}
            Status::Active | Status::StepDone => {
                // Linux `reenter_kprobe()`: count the miss, run no handler, still carry out
                // the instruction, on top of the interrupted level.
                probe.nmissed.fetch_add(1, Ordering::Relaxed);
                let current = Level {
                    probe: Some(handle),
                    status: Status::Reenter,
                    entry: state.current.entry,
                };
                cpu.set(CpuState {
                    current,
                    previous: state.current,
                });
                return self.carry_out(p, handle, probe, regs);
            }
            Status::Stepping | Status::Reenter => {
                let stepping = state
                    .current
                    .probe
                    .and_then(|h| self.table.get(h, true))
                    .map_or(0, |k| k.addr);
                return Outcome::Fatal(Fatal::HitWhileStepping { addr, stepping });
            }
        }
        cpu.set(CpuState {
            current: Level {
                probe: Some(handle),
                status: Status::Active,
                ..state.current
            },
            ..state
        });
        let changed_path = match probe.handler {
            Handler::Kprobe(handler) => handler.pre(&mut Hit {
                platform: p,
                regs,
                addr,
                probe: handle,
            }),
            Handler::Kretprobe(handler) => {
                kretprobe::entry_hit(self, p, handle, probe, handler, regs)
            }
        };
        if changed_path {
            self.set_idle(cpu);
            return Outcome::Handled;
        }
        self.carry_out(p, handle, probe, regs)
    }

    /// A `BRK #KPROBE` where no armed probe is: either the probe was disarmed between the
    /// trap and the lookup — the word there is no longer our breakpoint, and re-executing it
    /// runs the original instruction (arm-probes.md §7) — or someone else's breakpoint.
    fn not_found(&self, p: &P, addr: u64) -> Outcome {
        match p.read_insn(Space::Kernel, addr) {
            Ok(word) if word != A::breakpoint(Breakpoint::Kprobe) => Outcome::Handled,
            _ => Outcome::NotMine,
        }
    }

    /// Steps or simulates the probed instruction after the pre-handler (or for a re-entered
    /// probe, without it).
    fn carry_out(
        &self,
        p: &P,
        handle: Handle,
        probe: &Kprobe<'a, P, A>,
        regs: &mut A::Regs,
    ) -> Outcome {
        let cpu = self.cpu(p);
        let state = cpu.get();
        let reentered = state.current.status == Status::Reenter;
        if let Some(slot) = probe.slot {
            let entry = A::enter_slot(regs, slot, Mode::Kernel);
            let status = if reentered {
                Status::Reenter
            } else {
                Status::Stepping
            };
            cpu.set(CpuState {
                current: Level {
                    probe: Some(handle),
                    status,
                    entry,
                },
                ..state
            });
            return Outcome::Handled;
        }
        if let Err(fault) = A::simulate(p, Space::Kernel, probe.plan, probe.addr, regs) {
            self.unwind_level(cpu);
            return Outcome::Fault { addr: fault.addr };
        }
        A::finish_in_place(regs);
        self.complete(p, handle, probe, regs)
    }

    /// After the instruction: a re-entered level returns to the interrupted one; otherwise
    /// the post-handler runs.
    fn complete(
        &self,
        p: &P,
        handle: Handle,
        probe: &Kprobe<'a, P, A>,
        regs: &mut A::Regs,
    ) -> Outcome {
        let cpu = self.cpu(p);
        let state = cpu.get();
        if state.current.status == Status::Reenter {
            self.unwind_level(cpu);
            return Outcome::Handled;
        }
        cpu.set(CpuState {
            current: Level {
                status: Status::StepDone,
                ..state.current
            },
            ..state
        });
        if let Handler::Kprobe(handler) = probe.handler {
            handler.post(&mut Hit {
                platform: p,
                regs,
                addr: probe.addr,
                probe: handle,
            });
        }
        self.set_idle(cpu);
        Outcome::Handled
    }

    /// The `BRK #KPROBE_SS` at the end of a slot: accepted only from the slot this CPU is
    /// stepping (Linux `kprobe_ss_brk_handler()`).
    fn step_done(&self, p: &P, regs: &mut A::Regs) -> Outcome {
        let Some((handle, probe, entry)) = self.stepping_at(p, regs, 4) else {
            return Outcome::NotMine;
        };
        A::leave_slot(regs, entry, probe.addr + 4);
        self.complete(p, handle, probe, regs)
    }

    /// A fault taken by kernel code on this CPU; the platform calls this before its own fault
    /// handling. If the faulting instruction is the one in the slot this CPU steps, the step is
    /// abandoned and the context put back at the probed address with its interrupt mask, so
    /// the fault is handled as if taken there and the probe hits again when the instruction is
    /// retried (Linux `kprobe_fault_handler()`). Returns whether it did.
    pub fn fault(&self, p: &P, regs: &mut A::Regs) -> bool {
        let Some((_, probe, entry)) = self.stepping_at(p, regs, 0) else {
            return false;
        };
        A::leave_slot(regs, entry, probe.addr);
        self.unwind_level(self.cpu(p));
        true
    }

    /// The probe this CPU is stepping, if the context's PC is its slot + `at`.
    fn stepping_at(
        &self,
        p: &P,
        regs: &A::Regs,
        at: u64,
    ) -> Option<(Handle, &'a Kprobe<'a, P, A>, A::SlotEntry)> {
        let state = self.cpu(p).get();
        if !matches!(state.current.status, Status::Stepping | Status::Reenter) {
            return None;
        }
        let handle = state.current.probe?;
        let probe = self.table.get(handle, true)?;
        (probe.slot.map(|slot| slot + at) == Some(A::pc(regs))).then_some((
            handle,
            probe,
            state.current.entry,
        ))
    }

    /// Leaves the current level: back to the interrupted one after a re-entry, else idle.
    fn unwind_level(&self, cpu: &KprobeCpu<A::SlotEntry>) {
        let state = cpu.get();
        if state.current.status == Status::Reenter {
            let idle = Level {
                probe: None,
                status: Status::Idle,
                entry: state.current.entry,
            };
            cpu.set(CpuState {
                current: state.previous,
                previous: idle,
            });
        } else {
            self.set_idle(cpu);
        }
    }

    fn set_idle(&self, cpu: &KprobeCpu<A::SlotEntry>) {
        let state = cpu.get();
        let idle = Level {
            probe: None,
            status: Status::Idle,
            entry: state.current.entry,
        };
        cpu.set(CpuState {
            current: idle,
            previous: idle,
        });
    }

    /// Runs `f` with this CPU marked busy, so a kprobe hit from inside it counts as missed
    /// instead of running handlers (Linux `kprobe_busy_begin()`), as for return handlers.
    pub(crate) fn busy<R>(&self, p: &P, f: impl FnOnce() -> R) -> R {
        let cpu = self.cpu(p);
        let state = cpu.get();
        if state.current.status != Status::Idle {
            return f();
        }
        cpu.set(CpuState {
            current: Level {
                probe: None,
                status: Status::Active,
                ..state.current
            },
            ..state
        });
        let result = f();
        self.set_idle(cpu);
        result
    }

    /// The per-CPU status, for tests and diagnostics.
    pub fn status(&self, cpu: usize) -> Option<Status> {
        self.cpus.get(cpu).map(|c| c.get().current.status)
    }

    pub(crate) fn table(&self) -> &Table<'a, Kprobe<'a, P, A>> {
        &self.table
    }
}
