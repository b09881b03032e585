//! Registers: DWARF register numbers ↔ names for x86_64 and AArch64, the register set a probe
//! hit provides, `register("rax")`/`u_register`, the SysV `*_arg(n)` argument registers and
//! the return-value register, and the [`MemoryReader`] through which target memory is read.

use super::elf::Arch;
use super::error::Fault;

/// DWARF register numbers for x86_64 (System V psABI, figure 3.36).
pub mod x86_64 {
    pub const RAX: u16 = 0;
    pub const RDX: u16 = 1;
    pub const RCX: u16 = 2;
    pub const RBX: u16 = 3;
    pub const RSI: u16 = 4;
    pub const RDI: u16 = 5;
    pub const RBP: u16 = 6;
    pub const RSP: u16 = 7;
    pub const R8: u16 = 8;
    pub const R9: u16 = 9;
    /// The return-address column, which stands for `%rip`.
    pub const RIP: u16 = 16;
    pub const RFLAGS: u16 = 49;
    pub const FS_BASE: u16 = 58;
    pub const GS_BASE: u16 = 59;
    /// Names of DWARF registers 0..=16.
    pub const NAMES: [&str; 17] = [
        "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15", "rip",
    ];
    /// SysV integer argument registers, in order.
    pub const ARGS: [u16; 6] = [RDI, RSI, RDX, RCX, R8, R9];
}

/// DWARF register numbers for AArch64 (AADWARF64 §4.1).
pub mod aarch64 {
    pub const X0: u16 = 0;
    pub const FP: u16 = 29;
    pub const LR: u16 = 30;
    pub const SP: u16 = 31;
    pub const PC: u16 = 32;
    /// TPIDR_EL0, the thread pointer. Not a DWARF register: rtap keeps it in this slot
    /// (engines read it with `PTRACE_GETREGSET(NT_ARM_TLS)`).
    pub const TP: u16 = 63;
    pub const ARGS: [u16; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
}

/// The number of DWARF register slots a [`RegisterSet`] holds (covers x86_64's fs/gs base).
pub const MAX_REGS: usize = 64;

/// Register values at a probe hit, indexed by DWARF register number. Registers the engine did
/// not capture are absent, and reading one is a `register access fault`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterSet {
    pub arch: Arch,
    values: [u64; MAX_REGS],
    valid: u64,
}

impl RegisterSet {
    pub fn new(arch: Arch) -> Self {
        RegisterSet {
            arch,
            values: [0; MAX_REGS],
            valid: 0,
        }
    }

    pub fn get(&self, dwarf_reg: u16) -> Option<u64> {
        let i = dwarf_reg as usize;
        (i < MAX_REGS && self.valid & (1 << i) != 0).then(|| self.values[i])
    }

    pub fn set(&mut self, dwarf_reg: u16, value: u64) {
        let i = dwarf_reg as usize;
        if i < MAX_REGS {
            self.values[i] = value;
            self.valid |= 1 << i;
        }
    }

    pub fn clear(&mut self, dwarf_reg: u16) {
        if (dwarf_reg as usize) < MAX_REGS {
            self.valid &= !(1 << dwarf_reg);
        }
    }

    /// Sets a register by its 64-bit name (`"rax"`, `"x0"`, `"sp"`...).
    pub fn set_by_name(&mut self, name: &str, value: u64) -> bool {
        match register_by_name(self.arch, name) {
            Some(r) if r.shift == 0 && r.bytes == 8 => {
                self.set(r.dwarf, value);
                true
            }
            _ => false,
        }
    }

    pub fn pc(&self) -> Option<u64> {
        self.get(pc_register(self.arch))
    }

    pub fn sp(&self) -> Option<u64> {
        self.get(sp_register(self.arch))
    }

    pub fn get_or_fault(&self, dwarf_reg: u16) -> Result<u64, Fault> {
        self.get(dwarf_reg).ok_or(Fault::Register)
    }
}

impl RegisterSet {
    /// The registers `PTRACE_GETREGS` returns on x86_64 (`struct user_regs_struct`).
    #[cfg(target_arch = "x86_64")]
    pub fn from_user_regs(u: &libc::user_regs_struct) -> RegisterSet {
        let mut regs = RegisterSet::new(Arch::X86_64);
        let values = [
            u.rax, u.rdx, u.rcx, u.rbx, u.rsi, u.rdi, u.rbp, u.rsp, u.r8, u.r9, u.r10, u.r11,
            u.r12, u.r13, u.r14, u.r15, u.rip,
        ];
        for (dwarf, v) in values.into_iter().enumerate() {
            regs.set(dwarf as u16, v);
        }
        regs.set(x86_64::RFLAGS, u.eflags);
        regs.set(x86_64::FS_BASE, u.fs_base);
        regs.set(x86_64::GS_BASE, u.gs_base);
        regs
    }

    /// The registers `PTRACE_GETREGSET(NT_PRSTATUS)` returns on AArch64 (`struct
    /// user_pt_regs`).
    #[cfg(target_arch = "aarch64")]
    pub fn from_user_regs(u: &libc::user_regs_struct) -> RegisterSet {
        let mut regs = RegisterSet::new(Arch::Aarch64);
        for (i, v) in u.regs.iter().enumerate() {
            regs.set(i as u16, *v);
        }
        regs.set(aarch64::SP, u.sp);
        regs.set(aarch64::PC, u.pc);
        regs
    }

    /// The user registers of a perf sample (`PERF_SAMPLE_REGS_USER`): `values` holds one word
    /// per bit set in `mask`, lowest bit first, numbered as the kernel's
    /// `arch/*/include/uapi/asm/perf_regs.h`.
    pub fn from_perf_sample(arch: Arch, mask: u64, values: &[u64]) -> RegisterSet {
        let mut regs = RegisterSet::new(arch);
        let bits = (0..64).filter(|b| mask & (1u64 << b) != 0);
        for (bit, &v) in bits.zip(values) {
            let dwarf = match arch {
                Arch::X86_64 => PERF_X86_64_TO_DWARF.get(bit).copied().flatten(),
                // arm64: X0..X29, LR (30), SP (31), PC (32) — the DWARF numbers themselves.
                Arch::Aarch64 => (bit <= 32).then_some(bit as u16),
            };
            if let Some(d) = dwarf {
                regs.set(d, v);
            }
        }
        regs
    }
}

/// `PERF_REG_X86_*` (AX=0, BX, CX, DX, SI, DI, BP, SP, IP, FLAGS, CS, SS, DS, ES, FS, GS,
/// R8=16 … R15=23) → DWARF register numbers.
const PERF_X86_64_TO_DWARF: [Option<u16>; 24] = [
    Some(x86_64::RAX),
    Some(x86_64::RBX),
    Some(x86_64::RCX),
    Some(x86_64::RDX),
    Some(x86_64::RSI),
    Some(x86_64::RDI),
    Some(x86_64::RBP),
    Some(x86_64::RSP),
    Some(x86_64::RIP),
    Some(x86_64::RFLAGS),
    None,
    None,
    None,
    None,
    None,
    None,
    Some(8),
    Some(9),
    Some(10),
    Some(11),
    Some(12),
    Some(13),
    Some(14),
    Some(15),
];

/// The `sample_regs_user` mask that captures every register [`RegisterSet::from_perf_sample`]
/// maps: general registers, ip and flags (x86_64), or x0–x30, sp, pc (AArch64).
pub fn perf_sample_regs_mask(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => 0x3ff | (0xff << 16),
        Arch::Aarch64 => (1u64 << 33) - 1,
    }
}

/// Reads the probed process's memory: live (`process_vm_readv` on a stopped thread) or from a
/// sampled copy of the user stack (perf). Reads outside what is available fail.
pub trait MemoryReader {
    /// Fills `buf` from address `addr`; `Err(Fault::Read(addr))` when not readable.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault>;

    fn read_u64(&self, addr: u64) -> Result<u64, Fault> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads an unsigned little-endian integer of 1..=8 bytes.
    fn read_uint(&self, addr: u64, size: usize) -> Result<u64, Fault> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b[..size.min(8)])?;
        Ok(u64::from_le_bytes(b))
    }

    /// A NUL-terminated string of at most `max` bytes. Running into unreadable memory before
    /// the NUL is `user string copy fault` at the string's start address, as
    /// `user_string_n` reports it (uconversions.stp).
    fn read_cstring(&self, addr: u64, max: usize) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 64];
        while out.len() < max {
            let want = (max - out.len()).min(chunk.len());
            // Read byte-wise after a failed chunk: the string may end before an unmapped page.
            let a = addr + out.len() as u64;
            let got = match self.read(a, &mut chunk[..want]) {
                Ok(()) => want,
                Err(_) => {
                    let mut n = 0;
                    while n < want && self.read(a + n as u64, &mut chunk[n..n + 1]).is_ok() {
                        n += 1;
                    }
                    if n == 0 {
                        return Err(Fault::UserString(addr));
                    }
                    n
                }
            };
            if let Some(nul) = memchr::memchr(0, &chunk[..got]) {
                out.extend_from_slice(&chunk[..nul]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk[..got]);
            if got < want {
                return Err(Fault::UserString(addr));
            }
        }
        Ok(out)
    }
}

/// A register as named in a script or an SDT argument: which DWARF register, and which bytes
/// of it (`%eax` is 4 bytes at shift 0, `%ah` 1 byte at shift 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedRegister {
    pub dwarf: u16,
    pub bytes: u8,
    pub shift: u8,
}

/// Looks up a register name, with or without `%`, including x86 sub-registers
/// (`eax ax al ah r8d r8w r8b sil`) and AArch64 `wN`.
pub fn register_by_name(arch: Arch, name: &str) -> Option<NamedRegister> {
    let name = name.strip_prefix('%').unwrap_or(name);
    let full = |dwarf| {
        Some(NamedRegister {
            dwarf,
            bytes: 8,
            shift: 0,
        })
    };
    let part = |dwarf, bytes, shift| {
        Some(NamedRegister {
            dwarf,
            bytes,
            shift,
        })
    };
    match arch {
        Arch::X86_64 => {
            use x86_64::*;
            if let Some(i) = NAMES.iter().position(|n| *n == name) {
                return full(i as u16);
            }
            // Legacy registers: [full, 32-bit, 16-bit, low byte, high byte].
            const LEGACY: [(u16, &str, &str, &str, Option<&str>); 8] = [
                (RAX, "eax", "ax", "al", Some("ah")),
                (RBX, "ebx", "bx", "bl", Some("bh")),
                (RCX, "ecx", "cx", "cl", Some("ch")),
                (RDX, "edx", "dx", "dl", Some("dh")),
                (RSI, "esi", "si", "sil", None),
                (RDI, "edi", "di", "dil", None),
                (RBP, "ebp", "bp", "bpl", None),
                (RSP, "esp", "sp", "spl", None),
            ];
            for (r, d, w, b, h) in LEGACY {
                if name == d {
                    return part(r, 4, 0);
                } else if name == w {
                    return part(r, 2, 0);
                } else if name == b {
                    return part(r, 1, 0);
                } else if Some(name) == h {
                    return part(r, 1, 8);
                }
            }
            match name {
                "eip" => return part(RIP, 4, 0),
                "flags" | "eflags" | "rflags" => return full(RFLAGS),
                "fs_base" => return full(FS_BASE),
                "gs_base" => return full(GS_BASE),
                _ => {}
            }
            let n = name.strip_prefix('r')?;
            let digits = n.trim_end_matches(['d', 'w', 'b']);
            let num: u16 = digits.parse().ok().filter(|n| (8..=15).contains(n))?;
            match &n[digits.len()..] {
                "" => full(num),
                "d" => part(num, 4, 0),
                "w" => part(num, 2, 0),
                "b" => part(num, 1, 0),
                _ => None,
            }
        }
        Arch::Aarch64 => match name {
            "sp" => full(aarch64::SP),
            "pc" => full(aarch64::PC),
            "fp" => full(aarch64::FP),
            "lr" => full(aarch64::LR),
            _ => {
                let (wide, n) = match name.as_bytes().first()? {
                    b'x' => (true, &name[1..]),
                    b'w' => (false, &name[1..]),
                    _ => return None,
                };
                let num: u16 = n.parse().ok().filter(|n| *n <= 30)?;
                if wide { full(num) } else { part(num, 4, 0) }
            }
        },
    }
}

/// The canonical name of DWARF register `dwarf_reg`, for messages and listings.
pub fn register_name(arch: Arch, dwarf_reg: u16) -> String {
    match arch {
        Arch::X86_64 => match x86_64::NAMES.get(dwarf_reg as usize) {
            Some(n) => (*n).to_owned(),
            None if (17..=32).contains(&dwarf_reg) => format!("xmm{}", dwarf_reg - 17),
            None => format!("dwarf-reg{dwarf_reg}"),
        },
        Arch::Aarch64 => match dwarf_reg {
            0..=30 => format!("x{dwarf_reg}"),
            31 => "sp".into(),
            32 => "pc".into(),
            64..=95 => format!("v{}", dwarf_reg - 64),
            _ => format!("dwarf-reg{dwarf_reg}"),
        },
    }
}

/// The register slot holding the thread pointer (`%fs` base on x86_64).
pub fn thread_pointer_register(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => x86_64::FS_BASE,
        Arch::Aarch64 => aarch64::TP,
    }
}

pub fn pc_register(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => x86_64::RIP,
        Arch::Aarch64 => aarch64::PC,
    }
}

pub fn sp_register(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => x86_64::RSP,
        Arch::Aarch64 => aarch64::SP,
    }
}

/// The register an integer or pointer return value is in (SysV: `%rax`; AAPCS64: `x0`).
pub fn return_register(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => x86_64::RAX,
        Arch::Aarch64 => aarch64::X0,
    }
}

/// Reads a named register as `register()` (signed) or `u_register()` (unsigned) do: the
/// named bytes, sign- or zero-extended to 64 bits.
pub fn read_named_register(regs: &RegisterSet, name: &str, signed: bool) -> Result<i64, Fault> {
    let r = register_by_name(regs.arch, name).ok_or(Fault::Register)?;
    let raw = regs.get_or_fault(r.dwarf)? >> r.shift;
    Ok(extend(raw, r.bytes as usize, signed))
}

/// Extends the low `bytes` bytes of `raw` to 64 bits.
pub fn extend(raw: u64, bytes: usize, signed: bool) -> i64 {
    if bytes >= 8 {
        return raw as i64;
    }
    let bits = 8 * bytes as u32;
    let masked = raw & ((1u64 << bits) - 1);
    if signed {
        ((masked << (64 - bits)) as i64) >> (64 - bits)
    } else {
        masked as i64
    }
}

/// Argument `n` (1-based) of a function at its entry, per the SysV x86_64 ABI (`%rdi %rsi
/// %rdx %rcx %r8 %r9`, then the stack above the return address) or AAPCS64 (`x0`–`x7`, then
/// the stack): what `int_arg(n)`, `long_arg(n)`, `pointer_arg(n)`... read. `bytes` is the
/// argument's width (4 for `int_arg`, 8 for `long_arg`).
pub fn function_argument(
    regs: &RegisterSet,
    mem: &dyn MemoryReader,
    n: usize,
    bytes: usize,
    signed: bool,
) -> Result<i64, Fault> {
    if n == 0 {
        return Err(Fault::Register);
    }
    let (arg_regs, stack_skip): (&[u16], u64) = match regs.arch {
        Arch::X86_64 => (&x86_64::ARGS, 8), // the return address is on top of the stack
        Arch::Aarch64 => (&aarch64::ARGS, 0),
    };
    let raw = match arg_regs.get(n - 1) {
        Some(&r) => regs.get_or_fault(r)?,
        None => {
            let slot = (n - 1 - arg_regs.len()) as u64;
            let sp = regs.sp().ok_or(Fault::Register)?;
            mem.read_u64(sp + stack_skip + 8 * slot)?
        }
    };
    Ok(extend(raw, bytes, signed))
}

/// A [`MemoryReader`] over a byte buffer that was copied from `base` (a sampled user stack,
/// or a test fixture).
#[derive(Debug, Clone)]
pub struct BufferMemory {
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl MemoryReader for BufferMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        let start = addr.checked_sub(self.base).ok_or(Fault::Read(addr))? as usize;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(Fault::Read(addr))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_registers_name_the_right_bytes() {
        // psABI numbering: rdi is 5, r8 is 8; `%sil` is the low byte of rsi (4).
        assert_eq!(
            register_by_name(Arch::X86_64, "%edi"),
            Some(NamedRegister {
                dwarf: 5,
                bytes: 4,
                shift: 0
            })
        );
        assert_eq!(
            register_by_name(Arch::X86_64, "r8d"),
            Some(NamedRegister {
                dwarf: 8,
                bytes: 4,
                shift: 0
            })
        );
        assert_eq!(
            register_by_name(Arch::X86_64, "sil"),
            Some(NamedRegister {
                dwarf: 4,
                bytes: 1,
                shift: 0
            })
        );
        assert_eq!(
            register_by_name(Arch::X86_64, "ah"),
            Some(NamedRegister {
                dwarf: 0,
                bytes: 1,
                shift: 8
            })
        );
        assert_eq!(register_by_name(Arch::X86_64, "r16"), None);
        assert_eq!(
            register_by_name(Arch::Aarch64, "w3"),
            Some(NamedRegister {
                dwarf: 3,
                bytes: 4,
                shift: 0
            })
        );
        assert_eq!(
            register_by_name(Arch::Aarch64, "sp"),
            Some(NamedRegister {
                dwarf: 31,
                bytes: 8,
                shift: 0
            })
        );
    }

    #[test]
    fn register_reads_extend_as_stap_does() {
        let mut regs = RegisterSet::new(Arch::X86_64);
        regs.set(x86_64::RAX, 0x1234_5678_ffff_fffe);
        assert_eq!(read_named_register(&regs, "eax", true), Ok(-2));
        assert_eq!(read_named_register(&regs, "eax", false), Ok(0xffff_fffe));
        assert_eq!(read_named_register(&regs, "ah", false), Ok(0xff));
        assert_eq!(
            read_named_register(&regs, "rbx", false),
            Err(Fault::Register)
        );
    }

    #[test]
    fn perf_samples_map_to_dwarf_numbers() {
        // Mask bits AX, BX, SP, IP, R8, R15 (perf_regs.h numbering 0, 1, 7, 8, 16, 23).
        let mask = 1 | 2 | 1 << 7 | 1 << 8 | 1 << 16 | 1 << 23;
        let regs = RegisterSet::from_perf_sample(Arch::X86_64, mask, &[10, 11, 17, 18, 26, 33]);
        assert_eq!(regs.get(x86_64::RAX), Some(10));
        assert_eq!(regs.get(x86_64::RBX), Some(11));
        assert_eq!(regs.sp(), Some(17));
        assert_eq!(regs.pc(), Some(18));
        assert_eq!(regs.get(8), Some(26));
        assert_eq!(regs.get(15), Some(33));
        assert_eq!(regs.get(x86_64::RDX), None);
        assert_eq!(perf_sample_regs_mask(Arch::X86_64).count_ones(), 18);
        let a = RegisterSet::from_perf_sample(
            Arch::Aarch64,
            perf_sample_regs_mask(Arch::Aarch64),
            &(0..33).collect::<Vec<_>>(),
        );
        assert_eq!((a.get(30), a.sp(), a.pc()), (Some(30), Some(31), Some(32)));
    }

    #[test]
    fn user_strings_end_at_nul_the_limit_or_a_fault() {
        let mut bytes = b"hello\0world".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 100));
        let mem = BufferMemory {
            base: 0x2000,
            bytes,
        };
        assert_eq!(mem.read_cstring(0x2000, 511), Ok(b"hello".to_vec()));
        assert_eq!(mem.read_cstring(0x2006, 3), Ok(b"wor".to_vec()));
        // Unterminated up to the end of readable memory: the fault names the string.
        assert_eq!(
            mem.read_cstring(0x2006, 511),
            Err(Fault::UserString(0x2006))
        );
        assert_eq!(mem.read_cstring(0x10, 8), Err(Fault::UserString(0x10)));
        assert_eq!(
            Fault::UserString(0x10).to_string(),
            "user string copy fault -14 at 0x10 [man error::fault]"
        );
        assert_eq!(
            Fault::Read(0x4).to_string(),
            "read fault [man error::fault] at 0x4"
        );
    }

    #[test]
    fn stack_arguments_follow_the_return_address() {
        let mut regs = RegisterSet::new(Arch::X86_64);
        regs.set(x86_64::RSP, 0x1000);
        regs.set(x86_64::R9, 6);
        // [rsp] = return address, [rsp+8] = arg 7, [rsp+16] = arg 8.
        let mut bytes = vec![0u8; 24];
        bytes[8..16].copy_from_slice(&(-7i64).to_le_bytes());
        bytes[16..24].copy_from_slice(&8u64.to_le_bytes());
        let mem = BufferMemory {
            base: 0x1000,
            bytes,
        };
        assert_eq!(function_argument(&regs, &mem, 6, 8, true), Ok(6));
        assert_eq!(function_argument(&regs, &mem, 7, 4, true), Ok(-7));
        assert_eq!(function_argument(&regs, &mem, 7, 4, false), Ok(0xffff_fff9));
        assert_eq!(function_argument(&regs, &mem, 8, 8, true), Ok(8));
        assert_eq!(
            function_argument(&regs, &mem, 9, 8, true),
            Err(Fault::Read(0x1018))
        );
    }
}
