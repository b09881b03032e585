//! printf/sprintf, byte for byte as SystemTap's compiled printfs (`translate.cxx`
//! `emit_compiled_printfs`) and runtime (`runtime/vsprintf.c`) produce them.
//!
//! SystemTap formats each conversion with the Linux kernel's `number()` and friends writing
//! into a bounded buffer whose last byte is `end`:
//! - to the output stream, a first pass sizes the output with widths and precisions clamped to
//!   `[0, STP_BUFFER_SIZE]` (8192), the size itself is clamped to 8192, and the second pass
//!   writes into that many bytes with widths and precisions clamped to the room left;
//! - to a string (`sprintf`), the buffer is MAXSTRINGLEN bytes, clamps use the room left, and
//!   the result ends at MAXSTRINGLEN-1 bytes or at the first NUL a conversion wrote.
//!
//! Where these semantics differ from C `printf`: `%#o` of 0 is `00` and `%#x` of 0 is `0x0`
//! (the prefix is unconditional); `%c`, `%s`, `%b`, `%m` ignore `+`/space/`#` except `%#c`
//! (escapes) and `%#m` (user memory); `%0s` appends a NUL byte; a `*` width or precision is
//! truncated to C `int` and a negative one counts as 0 (no left-justification); precision
//! of `%s` defaults to 8192 bytes.

use rtap_abi::format::{Amount, ArgType, Component, ConvKind, Conversion, Format, flags};

/// SystemTap's print buffer size (`runtime/transport/transport.h` STP_BUFFER_SIZE): the most
/// one `printf` can produce.
pub const STP_BUFFER_SIZE: usize = 8192;

// The runtime's `enum print_flag` (runtime/print.h).
const ZEROPAD: u32 = 1;
const SIGN: u32 = 2;
const PLUS: u32 = 4;
const SPACE: u32 = 8;
const LEFT: u32 = 16;
const SPECIAL: u32 = 32;
const LARGE: u32 = 64;

/// One argument of a printf call.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// A long (values, `*` widths and precisions, addresses).
    Long(i64),
    /// A string.
    Str(&'a [u8]),
}

/// Where `%m`/`%M` read memory from: `user` is the `#` flag (user space rather than kernel).
pub trait MemoryReader {
    /// The byte at `addr`, or `None` when it cannot be read.
    fn read_byte(&mut self, addr: u64, user: bool) -> Option<u8>;
}

/// A reader that can read nothing (handlers with no process to read from).
pub struct NoMemory;

impl MemoryReader for NoMemory {
    fn read_byte(&mut self, _addr: u64, _user: bool) -> Option<u8> {
        None
    }
}

/// `%m`/`%M` could not read the byte at this address; SystemTap drops the whole printf and
/// raises `read fault [man error::fault] at 0x…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadFault(pub u64);

impl ReadFault {
    /// The run-time error message (`STAP_MSG_LOC2C_01` of 4.8: `%lx` of the address).
    pub fn message(self) -> String {
        format!("read fault [man error::fault] at 0x{:x}", self.0)
    }
}

/// Decodes generated code's argument slots by the format's argument types.
///
/// # Safety
/// `slots` must hold one slot per argument type; string slots must point to valid `StrBuf`s
/// that outlive the returned arguments.
pub unsafe fn decode_args<'a>(format: &Format, slots: *const u64) -> Vec<Arg<'a>> {
    format
        .arg_types()
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            // SAFETY: per the contract, slot i exists and matches its type.
            let slot = unsafe { *slots.add(i) };
            match ty {
                ArgType::Long => Arg::Long(slot as i64),
                // SAFETY: string slots hold valid StrBuf pointers.
                ArgType::String => Arg::Str(unsafe { crate::strings::bytes(slot as *const _) }),
            }
        })
        .collect()
}

/// `printf` to the output: appends to `out`.
pub fn print(
    out: &mut Vec<u8>,
    format: &Format,
    args: &[Arg<'_>],
    memory: &mut dyn MemoryReader,
) -> Result<(), ReadFault> {
    let start = out.len();
    // Pass 1 measures with the first clamp; when it fits, it is also the output.
    let first = Writer {
        out,
        end: usize::MAX,
        clamp: Clamp::Fixed(STP_BUFFER_SIZE),
    }
    .run(format, args, memory);
    if let Err(fault) = first {
        out.truncate(start);
        return Err(fault);
    }
    let size = out.len() - start;
    if size <= STP_BUFFER_SIZE {
        return Ok(());
    }
    out.truncate(start);
    let end = start + STP_BUFFER_SIZE;
    let second = Writer {
        out,
        end,
        clamp: Clamp::Remaining,
    }
    .run(format, args, memory);
    if second.is_err() {
        out.truncate(start);
    }
    second
}

/// `sprintf`: the string, at most `max_string_len - 1` bytes and cut at a NUL.
pub fn sprint(
    format: &Format,
    args: &[Arg<'_>],
    max_string_len: usize,
    memory: &mut dyn MemoryReader,
) -> Result<Vec<u8>, ReadFault> {
    let mut out = Vec::new();
    Writer {
        out: &mut out,
        end: max_string_len,
        clamp: Clamp::Remaining,
    }
    .run(format, args, memory)?;
    let n = crate::strings::stored_len(&out, max_string_len.saturating_sub(1));
    out.truncate(n);
    Ok(out)
}

#[derive(Clone, Copy)]
enum Clamp {
    Fixed(usize),
    Remaining,
}

/// A bounded writer: bytes past `end` (exclusive index into `out`) are dropped, as the C
/// code's `if (str <= end)` does.
struct Writer<'o> {
    out: &'o mut Vec<u8>,
    end: usize,
    clamp: Clamp,
}

/// C's `while (n-- > 0)`: tests the old value, always decrements.
fn post_dec_positive(n: &mut i32) -> bool {
    let old = *n;
    *n = n.wrapping_sub(1);
    old > 0
}

impl Writer<'_> {
    fn room(&self) -> bool {
        self.out.len() < self.end
    }

    fn put(&mut self, b: u8) {
        if self.room() {
            self.out.push(b);
        }
    }

    /// `clamp_t(int, value, 0, hi)` with `hi` the fixed bound or the room left.
    fn clamp(&self, value: i64) -> i32 {
        let hi = match self.clamp {
            Clamp::Fixed(n) => n as i64,
            Clamp::Remaining => self.end.saturating_sub(self.out.len()) as i64,
        };
        i64::from(value as i32).clamp(0, hi) as i32
    }

    fn run(
        &mut self,
        format: &Format,
        args: &[Arg<'_>],
        memory: &mut dyn MemoryReader,
    ) -> Result<(), ReadFault> {
        let mut args = args.iter().copied();
        let next_long = |args: &mut dyn Iterator<Item = Arg<'_>>| match args.next() {
            Some(Arg::Long(v)) => v,
            _ => 0,
        };
        for component in &format.components {
            let conv = match component {
                Component::Literal(bytes) => {
                    // The literal is a C string in SystemTap: it ends at a NUL.
                    for &b in bytes.iter().take_while(|&&b| b != 0) {
                        if !self.room() {
                            break;
                        }
                        self.out.push(b);
                    }
                    continue;
                }
                Component::Conversion(conv) => conv,
            };
            let width = match conv.width {
                Amount::None => -1,
                Amount::Static(w) => self.clamp(i64::from(w)),
                Amount::Dynamic => {
                    let w = next_long(&mut args);
                    self.clamp(w)
                }
            };
            let precision = match conv.precision {
                Amount::None => -1,
                Amount::Static(p) => self.clamp(i64::from(p)),
                Amount::Dynamic => {
                    let p = next_long(&mut args);
                    self.clamp(p)
                }
            };
            let value = args.next();
            self.conversion(conv, width, precision, value, memory)?;
        }
        Ok(())
    }

    fn conversion(
        &mut self,
        conv: &Conversion,
        width: i32,
        precision: i32,
        value: Option<Arg<'_>>,
        memory: &mut dyn MemoryReader,
    ) -> Result<(), ReadFault> {
        let mut f = 0;
        for (ours, theirs) in [
            (flags::ZEROPAD, ZEROPAD),
            (flags::PLUS, PLUS),
            (flags::SPACE, SPACE),
            (flags::LEFT, LEFT),
            (flags::SPECIAL, SPECIAL),
        ] {
            if conv.flags & ours != 0 {
                f |= theirs;
            }
        }
        let long = match value {
            Some(Arg::Long(v)) => v,
            _ => 0,
        };
        match conv.kind {
            ConvKind::Signed => self.number(long as u64, 10, width, precision, f | SIGN),
            ConvKind::Unsigned => self.number(long as u64, 10, width, precision, f),
            ConvKind::Octal => self.number(long as u64, 8, width, precision, f),
            ConvKind::HexLower => self.number(long as u64, 16, width, precision, f),
            ConvKind::HexUpper => self.number(long as u64, 16, width, precision, f | LARGE),
            // Since SystemTap 1.3, %p is %#x.
            ConvKind::Pointer => self.number(long as u64, 16, width, precision, f | SPECIAL),
            ConvKind::Char => self.char(long as u8, width, f),
            ConvKind::Binary => self.binary(long, width, precision, f),
            ConvKind::String => {
                let s = match value {
                    Some(Arg::Str(s)) => s,
                    _ => &[],
                };
                self.string(s, width, precision, f);
            }
            ConvKind::Memory | ConvKind::MemoryHex => {
                self.memory(
                    long as u64,
                    width,
                    precision,
                    f,
                    conv.kind == ConvKind::MemoryHex,
                    memory,
                )?;
            }
        }
        Ok(())
    }

    /// The kernel's `number()` as SystemTap's vsprintf.c has it.
    fn number(&mut self, mut num: u64, base: u64, mut size: i32, mut precision: i32, mut ty: u32) {
        let digits: &[u8; 36] = if ty & LARGE != 0 {
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        } else {
            b"0123456789abcdefghijklmnopqrstuvwxyz"
        };
        if ty & LEFT != 0 {
            ty &= !ZEROPAD;
        }
        let c = if ty & ZEROPAD != 0 { b'0' } else { b' ' };
        let mut sign = 0u8;
        if ty & SIGN != 0 {
            if (num as i64) < 0 {
                sign = b'-';
                num = (num as i64).wrapping_neg() as u64;
                size -= 1;
            } else if ty & PLUS != 0 {
                sign = b'+';
                size -= 1;
            } else if ty & SPACE != 0 {
                sign = b' ';
                size -= 1;
            }
        }
        if ty & SPECIAL != 0 {
            if base == 16 {
                size -= 2;
            } else if base == 8 {
                size -= 1;
            }
        }
        let mut tmp = [0u8; 66];
        let mut i = 0usize;
        if num == 0 {
            tmp[0] = b'0';
            i = 1;
        } else {
            while num != 0 {
                tmp[i] = digits[(num % base) as usize];
                num /= base;
                i += 1;
            }
        }
        if i as i32 > precision {
            precision = i as i32;
        }
        size -= precision;
        if ty & (ZEROPAD | LEFT) == 0 {
            while post_dec_positive(&mut size) {
                self.put(b' ');
            }
        }
        if sign != 0 {
            self.put(sign);
        }
        if ty & SPECIAL != 0 {
            if base == 8 {
                self.put(b'0');
            } else if base == 16 {
                self.put(b'0');
                self.put(digits[33]);
            }
        }
        if ty & LEFT == 0 {
            while post_dec_positive(&mut size) {
                self.put(c);
            }
        }
        while (i as i32) < precision {
            precision -= 1;
            self.put(b'0');
        }
        while i > 0 {
            i -= 1;
            self.put(tmp[i]);
        }
        while post_dec_positive(&mut size) {
            self.put(b' ');
        }
    }

    /// `_stp_vsprint_char`: one byte, `%#c` escaping what is not printable ASCII.
    fn char(&mut self, c: u8, mut width: i32, flags: u32) {
        let quote =
            flags & SPECIAL != 0 && (!(0x20..=0x7e).contains(&c) || c == b'\'' || c == b'\\');
        let escape = match c {
            0x07 => Some(b'a'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x0b => Some(b'v'),
            b'\'' => Some(b'\''),
            b'\\' => Some(b'\\'),
            _ => None,
        };
        let size = match (quote, escape) {
            (false, _) => 1,
            (true, Some(_)) => 2,
            (true, None) => 4,
        };
        if flags & LEFT == 0 {
            while width > size {
                width -= 1;
                self.put(b' ');
            }
            width -= 1;
        }
        if !quote {
            self.put(c);
        } else {
            self.put(b'\\');
            match escape {
                Some(e) => self.put(e),
                None => {
                    self.put(b'0' + ((c >> 6) & 3));
                    self.put(b'0' + ((c >> 3) & 7));
                    self.put(b'0' + (c & 7));
                }
            }
        }
        while width > size {
            width -= 1;
            self.put(b' ');
        }
    }

    /// `_stp_vsprint_memory` for `%s`.
    fn string(&mut self, s: &[u8], mut width: i32, precision: i32, flags: u32) {
        // strnlen(ptr, clamp_t(size_t, precision, 0, STP_BUFFER_SIZE)): -1 becomes the maximum.
        let max = if precision < 0 {
            STP_BUFFER_SIZE
        } else {
            (precision as usize).min(STP_BUFFER_SIZE)
        };
        let len = crate::strings::stored_len(s, max);
        if flags & LEFT == 0 {
            while (len as i32) < width && self.room() {
                width -= 1;
                self.out.push(b' ');
            }
        }
        for &b in &s[..len] {
            if !self.room() {
                break;
            }
            self.out.push(b);
        }
        while (len as i32) < width && self.room() {
            width -= 1;
            self.out.push(b' ');
        }
        if flags & ZEROPAD != 0 {
            self.put(0);
        }
    }

    /// `_stp_vsprint_memory` for `%m` and `%M`.
    fn memory(
        &mut self,
        addr: u64,
        mut width: i32,
        precision: i32,
        flags: u32,
        hex: bool,
        memory: &mut dyn MemoryReader,
    ) -> Result<(), ReadFault> {
        let user = flags & SPECIAL != 0;
        let mut len = if precision > 0 { precision } else { 1 };
        if flags & LEFT == 0 {
            let actlen = if hex { len * 2 } else { len };
            while actlen < width && self.room() {
                width -= 1;
                self.out.push(b' ');
            }
        }
        if hex {
            // The hex loop tests `str < end`, and then writes two digits.
            let mut i = 0;
            while i < len && self.out.len() + 1 < self.end {
                let a = addr.wrapping_add(i as u64);
                let b = memory.read_byte(a, user).ok_or(ReadFault(a))?;
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.out.push(HEX[usize::from(b >> 4)]);
                self.put(HEX[usize::from(b & 15)]);
                i += 1;
            }
            len *= 2;
        } else {
            let mut i = 0;
            while i < len && self.room() {
                let a = addr.wrapping_add(i as u64);
                let b = memory.read_byte(a, user).ok_or(ReadFault(a))?;
                self.out.push(b);
                i += 1;
            }
        }
        while len < width && self.room() {
            width -= 1;
            self.out.push(b' ');
        }
        if flags & ZEROPAD != 0 {
            self.put(0);
        }
        Ok(())
    }

    /// `_stp_vsprint_binary`: the value's low bytes in native order.
    fn binary(&mut self, num: i64, mut width: i32, precision: i32, flags: u32) {
        let valid = |p: i32| if matches!(p, 1 | 2 | 4 | 8) { p } else { -1 };
        let mut precision = valid(precision);
        if width == -1 {
            if precision == -1 {
                width = 8;
                precision = 8;
            } else {
                width = precision;
            }
        } else if precision == -1 {
            precision = valid(width);
            if precision == -1 {
                precision = 8;
            }
        }
        if flags & LEFT == 0 {
            while precision < width && self.room() {
                width -= 1;
                self.out.push(0);
            }
            width -= 1;
        }
        let n = precision as usize;
        if self.out.len() + n <= self.end {
            self.out.extend_from_slice(&num.to_ne_bytes()[..n]);
        }
        while precision >= 0 && width >= 0 && precision < width && self.room() {
            width -= 1;
            self.out.push(0);
        }
    }
}

#[cfg(test)]
mod tests;
