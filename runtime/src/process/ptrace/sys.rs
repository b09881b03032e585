//! Thin wrappers over ptrace(2) and waitpid(2). Raw signal numbers throughout: a tracer must
//! pass realtime signals through untouched.

use std::io;

use crate::process::{Error, Registers};

pub const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACEEXIT;

fn raw(req: libc::c_uint, tid: u32, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: every request used here takes integers or a pointer to a live local that the
    // caller provides via `addr`/`data`; ptrace validates the tid.
    let r = unsafe { libc::ptrace(req, tid as libc::pid_t, addr, data) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn ctx(op: &'static str, tid: u32) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Ptrace { op, tid, source }
}

pub fn seize(tid: u32) -> io::Result<()> {
    raw(libc::PTRACE_SEIZE, tid, 0, OPTIONS as usize).map(drop)
}

pub fn interrupt(tid: u32) -> Result<(), Error> {
    raw(libc::PTRACE_INTERRUPT, tid, 0, 0)
        .map(drop)
        .map_err(ctx("INTERRUPT", tid))
}

pub fn cont(tid: u32, sig: i32) -> Result<(), Error> {
    raw(libc::PTRACE_CONT, tid, 0, sig as usize)
        .map(drop)
        .map_err(ctx("CONT", tid))
}

pub fn cont_syscall(tid: u32, sig: i32) -> Result<(), Error> {
    raw(libc::PTRACE_SYSCALL, tid, 0, sig as usize)
        .map(drop)
        .map_err(ctx("SYSCALL", tid))
}

pub fn step(tid: u32, sig: i32) -> Result<(), Error> {
    raw(libc::PTRACE_SINGLESTEP, tid, 0, sig as usize)
        .map(drop)
        .map_err(ctx("SINGLESTEP", tid))
}

pub fn listen(tid: u32) -> Result<(), Error> {
    raw(libc::PTRACE_LISTEN, tid, 0, 0)
        .map(drop)
        .map_err(ctx("LISTEN", tid))
}

pub fn detach(tid: u32, sig: i32) -> Result<(), Error> {
    raw(libc::PTRACE_DETACH, tid, 0, sig as usize)
        .map(drop)
        .map_err(ctx("DETACH", tid))
}

pub fn getregs(tid: u32) -> Result<Registers, Error> {
    let mut regs = Registers::zeroed();
    raw(libc::PTRACE_GETREGS, tid, 0, &mut regs.0 as *mut _ as usize)
        .map_err(ctx("GETREGS", tid))?;
    Ok(regs)
}

pub fn setregs(tid: u32, regs: &Registers) -> Result<(), Error> {
    raw(libc::PTRACE_SETREGS, tid, 0, &regs.0 as *const _ as usize)
        .map(drop)
        .map_err(ctx("SETREGS", tid))
}

pub fn event_msg(tid: u32) -> Result<u64, Error> {
    let mut msg: libc::c_ulong = 0;
    raw(
        libc::PTRACE_GETEVENTMSG,
        tid,
        0,
        &mut msg as *mut _ as usize,
    )
    .map_err(ctx("GETEVENTMSG", tid))?;
    Ok(msg)
}

pub fn siginfo(tid: u32) -> Result<libc::siginfo_t, Error> {
    // SAFETY: siginfo_t is plain data; zero is a valid starting value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    raw(
        libc::PTRACE_GETSIGINFO,
        tid,
        0,
        &mut info as *mut _ as usize,
    )
    .map_err(ctx("GETSIGINFO", tid))?;
    Ok(info)
}

/// `PTRACE_GET_SYSCALL_INFO` (Linux 5.3).
pub fn syscall_info(tid: u32) -> Result<libc::ptrace_syscall_info, Error> {
    // SAFETY: plain data, zero-initialised out buffer.
    let mut info: libc::ptrace_syscall_info = unsafe { std::mem::zeroed() };
    raw(
        libc::PTRACE_GET_SYSCALL_INFO,
        tid,
        std::mem::size_of::<libc::ptrace_syscall_info>(),
        &mut info as *mut _ as usize,
    )
    .map_err(ctx("GET_SYSCALL_INFO", tid))?;
    Ok(info)
}

/// A decoded wait status of a traced thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Exited (`WIFEXITED`) or killed (`WIFSIGNALED`); the raw status.
    Gone(i32),
    /// Signal-delivery-stop: `sig` is about to be delivered.
    Signal(i32),
    /// `PTRACE_EVENT_*` stop (fork, vfork, clone, exec, exit).
    Event(i32),
    /// `PTRACE_EVENT_STOP` that is not a group-stop: the initial stop of an auto-attached
    /// thread or the answer to `PTRACE_INTERRUPT`.
    Interrupt,
    /// Group-stop (SIGSTOP & co.) of a seized thread: resume with `PTRACE_LISTEN`.
    GroupStop,
    /// System call entry or exit (`PTRACE_O_TRACESYSGOOD`).
    Syscall,
}

pub fn decode(status: i32) -> Status {
    if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
        return Status::Gone(status);
    }
    let sig = libc::WSTOPSIG(status);
    let event = status >> 16;
    if sig == libc::SIGTRAP | 0x80 {
        Status::Syscall
    } else if event == libc::PTRACE_EVENT_STOP {
        match sig {
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => Status::GroupStop,
            _ => Status::Interrupt,
        }
    } else if event != 0 {
        Status::Event(event)
    } else {
        Status::Signal(sig)
    }
}

/// Waits for any traced thread (`tid` = -1) or one thread. `Ok(None)` when interrupted by a
/// signal (a stop request). `__WNOTHREAD`: only this tracer thread's tracees and children, so
/// several engines (and unrelated child processes of other threads) can coexist.
pub fn wait(tid: i32) -> io::Result<Option<(u32, Status)>> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL | libc::__WNOTHREAD) };
    if r == -1 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::EINTR) {
            Ok(None)
        } else {
            Err(e)
        };
    }
    Ok(Some((r as u32, decode(status))))
}

/// The thread group (process) id of a thread, from `/proc/TID/status`.
pub fn tgid_of(tid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}
