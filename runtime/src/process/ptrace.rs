//! Engine 2: rtap's own ptrace + XOL uprobe engine (`-c CMD`, `-x PID`; no privilege needed
//! beyond being allowed to ptrace the target).
//!
//! A hit costs one ptrace stop: the thread traps on `int3`, the handler runs while it is
//! stopped (every memory read exact), then the thread resumes in the breakpoint's XOL slot
//! (the displaced instruction, relocated, then `jmp` back) — or, for `call`, at the call
//! target after the tracer pushed the original return address (see `arch::insn`).
//!
//! All ptrace requests come from the thread that calls [`PtraceEngine::spawn`] /
//! [`PtraceEngine::attach`], so [`PtraceEngine::run`] must be called on that thread too (the
//! kernel ties a tracee to its tracer *thread*), and handlers run there.
//!
//! Cleanup: [`PtraceEngine::run`] ends by restoring every breakpoint's original byte and every
//! hijacked return address, moving threads stopped inside a slot back to the original code,
//! and detaching; the same happens in `Drop` (error paths, panics). The targets keep running.
//! Only SIGKILL of rtap escapes this: the kernel then detaches the tracees with their
//! breakpoints in place, and the next hit kills the target with SIGTRAP.

mod inject;
mod returns;
mod space;
mod spawn;
pub mod stop;
mod sys;
mod xol;

use std::collections::{HashMap, HashSet};

use crate::process::arch::insn::{BREAKPOINT_PC_ADVANCE, Plan, TRAMPOLINE};
use crate::process::{
    Action, Error, Hit, HitHandler, HitKind, LifecycleEvents, ProbeId, ProbeKind, ProbeSpec,
    Registers, RunEnd, monotonic_ns, probe_address, read_maps,
};

use returns::{Frame, ShadowStack};
use space::Space;
use stop::StopHandle;
use sys::Status;

pub use stop::{install_stop_signals, stop_signalled};

/// Counters for tests and `-t`-style reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every ptrace stop seen by the run loop.
    pub stops: u64,
    /// Breakpoint hits (entry probes and return-probe arming).
    pub breakpoint_hits: u64,
    /// Trampoline hits (function returns).
    pub returns: u64,
    /// Return probes not armed because a thread's shadow stack was full.
    pub missed_returns: u64,
}

type SpaceId = usize;

#[derive(Debug)]
struct Task {
    tgid: u32,
    space: SpaceId,
    shadow: ShadowStack,
    /// Signal to deliver when the thread is next resumed.
    pending_signal: i32,
    running: bool,
    /// System call number seen at the last syscall-entry stop.
    syscall_nr: Option<u64>,
}

#[derive(Debug)]
struct Process {
    space: SpaceId,
    threads: HashSet<u32>,
}

/// The ptrace engine: traced processes, their breakpoints, and the run loop.
pub struct PtraceEngine {
    probes: Vec<ProbeSpec>,
    events: LifecycleEvents,
    spaces: HashMap<SpaceId, Space>,
    next_space: SpaceId,
    tasks: HashMap<u32, Task>,
    processes: HashMap<u32, Process>,
    /// New threads whose first stop arrived before their creator's event.
    early_stops: HashSet<u32>,
    /// Threads announced by a creator's event whose first stop has not arrived yet.
    announced: HashSet<u32>,
    /// The `-c` command, whose exit ends the run.
    root: Option<u32>,
    stop: StopHandle,
    stats: Stats,
    warnings: Vec<Error>,
    next_call_id: u64,
    detached: bool,
}

impl PtraceEngine {
    fn new(probes: Vec<ProbeSpec>, events: LifecycleEvents) -> Result<Self, Error> {
        let probes = probes
            .into_iter()
            .map(|mut p| {
                p.path = std::fs::canonicalize(&p.path).map_err(|source| Error::Read {
                    path: p.path.clone(),
                    source,
                })?;
                Ok(p)
            })
            .collect::<Result<_, Error>>()?;
        Ok(PtraceEngine {
            probes,
            events,
            spaces: HashMap::new(),
            next_space: 0,
            tasks: HashMap::new(),
            processes: HashMap::new(),
            early_stops: HashSet::new(),
            announced: HashSet::new(),
            root: None,
            stop: StopHandle::new(),
            stats: Stats::default(),
            warnings: Vec::new(),
            next_call_id: 1,
            detached: false,
        })
    }

    /// Runs `argv` (`-c CMD`) under the engine: probes are armed after its `exec`, before its
    /// first instruction. Returns once armed; [`run`](Self::run) lets it go.
    pub fn spawn(
        argv: &[String],
        probes: Vec<ProbeSpec>,
        events: LifecycleEvents,
    ) -> Result<Self, Error> {
        let mut engine = Self::new(probes, events)?;
        let pid = spawn::spawn(argv)?;
        engine.root = Some(pid);
        engine.adopt_after_exec(pid)?;
        Ok(engine)
    }

    /// Attaches to every thread of a running process (`-x PID`) and arms the probes.
    pub fn attach(
        pid: u32,
        probes: Vec<ProbeSpec>,
        events: LifecycleEvents,
    ) -> Result<Self, Error> {
        let mut engine = Self::new(probes, events)?;
        let threads = spawn::attach_all(pid)?;
        let space = engine.new_space(pid)?;
        engine.processes.insert(
            pid,
            Process {
                space,
                threads: threads.iter().copied().collect(),
            },
        );
        for &tid in &threads {
            engine.tasks.insert(tid, Task::new(pid, space, false));
        }
        engine.arm(pid, threads[0])?;
        Ok(engine)
    }

    pub fn pid(&self) -> Option<u32> {
        self.root
    }

    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Probes that could not be armed (one per address and process), as SystemTap's
    /// "probe registration error" warnings.
    pub fn take_warnings(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.warnings)
    }

    /// Lets the targets run, delivering events to `handler` on this thread, until the `-c`
    /// command exits, every target is gone, a handler says stop, or a stop is requested.
    /// Always leaves the targets without breakpoints and detached.
    pub fn run(&mut self, handler: &mut dyn HitHandler) -> Result<RunEnd, Error> {
        let end = {
            let stop = self.stop.clone();
            let _tracer = stop.enter();
            self.event_loop(handler)
        };
        let detached = self.detach_all();
        let end = end?;
        detached?;
        Ok(end)
    }

    fn event_loop(&mut self, handler: &mut dyn HitHandler) -> Result<RunEnd, Error> {
        if self.events.process_begin {
            let pids: Vec<u32> = self.processes.keys().copied().collect();
            for pid in pids {
                if self.report(handler, pid, HitKind::ProcessBegin, None)? == Action::Stop {
                    return Ok(RunEnd::HandlerStop);
                }
            }
        }
        let tids: Vec<u32> = self.tasks.keys().copied().collect();
        for tid in tids {
            self.resume(tid)?;
        }
        loop {
            if self.stop.is_requested() {
                return Ok(RunEnd::StopRequested);
            }
            if self.tasks.is_empty() && self.early_stops.is_empty() {
                return Ok(RunEnd::AllGone);
            }
            let (tid, status) = match sys::wait(-1) {
                Ok(Some(it)) => it,
                Ok(None) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => return Ok(RunEnd::AllGone),
                Err(source) => {
                    return Err(Error::Io {
                        what: "waitpid",
                        source,
                    });
                }
            };
            self.stats.stops += 1;
            if let Some(end) = self.on_stop(handler, tid, status)? {
                return Ok(end);
            }
        }
    }

    fn on_stop(
        &mut self,
        handler: &mut dyn HitHandler,
        tid: u32,
        status: Status,
    ) -> Result<Option<RunEnd>, Error> {
        if let Some(task) = self.tasks.get_mut(&tid) {
            task.running = false;
        } else if !matches!(status, Status::Gone(_)) {
            if self.announced.remove(&tid) {
                // Created by an event already handled; its task exists only if it was adopted.
                return Ok(None);
            }
            // First stop of a new thread or process, before its creator's event.
            self.early_stops.insert(tid);
            return Ok(None);
        }
        let action = match status {
            Status::Gone(raw) => return self.on_gone(tid, raw),
            Status::Signal(libc::SIGTRAP) => self.on_trap(handler, tid)?,
            Status::Signal(sig) => {
                self.on_signal(tid, sig)?;
                Action::Continue
            }
            Status::Event(event) => self.on_event(handler, tid, event)?,
            Status::Interrupt => {
                self.resume(tid)?;
                Action::Continue
            }
            Status::GroupStop => {
                sys::listen(tid)?;
                Action::Continue
            }
            Status::Syscall => self.on_syscall(handler, tid)?,
        };
        Ok((action == Action::Stop).then_some(RunEnd::HandlerStop))
    }

    // ---- events ---------------------------------------------------------------------------

    fn on_trap(&mut self, handler: &mut dyn HitHandler, tid: u32) -> Result<Action, Error> {
        let mut regs = sys::getregs(tid)?;
        let at = regs.pc().wrapping_sub(BREAKPOINT_PC_ADVANCE);
        let space_id = self.tasks[&tid].space;
        let space = &self.spaces[&space_id];
        if space.breakpoints.contains_key(&at) {
            regs.set_pc(at);
            return self.on_breakpoint(handler, tid, regs);
        }
        if space.trampoline == Some(at) {
            return self.on_trampoline(handler, tid, regs);
        }
        // Not ours: the program's own int3, or a SIGTRAP sent to it. Deliver it.
        self.tasks.get_mut(&tid).expect("known task").pending_signal = libc::SIGTRAP;
        self.resume(tid)?;
        Ok(Action::Continue)
    }

    fn on_breakpoint(
        &mut self,
        handler: &mut dyn HitHandler,
        tid: u32,
        mut regs: Registers,
    ) -> Result<Action, Error> {
        self.stats.breakpoint_hits += 1;
        let at = regs.pc();
        let task = &self.tasks[&tid];
        let (tgid, space_id) = (task.tgid, task.space);
        let bp = self.spaces[&space_id].breakpoints[&at].clone();
        let call_id = (!bp.returns.is_empty()).then(|| {
            self.next_call_id += 1;
            self.next_call_id
        });
        let mut action = Action::Continue;
        for &probe in &bp.entries {
            let kind = HitKind::Entry { probe, call_id };
            if self.deliver(handler, tid, tgid, space_id, kind, &regs) == Action::Stop {
                action = Action::Stop;
            }
        }
        if let Some(call_id) = call_id {
            self.hijack_return(tid, &regs, at, call_id, bp.returns.clone())?;
        }
        let space = &self.spaces[&space_id];
        match bp.displaced.plan {
            Plan::OutOfLine => {
                let (slot, _) = bp
                    .slot
                    .as_ref()
                    .expect("out-of-line breakpoints have a slot");
                regs.set_pc(*slot);
            }
            Plan::EmulateCall => {
                let (ret, target) = bp
                    .displaced
                    .emulate_call(&regs, |a| space.mem.read_u64(a).ok())
                    .map_err(|reason| Error::BadProbe {
                        path: "<call>".into(),
                        offset: at,
                        reason,
                    })?;
                let sp = regs.sp() - 8;
                space.mem.write_u64(sp, ret)?;
                regs.set_sp(sp);
                regs.set_pc(target);
            }
        }
        sys::setregs(tid, &regs)?;
        self.resume(tid)?;
        Ok(action)
    }

    fn hijack_return(
        &mut self,
        tid: u32,
        regs: &Registers,
        function: u64,
        call_id: u64,
        probes: Vec<ProbeId>,
    ) -> Result<(), Error> {
        let space_id = self.tasks[&tid].space;
        let trampoline = self.trampoline(tid, space_id)?;
        let space = &self.spaces[&space_id];
        let task = self.tasks.get_mut(&tid).expect("known task");
        // At the first instruction of a function the return address is at the stack pointer.
        let slot = regs.sp();
        let stored = space.mem.read_u64(slot)?;
        if !task.shadow.push(
            Frame::new(slot, stored, function, call_id, probes),
            trampoline,
        ) {
            self.stats.missed_returns += 1;
            return Ok(());
        }
        space.mem.write_u64(slot, trampoline)
    }

    fn on_trampoline(
        &mut self,
        handler: &mut dyn HitHandler,
        tid: u32,
        mut regs: Registers,
    ) -> Result<Action, Error> {
        self.stats.returns += 1;
        let task = self.tasks.get_mut(&tid).expect("known task");
        let (tgid, space_id) = (task.tgid, task.space);
        // `ret` popped the trampoline address: the frame's slot is just below the SP.
        let frames = task.shadow.pop_returning(regs.sp() - 8);
        let Some(last) = frames.last() else {
            // No record of this return: the address cannot be recovered. Linux sends SIGILL
            // ("uretprobe: handle"); do the same rather than run garbage.
            self.warnings.push(Error::BadProbe {
                path: format!("/proc/{tgid}").into(),
                offset: regs.pc(),
                reason: format!("thread {tid} returned through the trampoline without a record"),
            });
            self.tasks.get_mut(&tid).expect("known task").pending_signal = libc::SIGILL;
            self.resume(tid)?;
            return Ok(Action::Continue);
        };
        regs.set_pc(last.real_return);
        let mut action = Action::Continue;
        for frame in &frames {
            for &probe in &frame.probes {
                let kind = HitKind::Return {
                    probe,
                    call_id: frame.call_id,
                    function: frame.function,
                    return_address: frame.real_return,
                };
                if self.deliver(handler, tid, tgid, space_id, kind, &regs) == Action::Stop {
                    action = Action::Stop;
                }
            }
        }
        sys::setregs(tid, &regs)?;
        self.resume(tid)?;
        Ok(action)
    }

    fn on_signal(&mut self, tid: u32, sig: i32) -> Result<(), Error> {
        let space_id = self.tasks[&tid].space;
        if matches!(
            sig,
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE
        ) {
            let mut regs = sys::getregs(tid)?;
            // A fault raised by a relocated instruction is reported at the original address,
            // so the program's handler (or its core dump) sees its own code; x86 faults are
            // precise, so the instruction had no effect and re-executes there (hitting the
            // probe again, as under Linux uprobes).
            if let Some(pc) = self.spaces[&space_id].original_pc(regs.pc())
                && sys::siginfo(tid)?.si_code > 0
            {
                regs.set_pc(pc);
                sys::setregs(tid, &regs)?;
            }
        }
        self.tasks.get_mut(&tid).expect("known task").pending_signal = sig;
        self.resume(tid)
    }

    fn on_event(
        &mut self,
        handler: &mut dyn HitHandler,
        tid: u32,
        event: i32,
    ) -> Result<Action, Error> {
        match event {
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                let child = sys::event_msg(tid)? as u32;
                let action = self.on_new_task(handler, tid, child, event)?;
                self.resume(tid)?;
                Ok(action)
            }
            libc::PTRACE_EVENT_EXEC => {
                let tgid = self.tasks[&tid].tgid;
                self.forget_process(tgid);
                self.adopt_after_exec(tgid)?;
                let action = if self.events.process_begin {
                    self.report(handler, tgid, HitKind::ProcessBegin, None)?
                } else {
                    Action::Continue
                };
                self.resume(tgid)?;
                Ok(action)
            }
            libc::PTRACE_EVENT_EXIT => {
                let status = sys::event_msg(tid)? as i32;
                let tgid = self.tasks[&tid].tgid;
                let last = self
                    .processes
                    .get(&tgid)
                    .is_none_or(|p| p.threads.len() <= 1);
                let mut action = Action::Continue;
                if self.events.thread_end && tid != tgid {
                    action = self.report(handler, tid, HitKind::ThreadEnd, None)?;
                }
                if self.events.process_end
                    && last
                    && self.report(handler, tid, HitKind::ProcessEnd { status }, None)?
                        == Action::Stop
                {
                    action = Action::Stop;
                }
                self.resume(tid)?;
                Ok(action)
            }
            _ => {
                self.resume(tid)?;
                Ok(Action::Continue)
            }
        }
    }

    fn on_new_task(
        &mut self,
        handler: &mut dyn HitHandler,
        parent: u32,
        child: u32,
        event: i32,
    ) -> Result<Action, Error> {
        let (parent_tgid, parent_space, shadow) = {
            let t = &self.tasks[&parent];
            (t.tgid, t.space, t.shadow.clone())
        };
        let kind = if event == libc::PTRACE_EVENT_CLONE {
            // CLONE_THREAD shares the thread group; a clone without it is a new process.
            let tgid = sys::tgid_of(child).unwrap_or(parent_tgid);
            if tgid == parent_tgid {
                self.processes
                    .get_mut(&parent_tgid)
                    .expect("known process")
                    .threads
                    .insert(child);
                self.tasks
                    .insert(child, Task::new(parent_tgid, parent_space, true));
                HitKind::ThreadBegin
            } else {
                // A CLONE_VM process shares the parent's address space (and breakpoints).
                self.add_child_process(child, parent_space, shadow, true)?;
                HitKind::ProcessBegin
            }
        } else {
            self.add_child_process(
                child,
                parent_space,
                shadow,
                event == libc::PTRACE_EVENT_VFORK,
            )?;
            HitKind::ProcessBegin
        };
        let wanted = match kind {
            HitKind::ThreadBegin => self.events.thread_begin,
            _ => self.events.process_begin,
        };
        // The child's own regs are only available once it stopped: report with the parent's
        // registers until then (the child is a copy of them, but for its return value).
        let action = if wanted {
            self.report(handler, child, kind, Some(parent))?
        } else {
            Action::Continue
        };
        if self.early_stops.remove(&child) {
            self.tasks.get_mut(&child).expect("just added").running = false;
            self.resume(child)?;
        } else {
            self.announced.insert(child);
            // The task starts running on its own first stop (see `on_stop`).
            self.tasks.get_mut(&child).expect("just added").running = true;
        }
        Ok(action)
    }

    fn add_child_process(
        &mut self,
        pid: u32,
        parent_space: SpaceId,
        shadow: ShadowStack,
        shares_memory: bool,
    ) -> Result<(), Error> {
        let space = if shares_memory {
            parent_space
        } else {
            let mem = crate::process::memory::ProcMem::open(pid)?;
            let copy = self.spaces[&parent_space].fork(mem);
            let id = self.insert_space(copy);
            self.scope_fork(pid, id, &shadow)?;
            id
        };
        self.processes.insert(
            pid,
            Process {
                space,
                threads: HashSet::from([pid]),
            },
        );
        let mut task = Task::new(pid, space, true);
        task.shadow = shadow;
        if !shares_memory {
            task.shadow
                .retain_probes(|p| self.probes[p.0].pid.is_none_or(|want| want == pid));
        }
        self.tasks.insert(pid, task);
        Ok(())
    }

    /// A forked child inherits the parent's breakpoints in its copied text: keep those whose
    /// probes apply to every process (`pid: None`), remove the rest, and put back return
    /// addresses of frames whose return probes no longer apply.
    fn scope_fork(
        &mut self,
        pid: u32,
        space_id: SpaceId,
        shadow: &ShadowStack,
    ) -> Result<(), Error> {
        let probes = &self.probes;
        let applies = |p: &ProbeId| probes[p.0].pid.is_none_or(|want| want == pid);
        let space = self.spaces.get_mut(&space_id).expect("just inserted");
        let mut dead = Vec::new();
        for (&addr, bp) in space.breakpoints.iter_mut() {
            bp.entries.retain(applies);
            bp.returns.retain(applies);
            if bp.entries.is_empty() && bp.returns.is_empty() {
                dead.push(addr);
            }
        }
        for addr in dead {
            space.remove(addr)?;
        }
        for frame in shadow.frames() {
            if !frame.probes.iter().any(applies) {
                space.mem.write_u64(frame.slot, frame.real_return)?;
            }
        }
        Ok(())
    }

    fn on_gone(&mut self, tid: u32, raw: i32) -> Result<Option<RunEnd>, Error> {
        self.early_stops.remove(&tid);
        let Some(task) = self.tasks.remove(&tid) else {
            return Ok(None);
        };
        if let Some(p) = self.processes.get_mut(&task.tgid) {
            p.threads.remove(&tid);
            if p.threads.is_empty() || tid == task.tgid {
                self.forget_process(task.tgid);
            }
        }
        if self.root == Some(tid) {
            return Ok(Some(RunEnd::TargetExited(raw)));
        }
        Ok(None)
    }

    fn on_syscall(&mut self, handler: &mut dyn HitHandler, tid: u32) -> Result<Action, Error> {
        let info = sys::syscall_info(tid)?;
        let task = self.tasks.get_mut(&tid).expect("known task");
        let kind = match info.op {
            libc::PTRACE_SYSCALL_INFO_ENTRY => {
                // SAFETY: `op` says the kernel filled in the `entry` member of the union.
                let entry = unsafe { info.u.entry };
                task.syscall_nr = Some(entry.nr);
                self.events.syscall.then_some(HitKind::Syscall {
                    nr: entry.nr,
                    args: entry.args,
                })
            }
            libc::PTRACE_SYSCALL_INFO_EXIT => {
                // SAFETY: `op` says the kernel filled in the `exit` member of the union.
                let exit = unsafe { info.u.exit };
                let nr = task.syscall_nr.take();
                nr.filter(|_| self.events.syscall_return)
                    .map(|nr| HitKind::SyscallReturn {
                        nr,
                        value: exit.sval,
                    })
            }
            _ => None,
        };
        let action = match kind {
            Some(kind) => self.report(handler, tid, kind, None)?,
            None => Action::Continue,
        };
        self.resume(tid)?;
        Ok(action)
    }

    // ---- helpers --------------------------------------------------------------------------

    /// Delivers a lifecycle event for `tid`, reading registers from `regs_of` (or `tid`).
    fn report(
        &mut self,
        handler: &mut dyn HitHandler,
        tid: u32,
        kind: HitKind,
        regs_of: Option<u32>,
    ) -> Result<Action, Error> {
        let regs = sys::getregs(regs_of.unwrap_or(tid)).unwrap_or_else(|_| Registers::zeroed());
        let Some(task) = self.tasks.get(&tid) else {
            return Ok(Action::Continue);
        };
        let (tgid, space) = (task.tgid, task.space);
        Ok(self.deliver(handler, tid, tgid, space, kind, &regs))
    }

    fn deliver(
        &self,
        handler: &mut dyn HitHandler,
        tid: u32,
        tgid: u32,
        space: SpaceId,
        kind: HitKind,
        regs: &Registers,
    ) -> Action {
        let hit = Hit {
            kind,
            pid: tgid,
            tid,
            time_ns: monotonic_ns(),
            cpu: None,
            regs,
            memory: &self.spaces[&space].mem,
        };
        handler.on_hit(&hit)
    }

    fn resume(&mut self, tid: u32) -> Result<(), Error> {
        let Some(task) = self.tasks.get_mut(&tid) else {
            return Ok(());
        };
        let sig = std::mem::take(&mut task.pending_signal);
        task.running = true;
        let r = if self.events.syscall || self.events.syscall_return {
            sys::cont_syscall(tid, sig)
        } else {
            sys::cont(tid, sig)
        };
        match r {
            // The thread was killed (SIGKILL, exit of its group) meanwhile: its exit is next.
            Err(Error::Ptrace { source, .. }) if source.raw_os_error() == Some(libc::ESRCH) => {
                Ok(())
            }
            other => other,
        }
    }

    fn new_space(&mut self, pid: u32) -> Result<SpaceId, Error> {
        let mem = crate::process::memory::ProcMem::open(pid)?;
        Ok(self.insert_space(Space::new(mem)))
    }

    fn insert_space(&mut self, space: Space) -> SpaceId {
        let id = self.next_space;
        self.next_space += 1;
        self.spaces.insert(id, space);
        id
    }

    /// Drops the bookkeeping of a process whose image is gone (exit or exec).
    fn forget_process(&mut self, tgid: u32) {
        if let Some(p) = self.processes.remove(&tgid) {
            for tid in &p.threads {
                if *tid != tgid {
                    self.tasks.remove(tid);
                }
            }
            if !self.processes.values().any(|q| q.space == p.space) {
                self.spaces.remove(&p.space);
            }
        }
    }

    /// Sets up a process that just executed a new image (spawned command or a traced exec):
    /// fresh address space, probes armed for what the new image maps.
    fn adopt_after_exec(&mut self, pid: u32) -> Result<(), Error> {
        // The exec stop is inside execve: step to its first instruction so the stop is a clean
        // one from which a system call can be injected (see `inject`).
        let deferred = inject::step_out_of_syscall(pid)?;
        let space = self.new_space(pid)?;
        self.processes.insert(
            pid,
            Process {
                space,
                threads: HashSet::from([pid]),
            },
        );
        let mut task = Task::new(pid, space, false);
        task.pending_signal = deferred.unwrap_or(0);
        self.tasks.insert(pid, task);
        self.arm(pid, pid)
    }

    /// Arms every probe that applies to process `pid` and whose file it maps, injecting any
    /// `mmap` through the stopped thread `tid`. Probes that cannot be armed become warnings.
    fn arm(&mut self, pid: u32, tid: u32) -> Result<(), Error> {
        let maps = read_maps(pid)?;
        let space_id = self.processes[&pid].space;
        let mut deferred = None;
        for (idx, spec) in self.probes.iter().enumerate() {
            if spec.pid.is_some_and(|want| want != pid) {
                continue;
            }
            // Not mapped in this process (yet): nothing to arm.
            let Some(addr) = probe_address(&maps, &spec.path, spec.offset) else {
                continue;
            };
            let space = self.spaces.get_mut(&space_id).expect("process space");
            let is_return = spec.kind == ProbeKind::Return;
            let result = space.add_probe(addr, ProbeId(idx), is_return, |space| {
                if let Some(slot) = space.take_slot_near(addr) {
                    return Ok(slot);
                }
                let (area, signal) = inject::map_area(tid, &space.mem, &maps.mappings, addr)?;
                deferred = deferred.or(signal);
                space.areas.push(xol::XolArea::new(area));
                space.take_slot_near(addr).ok_or_else(|| Error::XolArea {
                    pid,
                    reason: "new area is out of reach".into(),
                })
            });
            if let Err(reason) = result {
                self.warnings.push(Error::BadProbe {
                    path: spec.path.clone(),
                    offset: spec.offset,
                    reason,
                });
            }
        }
        self.defer_signal(tid, deferred);
        Ok(())
    }

    fn defer_signal(&mut self, tid: u32, signal: Option<i32>) {
        if let (Some(sig), Some(task)) = (signal, self.tasks.get_mut(&tid)) {
            task.pending_signal = sig;
        }
    }

    fn trampoline(&mut self, tid: u32, space_id: SpaceId) -> Result<u64, Error> {
        let space = self.spaces.get_mut(&space_id).expect("task space");
        if let Some(t) = space.trampoline {
            return Ok(t);
        }
        let tgid = self.tasks[&tid].tgid;
        if space.areas.is_empty() {
            let maps = read_maps(tgid)?;
            let near = space.breakpoints.keys().next().copied().unwrap_or(0);
            let (area, signal) = inject::map_area(tid, &space.mem, &maps.mappings, near)?;
            space.areas.push(xol::XolArea::new(area));
            self.defer_signal(tid, signal);
        }
        let space = self.spaces.get_mut(&space_id).expect("task space");
        let near = space.areas[0].start;
        let at = space.take_slot_near(near).ok_or_else(|| Error::XolArea {
            pid: tgid,
            reason: "no slot left for the trampoline".into(),
        })?;
        space.mem.write_all(at, TRAMPOLINE)?;
        space.trampoline = Some(at);
        Ok(at)
    }

    // ---- cleanup --------------------------------------------------------------------------

    /// Stops every thread, restores all text and return addresses, moves threads out of
    /// slots, detaches. Idempotent.
    fn detach_all(&mut self) -> Result<(), Error> {
        if self.detached {
            return Ok(());
        }
        self.detached = true;
        let mut first_error = Ok(());
        let mut keep = |r: Result<(), Error>| {
            if first_error.is_ok() {
                first_error = r;
            }
        };
        keep(self.stop_all());
        for space in self.spaces.values_mut() {
            keep(space.remove_all());
        }
        let tids: Vec<u32> = self.tasks.keys().copied().collect();
        for tid in tids {
            keep(self.release(tid));
        }
        for tid in self.early_stops.drain() {
            let _ = sys::detach(tid, 0);
        }
        self.tasks.clear();
        self.processes.clear();
        first_error
    }

    /// Interrupts running threads and collects their stops, handling what arrives meanwhile
    /// without running handlers.
    fn stop_all(&mut self) -> Result<(), Error> {
        let running: Vec<u32> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.running)
            .map(|(&tid, _)| tid)
            .collect();
        for &tid in &running {
            if sys::interrupt(tid).is_err() {
                // Already gone; its exit status is still to be reaped below.
            }
        }
        let mut waiting: HashSet<u32> = running.into_iter().collect();
        waiting.extend(self.announced.drain());
        while !waiting.is_empty() {
            let (tid, status) = match sys::wait(-1) {
                Ok(Some(it)) => it,
                Ok(None) => continue,
                Err(_) => break,
            };
            match status {
                Status::Gone(_) => {
                    waiting.remove(&tid);
                    self.tasks.remove(&tid);
                }
                Status::Event(e)
                    if matches!(
                        e,
                        libc::PTRACE_EVENT_FORK
                            | libc::PTRACE_EVENT_VFORK
                            | libc::PTRACE_EVENT_CLONE
                    ) =>
                {
                    // A child created at the last moment carries our breakpoints: adopt it so
                    // it is cleaned and detached too.
                    let child = sys::event_msg(tid)? as u32;
                    let mut sink = |_: &Hit<'_>| Action::Continue;
                    self.on_new_task(&mut sink, tid, child, e)?;
                    if self.tasks.get(&child).is_some_and(|t| t.running) {
                        waiting.insert(child);
                    }
                    self.mark_stopped(tid, &mut waiting);
                }
                Status::Signal(libc::SIGTRAP) => {
                    self.settle_trap(tid)?;
                    self.mark_stopped(tid, &mut waiting);
                }
                Status::Signal(sig) => {
                    if let Some(t) = self.tasks.get_mut(&tid) {
                        t.pending_signal = sig;
                    }
                    self.mark_stopped(tid, &mut waiting);
                }
                _ => {
                    if self.tasks.contains_key(&tid) {
                        self.mark_stopped(tid, &mut waiting);
                    } else {
                        self.early_stops.insert(tid);
                        waiting.remove(&tid);
                    }
                }
            }
        }
        Ok(())
    }

    fn mark_stopped(&mut self, tid: u32, waiting: &mut HashSet<u32>) {
        if let Some(t) = self.tasks.get_mut(&tid) {
            t.running = false;
        }
        waiting.remove(&tid);
    }

    /// A thread that trapped while we were stopping: put it back before the breakpoint (the
    /// hit is not reported), or finish a return through the trampoline, or keep a foreign
    /// SIGTRAP for delivery.
    fn settle_trap(&mut self, tid: u32) -> Result<(), Error> {
        let Some(task) = self.tasks.get_mut(&tid) else {
            return Ok(());
        };
        let space = &self.spaces[&task.space];
        let mut regs = sys::getregs(tid)?;
        let at = regs.pc().wrapping_sub(BREAKPOINT_PC_ADVANCE);
        if space.breakpoints.contains_key(&at) {
            regs.set_pc(at);
        } else if space.trampoline == Some(at) {
            if let Some(last) = task.shadow.pop_returning(regs.sp() - 8).last() {
                regs.set_pc(last.real_return);
            }
        } else {
            task.pending_signal = libc::SIGTRAP;
            return Ok(());
        }
        sys::setregs(tid, &regs)
    }

    /// Restores one stopped thread's hijacked return addresses, moves it out of a slot, and
    /// detaches it with its pending signal.
    fn release(&mut self, tid: u32) -> Result<(), Error> {
        let Some(task) = self.tasks.get(&tid) else {
            return Ok(());
        };
        let space = &self.spaces[&task.space];
        if let Some(trampoline) = space.trampoline {
            for frame in task.shadow.frames() {
                if space.mem.read_u64(frame.slot).ok() == Some(trampoline) {
                    space.mem.write_u64(frame.slot, frame.real_return)?;
                }
            }
        }
        if let Ok(mut regs) = sys::getregs(tid)
            && let Some(pc) = space.original_pc(regs.pc())
        {
            regs.set_pc(pc);
            sys::setregs(tid, &regs)?;
        }
        match sys::detach(tid, task.pending_signal) {
            Err(Error::Ptrace { source, .. }) if source.raw_os_error() == Some(libc::ESRCH) => {
                Ok(())
            }
            other => other,
        }
    }
}

impl Drop for PtraceEngine {
    /// The guard for every path that does not reach the end of `run` (errors, panics in a
    /// handler): targets are never left with breakpoints.
    fn drop(&mut self) {
        let _ = self.detach_all();
    }
}

impl Task {
    fn new(tgid: u32, space: SpaceId, running: bool) -> Self {
        Task {
            tgid,
            space,
            shadow: ShadowStack::default(),
            pending_signal: 0,
            running,
            syscall_nr: None,
        }
    }
}
