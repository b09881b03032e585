//! rtap-kmod's `Platform` on the rtap-armsim machine, and a host that routes the machine's
//! exceptions to the engine: the simulated world the scenario tests run in.
//!
//! Layout of the simulated kernel: kernel text at [`KTEXT`] (RX), data at [`KDATA`], one
//! stack per core at [`KSTACKS`], engine text blocks at [`KBLOCKS`] (RX), and a linear map of
//! physical memory at [`LINEAR`] (RW, created page by page on demand) through which all
//! instruction writes go — the writable alias of Linux's fixmap text poking. User XOL areas
//! are mapped below [`XOL_TOP`] in each process.
//!
//! The machine is owned by the test ([`World::m`]); the platform reaches it through a pointer
//! installed for the duration of an exception (or of [`World::with`]), so the engine's
//! `&self` platform calls and nested simulated calls from probe handlers work on the same
//! machine. Deliberate flaws ([`Flaws`]) reproduce the historical bugs of the background
//! scenarios.

#![allow(dead_code)] // each scenario test uses part of the support

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use rtap_armsim::aarch64::linux::LinuxUser;
use rtap_armsim::aarch64::{Exception, ExceptionKind, Regs, pstate};
use rtap_armsim::{
    A64Machine, BarrierKind, CallSetup, DcOp, Host, MachineConfig, Pa, Perms, Resume, SpaceId,
};
use rtap_kmod::arch::Breakpoint;
use rtap_kmod::arch::aarch64::cpu::{Barrier, Cpu};
use rtap_kmod::arch::aarch64::regs::PtRegs;
use rtap_kmod::arch::aarch64::{Aarch64, SlotEntry, breakpoint_kind};
use rtap_kmod::engine::Engine;
use rtap_kmod::hit::Outcome;
use rtap_kmod::instance::Instance;
use rtap_kmod::kprobe::{Kprobe, KprobeCpu, Kprobes, cpu_state};
use rtap_kmod::platform::{
    CpuId, Platform, PlatformError, ProcessId, Space, TEXT_BLOCK_SIZE, Task, ThreadId,
};
use rtap_kmod::table::Entry;
use rtap_kmod::uprobe::{ThreadState, Uprobe, Uprobes};
use rtap_kmod::xol::{SlotBlock, XolArea};

pub const KTEXT: u64 = 0xffff_0000_0010_0000;
pub const KTEXT_SIZE: u64 = 0x4000;
pub const KDATA: u64 = 0xffff_0000_0030_0000;
pub const KDATA_SIZE: u64 = 0x4000;
pub const KSTACKS: u64 = 0xffff_0000_0040_0000;
pub const KSTACK_SIZE: u64 = 0x4000;
pub const KBLOCKS: u64 = 0xffff_0000_4000_0000;
pub const LINEAR: u64 = 0xffff_8000_0000_0000;
pub const XOL_TOP: u64 = 0x0000_7fff_8000_0000;
/// `BRK #0xf00` ends a kernel-mode test routine.
pub const DONE: u16 = 0xf00;
/// Where nested calls return to (never fetched).
const CALL_RETURN: u64 = 0xffff_0000_0fff_0000;

/// Deliberate bugs, each the historical failure of one background scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flaws {
    /// `IC IVAU` / `IC IALLUIS` do nothing: only the D-cache is cleaned (scenario 1).
    pub no_icache_invalidate: bool,
    /// No cache maintenance at all (scenario 2, while the XOL area is created).
    pub no_maintenance: bool,
    /// `stop_machine` runs the work without parking anyone (scenario 6).
    pub no_stop: bool,
    /// `task()` reports one thread id for every thread of a process (scenario 5).
    pub shared_thread_state: bool,
    /// The BRK handler claims every BRK, re-executing what it does not recognise (scenario 4;
    /// Linux before 3b84efc066f8 returned "handled" for kprobe BRKs it had no probe for).
    pub claim_every_brk: bool,
}

/// The platform: rtap-kmod's view of the simulated machine.
pub struct SimPlatform {
    machine: Cell<*mut A64Machine>,
    frame: Cell<*mut Regs>,
    core: Cell<CpuId>,
    host: Cell<Option<&'static Env>>,
    tasks: RefCell<Vec<Task>>,
    spaces: RefCell<BTreeMap<ProcessId, SpaceId>>,
    linear: RefCell<BTreeSet<Pa>>,
    kernel_blocks: Cell<u64>,
    xol_blocks: RefCell<BTreeMap<ProcessId, u64>>,
    /// Frames `alloc_text_block` hands out first: recently freed memory, possibly still in
    /// some core's I-cache (as a page allocator's hot pages are).
    pub recycled: RefCell<Vec<Pa>>,
    pub flaws: Cell<Flaws>,
    stops: Cell<u64>,
    claimed: RefCell<BTreeSet<u32>>,
}

/// Restores the platform's previous machine/frame/core when an exception (or a
/// [`World::with`] block) ends.
pub struct Entered<'g> {
    platform: &'g SimPlatform,
    saved: (*mut A64Machine, *mut Regs, CpuId),
    _machine: std::marker::PhantomData<&'g mut A64Machine>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let (machine, frame, core) = self.saved;
        self.platform.machine.set(machine);
        self.platform.frame.set(frame);
        self.platform.core.set(core);
    }
}

impl SimPlatform {
    fn new(cores: usize) -> Self {
        SimPlatform {
            machine: Cell::new(std::ptr::null_mut()),
            frame: Cell::new(std::ptr::null_mut()),
            core: Cell::new(0),
            host: Cell::new(None),
            tasks: RefCell::new(vec![
                Task {
                    process: ProcessId(0),
                    thread: ThreadId(0)
                };
                cores
            ]),
            spaces: RefCell::new(BTreeMap::new()),
            linear: RefCell::new(BTreeSet::new()),
            kernel_blocks: Cell::new(0),
            xol_blocks: RefCell::new(BTreeMap::new()),
            recycled: RefCell::new(Vec::new()),
            flaws: Cell::new(Flaws::default()),
            stops: Cell::new(0),
            claimed: RefCell::new(BTreeSet::new()),
        }
    }

    /// Makes the platform act as `core` of `m` (with `frame` the interrupted context, if
    /// any) until the guard drops. The borrow of `m` lasts as long as the guard: nothing else
    /// touches the machine meanwhile.
    pub fn enter<'g>(
        &'g self,
        m: &'g mut A64Machine,
        core: CpuId,
        frame: Option<&'g mut Regs>,
    ) -> Entered<'g> {
        let saved = (self.machine.get(), self.frame.get(), self.core.get());
        self.machine.set(m);
        self.frame
            .set(frame.map_or(std::ptr::null_mut(), |f| f as *mut Regs));
        self.core.set(core);
        Entered {
            platform: self,
            saved,
            _machine: std::marker::PhantomData,
        }
    }

    /// Runs `f` on the machine installed by [`enter`](Self::enter) (for test handlers that
    /// play parts of the kernel, such as a hardware-breakpoint handler).
    pub fn machine<R>(&self, f: impl FnOnce(&mut A64Machine) -> R) -> R {
        self.m(f)
    }

    /// Runs `f` on the machine installed by [`enter`](Self::enter).
    fn m<R>(&self, f: impl FnOnce(&mut A64Machine) -> R) -> R {
        let machine = self.machine.get();
        assert!(
            !machine.is_null(),
            "the platform was used outside an exception or World::with"
        );
        // SAFETY: `machine` was installed by `enter` from a `&mut A64Machine` whose borrow the
        // `Entered` guard holds; callers of `m` do not nest (`call` hands the machine to a
        // nested host, which installs a reborrow of it and restores this pointer before the
        // nested call returns), so this is the only live reference.
        f(unsafe { &mut *machine })
    }

    /// The task running on `core` (tests set it).
    pub fn set_task(&self, core: CpuId, task: Task) {
        self.tasks.borrow_mut()[core] = task;
    }

    /// Registers a process's address space.
    pub fn add_process(&self, process: ProcessId, space: SpaceId) {
        self.spaces.borrow_mut().insert(process, space);
    }

    pub fn stops(&self) -> u64 {
        self.stops.get()
    }

    pub fn claimed(&self) -> BTreeSet<u32> {
        self.claimed.borrow().clone()
    }

    /// The current core's number.
    pub fn core(&self) -> CpuId {
        self.core.get()
    }

    /// Calls the simulated function at `entry` on the current core, from a probe handler:
    /// its exceptions (a nested probe hit) come back to the engine re-entrantly. Returns X0.
    pub fn call(&self, entry: u64, args: &[u64]) -> u64 {
        let env = self.host.get().expect("the world has a host");
        let core = self.core.get();
        let setup = CallSetup {
            entry,
            args: args.to_vec(),
            return_to: CALL_RETURN,
            sp: None,
        };
        self.m(|m| m.call(&mut HostRef(env), core, &setup, 100_000))
            .expect("nested call returns")
    }

    fn space_id(&self, space: Space) -> Result<SpaceId, PlatformError> {
        match space {
            Space::Kernel => Ok(self.m(|m| m.kernel_space())),
            Space::User(process) => self
                .spaces
                .borrow()
                .get(&process)
                .copied()
                .ok_or(PlatformError::Unsupported),
        }
    }

    /// The physical address of `addr` in `space`.
    fn pa(&self, space: Space, addr: u64) -> Result<Pa, PlatformError> {
        let id = self.space_id(space)?;
        let pte = self
            .m(|m| m.lookup(id, addr & !0xfff))
            .ok_or(PlatformError::Fault(addr))?;
        Ok(pte.pa + (addr & 0xfff))
    }

    /// The linear-map address of `pa`, mapping its page on first use.
    fn linear_va(&self, pa: Pa) -> u64 {
        let page = pa & !0xfff;
        if self.linear.borrow_mut().insert(page) {
            self.m(|m| {
                let kernel = m.kernel_space();
                m.map(kernel, LINEAR + page, page, 4096, Perms::RW)
                    .expect("map the linear alias");
            });
        }
        LINEAR + pa
    }

    fn read_bytes(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), PlatformError> {
        let pa = self.pa(space, addr)?;
        self.m(|m| m.read_phys(pa, buf))
            .map_err(|_| PlatformError::Fault(addr))
    }

    /// Whether `core` is in a kprobe XOL slot (EL1 with IRQs masked outside a handler): the
    /// stop-machine contract says no CPU can be parked there.
    fn in_kernel_slot(m: &A64Machine, core: usize) -> bool {
        let regs = &m.core(core).regs;
        m.is_running(core)
            && regs.el() == 1
            && regs.pstate & pstate::I != 0
            && regs.pc >= KBLOCKS
            && regs.pc < LINEAR
    }
}

impl Platform for SimPlatform {
    fn cpu(&self) -> CpuId {
        self.core.get()
    }
    fn cpu_count(&self) -> usize {
        self.m(|m| m.cores())
    }
    fn task(&self) -> Task {
        let task = self.tasks.borrow()[self.core.get()];
        if self.flaws.get().shared_thread_state && task.process != ProcessId(0) {
            return Task {
                process: task.process,
                thread: ThreadId(task.process.0),
            };
        }
        task
    }
    fn read_insn(&self, space: Space, addr: u64) -> Result<u32, PlatformError> {
        let mut buf = [0; 4];
        self.read_bytes(space, addr, &mut buf)?;
        Ok(u32::from_le_bytes(buf))
    }
    fn write_insn(&self, space: Space, addr: u64, insn: u32) -> Result<(), PlatformError> {
        let alias = self.linear_va(self.pa(space, addr)?);
        let core = self.core.get();
        self.m(|m| m.write(core, alias, &insn.to_le_bytes()))
            .map_err(|_| PlatformError::Fault(addr))
    }
    fn linear_alias(&self, space: Space, addr: u64) -> Result<u64, PlatformError> {
        Ok(self.linear_va(self.pa(space, addr)?))
    }
    fn load(&self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), PlatformError> {
        let mut le = [0u8; 8];
        let n = buf.len().min(8);
        self.read_bytes(space, addr, &mut le[..n])?;
        let value = u64::from_le_bytes(le);
        buf.copy_from_slice(&value.to_ne_bytes()[..n]);
        Ok(())
    }
    fn alloc_text_block(&self, space: Space) -> Result<u64, PlatformError> {
        let id = self.space_id(space)?;
        let pa = self
            .recycled
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| self.m(|m| m.alloc_phys(4096)));
        let (va, perms) = match space {
            Space::Kernel => {
                let n = self.kernel_blocks.get();
                self.kernel_blocks.set(n + 1);
                (KBLOCKS + n * TEXT_BLOCK_SIZE, Perms::RX)
            }
            Space::User(process) => {
                let mut blocks = self.xol_blocks.borrow_mut();
                let n = blocks.entry(process).or_insert(0);
                *n += 1;
                (XOL_TOP - *n * TEXT_BLOCK_SIZE, Perms::RX.user())
            }
        };
        self.m(|m| m.map(id, va, pa, TEXT_BLOCK_SIZE, perms))
            .map_err(|_| PlatformError::NoMemory)?;
        Ok(va)
    }
    fn free_text_block(&self, space: Space, addr: u64) {
        if let Ok(id) = self.space_id(space) {
            let _ = self.m(|m| m.unmap(id, addr, TEXT_BLOCK_SIZE));
        }
    }
    fn stop_machine(&self, work: &mut dyn FnMut()) {
        self.stops.set(self.stops.get() + 1);
        if self.flaws.get().no_stop {
            work();
            return;
        }
        let me = self.core.get();
        let parked = self.m(|m| {
            for core in (0..m.cores()).filter(|&c| c != me) {
                assert!(
                    !SimPlatform::in_kernel_slot(m, core),
                    "stop_machine contract: core {core} is stepping a kprobe slot (interrupts masked) and cannot be parked"
                );
            }
            m.park_others(me)
        });
        work();
        // arm-probes.md §1.14: the parked CPUs execute `isb()` once released.
        self.m(|m| {
            for core in parked {
                m.isb(core);
                m.unpark(core);
            }
        });
    }
    fn claim_breakpoints(&self, breakpoints: &[u32]) -> Result<(), PlatformError> {
        self.claimed.borrow_mut().extend(breakpoints);
        Ok(())
    }
    fn release_breakpoints(&self, breakpoints: &[u32]) {
        let mut claimed = self.claimed.borrow_mut();
        for word in breakpoints {
            claimed.remove(word);
        }
    }
}

impl Cpu for SimPlatform {
    /// The sanitised CTR_EL0: the smallest line sizes of all cores, IDC/DIC only if every
    /// core has them (arm-probes.md §1.16).
    fn ctr_el0(&self) -> u64 {
        self.m(|m| {
            let ctrs: Vec<u64> = (0..m.cores()).map(|c| m.core(c).sys.ctr_el0).collect();
            let min = |shift: u32| ctrs.iter().map(|c| (c >> shift) & 0xf).min().unwrap_or(0);
            let all = |bit: u32| ctrs.iter().all(|c| c >> bit & 1 != 0);
            (ctrs[0] & !(0xf | 0xf << 16 | 0b11 << 28))
                | min(0)
                | min(16) << 16
                | u64::from(all(28)) << 28
                | u64::from(all(29)) << 29
        })
    }
    fn dc_cvau(&self, va: u64) {
        if self.flaws.get().no_maintenance {
            return;
        }
        let core = self.core.get();
        self.m(|m| m.dc(core, DcOp::Cvau, va))
            .expect("DC CVAU on a mapped address");
    }
    fn ic_ivau(&self, va: u64) {
        let flaws = self.flaws.get();
        if flaws.no_maintenance || flaws.no_icache_invalidate {
            return;
        }
        let core = self.core.get();
        self.m(|m| m.ic_ivau(core, va))
            .expect("IC IVAU on a mapped address");
    }
    fn ic_ialluis(&self) {
        let flaws = self.flaws.get();
        if flaws.no_maintenance || flaws.no_icache_invalidate {
            return;
        }
        let core = self.core.get();
        self.m(|m| m.ic_ialluis(core));
    }
    fn dsb(&self, barrier: Barrier) {
        let core = self.core.get();
        let kind = match barrier {
            Barrier::Ish => BarrierKind::Full,
            Barrier::IshSt => BarrierKind::Stores,
        };
        self.m(|m| m.dsb(core, kind));
    }
    fn isb(&self) {
        let core = self.core.get();
        self.m(|m| m.isb(core));
    }
    fn write_simd_reg(&self, n: u8, value: u128) {
        let frame = self.frame.get();
        assert!(
            !frame.is_null(),
            "SIMD registers are written only from an exception"
        );
        // SAFETY: installed by `enter` from the exception's `&mut Regs`, whose borrow the guard
        // holds; the host does not touch the frame while the engine runs.
        unsafe { (*frame).v[usize::from(n)] = value };
    }
}

/// The frame as the engine sees it.
pub fn to_pt(frame: &Regs) -> PtRegs {
    PtRegs {
        regs: frame.x,
        sp: frame.sp(),
        pc: frame.pc,
        pstate: frame.pstate,
    }
}

/// Writes the engine's changes back.
pub fn from_pt(frame: &mut Regs, regs: &PtRegs) {
    frame.x = regs.regs;
    frame.pc = regs.pc;
    frame.pstate = regs.pstate;
    frame.set_sp(regs.sp);
}

/// The engine's storage, leaked for the life of the test process (the engine borrows it for
/// `'static`, as a kernel module's statics are).
pub struct Storage {
    kprobes: [Entry<Kprobe<'static, SimPlatform, Aarch64>>; 64],
    cpus: Vec<KprobeCpu<SlotEntry>>,
    blocks: [SlotBlock; 4],
    kinstances: [Instance; 32],
    uprobes: [Entry<Uprobe<'static, SimPlatform, Aarch64>>; 64],
    threads: [ThreadState<SlotEntry>; 16],
    areas: [XolArea; 4],
    uinstances: [Instance; 32],
}

pub type SimEngine = Engine<'static, SimPlatform, Aarch64>;

/// What happened to user threads and kernel code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A user thread got a fatal signal (it is halted).
    Signal {
        core: usize,
        signal: i32,
        pc: u64,
        kind: ExceptionKind,
    },
    /// Kernel code hit an exception nobody handled ("Unexpected kernel BRK exception").
    KernelOops {
        core: usize,
        pc: u64,
        kind: ExceptionKind,
    },
    /// The engine reported an unrecoverable state.
    Fatal { core: usize, what: String },
    /// A kernel routine reached `BRK #DONE`.
    Done { core: usize },
}

/// Handles debug exceptions (hardware breakpoints, software step) for tests that use them.
pub type DebugHandler = dyn Fn(&SimPlatform, usize, &Exception, &mut Regs) -> Resume;

/// The simulated kernel: the platform, the engine, user processes and what happened.
pub struct Env {
    pub platform: SimPlatform,
    pub engine: SimEngine,
    pub users: RefCell<Vec<LinuxUser>>,
    pub events: RefCell<Vec<Event>>,
    pub debug: RefCell<Option<Box<DebugHandler>>>,
}

/// The host: the machine's exception handler.
#[derive(Clone, Copy)]
pub struct HostRef(pub &'static Env);

impl Host<rtap_armsim::Aarch64> for HostRef {
    fn on_exception(
        &mut self,
        m: &mut A64Machine,
        core: usize,
        exc: &Exception,
        frame: &mut Regs,
    ) -> Resume {
        let env = self.0;
        let p = &env.platform;
        let user = exc.from_el == 0;
        let flaws = p.flaws.get();
        match exc.kind {
            ExceptionKind::Brk { imm } if imm == DONE && !user => {
                env.events.borrow_mut().push(Event::Done { core });
                Resume::Halt
            }
            ExceptionKind::Brk { imm } => {
                let mut regs = to_pt(frame);
                let outcome = match breakpoint_kind(imm) {
                    Some(kind) => {
                        let _in = p.enter(m, core, Some(frame));
                        env.engine.handle(p, kind, user, &mut regs)
                    }
                    None => Outcome::NotMine,
                };
                let outcome = if flaws.claim_every_brk && outcome == Outcome::NotMine {
                    Outcome::Handled
                } else {
                    outcome
                };
                match outcome {
                    Outcome::Handled => {
                        from_pt(frame, &regs);
                        Resume::Return
                    }
                    Outcome::NotMine => env.unhandled(core, exc, frame),
                    Outcome::Fault { .. } => env.unhandled(core, exc, frame),
                    Outcome::Fatal(fatal) => {
                        env.events.borrow_mut().push(Event::Fatal {
                            core,
                            what: fatal.to_string(),
                        });
                        Resume::Stop
                    }
                }
            }
            ExceptionKind::Svc { .. } if user => {
                let mut users = env.users.borrow_mut();
                let space = m.user_space(core);
                let process = users
                    .iter_mut()
                    .find(|u| Some(u.space) == space)
                    .expect("a process for the space");
                process.syscall(m, core, frame)
            }
            ExceptionKind::SoftwareStep { .. } | ExceptionKind::Breakpoint { .. }
                if env.debug.borrow().is_some() =>
            {
                let _in = p.enter(m, core, None);
                let debug = env.debug.borrow();
                (debug.as_ref().expect("checked"))(p, core, exc, frame)
            }
            _ => {
                let mut regs = to_pt(frame);
                let moved = {
                    let _in = p.enter(m, core, Some(frame));
                    env.engine.fault(p, user, &mut regs)
                };
                if moved {
                    from_pt(frame, &regs);
                }
                env.unhandled(core, exc, frame)
            }
        }
    }
}

impl Env {
    /// What the kernel does with an exception nobody claimed: a user thread is killed with
    /// the signal Linux would send; kernel code oopses (the run stops).
    fn unhandled(&self, core: usize, exc: &Exception, frame: &Regs) -> Resume {
        if exc.from_el == 0 {
            let signal = LinuxUser::signal_for(exc);
            self.events.borrow_mut().push(Event::Signal {
                core,
                signal,
                pc: frame.pc,
                kind: exc.kind,
            });
            Resume::Halt
        } else {
            self.events.borrow_mut().push(Event::KernelOops {
                core,
                pc: frame.pc,
                kind: exc.kind,
            });
            Resume::Stop
        }
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.borrow().clone()
    }
}

/// A simulated machine with the engine installed.
pub struct World {
    pub m: A64Machine,
    pub env: &'static Env,
}

impl World {
    /// A machine with `config`, kernel text/data/stacks mapped, and the engine initialised.
    pub fn new(config: MachineConfig) -> World {
        let cores = config.cores;
        let mut m = A64Machine::new(config).expect("machine configuration");
        let kernel = m.kernel_space();
        m.map_new(kernel, KTEXT, KTEXT_SIZE, Perms::RX)
            .expect("kernel text");
        m.map_new(kernel, KDATA, KDATA_SIZE, Perms::RW)
            .expect("kernel data");
        m.map_new(kernel, KSTACKS, KSTACK_SIZE * cores as u64, Perms::RW)
            .expect("kernel stacks");
        let storage: &'static Storage = Box::leak(Box::new(Storage {
            kprobes: std::array::from_fn(|_| Entry::new()),
            cpus: (0..cores)
                .map(|_| cpu_state(SlotEntry::default()))
                .collect(),
            blocks: Default::default(),
            kinstances: Default::default(),
            uprobes: std::array::from_fn(|_| Entry::new()),
            threads: Default::default(),
            areas: Default::default(),
            uinstances: Default::default(),
        }));
        let engine = Engine::new(
            Kprobes::new(
                &storage.kprobes,
                &storage.cpus,
                &storage.blocks,
                &storage.kinstances,
            ),
            Uprobes::new(
                &storage.uprobes,
                &storage.threads,
                &storage.areas,
                &storage.uinstances,
            ),
        );
        let env: &'static Env = Box::leak(Box::new(Env {
            platform: SimPlatform::new(cores),
            engine,
            users: RefCell::new(Vec::new()),
            events: RefCell::new(Vec::new()),
            debug: RefCell::new(None),
        }));
        env.platform.host.set(Some(env));
        let mut world = World { m, env };
        world
            .with(0, |env| env.engine.init(&env.platform))
            .expect("engine init");
        world
    }

    /// Runs `f` as the kernel on `core` (a registration call from a tracer that interrupted
    /// whatever `core` was running; returning to it is an exception return, so the core
    /// executes a context synchronization event afterwards).
    pub fn with<R>(&mut self, core: usize, f: impl FnOnce(&'static Env) -> R) -> R {
        let env = self.env;
        let result = {
            let _in = env.platform.enter(&mut self.m, core, None);
            f(env)
        };
        self.m.isb(core);
        result
    }

    /// Loads kernel routines at [`KTEXT`]; returns the words.
    pub fn load_kernel(&mut self, words: &[u32]) {
        let kernel = self.m.kernel_space();
        let pa = self.m.lookup(kernel, KTEXT).expect("kernel text").pa;
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.m
            .write_phys_clean(pa, &bytes)
            .expect("load kernel text");
    }

    /// Starts `core` at EL1 at `pc` with its own stack and interrupts unmasked.
    pub fn start_kernel(&mut self, core: usize, pc: u64, task: Task) {
        self.env.platform.set_task(core, task);
        let regs = &mut self.m.core_mut(core).regs;
        *regs = Regs::default();
        regs.set_el1(0);
        regs.sp_el1 = KSTACKS + (core as u64 + 1) * KSTACK_SIZE;
        regs.pc = pc;
        self.m.start(core);
    }

    /// Runs the machine with the engine as host.
    pub fn run(&mut self, max_steps: u64) -> rtap_armsim::RunExit {
        let mut host = HostRef(self.env);
        self.m.run(&mut host, max_steps)
    }

    /// Runs until `done` holds.
    pub fn run_until(
        &mut self,
        max_steps: u64,
        done: impl FnMut(&A64Machine) -> bool,
    ) -> rtap_armsim::RunExit {
        let mut host = HostRef(self.env);
        self.m.run_until(&mut host, max_steps, done)
    }

    /// Runs until no core is inside a kprobe XOL slot, so a stop may park every core.
    pub fn quiesce(&mut self) {
        let exit = self.run_until(10_000, |m| {
            (0..m.cores()).all(|c| !SimPlatform::in_kernel_slot(m, c))
        });
        assert_eq!(
            exit,
            rtap_armsim::RunExit::Predicate,
            "a core stayed in a kprobe slot"
        );
    }

    /// Reads a kernel data word.
    pub fn kdata(&mut self, offset: u64) -> u64 {
        self.m.read_u64(0, KDATA + offset).expect("kernel data")
    }

    /// Adds a user process from an ELF image, started on `core` as thread `thread`.
    pub fn spawn(
        &mut self,
        core: usize,
        elf: &[u8],
        process: ProcessId,
        thread: ThreadId,
    ) -> rtap_armsim::LoadedImage {
        let (user, image) = LinuxUser::spawn(&mut self.m, core, elf).expect("load the program");
        self.env.platform.add_process(process, user.space);
        self.env.platform.set_task(core, Task { process, thread });
        self.env.users.borrow_mut().push(user);
        image
    }

    /// Starts another thread of the process running on `of_core`, on `core`, at `pc` with
    /// stack `sp`.
    pub fn start_thread(
        &mut self,
        core: usize,
        of_core: usize,
        pc: u64,
        sp: u64,
        thread: ThreadId,
    ) {
        let space = self.m.user_space(of_core);
        let process = self.env.platform.tasks.borrow()[of_core].process;
        self.m.set_user_space(core, space);
        self.env.platform.set_task(core, Task { process, thread });
        let regs = &mut self.m.core_mut(core).regs;
        *regs = Regs::default();
        regs.set_el0();
        regs.sp_el0 = sp;
        regs.pc = pc;
        self.m.start(core);
    }

    /// The user process whose address space `core` runs in.
    pub fn user<R>(&self, core: usize, f: impl FnOnce(&LinuxUser) -> R) -> R {
        let space = self.m.user_space(core);
        let users = self.env.users.borrow();
        f(users
            .iter()
            .find(|u| Some(u.space) == space)
            .expect("a process on the core"))
    }
}

/// A Breakpoint kind's BRK immediate, for readability in tests.
pub fn brk_of(kind: Breakpoint) -> u32 {
    rtap_kmod::arch::aarch64::insn::brk(rtap_kmod::arch::aarch64::brk_immediate(kind))
}
