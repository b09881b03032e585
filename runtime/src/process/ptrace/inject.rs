//! Making a stopped target thread run code for the tracer: stepping out of a system call, and
//! injecting `mmap` for an XOL area.
//!
//! Injection needs a *clean* stop: at a ptrace-event stop inside a system call (exec), the
//! kernel writes the call's result into `rax` after the stop, over the injected call number.
//! Interrupt and signal stops are clean (the interrupted call's result is already stored; its
//! restart is decided from `orig_rax`, which injection clears and restores).
//!
//! The injected `syscall` instruction is one found in the `[vdso]`: any `0f 05` byte pair
//! executes as `syscall` when jumped to, and using it writes nothing into the program's text,
//! so other threads may keep running.

use crate::debuginfo::maps::Mapping;
use crate::process::arch::syscall::{self, SYS_MMAP, SYSCALL_INSN};
use crate::process::memory::ProcMem;
use crate::process::{Error, Registers};

use super::sys::{self, Status};
use super::xol::{self, AREA_SIZE};

/// Single-steps `tid` once and waits for the step's trap. Signals arriving meanwhile are held
/// back and returned (the caller delivers them on the next resume).
fn step_once(tid: u32) -> Result<Option<i32>, Error> {
    sys::step(tid, 0)?;
    let mut deferred = None;
    loop {
        match sys::wait(tid as i32) {
            Ok(Some((_, Status::Signal(libc::SIGTRAP)))) => return Ok(deferred),
            Ok(Some((_, Status::Signal(sig)))) => {
                deferred = Some(sig);
                sys::step(tid, 0)?;
            }
            Ok(Some((_, Status::Gone(_)))) => {
                return Err(Error::Ptrace {
                    op: "SINGLESTEP",
                    tid,
                    source: std::io::Error::from_raw_os_error(libc::ESRCH),
                });
            }
            Ok(Some(_)) => sys::step(tid, 0)?,
            Ok(None) => {}
            Err(source) => {
                return Err(Error::Io {
                    what: "waitpid",
                    source,
                });
            }
        }
    }
}

/// Moves a thread stopped inside a system call (exec) to a clean stop after it.
pub fn step_out_of_syscall(tid: u32) -> Result<Option<i32>, Error> {
    step_once(tid)
}

/// Runs system call `nr` in the stopped thread `tid` and restores its registers.
fn inject(
    tid: u32,
    maps: &[Mapping],
    mem: &ProcMem,
    nr: u64,
    args: [u64; 6],
) -> Result<(i64, Option<i32>), Error> {
    let at = find_syscall_insn(maps, mem).ok_or_else(|| Error::XolArea {
        pid: mem.pid(),
        reason: "the process has no [vdso] to borrow a syscall instruction from".into(),
    })?;
    let saved = sys::getregs(tid)?;
    sys::setregs(tid, &syscall::prepare(&saved, at, nr, args))?;
    let stepped = step_once(tid);
    let after: Result<Registers, Error> = match &stepped {
        Ok(_) => sys::getregs(tid),
        Err(_) => Err(Error::XolArea {
            pid: mem.pid(),
            reason: "the injected system call did not complete".into(),
        }),
    };
    // Restore whatever happened.
    sys::setregs(tid, &saved)?;
    let deferred = stepped?;
    let after = after?;
    if after.pc() != syscall::pc_after(at) {
        return Err(Error::XolArea {
            pid: mem.pid(),
            reason: format!("injected system call ended at {:#x}", after.pc()),
        });
    }
    Ok((syscall::result(&after), deferred))
}

fn find_syscall_insn(maps: &[Mapping], mem: &ProcMem) -> Option<u64> {
    let ehdr = vdso_address(mem.pid())?;
    let vdso = maps.iter().find(|m| (m.start..m.end).contains(&ehdr))?;
    let mut bytes = vec![0; (vdso.end - vdso.start) as usize];
    mem.read_exact(vdso.start, &mut bytes).ok()?;
    let at = bytes.windows(2).position(|w| w == SYSCALL_INSN)?;
    Some(vdso.start + at as u64)
}

/// Where the kernel mapped the vDSO (`AT_SYSINFO_EHDR` in `/proc/PID/auxv`).
fn vdso_address(pid: u32) -> Option<u64> {
    const AT_SYSINFO_EHDR: u64 = 33;
    let auxv = std::fs::read(format!("/proc/{pid}/auxv")).ok()?;
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8-byte half of a 16-byte pair"));
    auxv.chunks_exact(16)
        .find(|pair| word(&pair[..8]) == AT_SYSINFO_EHDR)
        .map(|pair| word(&pair[8..]))
}

/// Maps a new XOL area within reach of `near` in the process of `tid`. Returns its address
/// and a signal that arrived meanwhile, if any.
pub fn map_area(
    tid: u32,
    mem: &ProcMem,
    maps: &[Mapping],
    near: u64,
) -> Result<(u64, Option<i32>), Error> {
    let pid = mem.pid();
    let hint = xol::place(maps, near).ok_or_else(|| Error::XolArea {
        pid,
        reason: format!("no free gap within ±2 GiB of {near:#x}"),
    })?;
    let prot = (libc::PROT_READ | libc::PROT_EXEC) as u64;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
    let (got, deferred) = inject(
        tid,
        maps,
        mem,
        SYS_MMAP,
        [hint, AREA_SIZE, prot, flags, u64::MAX, 0],
    )?;
    if got < 0 {
        let err = std::io::Error::from_raw_os_error(-got as i32);
        return Err(Error::XolArea {
            pid,
            reason: format!("mmap at {hint:#x}: {err}"),
        });
    }
    if got as u64 != hint {
        // A kernel older than 4.17 treats MAP_FIXED_NOREPLACE as a hint.
        let _ = inject(
            tid,
            maps,
            mem,
            syscall::SYS_MUNMAP,
            [got as u64, AREA_SIZE, 0, 0, 0, 0],
        );
        return Err(Error::XolArea {
            pid,
            reason: format!("mmap placed the area at {got:#x}, not {hint:#x}"),
        });
    }
    Ok((hint, deferred))
}
