//! Test targets: C programs compiled by the tests, and their symbols' file offsets (from the
//! debuginfo layer's ELF reader, which the engines do not use).

use std::path::{Path, PathBuf};
use std::process::Command;

use rtap_runtime::debuginfo::Module;
use rtap_runtime::debuginfo::symbols::SymbolKind;

#[derive(Clone, Copy, Debug)]
pub struct Build {
    pub opt: &'static str,
    pub pie: bool,
}

pub const BUILDS: [Build; 4] = [
    Build {
        opt: "-O0",
        pie: true,
    },
    Build {
        opt: "-O2",
        pie: true,
    },
    Build {
        opt: "-O0",
        pie: false,
    },
    Build {
        opt: "-O2",
        pie: false,
    },
];

pub fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/uprobe/targets")
        .join(name)
}

pub fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("uprobe");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Compiles `src` with `cc -g` and the build's options; returns the executable.
pub fn compile(src: &Path, build: Build, extra: &[&str]) -> PathBuf {
    let stem = src.file_stem().unwrap().to_str().unwrap();
    let exe = tmp(&format!(
        "{stem}{}{}",
        build.opt,
        if build.pie { "-pie" } else { "-nopie" }
    ));
    let mut cmd = Command::new("cc");
    cmd.args(["-g", build.opt]).args(if build.pie {
        ["-fPIE", "-pie"]
    } else {
        ["-fno-pie", "-no-pie"]
    });
    cmd.arg(src).arg("-o").arg(&exe).args(extra);
    let out = cmd.output().expect("cc runs");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// File offset of `symbol` (plus `delta` bytes), as the kernel's uprobe PMU takes it.
pub fn offset_of(exe: &Path, symbol: &str, delta: u64) -> u64 {
    let module = Module::load(exe).unwrap();
    let sym = module
        .symbols
        .by_name(symbol)
        .next()
        .unwrap_or_else(|| panic!("{symbol} not in {}", exe.display()));
    module.file_offset(sym.address + delta).unwrap()
}

/// Every function symbol whose name starts with `prefix`, with its file offset, by name.
pub fn functions(exe: &Path, prefix: &str) -> Vec<(String, u64)> {
    let module = Module::load(exe).unwrap();
    let mut out: Vec<(String, u64)> = module
        .symbols
        .iter()
        .filter(|s| s.kind == SymbolKind::Function && s.name.starts_with(prefix))
        .filter_map(|s| Some((s.name.clone(), module.file_offset(s.address)?)))
        .collect();
    out.sort();
    out
}

/// Runs `exe args` without any probe and returns what it wrote to its output file.
pub fn run_plain(exe: &Path, args: &[&str], out_name: &str) -> String {
    let out = tmp(out_name);
    let status = Command::new(exe).arg(&out).args(args).status().unwrap();
    assert!(status.success());
    std::fs::read_to_string(out).unwrap()
}
