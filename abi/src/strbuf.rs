//! The string buffer layout.
//!
//! SystemTap strings are bounded: a value holds at most MAXSTRINGLEN-1 bytes (MAXSTRINGLEN
//! defaults to 512 and is fixed at compile time by `-D MAXSTRINGLEN=N`) and can never contain
//! a NUL byte; longer results are truncated silently. So every string value lives in a
//! fixed-capacity buffer: every string local and temporary is a [`StrBuf`] of
//! [`strbuf_size`]`(MAXSTRINGLEN)` bytes in the generated function's frame, scalar string
//! globals are one in the globals area, and helpers write their string results into a
//! destination buffer the caller passes. Nothing allocates per operation.
//!
//! Layout: a `u32` byte length at offset [`STRBUF_LEN_OFFSET`], four reserved bytes (write
//! 0), then the bytes at [`STRBUF_DATA_OFFSET`]; no terminating NUL is kept. A destination
//! buffer has room for MAXSTRINGLEN data bytes and helpers never store more than
//! MAXSTRINGLEN-1. Generated code initializes a buffer to the empty string by storing 0 at
//! the length offset, reads a string's length with one `u32` load, and may emit string
//! literals as read-only `StrBuf`s in its data (length header, then the bytes); such a
//! literal may be longer than MAXSTRINGLEN-1 (SystemTap prints over-long literals whole, and
//! truncates them when they are stored), so helpers accept any length on input.

use core::mem::offset_of;

/// The header of a string buffer; the bytes follow it.
#[repr(C)]
#[derive(Debug)]
pub struct StrBuf {
    /// Number of bytes in use.
    pub len: u32,
    /// Reserved; generated code writes 0.
    pub reserved: u32,
    /// The bytes (a flexible array member in C terms).
    pub bytes: [u8; 0],
}

/// Byte offset of the length word.
pub const STRBUF_LEN_OFFSET: i32 = offset_of!(StrBuf, len) as i32;
/// Byte offset of the first data byte.
pub const STRBUF_DATA_OFFSET: i32 = offset_of!(StrBuf, bytes) as i32;
/// Alignment every string buffer must have.
pub const STRBUF_ALIGN: usize = 8;

/// Bytes to reserve for one string buffer when strings hold up to `max_string_len - 1` bytes:
/// the header plus `max_string_len` data bytes, rounded up to [`STRBUF_ALIGN`].
pub const fn strbuf_size(max_string_len: usize) -> usize {
    let raw = STRBUF_DATA_OFFSET as usize + max_string_len;
    raw.div_ceil(STRBUF_ALIGN) * STRBUF_ALIGN
}

/// The default MAXSTRINGLEN (64-bit kernels, `runtime/runtime_defines.h`).
pub const DEFAULT_MAXSTRINGLEN: usize = 512;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(STRBUF_LEN_OFFSET, 0);
        assert_eq!(STRBUF_DATA_OFFSET, 8);
        assert_eq!(strbuf_size(512), 520);
        assert_eq!(strbuf_size(3), 16);
    }
}
