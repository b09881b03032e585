//! User backtraces (CFI and frame pointers) and symbolization of real stopped processes,
//! compared with gdb's `bt` and `info symbol`, nm and addr2line.

#[path = "debuginfo/support.rs"]
mod support;
#[path = "debuginfo/tracer.rs"]
mod tracer;

use rtap_runtime::debuginfo::maps::{ProcessMaps, ProcessModules};
use rtap_runtime::debuginfo::symbolize::{self, flags};
use rtap_runtime::debuginfo::unwind::{self, ModuleLookup};
use rtap_runtime::debuginfo::{FunctionFlavor, Module, ModuleCache, ProcessPoint, resolve};
use support::path;
use tracer::Stopped;

fn entry_site(m: &Module, bin: &str, func: &str) -> u64 {
    let point = ProcessPoint::Function {
        spec: func.into(),
        flavor: FunctionFlavor::Call,
        is_return: false,
    };
    resolve(m, bin, &point).unwrap().sites[0].address
}

/// gdb's backtrace at `break_spec` (after `skip` further hits): (pc, function) of frames
/// 1.. (frame 0 is the stop itself).
fn gdb_backtrace(bin: &str, break_spec: &str, skip: usize) -> Vec<(u64, String)> {
    let brk = format!("break {break_spec}");
    let mut args = support::GDB_SAME_ENVIRONMENT.to_vec();
    args.extend(["-ex", &brk, "-ex", "run"]);
    let ignore = format!("ignore 1 {skip}");
    if skip > 0 {
        // Re-run with the breakpoint ignored `skip` times.
        args = support::GDB_SAME_ENVIRONMENT.to_vec();
        args.extend(["-ex", &brk, "-ex", &ignore, "-ex", "run"]);
    }
    let full = path(bin).to_string_lossy().into_owned();
    args.extend(["-ex", "set backtrace past-main on", "-ex", "bt", &full]);
    let out = support::tool("gdb", &args);
    // "#1  0x0000555555555215 in fact (n=4) at vars.c:42"
    out.lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.split_once("  0x")?.1;
            let (addr, rest) = rest.split_once(" in ")?;
            let name = rest.split([' ', '(']).next()?.to_owned();
            Some((u64::from_str_radix(addr, 16).ok()?, name))
        })
        .collect()
}

fn stop_at(bin: &str, func: &str, hits: usize) -> (Module, Stopped) {
    let m = Module::load(&path(bin)).unwrap();
    let at = entry_site(&m, bin, func);
    let mut stopped = Stopped::run_to(&path(bin), &m, at);
    for _ in 1..hits {
        stopped.continue_to(at + stopped.bias);
    }
    (m, stopped)
}

/// The stopped process's modules and its backtrace (at most 20 frames, stap's MAXBACKTRACE).
fn backtrace_of<'c>(stopped: &Stopped, cache: &'c ModuleCache) -> (ProcessModules<'c>, Vec<u64>) {
    let modules = ProcessModules::new(
        ProcessMaps::read(stopped.pid.as_raw() as u32).unwrap(),
        cache,
    );
    let pcs = unwind::backtrace(&modules, &stopped.regs, &stopped.memory(), 20);
    (modules, pcs)
}

#[test]
fn cfi_backtraces_match_gdb() {
    // fact(5) → fact(4) → fact(3) → fact(2): the 4th hit of fact's probe site.
    for (bin, func, hits, spec) in [
        ("vars_O0", "fact", 4, "fact"),
        ("vars_O2_nopie", "show", 1, ""),
    ] {
        let (m, stopped) = stop_at(bin, func, hits);
        let spec = if spec.is_empty() {
            format!("*{:#x}", entry_site(&m, bin, func))
        } else {
            spec.to_owned()
        };
        let cache = ModuleCache::new();
        let (modules, pcs) = backtrace_of(&stopped, &cache);
        let gdb = gdb_backtrace(bin, &spec, hits - 1);
        assert!(gdb.len() >= 3, "{bin}: gdb bt {gdb:?}");
        let ours: Vec<(u64, String)> = pcs[1..]
            .iter()
            .map(|&pc| (pc, symbolize::usymname(&modules, pc)))
            .collect();
        // Frames gdb shows are exactly the ones we unwind (gdb's names come from DWARF, ours
        // from the symbol table, so libc's may differ: compare addresses for all, names for
        // the program's own frames).
        assert_eq!(
            ours.iter().map(|f| f.0).collect::<Vec<_>>(),
            gdb.iter().map(|f| f.0).collect::<Vec<_>>(),
            "{bin}"
        );
        for ((pc, ours), (_, theirs)) in ours.iter().zip(&gdb) {
            if modules
                .module_at(*pc)
                .is_some_and(|(mm, _)| mm.path == m.path)
            {
                assert_eq!(
                    ours.split('.').next(),
                    Some(theirs.as_str()),
                    "{bin} {pc:#x}"
                );
            }
        }
    }
}

#[test]
fn frame_pointer_unwinding_agrees_with_cfi_in_unoptimized_code() {
    let (m, stopped) = stop_at("vars_O0", "fact", 4);
    let mem = stopped.memory();
    let mut regs = stopped.regs.clone();
    // Four frames of fact and main keep %rbp chains at -O0.
    for depth in 0..4 {
        let by_cfi = unwind::step(Some(&m), stopped.bias, &regs, &mem, depth > 0).unwrap();
        let by_fp = unwind::step(None, 0, &regs, &mem, depth > 0).unwrap();
        assert_eq!(
            (by_fp.pc(), by_fp.sp()),
            (by_cfi.pc(), by_cfi.sp()),
            "frame {depth}"
        );
        regs = by_cfi;
    }
}

#[test]
fn symbolization_matches_gdb_nm_and_addr2line() {
    let (m, stopped) = stop_at("vars_O0", "fact", 3);
    let cache = ModuleCache::new();
    let (modules, pcs) = backtrace_of(&stopped, &cache);
    let bin = path("vars_O0").display().to_string();
    let sizes = support::tool("nm", &["-S", "vars_O0"]);
    let size_of = |name: &str| {
        sizes
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .map(|l| u64::from_str_radix(l.split_whitespace().nth(1).unwrap(), 16).unwrap())
            .unwrap()
    };
    for &pc in pcs.iter().filter(|&&pc| {
        modules
            .module_at(pc)
            .is_some_and(|(mm, _)| mm.path == m.path)
    }) {
        // gdb: "fact + 35 in section .text of /path/vars_O0".
        let mut args = support::GDB_SAME_ENVIRONMENT.to_vec();
        let brk = format!("break *{:#x}", pcs[0]);
        let info = format!("info symbol {pc:#x}");
        args.extend(["-ex", &brk, "-ex", "run", "-ex", &info, &bin]);
        let out = support::tool("gdb", &args);
        let line = out
            .lines()
            .find(|l| l.contains(" in section .text"))
            .unwrap();
        let (name, off) = match line.split_once(" + ") {
            Some((n, rest)) => (
                n.to_owned(),
                rest.split(' ').next().unwrap().parse::<u64>().unwrap(),
            ),
            None => (line.split(' ').next().unwrap().to_owned(), 0),
        };
        assert_eq!(
            symbolize::usymdata(&modules, pc),
            format!("{name}+{off:#x}/{:#x} [{bin}]", size_of(&name))
        );
        assert_eq!(
            symbolize::format_address(pc, &symbolize::describe(&modules, pc, false), flags::SIMPLE),
            format!("{name}+{off:#x} [vars_O0]\n")
        );
        // addr2line takes link-time addresses: "/dir/vars.c:42".
        let rel = format!("{:#x}", pc - stopped.bias);
        let a2l = support::tool("addr2line", &["-e", "vars_O0", &rel]);
        if a2l.starts_with("??") {
            continue; // crt code without line information (_start)
        }
        assert_eq!(
            symbolize::usymfileline(&modules, pc),
            a2l.trim().split(' ').next().unwrap(),
            "{pc:#x}"
        );
        assert_eq!(symbolize::umodname(&modules, pc), Some(bin.clone()));
    }
    let hex = symbolize::format_backtrace(&modules, &pcs[..2], flags::NONE);
    assert_eq!(hex, format!("{:#x} {:#x} ", pcs[0], pcs[1]));
    // An address in no mapping prints as hex, like stap.
    assert_eq!(symbolize::usymname(&modules, 8), "0x8");
    assert_eq!(symbolize::umodname(&modules, 8), None);
}
