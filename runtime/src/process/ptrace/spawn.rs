//! Starting a traced command (`-c`) and attaching to a running process (`-x`).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::process::Error;

use super::sys::{self, Status};

/// Forks and executes `argv` traced; returns its pid stopped at its `exec` event.
///
/// The child waits on a pipe until the parent has seized it, so the exec is always seen, and
/// between fork and exec it calls only async-signal-safe functions (the parent may be
/// multi-threaded): everything it needs is prepared before the fork.
pub fn spawn(argv: &[String]) -> Result<u32, Error> {
    let command = argv.join(" ");
    let spawn_err = |source| Error::Spawn {
        command: command.clone(),
        source,
    };
    let program = argv
        .first()
        .ok_or_else(|| spawn_err(io::Error::from(io::ErrorKind::InvalidInput)))?;
    let path =
        find_program(program).ok_or_else(|| spawn_err(io::Error::from(io::ErrorKind::NotFound)))?;
    let path_c = CString::new(path.as_os_str().as_bytes()).map_err(|e| spawn_err(e.into()))?;
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|e| spawn_err(e.into()))?;
    let mut arg_ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(std::ptr::null());
    let (go_r, go_w) = pipe().map_err(spawn_err)?;
    let (err_r, err_w) = pipe().map_err(spawn_err)?;

    // SAFETY: fork has no preconditions; the child branch below only calls read, execv, write
    // and _exit (async-signal-safe) on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: see above; the pointers stay valid (the child owns a copy of the memory).
        unsafe {
            let mut b = 0u8;
            libc::read(go_r, (&mut b as *mut u8).cast(), 1);
            libc::execv(path_c.as_ptr(), arg_ptrs.as_ptr());
            let errno = *libc::__errno_location();
            libc::write(err_w, (&errno as *const i32).cast(), 4);
            libc::_exit(127);
        }
    }
    close(go_r);
    close(err_w);
    if pid < 0 {
        close(go_w);
        close(err_r);
        return Err(spawn_err(io::Error::last_os_error()));
    }
    let pid = pid as u32;
    let seized = sys::seize(pid);
    // SAFETY: writes one byte from a live local to our pipe end.
    unsafe { libc::write(go_w, b"g".as_ptr().cast(), 1) };
    close(go_w);
    if let Err(source) = seized {
        close(err_r);
        return Err(Error::Attach {
            pid,
            source,
            hint: "",
        });
    }
    let result = wait_for_exec(pid, err_r);
    close(err_r);
    result.map_err(spawn_err)?;
    Ok(pid)
}

fn wait_for_exec(pid: u32, err_r: i32) -> io::Result<()> {
    loop {
        match sys::wait(pid as i32)? {
            Some((_, Status::Event(libc::PTRACE_EVENT_EXEC))) => return Ok(()),
            Some((_, Status::Gone(_))) => {
                let mut errno = 0i32;
                // SAFETY: reads at most 4 bytes into a live local.
                let n = unsafe { libc::read(err_r, (&mut errno as *mut i32).cast(), 4) };
                let errno = if n == 4 { errno } else { libc::ECHILD };
                return Err(io::Error::from_raw_os_error(errno));
            }
            Some((_, Status::Signal(sig))) => {
                let _ = sys::cont(pid, sig);
            }
            Some(_) => {
                let _ = sys::cont(pid, 0);
            }
            None => {}
        }
    }
}

/// Resolves a command name as a shell does: with a `/` relative to the working directory,
/// else along `$PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn pipe() -> io::Result<(i32, i32)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((fds[0], fds[1]))
}

fn close(fd: i32) {
    // SAFETY: closes a descriptor this module created and owns.
    unsafe { libc::close(fd) };
}

/// Seizes every thread of `pid` and stops them all. Returns the thread ids, main thread
/// first.
pub fn attach_all(pid: u32) -> Result<Vec<u32>, Error> {
    let mut seized: Vec<u32> = Vec::new();
    // Threads may be created while we attach: repeat until a pass finds no new one.
    loop {
        let mut new = false;
        for tid in list_threads(pid)? {
            if seized.contains(&tid) {
                continue;
            }
            match sys::seize(tid) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                Err(source) => {
                    let hint = if source.raw_os_error() == Some(libc::EPERM) {
                        " (not permitted: trace your own processes, check kernel.yama.ptrace_scope, or run as root)"
                    } else {
                        ""
                    };
                    return Err(Error::Attach { pid, source, hint });
                }
            }
            sys::interrupt(tid)?;
            seized.push(tid);
            new = true;
        }
        if !new {
            break;
        }
    }
    let mut gone = Vec::new();
    for &tid in &seized {
        loop {
            match sys::wait(tid as i32) {
                Ok(Some((_, Status::Interrupt | Status::GroupStop))) => break,
                Ok(Some((_, Status::Signal(sig)))) => sys::cont(tid, sig)?,
                Ok(Some((_, Status::Gone(_)))) => {
                    gone.push(tid);
                    break;
                }
                Ok(Some(_)) => sys::cont(tid, 0)?,
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
    seized.retain(|t| !gone.contains(t));
    if seized.is_empty() {
        return Err(Error::Attach {
            pid,
            source: io::Error::from_raw_os_error(libc::ESRCH),
            hint: " (it exited)",
        });
    }
    seized.sort_by_key(|&t| t != pid);
    Ok(seized)
}

fn list_threads(pid: u32) -> Result<Vec<u32>, Error> {
    let dir = PathBuf::from(format!("/proc/{pid}/task"));
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::Attach {
        pid,
        source,
        hint: " (no such process)",
    })?;
    Ok(entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}
