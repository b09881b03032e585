//! A minimal Linux user-space personality for AArch64: enough system calls for static
//! test programs (`write`, `exit`, `exit_group`, `brk`, anonymous `mmap`/`munmap`, `clone`
//! of threads — one per free core — and a few identity calls), so the same binaries run
//! here and under `qemu-aarch64`.
//!
//! [`LinuxUser`] is a [`Host`]; a probe-engine test that needs both probes and system calls
//! wraps it and forwards `SVC`s to [`LinuxUser::syscall`].

use super::{A64Machine, Aarch64, Exception, ExceptionKind, Regs};
use crate::elf::{LoadError, LoadedImage, load_elf};
use crate::host::{Host, Resume};
use crate::memory::PAGE_SIZE;
use crate::mmu::{Perms, SpaceId};
use crate::system::CoreId;

const ENOSYS: i64 = 38;
const EFAULT: i64 = 14;
const EINVAL: i64 = 22;
const ENOMEM: i64 = 12;

/// Top of the initial stack.
pub const STACK_TOP: u64 = 0x0000_7fff_ffff_0000;
/// Size of the initial stack.
pub const STACK_SIZE: u64 = 256 * 1024;
/// Anonymous mappings are placed downwards from here.
const MMAP_TOP: u64 = 0x0000_7f00_0000_0000;

/// A fatal signal the process received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fatal {
    /// Signal number (SIGTRAP = 5, SIGILL = 4, SIGBUS = 7, SIGSEGV = 11).
    pub signal: i32,
    pub exception: Exception,
}

/// A single process: its address space, program break and output.
#[derive(Debug)]
pub struct LinuxUser {
    pub space: SpaceId,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Set by `exit`/`exit_group`.
    pub exit_code: Option<i32>,
    /// Set when an exception killed the process.
    pub fatal: Option<Fatal>,
    brk_start: u64,
    brk: u64,
    mmap_next: u64,
}

impl LinuxUser {
    /// A process in `space` whose program break starts at `brk_start` (page aligned).
    pub fn new(space: SpaceId, brk_start: u64) -> LinuxUser {
        LinuxUser {
            space,
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit_code: None,
            fatal: None,
            brk_start,
            brk: brk_start,
            mmap_next: MMAP_TOP,
        }
    }

    /// Creates an address space, loads the static executable `elf` into it, maps a stack
    /// with an empty `argv`/`envp`/`auxv`, and starts `core` at the entry point at EL0.
    pub fn spawn(
        m: &mut A64Machine,
        core: CoreId,
        elf: &[u8],
    ) -> Result<(LinuxUser, LoadedImage), LoadError> {
        let space = m.new_address_space();
        let image = load_elf(m, space, elf, true)?;
        let stack_base = STACK_TOP - STACK_SIZE;
        m.map_new(space, stack_base, STACK_SIZE, Perms::RW.user())
            .map_err(|source| LoadError::Map {
                va: stack_base,
                source,
            })?;
        // argc = 0, argv = { NULL }, envp = { NULL }, auxv = { AT_NULL, 0 }.
        let sp = STACK_TOP - 64;
        m.set_user_space(core, Some(space));
        let regs = &mut m.core_mut(core).regs;
        *regs = Regs::default();
        regs.set_el0();
        regs.sp_el0 = sp;
        regs.pc = image.entry;
        m.start(core);
        Ok((LinuxUser::new(space, image.end), image))
    }

    /// Handles the `SVC` whose frame is `frame` (Linux AArch64 ABI: number in X8, arguments
    /// in X0–X5, result in X0).
    pub fn syscall(&mut self, m: &mut A64Machine, core: CoreId, frame: &mut Regs) -> Resume {
        let [a0, a1, a2, a3, _a4, _a5] = [
            frame.x[0], frame.x[1], frame.x[2], frame.x[3], frame.x[4], frame.x[5],
        ];
        let result: i64 = match frame.x[8] {
            // write
            64 => {
                let mut buf = vec![0; a2.min(1 << 20) as usize];
                match m.read(core, a1, &mut buf) {
                    Ok(()) => match a0 {
                        1 => {
                            self.stdout.extend_from_slice(&buf);
                            buf.len() as i64
                        }
                        2 => {
                            self.stderr.extend_from_slice(&buf);
                            buf.len() as i64
                        }
                        _ => -9, // EBADF
                    },
                    Err(_) => -EFAULT,
                }
            }
            // read: no input.
            63 => 0,
            // exit: this thread only.
            93 => {
                self.exit_code.get_or_insert(a0 as i32);
                return Resume::Halt;
            }
            // exit_group
            94 => {
                self.exit_code = Some(a0 as i32);
                return Resume::Stop;
            }
            // set_tid_address, getpid, gettid
            96 | 172 => 1,
            178 => 1 + core as i64,
            // brk
            214 => self.brk(m, a0) as i64,
            // clone: threads only (CLONE_VM | CLONE_THREAD), each on a free core.
            220 => self.clone_thread(m, core, frame, a0, a1),
            // munmap
            215 => match m.unmap(self.space, a0, a1) {
                Ok(()) => 0,
                Err(_) => -EINVAL,
            },
            // mmap: anonymous, private only.
            222 => self.mmap(m, a0, a1, a2, a3),
            _ => -ENOSYS,
        };
        frame.x[0] = result as u64;
        Resume::Return
    }

    /// `clone(flags, stack, ...)` for a thread: the child runs on the lowest-numbered halted
    /// core with the parent's registers, `X0 = 0` and SP = `stack`; the parent gets the child's
    /// thread id (1 + core). Anything but a thread (no `CLONE_VM`/`CLONE_THREAD`) is refused.
    fn clone_thread(
        &mut self,
        m: &mut A64Machine,
        core: CoreId,
        frame: &Regs,
        flags: u64,
        stack: u64,
    ) -> i64 {
        const CLONE_VM: u64 = 0x100;
        const CLONE_THREAD: u64 = 0x10000;
        const EAGAIN: i64 = 11;
        if flags & (CLONE_VM | CLONE_THREAD) != CLONE_VM | CLONE_THREAD {
            return -EINVAL;
        }
        let Some(child) = (0..m.cores()).find(|&c| c != core && !m.is_running(c)) else {
            return -EAGAIN;
        };
        let mut regs = frame.clone();
        regs.x[0] = 0;
        regs.sp_el0 = stack;
        m.set_user_space(child, Some(self.space));
        m.core_mut(child).regs = regs;
        m.start(child);
        1 + child as i64
    }

    fn brk(&mut self, m: &mut A64Machine, want: u64) -> u64 {
        if want <= self.brk_start {
            return self.brk;
        }
        let mapped_end = self.brk.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let new_end = want.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        if new_end > mapped_end
            && m.map_new(
                self.space,
                mapped_end,
                new_end - mapped_end,
                Perms::RW.user(),
            )
            .is_err()
        {
            return self.brk;
        }
        self.brk = want.max(self.brk);
        self.brk
    }

    fn mmap(&mut self, m: &mut A64Machine, _addr: u64, len: u64, prot: u64, flags: u64) -> i64 {
        const MAP_ANONYMOUS: u64 = 0x20;
        if flags & MAP_ANONYMOUS == 0 || len == 0 {
            return -EINVAL;
        }
        let len = len.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let perms = Perms {
            read: prot & 1 != 0,
            write: prot & 2 != 0,
            exec: prot & 4 != 0,
            user: true,
        };
        let va = self.mmap_next - len;
        match m.map_new(self.space, va, len, perms) {
            Ok(_) => {
                self.mmap_next = va;
                va as i64
            }
            Err(_) => -ENOMEM,
        }
    }

    /// The signal Linux would deliver for `exc` from user space.
    pub fn signal_for(exc: &Exception) -> i32 {
        match exc.kind {
            ExceptionKind::Brk { .. }
            | ExceptionKind::SoftwareStep { .. }
            | ExceptionKind::Breakpoint { .. } => 5,
            ExceptionKind::Undefined { .. } => 4,
            ExceptionKind::PcAlignment => 7,
            ExceptionKind::DataAbort { fault, .. } | ExceptionKind::InstructionAbort { fault }
                if fault.kind == crate::mmu::FaultKind::Alignment =>
            {
                7
            }
            _ => 11,
        }
    }
}

impl Host<Aarch64> for LinuxUser {
    fn on_exception(
        &mut self,
        m: &mut A64Machine,
        core: CoreId,
        exc: &Exception,
        frame: &mut Regs,
    ) -> Resume {
        match exc.kind {
            ExceptionKind::Svc { .. } if exc.from_el == 0 => self.syscall(m, core, frame),
            ExceptionKind::Irq => Resume::Return,
            _ => {
                self.fatal = Some(Fatal {
                    signal: LinuxUser::signal_for(exc),
                    exception: *exc,
                });
                Resume::Stop
            }
        }
    }
}
