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
                    .and_then(|a| hit.memory.read_cstring(a, 64).ok())
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

mod many;

fn check_many(build: Build) {
    let src = target::tmp("many.c");
    std::fs::write(&src, many::source()).unwrap();
    let exe = target::compile(&src, build, &[]);
    let expected_out = target::run_plain(&exe, &[], &format!("many-plain-{build:?}"));
    // function("*") on the executable: every function symbol, including the C runtime's.
    let all = target::functions(&exe, "");
    let probes: Vec<ProbeSpec> = all
        .iter()
        .map(|(_, off)| ProbeSpec {
            path: exe.clone(),
            offset: *off,
            kind: ProbeKind::Entry,
            pid: None,
        })
        .collect();
    assert!(probes.len() > many::FUNCTIONS);
    let out = target::tmp(&format!("many-probed-{build:?}"));
    let argv = vec![exe.display().to_string(), out.display().to_string()];
    let started = std::time::Instant::now();
    let mut engine = PtraceEngine::spawn(&argv, probes, LifecycleEvents::default()).unwrap();
    let attach_time = started.elapsed();
    assert!(engine.take_warnings().is_empty());
    let mut rec = Record::default();
    assert_eq!(
        engine.run(&mut |hit: &Hit<'_>| rec.on_hit(hit)).unwrap(),
        RunEnd::TargetExited(0)
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        expected_out,
        "{build:?}"
    );
    let expected = many::expected_counts();
    for (idx, (name, _)) in all.iter().enumerate() {
        let got = rec.count(idx);
        if let Some(i) = name
            .strip_prefix("f_")
            .and_then(|n| n.parse::<usize>().ok())
        {
            assert_eq!(got, expected[i], "{name} ({build:?})");
        } else if name == "main" || name == "_start" {
            assert_eq!(got, 1, "{name}");
        }
    }
    eprintln!(
        "many {build:?}: {} probes armed in {attach_time:?}",
        all.len()
    );
    assert!(attach_time < std::time::Duration::from_secs(1));
}

#[test]
fn ptrace_function_star_on_600_functions() {
    for build in BUILDS {
        check_many(build);
    }
}

#[test]
fn ptrace_eight_threads_one_probe() {
    const PER_THREAD: u64 = 100_000;
    for build in [BUILDS[0], BUILDS[3]] {
        let exe = target::compile(&target::source("threads.c"), build, &["-pthread"]);
        let out = target::tmp(&format!("threads-{build:?}"));
        let argv = vec![exe.display().to_string(), out.display().to_string()];
        let mut engine = PtraceEngine::spawn(
            &argv,
            vec![entry(&exe, "hit", 0)],
            LifecycleEvents::default(),
        )
        .unwrap();
        let mut per_thread = [0u64; 8];
        let mut tids = std::collections::HashSet::new();
        let end = engine
            .run(&mut |hit: &Hit<'_>| {
                per_thread[hit.regs.arg(1).unwrap() as usize] += 1;
                tids.insert(hit.tid);
                Action::Continue
            })
            .unwrap();
        assert_eq!(end, RunEnd::TargetExited(0));
        assert_eq!(per_thread, [PER_THREAD; 8], "{build:?}");
        assert_eq!(tids.len(), 8);
        let expected: String = (0..8)
            .map(|t| format!("thread {t} odd {}\n", PER_THREAD / 2))
            .collect();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
        let stats = engine.stats();
        // One stop per hit; the rest are thread creation and exit events.
        assert!(stats.stops - stats.breakpoint_hits < 40, "{stats:?}");
    }
}

#[test]
fn ptrace_longjmp_signals_int3_fork_exec() {
    let all_events = LifecycleEvents {
        process_begin: true,
        process_end: true,
        thread_begin: true,
        thread_end: true,
        syscall: false,
        syscall_return: false,
    };
    for build in BUILDS {
        let exe = target::compile(&target::source("lifecycle.c"), build, &[]);
        let expected_out = target::run_plain(&exe, &[], &format!("lifecycle-plain-{build:?}"));
        let probes = vec![
            entry(&exe, "jumper", 0),     // 0
            ret(&exe, "jumper"),          // 1
            entry(&exe, "after", 0),      // 2
            ret(&exe, "after"),           // 3
            entry(&exe, "in_handler", 0), // 4
            ret(&exe, "in_handler"),      // 5
            entry(&exe, "child_work", 0), // 6
            entry(&exe, "exec_work", 0),  // 7
        ];
        let out = target::tmp(&format!("lifecycle-probed-{build:?}"));
        let argv = vec![exe.display().to_string(), out.display().to_string()];
        let mut engine = PtraceEngine::spawn(&argv, probes, all_events).unwrap();
        let root = engine.pid().unwrap();
        let mut rec = Record::default();
        let mut pids: HashMap<ProbeId, std::collections::HashSet<u32>> = HashMap::new();
        let mut begins = Vec::new();
        let mut ends = Vec::new();
        let end = engine
            .run(&mut |hit: &Hit<'_>| {
                match hit.kind {
                    HitKind::Entry { probe, .. } | HitKind::Return { probe, .. } => {
                        pids.entry(probe).or_default().insert(hit.pid);
                    }
                    HitKind::ProcessBegin => begins.push(hit.pid),
                    HitKind::ProcessEnd { .. } => ends.push(hit.pid),
                    _ => {}
                }
                rec.on_hit(hit)
            })
            .unwrap();
        assert_eq!(end, RunEnd::TargetExited(0));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            expected_out,
            "{build:?}"
        );
        // jumper(5) recurses to depth 0 and longjmps out: 6 entries per round, no return.
        assert_eq!((rec.count(0), rec.count(1)), (18, 0), "{build:?}");
        // after() returns normally after each longjmp, with the right value.
        let after: Vec<u64> = rec
            .returns
            .iter()
            .filter(|r| r.0 == ProbeId(3))
            .map(|r| r.1)
            .collect();
        assert_eq!(after, [0, 7, 14]);
        // Four SIGUSR1 (10) handlers, each calling in_handler(10) → 110.
        let handler_args: Vec<u64> = rec
            .entries
            .iter()
            .filter(|e| e.0 == ProbeId(4))
            .map(|e| e.1)
            .collect();
        assert_eq!(handler_args, [10; 4]);
        let handler_rets: Vec<u64> = rec
            .returns
            .iter()
            .filter(|r| r.0 == ProbeId(5))
            .map(|r| r.1)
            .collect();
        assert_eq!(handler_rets, [110; 4]);
        // The fork child's calls, in the child; then the exec'd image's, same pid.
        assert_eq!(rec.count(6), 5);
        assert_eq!(rec.count(7), 4);
        let child = *pids[&ProbeId(6)].iter().next().unwrap();
        assert_ne!(child, root);
        assert_eq!(pids[&ProbeId(7)], [child].into());
        assert_eq!(pids[&ProbeId(2)], [root].into());
        // begin: root (at run start), fork child, child after exec; end: child, root.
        assert_eq!(begins, [root, child, child]);
        assert_eq!(ends, [child, root]);
    }
}

/// The first byte of the probed instruction in the live process equals the file's byte.
fn text_is_restored(pid: u32, exe: &std::path::Path, symbol: &str) -> bool {
    let offset = target::offset_of(exe, symbol, 0);
    let maps = rtap_runtime::debuginfo::maps::ProcessMaps::read(pid).unwrap();
    let canonical = std::fs::canonicalize(exe).unwrap();
    let addr = rtap_runtime::process::probe_address(&maps, &canonical, offset).unwrap();
    let mut live = [0u8; 1];
    let mem = rtap_runtime::process::memory::ProcMem::open(pid).unwrap();
    mem.read_exact(addr, &mut live).unwrap();
    let file = std::fs::read(exe).unwrap();
    live[0] == file[offset as usize]
}

fn wait_for_file(path: &std::path::Path, want: &str) {
    for _ in 0..1000 {
        if std::fs::read_to_string(path).is_ok_and(|s| s == want) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} never became {want:?}", path.display());
}

/// Not a test: the engine in a separate process, for `ptrace_survives_sigint_and_sigterm`.
#[test]
#[ignore = "helper process for ptrace_survives_sigint_and_sigterm"]
fn helper_engine_until_signal() {
    let Ok(spec) = std::env::var("RTAP_TEST_HELPER") else {
        return;
    };
    let argv: Vec<String> = spec.split(',').map(String::from).collect();
    let exe = std::path::PathBuf::from(&argv[0]);
    rtap_runtime::process::ptrace::install_stop_signals();
    let probes = vec![entry(&exe, "tick", 0), ret(&exe, "tick")];
    let mut engine = PtraceEngine::spawn(&argv, probes, LifecycleEvents::default()).unwrap();
    println!("READY {}", engine.pid().unwrap());
    let mut hits = 0u64;
    let end = engine
        .run(&mut |_: &Hit<'_>| {
            hits += 1;
            Action::Continue
        })
        .unwrap();
    println!("END {end:?} {hits}");
}

#[test]
fn ptrace_survives_sigint_and_sigterm() {
    use std::io::BufRead;
    for (build, sig) in [(BUILDS[0], libc::SIGINT), (BUILDS[3], libc::SIGTERM)] {
        let exe = target::compile(&target::source("slow.c"), build, &[]);
        let out = target::tmp(&format!("slow-{sig}"));
        let _ = std::fs::remove_file(&out);
        let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "helper_engine_until_signal",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                "RTAP_TEST_HELPER",
                format!("{},{},200", exe.display(), out.display()),
            )
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(helper.stdout.take().unwrap()).lines();
        let pid: u32 = lines
            .by_ref()
            .map_while(Result::ok)
            // The harness prints "test NAME ... " before the helper's own output on that line.
            .find_map(|l| l.split("READY ").nth(1).map(|p| p.trim().parse().unwrap()))
            .expect("helper reports the target");
        // Let the target run into tick() (hijacked return address) a few times.
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert!(!text_is_restored(pid, &exe, "tick"), "breakpoint armed");
        // SAFETY: signals our own child process.
        unsafe { libc::kill(helper.id() as i32, sig) };
        let status = helper.wait().unwrap();
        assert!(status.success(), "helper failed: {status:?}");
        let end = lines
            .map_while(Result::ok)
            .find(|l| l.contains("END "))
            .unwrap();
        assert!(end.contains("END StopRequested"), "{end}");
        assert!(text_is_restored(pid, &exe, "tick"));
        // The target, detached mid-run (usually inside tick), finishes correctly.
        wait_for_file(&out, &format!("sum {}\n", (0..200).sum::<u64>()));
    }
}

#[test]
fn ptrace_attach_to_running_process_and_detach() {
    let build = BUILDS[1];
    let exe = target::compile(&target::source("slow.c"), build, &[]);
    let out = target::tmp("slow-attach");
    let mut child = std::process::Command::new(&exe)
        .arg(&out)
        .arg("150")
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let pid = child.id();
    let mut engine = PtraceEngine::attach(
        pid,
        vec![entry(&exe, "tick", 0), ret(&exe, "tick")],
        LifecycleEvents::default(),
    )
    .unwrap();
    let stop = engine.stop_handle();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        stop.stop();
    });
    let mut args = Vec::new();
    let mut rets = Vec::new();
    let end = engine
        .run(&mut |hit: &Hit<'_>| {
            match hit.kind {
                HitKind::Entry { .. } => args.push(hit.regs.arg(1).unwrap()),
                HitKind::Return { .. } => rets.push(hit.regs.return_value()),
                _ => {}
            }
            Action::Continue
        })
        .unwrap();
    stopper.join().unwrap();
    assert_eq!(end, RunEnd::StopRequested);
    assert!(args.len() > 5, "{args:?}");
    // Consecutive calls: tick(i), tick(i+1), ...; each return gives back its argument.
    assert!(args.windows(2).all(|w| w[1] == w[0] + 1), "{args:?}");
    assert_eq!(rets, args[..rets.len()]);
    assert!(text_is_restored(pid, &exe, "tick"));
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("sum {}\n", (0..150).sum::<u64>())
    );
}

#[test]
fn ptrace_syscall_events() {
    let exe = target::compile(&target::source("syscalls.c"), BUILDS[0], &[]);
    let events = LifecycleEvents {
        syscall: true,
        syscall_return: true,
        ..LifecycleEvents::default()
    };
    let mut engine = PtraceEngine::spawn(&[exe.display().to_string()], vec![], events).unwrap();
    let mut entries = 0;
    let mut values = Vec::new();
    let end = engine
        .run(&mut |hit: &Hit<'_>| {
            match hit.kind {
                HitKind::Syscall { nr, .. } if nr == libc::SYS_getppid as u64 => entries += 1,
                HitKind::SyscallReturn { nr, value } if nr == libc::SYS_getppid as u64 => {
                    values.push(value)
                }
                _ => {}
            }
            Action::Continue
        })
        .unwrap();
    assert_eq!(end, RunEnd::TargetExited(0));
    assert_eq!(entries, 5);
    // SAFETY: getpid has no preconditions.
    assert_eq!(values, [unsafe { libc::getpid() } as i64; 5]);
}
