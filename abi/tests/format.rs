//! The format parser against the real SystemTap 4.8 translator: `tests/format/expected.txt`
//! holds what `stap -p3` compiled each format of `tests/format/cases.txt` into (regenerate
//! with `tests/format/generate.sh`, which documents the notation).

use rtap_abi::format::{Amount, Component, ConvKind, Format, flags};

/// The runtime's `enum print_flag` bits (`runtime/print.h`).
fn stp_flags(f: u8) -> u32 {
    let mut bits = 0;
    for (ours, theirs) in [
        (flags::ZEROPAD, 1),
        (flags::PLUS, 4),
        (flags::SPACE, 8),
        (flags::LEFT, 16),
        (flags::SPECIAL, 32),
    ] {
        if f & ours != 0 {
            bits |= theirs;
        }
    }
    bits
}

fn amount(a: Amount) -> String {
    match a {
        Amount::None => "-1".into(),
        Amount::Static(n) => n.to_string(),
        Amount::Dynamic => "*".into(),
    }
}

fn summarize(format: &Format) -> String {
    let mut parts = Vec::new();
    for c in &format.components {
        parts.push(match c {
            Component::Literal(bytes) => format!("L\"{}\"", String::from_utf8_lossy(bytes)),
            Component::Conversion(conv) => {
                let f = stp_flags(conv.flags);
                let (w, p) = (amount(conv.width), amount(conv.precision));
                match conv.kind {
                    ConvKind::Signed => format!("N(10,{},{w},{p})", f | 2),
                    ConvKind::Unsigned => format!("N(10,{f},{w},{p})"),
                    ConvKind::Octal => format!("N(8,{f},{w},{p})"),
                    ConvKind::HexLower => format!("N(16,{f},{w},{p})"),
                    ConvKind::HexUpper => format!("N(16,{},{w},{p})", f | 64),
                    ConvKind::Pointer => format!("N(16,{},{w},{p})", f | 32),
                    ConvKind::String => format!("S({f},{w},{p})"),
                    ConvKind::Char => format!("C({f},{w})"),
                    ConvKind::Binary => format!("B({w},{p})"),
                    ConvKind::Memory => format!("M(m,{f},{w},{p})"),
                    ConvKind::MemoryHex => format!("M(M,{f},{w},{p})"),
                }
            }
        });
    }
    parts.join(" ")
}

#[test]
fn formats_parse_as_systemtap_parses_them() {
    let expected = include_str!("format/expected.txt");
    let mut failures = Vec::new();
    for line in expected.lines() {
        let (fmt, want) = line.split_once('\t').unwrap_or((line, ""));
        let got = match Format::parse(fmt.as_bytes()) {
            Ok(f) => summarize(&f),
            Err(e) => format!("parse error: {e}"),
        };
        if got != want {
            failures.push(format!("{fmt:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(expected.lines().count() > 60);
}

#[test]
fn argument_types_follow_the_conversions() {
    use rtap_abi::format::ArgType::{Long, String};
    let f = Format::parse(b"%-*.*s|%d|%.*M|%c").unwrap();
    assert_eq!(
        f.arg_types(),
        vec![Long, Long, String, Long, Long, Long, Long]
    );
}
