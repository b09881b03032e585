//! Reading and writing a target's memory.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::debuginfo::{Fault, MemoryReader};

use super::Error;

/// `/proc/PID/mem` of one address space: exact reads, and writes that reach read-only text
/// (the kernel breaks copy-on-write with `FOLL_FORCE`, as for a debugger).
#[derive(Debug)]
pub struct ProcMem {
    pid: u32,
    file: File,
}

impl ProcMem {
    pub fn open(pid: u32) -> Result<Self, Error> {
        let path = format!("/proc/{pid}/mem");
        let file = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| Error::Read {
                path: path.into(),
                source,
            })?;
        Ok(ProcMem { pid, file })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn read_exact(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.file
            .read_exact_at(buf, addr)
            .map_err(|source| Error::Memory {
                pid: self.pid,
                addr,
                source,
            })
    }

    pub fn write_all(&self, addr: u64, bytes: &[u8]) -> Result<(), Error> {
        self.file
            .write_all_at(bytes, addr)
            .map_err(|source| Error::Memory {
                pid: self.pid,
                addr,
                source,
            })
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Error> {
        let mut b = [0; 8];
        self.read_exact(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub fn write_u64(&self, addr: u64, value: u64) -> Result<(), Error> {
        self.write_all(addr, &value.to_le_bytes())
    }
}

impl MemoryReader for ProcMem {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.file
            .read_exact_at(buf, addr)
            .map_err(|_| Fault::Read(addr))
    }
}

/// Reads a live process with `process_vm_readv` (one system call, no open file).
pub fn read_live(pid: u32, addr: u64, buf: &mut [u8]) -> io::Result<()> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, which is valid for writes of its length; the remote
    // iovec is only interpreted by the kernel in the target's address space.
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    match n {
        -1 => Err(io::Error::last_os_error()),
        n if n as usize == buf.len() => Ok(()),
        _ => Err(io::Error::from_raw_os_error(libc::EFAULT)),
    }
}
