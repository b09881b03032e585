//! Sessions driven with handlers written as Rust `extern "C"` functions that call the helper
//! table the way generated code does. Expected behaviour from §1.13, §8.2–8.3 of the reference.

use super::*;
use crate::helpers::helpers;
use crate::map::KeyType;
use crate::program::{Limits, MapSpec, ProbeSpec, TimerSpec, TimerUnit};
use crate::strings::StrBox;
use rtap_abi::Context;
use rtap_abi::codes::{ERROR_DIVISION_BY_ZERO, LOC_NONE};
use rtap_abi::format::Format;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Prints `text` and a newline through `rt_printf` with format 0 (`%s\n`).
fn say(ctx: *mut Context, text: &str) {
    let s = StrBox::with(text.as_bytes(), 511);
    let args = [s.as_ptr() as u64];
    // SAFETY: format 0 takes one string slot.
    unsafe { (helpers().rt_printf)(ctx, 0, args.as_ptr(), LOC_NONE) };
}

/// Adds `delta` to counter array 0 at key 0 and returns the new value.
fn bump(ctx: *mut Context, delta: i64) -> i64 {
    let keys = [0u64];
    // SAFETY: map 0 is a long array with one long key.
    unsafe { (helpers().rt_map_add_long)(ctx, 0, keys.as_ptr(), delta, LOC_NONE) }
}

fn exit(ctx: *mut Context) {
    // SAFETY: a live context.
    unsafe { (helpers().rt_exit)(ctx) }
}

macro_rules! saying {
    ($name:ident, $text:expr) => {
        unsafe extern "C" fn $name(ctx: *mut Context) {
            say(ctx, $text);
        }
    };
    ($name:ident, $text:expr, exit) => {
        unsafe extern "C" fn $name(ctx: *mut Context) {
            say(ctx, $text);
            exit(ctx);
        }
    };
}

fn probe(point: ProbePoint, handler: rtap_abi::context::HandlerFn) -> ProbeSpec {
    ProbeSpec {
        point,
        pp: "begin".into(),
        pn: "begin".into(),
        handler,
    }
}

fn program(probes: Vec<ProbeSpec>) -> ProgramSpec {
    ProgramSpec {
        limits: Limits::default(),
        globals_size: 0,
        scalars: vec![],
        maps: vec![MapSpec {
            name: "counter".into(),
            keys: vec![KeyType::Long],
            value: crate::map::ValueType::Long,
            size: None,
            wrap: false,
            display: false,
        }],
        formats: vec![Format::parse(b"%s\n").unwrap()],
        locations: vec!["operator '/' at t.stp:1:22".into()],
        probes,
    }
}

fn run(program: ProgramSpec, options: SessionOptions) -> (Outcome, String, String) {
    let (out, err) = (Capture::default(), Capture::default());
    let sinks = Sinks {
        out: Box::new(out.clone()),
        err: Box::new(err.clone()),
    };
    let options = SessionOptions {
        no_signal_handlers: true,
        ..options
    };
    let outcome = Session::new(program, sinks, options)
        .unwrap()
        .run()
        .unwrap();
    (outcome, out.text(), err.text())
}

saying!(b5, "begin(5)", exit);
saying!(b0a, "begin a");
saying!(b0b, "begin b");
saying!(bm1, "begin(-1)");
saying!(e0, "end");
saying!(em3, "end(-3)");
saying!(nv, "never");
saying!(er, "error probe");

#[test]
fn begin_and_end_run_by_sequence_then_program_order() {
    let p = program(vec![
        probe(ProbePoint::Begin(5), b5),
        probe(ProbePoint::Begin(0), b0a),
        probe(ProbePoint::Begin(-1), bm1),
        probe(ProbePoint::Never, nv),
        probe(ProbePoint::End(0), e0),
        probe(ProbePoint::Begin(0), b0b),
        probe(ProbePoint::End(-3), em3),
        probe(ProbePoint::Error(0), er),
    ]);
    let (outcome, out, err) = run(p, SessionOptions::default());
    assert_eq!(out, "begin(-1)\nbegin a\nbegin b\nbegin(5)\nend(-3)\nend\n");
    assert_eq!(
        (outcome, err.as_str()),
        (
            Outcome {
                exit_code: 0,
                errors: 0
            },
            ""
        )
    );
}

saying!(first_exits, "first", exit);
saying!(second, "second");

#[test]
fn exit_skips_the_remaining_begin_probes_and_runs_end_probes() {
    let p = program(vec![
        probe(ProbePoint::Begin(0), first_exits),
        probe(ProbePoint::Begin(1), second),
        probe(ProbePoint::End(0), e0),
    ]);
    let (_, out, _) = run(p, SessionOptions::default());
    assert_eq!(out, "first\nend\n");
}

unsafe extern "C" fn divide_by_zero(ctx: *mut Context) {
    say(ctx, "before");
    // SAFETY: a live context; location 0 exists.
    unsafe { (helpers().rt_raise)(ctx, ERROR_DIVISION_BY_ZERO, 0) };
}

#[test]
fn an_uncaught_error_beyond_maxerrors_runs_error_probes_instead_of_end() {
    let p = program(vec![
        probe(ProbePoint::Begin(0), divide_by_zero),
        probe(ProbePoint::Begin(1), second),
        probe(ProbePoint::End(0), e0),
        probe(ProbePoint::Error(0), er),
    ]);
    let (outcome, out, err) = run(p, SessionOptions::default());
    // Output of the failing handler is still flushed; then only the error probe runs.
    assert_eq!(out, "before\nerror probe\n");
    assert_eq!(
        err,
        "ERROR: division by 0 near operator '/' at t.stp:1:22\nWARNING: Number of errors: 1, skipped probes: 0\n"
    );
    assert_eq!(
        outcome,
        Outcome {
            exit_code: 1,
            errors: 1
        }
    );
}

#[test]
fn maxerrors_lets_the_session_continue() {
    let mut p = program(vec![
        probe(ProbePoint::Begin(0), divide_by_zero),
        probe(ProbePoint::Begin(1), b5),
        probe(ProbePoint::End(0), e0),
        probe(ProbePoint::Error(0), er),
    ]);
    p.limits.max_errors = 1;
    let (outcome, out, _) = run(p, SessionOptions::default());
    assert_eq!(out, "before\nbegin(5)\nend\n");
    // stap's exit status is 1 once any ERROR line was printed.
    assert_eq!(
        outcome,
        Outcome {
            exit_code: 1,
            errors: 1
        }
    );
}

unsafe extern "C" fn catches(ctx: *mut Context) {
    let h = helpers();
    let msg = StrBox::with(b"custom failure", 511);
    let mut caught = StrBox::new(511);
    // SAFETY: live context and valid buffers, as generated code passes them.
    unsafe {
        (h.rt_error)(ctx, msg.as_ptr());
        assert_eq!((*ctx).unwind, rtap_abi::context::UNWIND_ERROR);
        assert_eq!((h.rt_catch)(ctx, caught.as_mut_ptr()), 1);
        assert_eq!((*ctx).unwind, 0);
    }
    say(
        ctx,
        &format!("caught: {}", String::from_utf8_lossy(caught.bytes())),
    );
    // SAFETY: as above.
    unsafe {
        (h.rt_abort)(ctx);
        assert_eq!(
            (h.rt_catch)(ctx, caught.as_mut_ptr()),
            0,
            "abort() is not catchable"
        );
    }
}

#[test]
fn try_catch_gets_the_message_and_abort_is_not_an_error() {
    let p = program(vec![
        probe(ProbePoint::Begin(0), catches),
        probe(ProbePoint::Begin(1), second),
        probe(ProbePoint::End(0), e0),
    ]);
    let (outcome, out, err) = run(p, SessionOptions::default());
    assert_eq!(out, "caught: custom failure\nend\n");
    assert_eq!((outcome.exit_code, err.as_str()), (0, ""));
}

unsafe extern "C" fn error_without_location(ctx: *mut Context) {
    let msg = StrBox::with(b"bad thing", 511);
    // SAFETY: live context and a valid buffer.
    unsafe { (helpers().rt_error)(ctx, msg.as_ptr()) };
}

#[test]
fn error_prints_without_location_and_suppress_handler_errors_hides_it() {
    let p = program(vec![
        probe(ProbePoint::Begin(0), error_without_location),
        probe(ProbePoint::Begin(1), first_exits),
        probe(ProbePoint::End(0), e0),
    ]);
    let (_, out, err) = run(p.clone(), SessionOptions::default());
    assert_eq!(out, "");
    assert!(err.starts_with("ERROR: bad thing\n"), "{err}");
    let mut quiet = p;
    quiet.limits.suppress_handler_errors = true;
    quiet.limits.max_errors = 0;
    let (outcome, out, err) = run(quiet, SessionOptions::default());
    // Counted, not printed, never stops the session.
    assert_eq!(out, "first\nend\n");
    assert_eq!(err, "WARNING: Number of errors: 1, skipped probes: 0\n");
    assert_eq!(
        outcome,
        Outcome {
            exit_code: 0,
            errors: 1
        }
    );
}

unsafe extern "C" fn tick(ctx: *mut Context) {
    if bump(ctx, 1) == 3 {
        exit(ctx);
    }
}

unsafe extern "C" fn report_ticks(ctx: *mut Context) {
    let n = bump(ctx, 0);
    say(ctx, &format!("ticks={n}"));
}

#[test]
fn timers_fire_periodically_until_exit() {
    let t = TimerSpec::new(TimerUnit::Millis, 10, 0).unwrap();
    let p = program(vec![
        probe(ProbePoint::Timer(t), tick),
        probe(ProbePoint::End(0), report_ticks),
    ]);
    let start = Instant::now();
    let (_, out, _) = run(p, SessionOptions::default());
    assert_eq!(out, "ticks=3\n");
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[test]
fn time_limit_ends_the_session_with_end_probes() {
    let p = program(vec![probe(ProbePoint::End(0), e0)]);
    let start = Instant::now();
    let (outcome, out, _) = run(
        p,
        SessionOptions {
            time_limit: Some(Duration::from_millis(50)),
            ..Default::default()
        },
    );
    assert_eq!((outcome.exit_code, out.as_str()), (0, "end\n"));
    assert!(start.elapsed() >= Duration::from_millis(50));
}

unsafe extern "C" fn show_target(ctx: *mut Context) {
    // SAFETY: a live context.
    let pid = unsafe { (helpers().rt_target)(ctx) };
    say(ctx, if pid > 0 { "target set" } else { "no target" });
}

#[test]
fn command_runs_after_begin_and_its_exit_ends_the_session() {
    let p = program(vec![
        probe(ProbePoint::Begin(0), show_target),
        probe(ProbePoint::End(0), show_target),
    ]);
    let (outcome, out, err) = run(
        p.clone(),
        SessionOptions {
            target: Target::Command("true".into()),
            ..Default::default()
        },
    );
    // target() is 0 in begin probes: the command starts once they have run.
    assert_eq!(out, "no target\ntarget set\n");
    assert_eq!((outcome.exit_code, err.as_str()), (0, ""));
    let (outcome, _, err) = run(
        p.clone(),
        SessionOptions {
            target: Target::Command("sh -c 'exit 3'".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        (outcome.exit_code, err.as_str()),
        (1, "WARNING: Child process exited with status 3\n")
    );
    let (outcome, _, err) = run(
        p,
        SessionOptions {
            target: Target::Command("kill -9 $$".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        (outcome.exit_code, err.as_str()),
        (1, "WARNING: Child process exited with signal 9 (Killed)\n")
    );
}

#[test]
fn providers_deliver_events_to_the_dispatcher() {
    let p = program(vec![
        probe(
            ProbePoint::External("process.function(\"main\")".into()),
            tick,
        ),
        probe(ProbePoint::End(0), report_ticks),
    ]);
    let (out, err) = (Capture::default(), Capture::default());
    let sinks = Sinks {
        out: Box::new(out.clone()),
        err: Box::new(err),
    };
    let options = SessionOptions {
        no_signal_handlers: true,
        ..Default::default()
    };
    let mut session = Session::new(p, sinks, options).unwrap();
    let sink = session.events();
    let provider = std::thread::spawn(move || {
        for _ in 0..3 {
            let (done, wait) = std::sync::mpsc::sync_channel(1);
            assert!(sink.send(Event::Probe {
                probe: 0,
                memory: None,
                done: Some(done)
            }));
            wait.recv().unwrap();
        }
    });
    session.run().unwrap();
    provider.join().unwrap();
    assert_eq!(out.text(), "ticks=3\n");
}

/// The child half of `sigint_runs_end_probes`: a session with a 5 ms timer, ended by SIGINT.
#[test]
fn sigint_child() {
    if std::env::var_os("RTAP_SIGNAL_CHILD").is_none() {
        return;
    }
    unsafe extern "C" fn ready(ctx: *mut Context) {
        if bump(ctx, 1) == 1 {
            say(ctx, "ready");
        }
    }
    let t = TimerSpec::new(TimerUnit::Millis, 5, 0).unwrap();
    let p = program(vec![
        probe(ProbePoint::Timer(t), ready),
        probe(ProbePoint::End(0), e0),
    ]);
    let sinks = Sinks {
        out: Box::new(std::io::stdout()),
        err: Box::new(std::io::stderr()),
    };
    let outcome = Session::new(p, sinks, SessionOptions::default())
        .unwrap()
        .run()
        .unwrap();
    println!("exit={}", outcome.exit_code);
}

#[test]
fn sigint_runs_end_probes() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "session::tests::sigint_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RTAP_SIGNAL_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("ready") {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            seen.push("ready".to_string());
            break;
        }
    }
    seen.extend(
        lines
            .map_while(Result::ok)
            .filter(|l| l == "end" || l.starts_with("exit=")),
    );
    assert!(child.wait().unwrap().success());
    assert_eq!(seen, ["ready", "end", "exit=0"]);
}
