// Shared by several test binaries; each uses a part of it.
#![allow(dead_code)]

//! Builds the C test programs once per test run and runs the independent tools (nm, readelf,
//! objdump, gdb, addr2line) whose output the tests compare against.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory with the compiled programs (sources are copied next to them so DWARF names
/// them as `DIR/x.c`).
pub fn build_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // One directory per test binary: test binaries may run at the same time.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("programs-{}", env!("CARGO_CRATE_NAME")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/debuginfo/programs");
        for f in ["vars.c", "sdt.c", "sdt_sem.c", "lib.c", "uselib.c"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        std::fs::write(dir.join("many.c"), many_functions_source(MANY_FUNCTIONS)).unwrap();
        let cc = |args: &[&str]| run_in(&dir, "cc", args);
        cc(&["-g", "-O0", "-o", "vars_O0", "vars.c"]);
        cc(&["-g", "-O2", "-o", "vars_O2", "vars.c"]);
        cc(&["-g", "-O0", "-no-pie", "-o", "vars_O0_nopie", "vars.c"]);
        cc(&["-g", "-O2", "-no-pie", "-o", "vars_O2_nopie", "vars.c"]);
        cc(&["-g", "-O2", "-o", "sdt", "sdt.c", "sdt_sem.c"]);
        cc(&[
            "-g",
            "-O2",
            "-no-pie",
            "-o",
            "sdt_nopie",
            "sdt.c",
            "sdt_sem.c",
        ]);
        cc(&["-g", "-O2", "-fPIC", "-shared", "-o", "libdbgt.so", "lib.c"]);
        cc(&[
            "-g",
            "-O0",
            "-o",
            "uselib",
            "uselib.c",
            "-L.",
            "-ldbgt",
            "-Wl,-rpath,$ORIGIN",
        ]);
        cc(&["-g", "-O0", "-o", "many", "many.c"]);
        // A stripped copy whose DWARF is found through .gnu_debuglink.
        run_in(
            &dir,
            "objcopy",
            &["--only-keep-debug", "vars_O0", "vars_O0_linked.debug"],
        );
        run_in(
            &dir,
            "objcopy",
            &[
                "--strip-debug",
                "--add-gnu-debuglink=vars_O0_linked.debug",
                "vars_O0",
                "vars_O0_linked",
            ],
        );
        // A stripped copy whose DWARF is found by build-id below a debug root.
        let id = build_id(&dir.join("vars_O2"));
        let id_dir = dir.join("debugroot/.build-id").join(&id[..2]);
        std::fs::create_dir_all(&id_dir).unwrap();
        run_in(
            &dir,
            "objcopy",
            &[
                "--only-keep-debug",
                "vars_O2",
                id_dir.join(format!("{}.debug", &id[2..])).to_str().unwrap(),
            ],
        );
        run_in(
            &dir,
            "objcopy",
            &["--strip-all", "vars_O2", "vars_O2_stripped"],
        );
        dir
    })
}

pub const MANY_FUNCTIONS: usize = 600;

/// A program with `n` small functions calling each other in a chain.
pub fn many_functions_source(n: usize) -> String {
    let mut s = String::from("#include <stdio.h>\n");
    for i in (0..n).rev() {
        let next = if i + 1 < n {
            format!("f{}(x + {i})", i + 1)
        } else {
            "x".to_owned()
        };
        s.push_str(&format!(
            "int f{i}(int x) {{\n  int y = x * 2;\n  return y > 1000000 ? y : {next};\n}}\n"
        ));
    }
    s.push_str("int main(void) { printf(\"%d\\n\", f0(1)); return 0; }\n");
    s
}

pub fn path(name: &str) -> PathBuf {
    build_dir().join(name)
}

fn run_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (tools/setup installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a tool on the build directory and returns its stdout.
pub fn tool(program: &str, args: &[&str]) -> String {
    run_in(build_dir(), program, args)
}

pub fn build_id(file: &Path) -> String {
    let notes = run_in(Path::new("/"), "readelf", &["-n", file.to_str().unwrap()]);
    notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .expect("cc links with a build-id")
        .trim()
        .to_owned()
}

/// `nm` function symbols of a file: name → address.
pub fn nm_functions(file: &str, dynamic: bool) -> Vec<(String, u64)> {
    let args: Vec<&str> = if dynamic {
        vec!["-D", "--defined-only", file]
    } else {
        vec!["--defined-only", file]
    };
    tool("nm", &args)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (addr, kind, name) = (it.next()?, it.next()?, it.next()?);
            matches!(kind, "T" | "t" | "W")
                .then(|| (name.to_owned(), u64::from_str_radix(addr, 16).ok().unwrap()))
        })
        .collect()
}

/// The address `gdb` puts a breakpoint on for `break FUNCTION`.
pub fn gdb_breakpoint(file: &str, function: &str) -> u64 {
    let out = tool(
        "gdb",
        &["-batch", "-nx", "-ex", &format!("break {function}"), file],
    );
    let at = out
        .lines()
        .find_map(|l| l.strip_prefix("Breakpoint 1 at 0x"))
        .expect("gdb set a breakpoint");
    u64::from_str_radix(at.split(':').next().unwrap().trim(), 16).unwrap()
}

/// gdb options that make the inferior see the same argv, environment and (unrandomized)
/// address space as the tests' own tracer: no shell in between, no LINES/COLUMNS.
pub const GDB_SAME_ENVIRONMENT: [&str; 8] = [
    "-batch",
    "-nx",
    "-ex",
    "set startup-with-shell off",
    "-ex",
    "unset environment LINES",
    "-ex",
    "unset environment COLUMNS",
];

/// Runs `program` under gdb to `break_spec` (e.g. `walk` or `*0x401136`), evaluates each
/// gdb printf format/expression pair there and returns the printed values.
pub fn gdb_values(program: &str, break_spec: &str, prints: &[(&str, &str)]) -> Vec<String> {
    let mut args: Vec<String> = GDB_SAME_ENVIRONMENT.iter().map(|s| s.to_string()).collect();
    args.extend([
        "-ex".into(),
        format!("break {break_spec}"),
        "-ex".into(),
        "run".into(),
    ]);
    for (fmt, expr) in prints {
        args.push("-ex".into());
        args.push(format!("printf \"@@{fmt}\\n\", {expr}"));
    }
    args.push(build_dir().join(program).to_string_lossy().into_owned());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = tool("gdb", &argv);
    let values: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("@@"))
        .map(str::to_owned)
        .collect();
    assert_eq!(values.len(), prints.len(), "gdb output:\n{out}");
    values
}

/// Replaces the build directory in `text` by `$DIR` so golden files do not depend on it.
pub fn portable(text: &str) -> String {
    text.replace(build_dir().to_str().unwrap(), "$DIR")
}

/// Compares `actual` with the golden file `name` (under tests/debuginfo/golden). Golden files
/// come from the real SystemTap, never from rtap: with `RTAP_BLESS=1` and `stap` installed
/// (`/work/shared/tools/stap-oracle setup`), `stap -l STAP_POINT` regenerates them.
pub fn check_golden(name: &str, actual: &str, stap_point: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/debuginfo/golden")
        .join(name);
    if std::env::var_os("RTAP_BLESS").is_some() {
        let flag = if name.ends_with(".L") { "-L" } else { "-l" };
        let out = Command::new("stap")
            .args([flag, stap_point])
            .output()
            .expect("RTAP_BLESS needs stap");
        std::fs::write(&file, portable(&String::from_utf8_lossy(&out.stdout))).unwrap();
    }
    let expected =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    if expected != actual {
        panic!(
            "{name} differs from stap's output\n--- expected ({})\n{expected}\n--- actual\n{actual}",
            file.display()
        );
    }
}
