//! End-to-end tests of the uprobe engines on real programs compiled by the tests.
//!
//! Expected values never come from the engines: counts are computed from the targets' source,
//! argument and return values are compared with what the target printed, and probed runs'
//! output is compared with an unprobed run.

mod target;

use std::collections::HashMap;

use rtap_runtime::process::ptrace::PtraceEngine;
use rtap_runtime::process::{
    Action, Hit, HitKind, LifecycleEvents, ProbeId, ProbeKind, ProbeSpec, RunEnd,
};

use target::{BUILDS, Build};

fn entry(exe: &std::path::Path, symbol: &str, delta: u64) -> ProbeSpec {
    ProbeSpec {
        path: exe.to_path_buf(),
        offset: target::offset_of(exe, symbol, delta),
        kind: ProbeKind::Entry,
        pid: None,
    }
}

fn ret(exe: &std::path::Path, symbol: &str) -> ProbeSpec {
    ProbeSpec {
        kind: ProbeKind::Return,
        ..entry(exe, symbol, 0)
    }
}

/// Everything a test handler records.
#[derive(Default, Debug)]
struct Record {
    counts: HashMap<ProbeId, u64>,
    /// (probe, arg1, arg2, string at arg3) for entries; (probe, rax) for returns.
    entries: Vec<(ProbeId, u64, u64, String)>,
    returns: Vec<(ProbeId, u64)>,
}

impl Record {
    fn count(&self, id: usize) -> u64 {
        self.counts.get(&ProbeId(id)).copied().unwrap_or(0)
    }

    fn on_hit(&mut self, hit: &Hit<'_>) -> Action {
        match hit.kind {
            HitKind::Entry { probe, .. } => {
                *self.counts.entry(probe).or_default() += 1;
                let s = hit
                    .regs
                    .arg(3)
                    .and_then(|a| hit.memory.read_c_string(a, 64).ok())
                    .unwrap_or_default();
                self.entries.push((
                    probe,
                    hit.regs.arg(1).unwrap(),
                    hit.regs.arg(2).unwrap(),
                    String::from_utf8_lossy(&s).into(),
                ));
            }
            HitKind::Return { probe, .. } => {
                *self.counts.entry(probe).or_default() += 1;
                self.returns.push((probe, hit.regs.return_value()));
            }
            _ => {}
        }
        Action::Continue
    }
}

fn factorial(n: u64) -> u64 {
    (1..=n).product()
}

fn check_calls(build: Build) {
    let exe = target::compile(&target::source("calls.c"), build, &[]);
    let expected_out = target::run_plain(&exe, &["3"], &format!("calls-plain-{build:?}"));
    let probes = vec![
        entry(&exe, "add3", 0),        // 0
        ret(&exe, "add3"),             // 1
        entry(&exe, "fact", 0),        // 2
        ret(&exe, "fact"),             // 3
        entry(&exe, "get_table", 0),   // 4
        entry(&exe, "tail", 0),        // 5
        entry(&exe, "side", 0),        // 6
        entry(&exe, "call_direct", 4), // 7: call side
        entry(&exe, "call_reg", 11),   // 8: call *%rax (after sub 4 + mov 7)
        entry(&exe, "call_mem", 4),    // 9: call *side_ptr(%rip)
        ret(&exe, "get_table"),        // 10
        ret(&exe, "tail"),             // 11
    ];
    let out = target::tmp(&format!("calls-probed-{build:?}"));
    let argv = vec![
        exe.display().to_string(),
        out.display().to_string(),
        "3".into(),
    ];
    let mut engine = PtraceEngine::spawn(&argv, probes, LifecycleEvents::default()).unwrap();
    assert!(engine.take_warnings().is_empty());
    let mut rec = Record::default();
    let end = engine.run(&mut |hit: &Hit<'_>| rec.on_hit(hit)).unwrap();
    assert_eq!(end, RunEnd::TargetExited(0));
    let printed = std::fs::read_to_string(&out).unwrap();
    assert_eq!(printed, expected_out, "probed output differs ({build:?})");

    // Counts from the source: add3 ×3; fact(n) for n = 1..5 and fact(6) via tail: Σn + 6.
    assert_eq!(rec.count(0), 3);
    assert_eq!(rec.count(1), 3);
    assert_eq!(rec.count(2), 15 + 6);
    assert_eq!(rec.count(3), 15 + 6);
    assert_eq!(rec.count(4), 4);
    assert_eq!(rec.count(5), 1);
    assert_eq!(rec.count(6), 3);
    assert_eq!((rec.count(7), rec.count(8), rec.count(9)), (1, 1, 1));
    assert_eq!((rec.count(10), rec.count(11)), (4, 1));

    // Arguments and return values against what the program printed.
    let add3_args: Vec<(u64, u64, String)> = rec
        .entries
        .iter()
        .filter(|e| e.0 == ProbeId(0))
        .map(|e| (e.1, e.2, e.3.clone()))
        .collect();
    let add3_rets: Vec<u64> = rec
        .returns
        .iter()
        .filter(|r| r.0 == ProbeId(1))
        .map(|r| r.1)
        .collect();
    let printed_add3: Vec<(u64, u64, String, u64)> = printed
        .lines()
        .filter_map(|l| l.strip_prefix("add3 "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].to_string(),
                f[4].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        add3_args,
        printed_add3
            .iter()
            .map(|p| (p.0, p.1, p.2.clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        add3_rets,
        printed_add3.iter().map(|p| p.3).collect::<Vec<_>>()
    );
    let mut fact_rets: Vec<u64> = rec
        .returns
        .iter()
        .filter(|r| r.0 == ProbeId(3))
        .map(|r| r.1)
        .collect();
    fact_rets.sort();
    let mut expected: Vec<u64> = (1..=5)
        .chain([6])
        .flat_map(|n| (1..=n).map(factorial))
        .collect();
    expected.sort();
    assert_eq!(fact_rets, expected);
    let table_rets: Vec<u64> = rec
        .returns
        .iter()
        .filter(|r| r.0 == ProbeId(10))
        .map(|r| r.1)
        .collect();
    assert_eq!(table_rets, [10, 20, 30, 40]);

    // One ptrace stop per hit: beyond hits and returns only the exit event and the exit.
    let stats = engine.stats();
    assert_eq!(
        stats.stops,
        stats.breakpoint_hits + stats.returns + 2,
        "{stats:?}"
    );
}

#[test]
fn ptrace_calls_all_builds() {
    for build in BUILDS {
        check_calls(build);
    }
}
