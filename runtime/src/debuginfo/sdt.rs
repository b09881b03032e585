//! SDT markers (`<sys/sdt.h>` `STAP_PROBE*`/`DTRACE_PROBE*`) from `.note.stapsdt`, and their
//! argument descriptors (`-4@%edi 8@-16(%rbp) 8@sym(%rip) -1@$3`), parsed into register,
//! memory and constant forms that can be read at a hit.
//!
//! Note layout (systemtap wiki "UserSpaceProbeImplementation"): owner `stapsdt`, type 3,
//! descriptor = pc, `.stapsdt.base` link-time address, semaphore address (each 8 bytes on
//! 64-bit), then provider, name and argument string, each NUL-terminated. When the
//! `.stapsdt.base` section is not where the note says (prelink), pc and semaphore move by
//! the difference.

use object::{Object, ObjectSection, ObjectSymbol};

use super::elf::Arch;
use super::error::{DebugInfoError, Fault, Result};
use super::registers::{self, MemoryReader, NamedRegister, RegisterSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdtProbe {
    pub provider: String,
    pub name: String,
    /// Link-time address of the marker's `nop`.
    pub address: u64,
    /// Link-time address of the `unsigned short` semaphore, when the marker has one.
    pub semaphore: Option<u64>,
    pub args: Vec<SdtArg>,
    /// The raw argument string from the note.
    pub args_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdtArg {
    /// Width in bytes (1, 2, 4 or 8).
    pub size: u8,
    pub signed: bool,
    pub location: SdtLocation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdtLocation {
    Register(NamedRegister),
    /// `displacement + base + index*scale`; with `module_relative`, `displacement` is a
    /// link-time address (a `sym(%rip)` operand) and the load bias is added at the hit.
    Memory {
        base: Option<u16>,
        index: Option<(u16, u8)>,
        displacement: i64,
        module_relative: bool,
    },
    Constant(i64),
}

impl SdtArg {
    /// The argument's value at a hit, extended to 64 bits by its signedness.
    pub fn read(
        &self,
        regs: &RegisterSet,
        mem: &dyn MemoryReader,
        bias: u64,
    ) -> Result<i64, Fault> {
        let raw = match &self.location {
            SdtLocation::Register(r) => regs.get_or_fault(r.dwarf)? >> r.shift,
            SdtLocation::Constant(c) => *c as u64,
            SdtLocation::Memory {
                base,
                index,
                displacement,
                module_relative,
            } => {
                let mut addr = *displacement as u64;
                if *module_relative {
                    addr = addr.wrapping_add(bias);
                }
                if let Some(b) = base {
                    addr = addr.wrapping_add(regs.get_or_fault(*b)?);
                }
                if let Some((i, scale)) = index {
                    addr = addr.wrapping_add(regs.get_or_fault(*i)?.wrapping_mul(*scale as u64));
                }
                mem.read_uint(addr, self.size as usize)?
            }
        };
        let bytes = match self.location {
            SdtLocation::Register(r) => (self.size).min(r.bytes) as usize,
            _ => self.size as usize,
        };
        Ok(registers::extend(raw, bytes, self.signed))
    }
}

pub(super) fn read(file: &object::File<'_>, arch: Arch) -> Result<Vec<SdtProbe>> {
    let Some(section) = file.section_by_name(".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let data = section
        .data()
        .map_err(|e| sdt_error("note", &e.to_string()))?;
    let actual_base = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let symbol = |name: &str| {
        file.symbols()
            .chain(file.dynamic_symbols())
            .find(|s| s.name() == Ok(name) && s.is_definition())
            .map(|s| s.address())
    };
    let le = file.is_little_endian();
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    let u64_at = |b: &[u8], at: usize| -> Option<u64> {
        let a: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    };
    let align4 = |n: usize| (n + 3) & !3;
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= data.len() {
        let truncated = || sdt_error("note", "truncated .note.stapsdt");
        let namesz = u32_at(data, at).ok_or_else(truncated)? as usize;
        let descsz = u32_at(data, at + 4).ok_or_else(truncated)? as usize;
        let kind = u32_at(data, at + 8).ok_or_else(truncated)?;
        let name_at = at + 12;
        let desc_at = name_at + align4(namesz);
        let desc = data.get(desc_at..desc_at + descsz).ok_or_else(truncated)?;
        let owner = data.get(name_at..name_at + namesz).ok_or_else(truncated)?;
        at = desc_at + align4(descsz);
        if kind != 3 || owner != b"stapsdt\0" {
            continue;
        }
        let (pc, base, sem) = (
            u64_at(desc, 0).ok_or_else(truncated)?,
            u64_at(desc, 8).ok_or_else(truncated)?,
            u64_at(desc, 16).ok_or_else(truncated)?,
        );
        let mut strings = desc[24.min(desc.len())..].split(|&b| b == 0);
        let mut next = || String::from_utf8_lossy(strings.next().unwrap_or_default()).into_owned();
        let (provider, name, args_text) = (next(), next(), next());
        let adjust = actual_base.map_or(0, |a| a.wrapping_sub(base));
        let args = parse_args(arch, &args_text, &symbol)?;
        out.push(SdtProbe {
            provider,
            name,
            address: pc.wrapping_add(adjust),
            semaphore: (sem != 0).then(|| sem.wrapping_add(adjust)),
            args,
            args_text,
        });
    }
    Ok(out)
}

fn sdt_error(text: &str, reason: &str) -> DebugInfoError {
    DebugInfoError::BadSdtArgument {
        text: text.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Parses a whole argument string (space-separated `SIZE@OPERAND` items).
pub fn parse_args(
    arch: Arch,
    text: &str,
    symbol: &dyn Fn(&str) -> Option<u64>,
) -> Result<Vec<SdtArg>> {
    split_items(text)
        .into_iter()
        .map(|item| parse_arg(arch, item, symbol))
        .collect()
}

/// Splits at whitespace outside `[...]`: AArch64 memory operands contain a space
/// (`-8@[sp, 8]` is what aarch64-linux-gnu-gcc 12 emits for a stack slot).
fn split_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, None);
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if c.is_whitespace() && depth == 0 => {
                if let Some(s) = start.take() {
                    items.push(&text[s..i]);
                }
                continue;
            }
            _ => {}
        }
        start.get_or_insert(i);
    }
    items.extend(start.map(|s| &text[s..]));
    items
}

fn parse_arg(arch: Arch, item: &str, symbol: &dyn Fn(&str) -> Option<u64>) -> Result<SdtArg> {
    let err = |reason: &str| sdt_error(item, reason);
    // Old sdt.h versions emit bare operands; they are 8-byte signed.
    let (size, signed, operand) = match item.split_once('@') {
        Some((n, op)) if n.parse::<i8>().is_ok() => {
            let n: i8 = n.parse().unwrap_or(8);
            if !matches!(n.unsigned_abs(), 1 | 2 | 4 | 8) {
                return Err(err("size must be 1, 2, 4 or 8"));
            }
            (n.unsigned_abs(), n < 0, op)
        }
        _ => (8, true, item),
    };
    let location = match arch {
        Arch::X86_64 => x86_operand(operand, symbol).map_err(|r| err(&r))?,
        Arch::Aarch64 => aarch64_operand(operand).map_err(|r| err(&r))?,
    };
    Ok(SdtArg {
        size,
        signed,
        location,
    })
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()? as i64,
        None => digits.parse::<u64>().ok()? as i64,
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

/// AT&T operands: `%reg`, `$imm`, `disp(%base,%index,scale)`, `sym+disp(%rip)`, `sym`.
fn x86_operand(op: &str, symbol: &dyn Fn(&str) -> Option<u64>) -> Result<SdtLocation, String> {
    let reg = |name: &str| {
        registers::register_by_name(Arch::X86_64, name)
            .ok_or_else(|| format!("unknown register '{name}'"))
    };
    if let Some(imm) = op.strip_prefix('$') {
        return parse_int(imm)
            .map(SdtLocation::Constant)
            .ok_or_else(|| format!("bad constant '{imm}'"));
    }
    if op.starts_with('%') {
        if op.contains(':') {
            return Err("segment-relative operands are not supported".into());
        }
        return Ok(SdtLocation::Register(reg(op)?));
    }
    let (disp_text, regs_text) = match op.find('(') {
        Some(p) => {
            let inner = op[p + 1..].strip_suffix(')').ok_or("missing ')'")?;
            (&op[..p], Some(inner))
        }
        None => (op, None),
    };
    // The displacement is a number, or `sym`, `sym+N`, `sym-N`.
    let (sym, offset) = match parse_int(disp_text) {
        Some(n) => (None, n),
        None if disp_text.is_empty() => (None, 0),
        None => {
            let split = disp_text[1..].find(['+', '-']).map(|i| i + 1);
            let (name, off) = match split {
                Some(i) => (
                    &disp_text[..i],
                    parse_int(&disp_text[i..]).ok_or("bad displacement")?,
                ),
                None => (disp_text, 0),
            };
            (Some(name), off)
        }
    };
    let sym_addr = match sym {
        Some(name) => Some(symbol(name).ok_or_else(|| format!("unknown symbol '{name}'"))? as i64),
        None => None,
    };
    let Some(inner) = regs_text else {
        // A bare symbol or number is an absolute memory operand.
        return Ok(SdtLocation::Memory {
            base: None,
            index: None,
            displacement: sym_addr.unwrap_or(0).wrapping_add(offset),
            module_relative: sym_addr.is_some(),
        });
    };
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    let base = match parts.first().copied() {
        Some("") | None => None,
        Some(b) => Some(reg(b)?),
    };
    if base.is_some_and(|b| b.dwarf == registers::x86_64::RIP) {
        // `sym(%rip)`: the assembler made the operand address `sym + offset`.
        return Ok(SdtLocation::Memory {
            base: None,
            index: None,
            displacement: sym_addr
                .ok_or("%rip-relative operand without a symbol")?
                .wrapping_add(offset),
            module_relative: true,
        });
    }
    let index = match parts.get(1) {
        Some(i) => {
            let scale = match parts.get(2) {
                Some(s) => s
                    .parse::<u8>()
                    .ok()
                    .filter(|s| matches!(s, 1 | 2 | 4 | 8))
                    .ok_or("bad scale")?,
                None => 1,
            };
            Some((reg(i)?.dwarf, scale))
        }
        None => None,
    };
    Ok(SdtLocation::Memory {
        base: base.map(|b| b.dwarf),
        index,
        displacement: sym_addr.unwrap_or(0).wrapping_add(offset),
        module_relative: sym_addr.is_some(),
    })
}

/// AArch64 operands as GCC prints them for the `nor` constraint: `x0`, `w1`, `[sp, 16]`,
/// `[x29, -8]`, `[x0]`, and bare or `#` immediates.
fn aarch64_operand(op: &str) -> Result<SdtLocation, String> {
    let reg = |name: &str| {
        registers::register_by_name(Arch::Aarch64, name.trim())
            .ok_or_else(|| format!("unknown register '{name}'"))
    };
    if let Some(inner) = op.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or("missing ']'")?;
        let (b, off) = match inner.split_once(',') {
            Some((b, off)) => {
                let off = off.trim().trim_start_matches('#');
                (b, parse_int(off).ok_or("bad offset")?)
            }
            None => (inner, 0),
        };
        return Ok(SdtLocation::Memory {
            base: Some(reg(b)?.dwarf),
            index: None,
            displacement: off,
            module_relative: false,
        });
    }
    if let Some(c) = parse_int(op.trim_start_matches('#')) {
        return Ok(SdtLocation::Constant(c));
    }
    Ok(SdtLocation::Register(reg(op)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_symbols(_: &str) -> Option<u64> {
        None
    }

    #[test]
    fn x86_operands_decode_by_the_att_rules() {
        let args = parse_args(
            Arch::X86_64,
            "-4@%edi 8@-16(%rbp) -1@$-3 2@(%rax,%rbx,4) 8@%r12",
            &no_symbols,
        )
        .unwrap();
        let r = |name| registers::register_by_name(Arch::X86_64, name).unwrap();
        assert_eq!(
            args[0],
            SdtArg {
                size: 4,
                signed: true,
                location: SdtLocation::Register(r("edi"))
            }
        );
        assert_eq!(
            args[1].location,
            SdtLocation::Memory {
                base: Some(6),
                index: None,
                displacement: -16,
                module_relative: false
            }
        );
        assert_eq!(
            args[2],
            SdtArg {
                size: 1,
                signed: true,
                location: SdtLocation::Constant(-3)
            }
        );
        assert_eq!(
            args[3],
            SdtArg {
                size: 2,
                signed: false,
                location: SdtLocation::Memory {
                    base: Some(0),
                    index: Some((3, 4)),
                    displacement: 0,
                    module_relative: false
                }
            }
        );
        assert_eq!(args[4].location, SdtLocation::Register(r("r12")));
    }

    #[test]
    fn rip_relative_symbols_become_module_addresses() {
        let sym = |n: &str| (n == "counter").then_some(0x4010);
        let args = parse_args(Arch::X86_64, "8@counter+8(%rip) 4@counter", &sym).unwrap();
        let expect = |d| SdtLocation::Memory {
            base: None,
            index: None,
            displacement: d,
            module_relative: true,
        };
        assert_eq!(args[0].location, expect(0x4018));
        assert_eq!(args[1].location, expect(0x4010));
        assert!(parse_args(Arch::X86_64, "8@nosuch(%rip)", &sym).is_err());
        assert!(parse_args(Arch::X86_64, "3@%eax", &sym).is_err());
    }

    #[test]
    fn aarch64_operands() {
        let args = parse_args(
            Arch::Aarch64,
            "-4@w0 8@[sp, 16] 8@[x29, -8] 4@5",
            &no_symbols,
        )
        .unwrap();
        assert_eq!(
            args[0].location,
            SdtLocation::Register(NamedRegister {
                dwarf: 0,
                bytes: 4,
                shift: 0
            })
        );
        assert_eq!(
            args[1].location,
            SdtLocation::Memory {
                base: Some(31),
                index: None,
                displacement: 16,
                module_relative: false
            }
        );
        assert_eq!(
            args[2].location,
            SdtLocation::Memory {
                base: Some(29),
                index: None,
                displacement: -8,
                module_relative: false
            }
        );
        assert_eq!(args[3].location, SdtLocation::Constant(5));
    }
}
