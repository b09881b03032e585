// Shared by several test binaries; each uses a part of it.
#![allow(dead_code)]

//! A tiny ptrace driver for the tests: runs a program to a breakpoint at a probe site and
//! hands out its registers and memory, so location programs can be evaluated against a real
//! stopped process.

use std::ffi::CString;
use std::os::unix::fs::FileExt;
use std::path::Path;

use nix::sys::ptrace;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use rtap_runtime::debuginfo::maps::ProcessMaps;
use rtap_runtime::debuginfo::registers::x86_64 as r;
use rtap_runtime::debuginfo::{Arch, Fault, MemoryReader, Module, RegisterSet};

pub struct Stopped {
    pub pid: Pid,
    pub regs: RegisterSet,
    pub bias: u64,
    mem: std::fs::File,
}

pub struct ProcMem<'a>(&'a std::fs::File);

impl MemoryReader for ProcMem<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        match self.0.read_at(buf, addr) {
            Ok(n) if n == buf.len() => Ok(()),
            _ => Err(Fault::Read(addr)),
        }
    }
}

impl Stopped {
    /// Starts `program` and stops it the first time it reaches link-time `address` of
    /// `module` (the program itself).
    pub fn run_to(program: &Path, module: &Module, address: u64) -> Stopped {
        let path = CString::new(program.to_str().unwrap()).unwrap();
        let argv = [path.clone()];
        // SAFETY: the child only makes async-signal-safe system calls before execv.
        let pid = match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                // Without address randomization, as under gdb, so stack addresses agree.
                // SAFETY: personality(2) only changes this process's execution domain flags.
                unsafe { libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong) };
                let _ = ptrace::traceme();
                let _ = nix::unistd::execv(&path, &argv);
                // SAFETY: exiting the failed child without running the parent's destructors.
                unsafe { libc::_exit(127) }
            }
            ForkResult::Parent { child } => child,
        };
        assert!(
            matches!(waitpid(pid, None).unwrap(), WaitStatus::Stopped(_, _)),
            "exec stop"
        );
        let maps = ProcessMaps::read(pid.as_raw() as u32).unwrap();
        let bias = maps.bias_of(module).expect("program mapped");
        let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
        let mut stopped = Stopped {
            pid,
            regs: RegisterSet::new(Arch::X86_64),
            bias,
            mem,
        };
        stopped.continue_to(address + bias);
        stopped
    }

    /// Continues to run-time address `at` (a temporary int3 breakpoint).
    pub fn continue_to(&mut self, at: u64) {
        let pid = self.pid;
        if self.regs.pc() == Some(at) {
            // Stopped on `at` already: step off it, or the new int3 would trap at once.
            ptrace::step(pid, None).unwrap();
            assert!(
                matches!(waitpid(pid, None).unwrap(), WaitStatus::Stopped(_, _)),
                "single-step"
            );
        }
        let word = ptrace::read(pid, at as ptrace::AddressType).unwrap();
        let patched = (word & !0xff) | 0xcc;
        ptrace::write(pid, at as ptrace::AddressType, patched).unwrap();
        ptrace::cont(pid, None).unwrap();
        match waitpid(pid, None).unwrap() {
            WaitStatus::Stopped(_, nix::sys::signal::Signal::SIGTRAP) => {}
            other => panic!("expected the breakpoint at {at:#x}, got {other:?}"),
        }
        ptrace::write(pid, at as ptrace::AddressType, word).unwrap();
        let mut regs = ptrace::getregs(pid).unwrap();
        assert_eq!(regs.rip, at + 1, "stopped at our breakpoint");
        regs.rip = at;
        ptrace::setregs(pid, regs).unwrap();
        self.regs = RegisterSet::from_user_regs(&regs);
    }

    /// Runs until the current function returns (breakpoint on the return address at the top
    /// of the stack: call this at the function's first instruction).
    pub fn continue_to_return(&mut self) {
        let sp = self.regs.get(r::RSP).unwrap();
        let ra = self.memory().read_u64(sp).unwrap();
        self.continue_to(ra);
    }

    pub fn memory(&self) -> ProcMem<'_> {
        ProcMem(&self.mem)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}
