//! String values: reading and writing the fixed-capacity buffers of `rtap_abi::strbuf`.
//!
//! Generated code passes `*const StrBuf` for inputs and `*mut StrBuf` for results. A result is
//! truncated to `max_len` = MAXSTRINGLEN-1 bytes and at a NUL byte (a SystemTap string is a C
//! string), silently. Inputs and the destination may be the same buffer, so copies go through
//! `ptr::copy` (memmove).

use rtap_abi::StrBuf;
use rtap_abi::strbuf::{STRBUF_DATA_OFFSET, strbuf_size};
use std::ptr;

/// The bytes of an input string.
///
/// # Safety
/// `s` must point to a valid [`StrBuf`] whose `len` bytes follow its header, and the bytes
/// must not be written while the returned slice is alive.
pub unsafe fn bytes<'a>(s: *const StrBuf) -> &'a [u8] {
    // SAFETY: the caller guarantees a valid buffer with `len` initialized data bytes.
    unsafe {
        let len = (*s).len as usize;
        std::slice::from_raw_parts(s.cast::<u8>().add(STRBUF_DATA_OFFSET as usize), len)
    }
}

/// The data pointer of a buffer.
fn data(s: *mut StrBuf) -> *mut u8 {
    s.cast::<u8>().wrapping_add(STRBUF_DATA_OFFSET as usize)
}

/// Length of `bytes` as a stored string: at most `max_len`, cut at the first NUL.
pub fn stored_len(bytes: &[u8], max_len: usize) -> usize {
    let n = bytes.len().min(max_len);
    memchr(&bytes[..n]).unwrap_or(n)
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0)
}

/// Stores `bytes` into `dst`, truncated as a string value is.
///
/// # Safety
/// `dst` must point to a buffer with room for `max_len` data bytes. `bytes` may point into
/// `dst` itself (it is moved, not copied).
pub unsafe fn store(dst: *mut StrBuf, bytes: &[u8], max_len: usize) {
    let n = stored_len(bytes, max_len);
    // SAFETY: room for max_len >= n bytes; ptr::copy tolerates overlap.
    unsafe {
        ptr::copy(bytes.as_ptr(), data(dst), n);
        (*dst).len = n as u32;
        (*dst).reserved = 0;
    }
}

/// `dst = a . b`, truncated; `dst` may be `a` or `b`.
///
/// # Safety
/// As [`store`] for `dst`; `a` and `b` valid inputs that are either `dst` or disjoint from it.
pub unsafe fn concat(dst: *mut StrBuf, a: *const StrBuf, b: *const StrBuf, max_len: usize) {
    // SAFETY: per the contract; lengths are read before anything is written.
    unsafe {
        let la = (*a).len as usize;
        let keep_a = stored_len(bytes(a), max_len);
        // A cut in `a` (length or NUL) ends the string: nothing of `b` follows it.
        let keep_b = if keep_a < la {
            0
        } else {
            stored_len(bytes(b), max_len - keep_a)
        };
        let (pa, pb) = (bytes(a).as_ptr(), bytes(b).as_ptr());
        let out = data(dst);
        if ptr::eq(b, dst) && !ptr::eq(a, dst) {
            // Move b right first, then put a in front of it.
            ptr::copy(pb, out.add(keep_a), keep_b);
            ptr::copy(pa, out, keep_a);
        } else {
            ptr::copy(pa, out, keep_a);
            ptr::copy(pb, out.add(keep_a), keep_b);
        }
        (*dst).len = (keep_a + keep_b) as u32;
        (*dst).reserved = 0;
    }
}

/// C `strcmp` on two byte strings, as -1, 0 or 1 (bytes compare unsigned).
pub fn compare(a: &[u8], b: &[u8]) -> i64 {
    match a.cmp(b) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }
}

/// An owned, correctly aligned string buffer (for tests, providers and the runtime's own
/// temporaries).
pub struct StrBox {
    words: Vec<u64>,
    max_len: usize,
}

impl StrBox {
    /// An empty buffer for strings of up to `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        Self {
            words: vec![0; strbuf_size(max_len + 1) / 8],
            max_len,
        }
    }

    /// A buffer holding `bytes` (truncated as a stored string).
    pub fn with(bytes: &[u8], max_len: usize) -> Self {
        let mut b = Self::new(max_len);
        b.set(bytes);
        b
    }

    /// Replaces the content.
    pub fn set(&mut self, bytes: &[u8]) {
        // SAFETY: the buffer has room for max_len + 1 data bytes.
        unsafe { store(self.as_mut_ptr(), bytes, self.max_len) }
    }

    /// The content.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the buffer is valid and borrowed immutably.
        unsafe { bytes(self.as_ptr()) }
    }

    /// Pointer for passing as an input.
    pub fn as_ptr(&self) -> *const StrBuf {
        self.words.as_ptr().cast()
    }

    /// Pointer for passing as a destination.
    pub fn as_mut_ptr(&mut self) -> *mut StrBuf {
        self.words.as_mut_ptr().cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_truncates_silently_and_at_nul() {
        let mut b = StrBox::new(5);
        b.set(b"abcdefgh");
        assert_eq!(b.bytes(), b"abcde");
        b.set(b"ab\0cd");
        assert_eq!(b.bytes(), b"ab");
    }

    #[test]
    fn concat_handles_aliasing() {
        let mut s = StrBox::with(b"abc", 8);
        let x = StrBox::with(b"XY", 8);
        let p = s.as_mut_ptr();
        // SAFETY: both buffers valid; dst aliases an input as the contract allows.
        unsafe { concat(p, p, x.as_ptr(), 8) };
        assert_eq!(s.bytes(), b"abcXY");
        // SAFETY: as above, dst aliasing the second input.
        unsafe { concat(p, x.as_ptr(), p, 8) };
        assert_eq!(s.bytes(), b"XYabcXY");
        // SAFETY: as above, dst aliasing both inputs.
        unsafe { concat(p, p, p, 8) };
        assert_eq!(s.bytes(), b"XYabcXYX");
    }

    #[test]
    fn compare_is_strcmp() {
        assert_eq!(compare(b"a", b"b"), -1);
        assert_eq!(compare(b"ab", b"a"), 1);
        assert_eq!(compare(b"\xff", b"a"), 1);
        assert_eq!(compare(b"", b""), 0);
    }
}
