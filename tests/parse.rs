//! Front-end fixtures: `tests/parse/*.stp`, each run through the real `rtap` binary.
//!
//! A fixture starts with a header:
//! ```text
//! #! stap -p2 -g            options for both rtap and stap (-p1 or -p2, plus any others)
//! # args: a "b c"           optional: command-line arguments for $1/@1 (whitespace-separated)
//! # oracle: pass            stap 4.8's verdict on this file with these options (pass/fail)
//! # differs: REASON         optional: rtap's verdict deliberately differs from stap's
//! ```
//! The test compares rtap's stdout, stderr and exit status with `NAME.out`, and rtap's verdict
//! (exit status 0 or not) with the recorded oracle verdict — no SystemTap needed.
//!
//! `RTAP_BLESS=1 cargo test -p rtap --test parse` regenerates every `NAME.out` and re-runs the
//! oracle (`RTAP_BLESS=output` only regenerates the outputs) (`$STAP_ORACLE`, default `/work/shared/tools/stap-oracle`, else `stap-oracle` on the
//! PATH) to rewrite each `# oracle:` line. Both rtap and stap see `tests/parse/tapset/` as a
//! tapset directory (rtap as its bundled library, stap through `-I`), so the fixtures do not
//! depend on rtap's real tapset library.

use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/parse");

struct Fixture {
    path: PathBuf,
    /// Relative to the repository root (how the file is named in messages).
    name: String,
    options: Vec<String>,
    args: Vec<String>,
    oracle: Option<bool>,
    differs: Option<String>,
}

fn load(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file_name = path.file_name().unwrap().to_string_lossy();
    let mut fixture = Fixture {
        path: path.to_path_buf(),
        name: format!("tests/parse/{file_name}"),
        options: Vec::new(),
        args: Vec::new(),
        oracle: None,
        differs: None,
    };
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let Some(options) = first.strip_prefix("#! stap ") else {
        panic!(
            "{}: the first line must be `#! stap OPTIONS`",
            path.display()
        );
    };
    fixture.options = options.split_whitespace().map(str::to_string).collect();
    for line in lines.take_while(|l| l.starts_with("# ")) {
        if let Some(args) = line.strip_prefix("# args:") {
            fixture.args = args.split_whitespace().map(str::to_string).collect();
        } else if let Some(verdict) = line.strip_prefix("# oracle:") {
            fixture.oracle = Some(verdict.trim() == "pass");
        } else if let Some(reason) = line.strip_prefix("# differs:") {
            fixture.differs = Some(reason.trim().to_string());
        }
    }
    fixture
}

struct Outcome {
    listing: String,
    passed: bool,
}

fn run_rtap(fixture: &Fixture) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_rtap"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RTAP_TAPSET_DIR", format!("{FIXTURES}/tapset"))
        .args(&fixture.options)
        .arg(&fixture.name)
        .args(&fixture.args)
        .output()
        .expect("run rtap");
    let mut listing = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.is_empty() {
        listing.push_str("## stderr\n");
        listing.push_str(&stderr);
    }
    let status = output
        .status
        .code()
        .map_or("signal".to_string(), |c| c.to_string());
    listing.push_str(&format!("## exit {status}\n"));
    Outcome {
        listing,
        passed: output.status.success(),
    }
}

fn oracle_command() -> PathBuf {
    if let Some(path) = std::env::var_os("STAP_ORACLE") {
        return PathBuf::from(path);
    }
    let shared = PathBuf::from("/work/shared/tools/stap-oracle");
    if shared.exists() {
        shared
    } else {
        PathBuf::from("stap-oracle")
    }
}

/// Runs the real stap on the fixture; `true` if it accepts it.
fn run_oracle(fixture: &Fixture) -> bool {
    let mode = if fixture.options.iter().any(|o| o.contains("p1")) {
        "parse"
    } else {
        "elab"
    };
    let options: Vec<&String> = fixture
        .options
        .iter()
        .filter(|o| !matches!(o.as_str(), "-p1" | "-p2"))
        .collect();
    let status = Command::new(oracle_command())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg(mode)
        .arg("-I")
        .arg(format!("{FIXTURES}/tapset"))
        .args(options)
        .arg(&fixture.name)
        .args(&fixture.args)
        .output()
        .unwrap_or_else(|e| panic!("running the oracle {}: {e}", oracle_command().display()));
    status.status.success()
}

fn rewrite_oracle_line(path: &Path, verdict: bool) {
    let text = std::fs::read_to_string(path).unwrap();
    let line = format!("# oracle: {}", if verdict { "pass" } else { "fail" });
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match lines.iter().position(|l| l.starts_with("# oracle:")) {
        Some(i) => lines[i] = line,
        None => lines.insert(1, line),
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn fixtures() {
    let bless_mode = std::env::var("RTAP_BLESS").ok();
    let bless = bless_mode.is_some();
    let bless_oracle = bless && bless_mode.as_deref() != Some("output");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("tests/parse")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "stp"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    let mut failures = Vec::new();
    for path in &paths {
        if bless_oracle {
            let verdict = run_oracle(&load(path));
            rewrite_oracle_line(path, verdict);
        }
        let fixture = load(path);
        let outcome = run_rtap(&fixture);
        if outcome.listing.contains("panicked at") {
            failures.push(format!(
                "{}: rtap panicked:\n{}",
                fixture.name, outcome.listing
            ));
        }
        let expected_path = fixture.path.with_extension("out");
        if bless {
            std::fs::write(&expected_path, &outcome.listing).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != outcome.listing {
            failures.push(format!(
                "{}: output differs from {}\n--- expected\n{expected}--- actual\n{}",
                fixture.name,
                expected_path.display(),
                outcome.listing
            ));
        }
        match (fixture.oracle, &fixture.differs) {
            (None, _) => failures.push(format!(
                "{}: no `# oracle:` verdict (run with RTAP_BLESS=1)",
                fixture.name
            )),
            (Some(oracle), None) if oracle != outcome.passed => failures.push(format!(
                "{}: stap {} this script but rtap {} it",
                fixture.name,
                if oracle { "accepts" } else { "rejects" },
                if outcome.passed { "accepts" } else { "rejects" }
            )),
            (Some(oracle), Some(reason)) if oracle == outcome.passed => failures.push(format!(
                "{}: marked `# differs: {reason}` but rtap and stap agree; remove the line",
                fixture.name
            )),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}
