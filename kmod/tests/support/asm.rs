//! Assembles A64 source with the cross toolchain tools/setup installs (`aarch64-linux-gnu-as`),
//! so tests take their instruction words from GNU as rather than from the code under test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// `-march` for every assembly: the newest base binutils 2.40 knows, plus the extensions
/// whose instructions the tests use.
const MARCH: &str = "-march=armv8.8-a+pauth+lse+mops+hbc";

/// Assembles `source` (one instruction or directive per line) and returns the `.text` words.
pub fn assemble(source: &str) -> Vec<u32> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rtap-kmod-asm-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temporary directory");
    let path = |name: &str| -> PathBuf { dir.join(name) };
    std::fs::write(path("in.s"), format!(".text\n{source}\n")).expect("write assembly");
    run(Command::new("aarch64-linux-gnu-as")
        .arg(MARCH)
        .arg(path("in.s"))
        .arg("-o")
        .arg(path("in.o")));
    run(Command::new("aarch64-linux-gnu-objcopy")
        .args(["-O", "binary", "-j", ".text"])
        .arg(path("in.o"))
        .arg(path("in.bin")));
    let bytes = std::fs::read(path("in.bin")).expect("read assembled text");
    let _ = std::fs::remove_dir_all(&dir);
    bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{command:?}: {err} (run tools/setup)"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
