//! The qemu cross-check: every program of `tests/corpus/` is compiled with
//! `aarch64-linux-gnu-gcc` at -O0 and -O2, run under `qemu-aarch64` and on the simulator,
//! and must produce the same stdout — which ends with every register and a hash of all
//! writable memory (see `tests/corpus/rt/start.S`) — and the same exit code.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use rtap_armsim::aarch64::linux::LinuxUser;
use rtap_armsim::{A64Machine, MachineConfig, RunExit};

const MAX_STEPS: u64 = 50_000_000;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Extra compiler flags a program asks for on its first line (`/* cflags: ... */`).
fn extra_cflags(source: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(source).unwrap_or_default();
    let first = text.lines().next().unwrap_or("");
    match first
        .trim()
        .strip_prefix("/* cflags:")
        .and_then(|rest| rest.strip_suffix("*/"))
    {
        Some(flags) => flags.split_whitespace().map(str::to_owned).collect(),
        None => Vec::new(),
    }
}

fn build(source: &Path, opt: &str, out: &Path) -> Result<(), String> {
    let rt = corpus_dir().join("rt");
    let output = Command::new("aarch64-linux-gnu-gcc")
        .args([
            "-static",
            "-nostdlib",
            "-ffreestanding",
            "-no-pie",
            "-fno-stack-protector",
        ])
        // armv8-a without LSE and without outlined atomics: exclusives inline; no
        // auto-vectorisation (the model implements only the SIMD&FP moves and loads/stores).
        .args([
            "-march=armv8-a",
            "-mno-outline-atomics",
            "-fno-tree-vectorize",
            opt,
        ])
        .args(extra_cflags(source))
        .arg("-I")
        .arg(&rt)
        .arg("-o")
        .arg(out)
        .arg(rt.join("start.S"))
        .arg(rt.join("rt.c"))
        .arg(source)
        .arg("-lgcc")
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Runs `binary` on the simulator: (stdout, exit code or a description of how it died).
fn simulate(binary: &Path) -> (String, Result<i32, String>) {
    let elf = std::fs::read(binary).unwrap();
    let mut m = A64Machine::new(MachineConfig::default()).unwrap();
    let (mut process, _) = LinuxUser::spawn(&mut m, 0, &elf).unwrap();
    let exit = m.run(&mut process, MAX_STEPS);
    let stdout = String::from_utf8_lossy(&process.stdout).into_owned();
    let status = match (exit, process.exit_code, process.fatal) {
        (_, _, Some(fatal)) => Err(format!("killed: {fatal:?} at pc {:#x}", m.core(0).regs.pc)),
        (RunExit::Stopped | RunExit::Idle, Some(code), None) => Ok(code & 0xff),
        (exit, code, _) => Err(format!("run ended with {exit:?}, exit code {code:?}")),
    };
    (stdout, status)
}

fn check(source: &Path, opt: &str, scratch: &Path) -> Result<(), String> {
    let name = format!("{}{opt}", source.file_stem().unwrap().to_string_lossy());
    let binary = scratch.join(&name);
    build(source, opt, &binary).map_err(|e| format!("{name}: build failed:\n{e}"))?;
    let qemu = Command::new("qemu-aarch64")
        .arg(&binary)
        .output()
        .map_err(|e| e.to_string())?;
    let want_stdout = String::from_utf8_lossy(&qemu.stdout).into_owned();
    let want_status = qemu
        .status
        .code()
        .ok_or_else(|| format!("{name}: qemu was killed"))?;
    let (got_stdout, got_status) = simulate(&binary);
    if got_stdout != want_stdout || got_status != Ok(want_status) {
        let first_diff = want_stdout
            .lines()
            .zip(got_stdout.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("first difference: qemu `{a}`, sim `{b}`"))
            .unwrap_or_else(|| "one output is a prefix of the other".into());
        return Err(format!(
            "{name}: qemu exit {want_status}, sim {got_status:?}; {first_diff}\n--- qemu\n{want_stdout}--- sim\n{got_stdout}"
        ));
    }
    Ok(())
}

#[test]
fn simulator_matches_qemu_on_the_corpus() {
    for tool in ["aarch64-linux-gnu-gcc", "qemu-aarch64"] {
        if !have(tool) {
            eprintln!("!!! SKIPPED the qemu cross-check: {tool} not found; run tools/setup !!!");
            return;
        }
    }
    let mut sources: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("c" | "S")))
        .collect();
    sources.sort();
    assert!(
        sources.len() >= 20,
        "the corpus has {} programs",
        sources.len()
    );
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("armsim-corpus");
    std::fs::create_dir_all(&scratch).unwrap();
    let jobs: Vec<(PathBuf, &str)> = sources
        .iter()
        .flat_map(|s| ["-O0", "-O2"].map(|opt| (s.clone(), opt)))
        .collect();
    let next = Mutex::new(0usize);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let job = {
                        let mut i = next.lock().unwrap();
                        *i += 1;
                        jobs.get(*i - 1).cloned()
                    };
                    let Some((source, opt)) = job else { break };
                    if let Err(e) = check(&source, opt, &scratch) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} runs differ:\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n")
    );
}

#[test]
fn threads_interleave_on_every_core() {
    if !have("aarch64-linux-gnu-gcc") {
        eprintln!("!!! SKIPPED: aarch64-linux-gnu-gcc not found; run tools/setup !!!");
        return;
    }
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("armsim-threads");
    std::fs::create_dir_all(&scratch).unwrap();
    let binary = scratch.join("threads");
    build(&corpus_dir().join("threads.c"), "-O2", &binary).unwrap();
    let elf = std::fs::read(&binary).unwrap();
    let mut m = A64Machine::new(MachineConfig {
        max_quantum: 5,
        ..MachineConfig::default()
    })
    .unwrap();
    let (mut process, _) = LinuxUser::spawn(&mut m, 0, &elf).unwrap();
    m.run(&mut process, MAX_STEPS);
    assert_eq!(
        process.exit_code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&process.stdout)
    );
    assert!(
        (1..4).all(|core| m.steps(core) > 10_000),
        "every thread ran on its own core"
    );
}
