use super::*;
use proptest::prelude::*;

/// Parses the golden file's argument column.
fn parse_args(text: &str) -> Vec<Arg<'static>> {
    let mut args = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if let Some(s) = rest.strip_prefix('"') {
            let end = s.find('"').expect("closing quote");
            args.push(Arg::Str(Box::leak(
                s.as_bytes()[..end].to_vec().into_boxed_slice(),
            )));
            rest = s[end + 1..]
                .trim_start()
                .trim_start_matches(',')
                .trim_start();
        } else {
            let (num, tail) = rest.split_once(',').unwrap_or((rest, ""));
            args.push(Arg::Long(num.trim().parse().expect("number")));
            rest = tail.trim_start();
        }
    }
    args
}

fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            i += 1;
            match b[i] {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                c => panic!("unknown escape \\{}", c as char),
            }
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}

fn run(format: &str, args: &[Arg<'_>]) -> Vec<u8> {
    let format = Format::parse(format.as_bytes()).expect("format parses");
    let mut out = Vec::new();
    print(&mut out, &format, args, &mut NoMemory).expect("no memory conversions");
    out
}

#[test]
fn goldens() {
    let text = include_str!("golden.txt");
    let mut failures = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut cols = line.split('\t');
        let (fmt, args, want) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        let got = run(fmt, &parse_args(args));
        if got != unescape(want) {
            failures.push(format!(
                "{fmt:?}: want {:?}, got {:?}",
                unescape(want).escape_ascii().to_string(),
                got.escape_ascii().to_string()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn output_is_clamped_to_the_print_buffer() {
    // [vsp] one printf produces at most STP_BUFFER_SIZE bytes; widths clamp to the room left.
    let out = run("%9000d", &[Arg::Long(7)]);
    assert_eq!(out.len(), STP_BUFFER_SIZE);
    assert_eq!(
        &out[STP_BUFFER_SIZE - 2..],
        b" 7",
        "the width is clamped before sizing"
    );
    let out = run("ab%*d", &[Arg::Long(8191), Arg::Long(7)]);
    assert_eq!(out.len(), STP_BUFFER_SIZE);
    assert_eq!(
        &out[STP_BUFFER_SIZE - 2..],
        b" 7",
        "second pass clamps the width to the room"
    );
}

#[test]
fn sprint_truncates_to_maxstringlen_and_at_nul() {
    let f = Format::parse(b"%s%s").unwrap();
    let s = sprint(
        &f,
        &[Arg::Str(b"abcdef"), Arg::Str(b"ghij")],
        8,
        &mut NoMemory,
    )
    .unwrap();
    assert_eq!(s, b"abcdefg");
    let f = Format::parse(b"ab%cd").unwrap();
    assert_eq!(
        sprint(&f, &[Arg::Long(0)], 512, &mut NoMemory).unwrap(),
        b"ab"
    );
    // [vsp] a width wider than the room is clamped to it: all padding, no digit.
    let f = Format::parse(b"%20d").unwrap();
    assert_eq!(
        sprint(&f, &[Arg::Long(5)], 8, &mut NoMemory).unwrap(),
        b"       "
    );
}

struct Bytes(Vec<u8>, u64);

impl MemoryReader for Bytes {
    fn read_byte(&mut self, addr: u64, _user: bool) -> Option<u8> {
        let i = addr.checked_sub(self.1)? as usize;
        self.0.get(i).copied()
    }
}

#[test]
fn memory_conversions_read_through_the_reader() {
    let mut mem = Bytes(b"hello".to_vec(), 0x1000);
    let f = Format::parse(b"[%.3m][%5.2M][%-6.2M][%m]").unwrap();
    let a = 0x1000;
    let mut out = Vec::new();
    print(
        &mut out,
        &f,
        &[
            Arg::Long(a),
            Arg::Long(a),
            Arg::Long(a + 1),
            Arg::Long(a + 4),
        ],
        &mut mem,
    )
    .unwrap();
    assert_eq!(out, b"[hel][ 6865][656c  ][o]");
    // A fault drops the whole printf and names the byte.
    let mut out = b"kept".to_vec();
    let err = print(
        &mut out,
        &f,
        &[Arg::Long(a + 3), Arg::Long(0), Arg::Long(0), Arg::Long(0)],
        &mut mem,
    );
    assert_eq!(err, Err(ReadFault(0x1005)));
    assert_eq!(out, b"kept");
    assert_eq!(
        ReadFault(0x1005).message(),
        "read fault [man error::fault] at 0x1005"
    );
}

/// libc's snprintf on one conversion of a long or a string.
fn libc_snprintf(spec: &str, arg: Arg<'_>) -> Vec<u8> {
    let fmt = std::ffi::CString::new(spec).unwrap();
    let mut buf = vec![0u8; 256];
    let (ptr, len) = (buf.as_mut_ptr().cast(), buf.len());
    let n = match arg {
        // SAFETY: a valid NUL-terminated format with exactly one long long conversion.
        Arg::Long(v) => unsafe { libc::snprintf(ptr, len, fmt.as_ptr(), v as libc::c_longlong) },
        Arg::Str(s) => {
            let c = std::ffi::CString::new(s).unwrap();
            // SAFETY: a valid NUL-terminated format with exactly one string conversion.
            unsafe { libc::snprintf(ptr, len, fmt.as_ptr(), c.as_ptr()) }
        }
    };
    buf.truncate(n as usize);
    buf
}

fn libc_format(spec: &str, value: i64) -> Vec<u8> {
    libc_snprintf(spec, Arg::Long(value))
}

fn libc_format_str(spec: &str, value: &str) -> Vec<u8> {
    libc_snprintf(spec, Arg::Str(value.as_bytes()))
}

proptest! {
    // Integer conversions against C where the semantics coincide; excluded (see module docs):
    // `#` with octal (SystemTap always prefixes 0), `#` with hex of 0 (`0x0`), `0` with a
    // precision (the kernel's number() keeps zero padding), precision 0 of the value 0 (`0`).
    #[test]
    fn integers_match_libc(
        conv in prop::sample::select(vec!['d', 'i', 'u', 'o', 'x', 'X']),
        flag in prop::sample::select(vec!["", "-", "0", "+", " ", "#"]),
        width in prop::option::of(0u32..30),
        precision in prop::option::of(0u32..25),
        value in prop_oneof![any::<i64>(), -1000i64..1000, Just(0i64), Just(i64::MIN)],
    ) {
        prop_assume!(!(flag == "#" && conv == 'o'));
        prop_assume!(!(flag == "#" && value == 0));
        prop_assume!(!(flag == "0" && precision.is_some()));
        prop_assume!(!(precision == Some(0) && value == 0));
        let w = width.map(|w| w.to_string()).unwrap_or_default();
        let p = precision.map(|p| format!(".{p}")).unwrap_or_default();
        let ours = run(&format!("%{flag}{w}{p}{conv}"), &[Arg::Long(value)]);
        let theirs = libc_format(&format!("%{flag}{w}{p}ll{conv}"), value);
        prop_assert_eq!(ours.escape_ascii().to_string(), theirs.escape_ascii().to_string());
    }

    #[test]
    fn strings_and_chars_match_libc(
        flag in prop::sample::select(vec!["", "-"]),
        // A width of 0 would read as the `0` flag (`%0s` appends a NUL byte).
        width in prop::option::of(1u32..20),
        precision in prop::option::of(0u32..20),
        text in "[ -~]{0,12}",
        ch in 0x20u8..0x7f,
    ) {
        let w = width.map(|w| w.to_string()).unwrap_or_default();
        let p = precision.map(|p| format!(".{p}")).unwrap_or_default();
        let ours = run(&format!("%{flag}{w}{p}s"), &[Arg::Str(text.as_bytes())]);
        prop_assert_eq!(ours, libc_format_str(&format!("%{flag}{w}{p}s"), &text));
        let ours = run(&format!("%{flag}{w}c"), &[Arg::Long(i64::from(ch))]);
        prop_assert_eq!(ours, libc_format(&format!("%{flag}{w}c"), i64::from(ch)));
    }
}
