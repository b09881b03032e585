//! Assembles A64 source with the cross toolchain tools/setup installs (`aarch64-linux-gnu-as`),
//! so tests take their instruction words from GNU as rather than from the code under test.

#![allow(dead_code)] // each test uses part of the support

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

/// Assembles and links `source` (which defines `_start`) into a static AArch64 Linux
/// executable without the C library; returns the ELF image.
pub fn link_static(source: &str) -> Vec<u8> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rtap-kmod-elf-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temporary directory");
    let (src, exe) = (dir.join("prog.s"), dir.join("prog"));
    std::fs::write(&src, source).expect("write assembly");
    run(Command::new("aarch64-linux-gnu-gcc")
        .args(["-nostdlib", "-static", "-Wl,--build-id=none", MARCH])
        .arg(&src)
        .arg("-o")
        .arg(&exe));
    let elf = std::fs::read(&exe).expect("read the executable");
    let _ = std::fs::remove_dir_all(&dir);
    elf
}
