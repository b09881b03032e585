//! Probe classification of hand-picked instructions (fixture `fixtures/classify.txt`): the
//! words come from GNU as, the expected kprobe and uprobe decisions are written by hand.

#[path = "support/asm.rs"]
mod asm;

use rtap_kmod::arch::aarch64::decode::{Context, Decision, classify, decode};

fn decision_text(decision: Decision) -> String {
    match decision {
        Decision::Step => "step".into(),
        Decision::Simulate(_) => "simulate".into(),
        Decision::Reject(reason) => format!("reject {reason:?}"),
    }
}

/// Checks every line of the fixture; with `RTAP_BLESS=1`, rewrites the decision columns.
fn check(fixture: &str) {
    let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("read fixture");
    let cases: Vec<(&str, Vec<&str>)> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let mut columns = line.split('|').map(str::trim);
            let source = columns.next().unwrap_or_default();
            (source, columns.collect())
        })
        .collect();
    let words = asm::assemble(
        &cases
            .iter()
            .map(|(source, _)| *source)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert_eq!(words.len(), cases.len(), "one word per fixture line");
    let mut failures = Vec::new();
    let mut blessed = String::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            blessed.push_str(line);
            blessed.push('\n');
        }
    }
    for ((source, expected), word) in cases.iter().zip(&words) {
        let insn = decode(*word);
        let actual = [
            classify(insn, Context::Kernel),
            classify(insn, Context::User),
        ]
        .map(decision_text);
        if expected.as_slice() != actual.as_slice() {
            failures.push(format!(
                "{source} ({word:#010x}, {insn:?}): expected {expected:?}, got {actual:?}"
            ));
        }
        blessed.push_str(&format!("{source:<32} | {} | {}\n", actual[0], actual[1]));
    }
    if std::env::var_os("RTAP_BLESS").is_some() {
        std::fs::write(&path, blessed).expect("bless fixture");
        return;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn classification_matches_the_fixture() {
    check("classify.txt");
}

/// The exclusive-sequence scan (arm-probes.md §1.5) over a real LL/SC loop.
#[test]
fn exclusive_sequence_scan() {
    use rtap_kmod::arch::aarch64::decode::in_exclusive_sequence;
    let words = asm::assemble(
        "1: ldaxr x0, [x1]\n add x0, x0, #1\n stlxr w2, x0, [x1]\n cbnz w2, 1b\n ret\n\
         ldxr w3, [x4]\n .rept 32\n nop\n .endr\n add x3, x3, #1",
    );
    let base = 0x1000u64;
    let read = |addr: u64| {
        words
            .get(usize::try_from((addr.checked_sub(base)?) / 4).ok()?)
            .copied()
    };
    let inside =
        |index: u64, start: Option<u64>| in_exclusive_sequence(base + 4 * index, start, read);
    assert!(
        !inside(0, None),
        "the load-exclusive itself is rejected by classify, not by the scan"
    );
    assert!(inside(1, None), "between LDAXR and STLXR");
    assert!(
        inside(2, None),
        "the store-exclusive's own slot would clear the monitor too"
    );
    assert!(!inside(3, None), "after the store-exclusive");
    assert!(
        !inside(1, Some(base + 4)),
        "a function starting at the probe has nothing before it"
    );
    assert!(inside(6, None), "right after LDXR");
    assert!(
        inside(37, None),
        "32 instructions after LDXR: still within 128 bytes"
    );
    assert!(
        !inside(38, None),
        "33 instructions after LDXR: beyond the 128-byte limit"
    );
    let unreadable_before_probe = |addr: u64| {
        if addr == base + 4 * 5 {
            None
        } else {
            read(addr)
        }
    };
    assert!(
        !in_exclusive_sequence(base + 4 * 6, None, unreadable_before_probe),
        "a word that cannot be read ends the scan"
    );
}
