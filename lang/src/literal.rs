//! Literal values: numbers as stap reads them (`strtoull` with base 0), string escapes as the C
//! compiler would read stap's string literals, and the inverse quoting used by `-p1`.

/// Parses an unsigned C integer the way `strtoull(text, &end, 0)` does, requiring the whole
/// text to be consumed: `0x`/`0X` hex, leading-`0` octal, else decimal. `None` if invalid or
/// above 2^64-1 (stap: `number invalid or out of range`).
pub fn parse_c_unsigned(text: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// The value of a number token: 0…2^64-1, where values of 2^63 and above wrap to negative
/// (two's complement), as stap does.
pub fn parse_number(text: &str) -> Option<i64> {
    parse_c_unsigned(text).map(|value| value as i64)
}

/// Decodes the body of a string token (quotes included) to the bytes a C compiler would store.
///
/// Escapes: `\a \b \t \n \v \f \r \\`, octal `\ooo` (up to three digits), hex `\xHH` (up to two
/// digits); any other escaped character stands for itself (`\"` ⇒ `"`, `\q` ⇒ `q`), as in stap's
/// lexer. A NUL byte ends the value, since every string is a C string at run time.
pub fn decode_string(token_text: &str) -> Vec<u8> {
    let inner = token_text.strip_prefix('"').unwrap_or(token_text);
    let inner = inner.strip_suffix('"').unwrap_or(inner).as_bytes();
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let byte = inner[i];
        i += 1;
        if byte != b'\\' || i == inner.len() {
            out.push(byte);
            continue;
        }
        let escaped = inner[i];
        i += 1;
        let value = match escaped {
            b'a' => 0x07,
            b'b' => 0x08,
            b't' => b'\t',
            b'n' => b'\n',
            b'v' => 0x0b,
            b'f' => 0x0c,
            b'r' => b'\r',
            b'0'..=b'7' => {
                let mut value = u32::from(escaped - b'0');
                for _ in 0..2 {
                    match inner.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                value as u8
            }
            b'x' => {
                let start = i;
                let mut value = 0u32;
                while i < inner.len() && i - start < 2 && inner[i].is_ascii_hexdigit() {
                    value = value * 16 + (inner[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                }
                if i == start { b'x' } else { value as u8 }
            }
            other => other,
        };
        if value == 0 {
            break;
        }
        out.push(value);
    }
    if let Some(nul) = out.iter().position(|&b| b == 0) {
        out.truncate(nul);
    }
    out
}

/// Quotes bytes as a string literal that [`decode_string`] reads back to the same bytes.
pub fn quote_string(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut i = 0;
    while i < value.len() {
        let byte = value[i];
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(byte as char),
            _ => {
                // Keep valid UTF-8 sequences readable; escape everything else as octal (three
                // digits, so a following digit is never taken into the escape).
                let len = utf8_sequence_len(&value[i..]);
                if len > 1 {
                    out.push_str(std::str::from_utf8(&value[i..i + len]).unwrap_or(""));
                    i += len;
                    continue;
                }
                out.push_str(&format!("\\{byte:03o}"));
            }
        }
        i += 1;
    }
    out.push('"');
    out
}

fn utf8_sequence_len(bytes: &[u8]) -> usize {
    let len = match bytes[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return 1,
    };
    match bytes.get(..len).map(std::str::from_utf8) {
        Some(Ok(_)) => len,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_strtoull_base_0() {
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("42"), Some(42));
        assert_eq!(parse_number("0x1F"), Some(31));
        assert_eq!(parse_number("0X1f"), Some(31));
        assert_eq!(parse_number("017"), Some(15));
        assert_eq!(parse_number("08"), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("12abc"), None);
        assert_eq!(parse_number("18446744073709551615"), Some(-1));
        assert_eq!(parse_number("9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_number("18446744073709551616"), None);
    }

    #[test]
    fn string_escapes() {
        assert_eq!(decode_string(r#""a\tb\n""#), b"a\tb\n");
        assert_eq!(decode_string(r#""\"\\\q""#), b"\"\\q");
        assert_eq!(decode_string(r#""\101\x42\x4a1""#), b"ABJ1");
        assert_eq!(decode_string(r#""\a\b\v\f\r""#), b"\x07\x08\x0b\x0c\r");
        assert_eq!(decode_string(r#""ab\0cd""#), b"ab");
        assert_eq!(decode_string("\"a\\\nb\""), b"a\nb");
        assert_eq!(decode_string(r#""\xg""#), b"xg");
    }

    #[test]
    fn quoting_round_trips() {
        for value in [
            &b"plain"[..],
            b"tab\there",
            b"q\"uote\\",
            b"\x01\x7f\xff9",
            "é".as_bytes(),
            b"\xc3(",
        ] {
            let quoted = quote_string(value);
            assert_eq!(decode_string(&quoted), value, "{quoted}");
        }
        assert_eq!(quote_string(b"a\nb"), r#""a\nb""#);
        assert_eq!(quote_string(b"\x019"), r#""\0019""#);
    }
}
