//! Tests of the debuginfo layer against real binaries compiled here, with expected values
//! from independent tools: nm, readelf, objdump, gdb, addr2line, and the real SystemTap
//! (golden listings under tests/debuginfo/golden).

#[path = "debuginfo/support.rs"]
mod support;

use std::path::Path;
use std::time::Instant;

use rtap_runtime::debuginfo::path::{find_library, resolve_executable};
use rtap_runtime::debuginfo::resolve::list_points;
use rtap_runtime::debuginfo::{
    FunctionFlavor, Module, ModuleCache, ProcessPoint, SiteKind, resolve,
};
use support::{build_dir, path, portable, tool};

fn load(name: &str) -> Module {
    Module::load(&path(name)).unwrap()
}

fn prefix(name: &str) -> String {
    format!("process(\"{}\")", path(name).display())
}

fn function(spec: &str) -> ProcessPoint {
    ProcessPoint::Function {
        spec: spec.into(),
        flavor: FunctionFlavor::Any,
        is_return: false,
    }
}

fn pps(module: &str, point: &ProcessPoint) -> Vec<String> {
    let m = load(module);
    let res = resolve(&m, &prefix(module), point).unwrap();
    list_points(&res.sites)
        .iter()
        .map(|p| portable(p))
        .collect()
}

#[test]
fn dwarf_function_addresses_match_nm() {
    for bin in ["vars_O0", "vars_O2", "vars_O0_nopie", "many"] {
        let m = load(bin);
        let index = m.functions().unwrap();
        let nm = support::nm_functions(bin, false);
        let mut checked = 0;
        for f in index
            .functions
            .iter()
            .filter(|f| f.kind == rtap_runtime::debuginfo::dwarf_index::InstanceKind::OutOfLine)
        {
            // GCC names specialized clones `walk.constprop.0`; DWARF keeps `walk`.
            let want = nm
                .iter()
                .find(|(n, _)| {
                    *n == f.name
                        || n.strip_prefix(f.name.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                })
                .unwrap_or_else(|| panic!("{bin}: nm lacks {}", f.name));
            assert_eq!(f.low_pc(), want.1, "{bin}: {}", f.name);
            checked += 1;
        }
        assert!(checked >= 5, "{bin}: only {checked} functions");
    }
}

#[test]
fn unoptimized_entry_points_match_gdb_breakpoints() {
    // At -O0 stap and gdb both skip the prologue; gdb's `break f` is the independent oracle.
    for bin in ["vars_O0", "vars_O0_nopie"] {
        let m = load(bin);
        for name in ["add", "walk", "many", "fact", "show", "main"] {
            let res = resolve(&m, &prefix(bin), &function(name)).unwrap();
            assert_eq!(res.sites.len(), 1, "{bin} {name}");
            assert_eq!(
                res.sites[0].address,
                support::gdb_breakpoint(bin, name),
                "{bin} {name}"
            );
        }
    }
}

#[test]
fn optimized_entry_points_are_the_entry_pc() {
    // stap probes the first instruction when GCC's locations are valid there (-O2): nm's
    // address for out-of-line instances.
    let m = load("vars_O2");
    let nm = support::nm_functions("vars_O2", false);
    for (name, symbol) in [
        ("walk", "walk.constprop.0"),
        ("many", "many"),
        ("fact", "fact"),
        ("show", "show"),
        ("main", "main"),
    ] {
        let res = resolve(
            &m,
            &prefix("vars_O2"),
            &ProcessPoint::Function {
                spec: name.into(),
                flavor: FunctionFlavor::Call,
                is_return: false,
            },
        )
        .unwrap();
        let want = nm.iter().find(|(n, _)| n == symbol).unwrap().1;
        assert_eq!(
            res.sites.iter().map(|s| s.address).collect::<Vec<_>>(),
            vec![want],
            "{name}"
        );
    }
}

#[test]
fn inline_instances_are_found_and_have_no_return_probes() {
    let m = load("vars_O2");
    let inline = resolve(
        &m,
        &prefix("vars_O2"),
        &ProcessPoint::Function {
            spec: "add".into(),
            flavor: FunctionFlavor::Inline,
            is_return: false,
        },
    )
    .unwrap();
    assert!(!inline.sites.is_empty());
    assert!(
        inline
            .sites
            .iter()
            .all(|s| s.kind == SiteKind::Function { inline: true })
    );
    // The inlined code lies inside main (gdb's `info symbol` names the function).
    for s in &inline.sites {
        let out = tool(
            "gdb",
            &[
                "-batch",
                "-nx",
                "-ex",
                &format!("info symbol {:#x}", s.address),
                "vars_O2",
            ],
        );
        assert!(out.starts_with("main"), "{out}");
    }
    let ret = resolve(
        &m,
        &prefix("vars_O2"),
        &ProcessPoint::Function {
            spec: "add".into(),
            flavor: FunctionFlavor::Any,
            is_return: true,
        },
    )
    .unwrap();
    assert!(
        ret.sites
            .iter()
            .all(|s| s.kind == SiteKind::Function { inline: false } && s.is_return)
    );
}

#[test]
fn file_offsets_match_readelf_segments() {
    // nm's address minus the segment's (vaddr - offset) from `readelf -l`: for these
    // binaries the text segment is mapped at vaddr = offset + 0 (PIE) or + 0x400000.
    for (bin, delta) in [("vars_O0", 0u64), ("vars_O0_nopie", 0x400000)] {
        let m = load(bin);
        let res = resolve(&m, &prefix(bin), &function("main")).unwrap();
        let s = &res.sites[0];
        assert_eq!(s.file_offset, Some(s.address - delta), "{bin}");
    }
}

#[test]
fn return_probes_use_the_entry_pc() {
    let m = load("vars_O0");
    let res = resolve(
        &m,
        &prefix("vars_O0"),
        &ProcessPoint::Function {
            spec: "add".into(),
            flavor: FunctionFlavor::Any,
            is_return: true,
        },
    )
    .unwrap();
    let nm = support::nm_functions("vars_O0", false);
    assert_eq!(
        res.sites[0].address,
        nm.iter().find(|(n, _)| n == "add").unwrap().1
    );
    assert_eq!(
        res.sites[0].var_pc,
        support::gdb_breakpoint("vars_O0", "add")
    );
    assert_eq!(
        portable(&res.sites[0].pp),
        "process(\"$DIR/vars_O0\").function(\"add@$DIR/vars.c:26\").return"
    );
}

#[test]
fn listings_match_stap() {
    let cases: &[(&str, &str, ProcessPoint)] = &[
        ("functions_O0.l", "vars_O0", function("*")),
        ("functions_file.l", "vars_O0", function("*@vars.c")),
        (
            "functions_call.l",
            "vars_O0",
            ProcessPoint::Function {
                spec: "*".into(),
                flavor: FunctionFlavor::Call,
                is_return: false,
            },
        ),
        (
            "functions_return.l",
            "vars_O0",
            ProcessPoint::Function {
                spec: "[a-m]*".into(),
                flavor: FunctionFlavor::Any,
                is_return: true,
            },
        ),
        (
            "statements.l",
            "vars_O0",
            ProcessPoint::Statement {
                spec: "*@vars.c:*".into(),
                nearest: false,
            },
        ),
        (
            "statement_range.l",
            "vars_O0",
            ProcessPoint::Statement {
                spec: "walk@vars.c:30-33".into(),
                nearest: false,
            },
        ),
        (
            "statement_nearest.l",
            "vars_O0",
            ProcessPoint::Statement {
                spec: "*@vars.c:21".into(),
                nearest: true,
            },
        ),
        (
            "statement_nearest_after.l",
            "vars_O0",
            ProcessPoint::Statement {
                spec: "*@vars.c:36".into(),
                nearest: true,
            },
        ),
        (
            "marks.l",
            "sdt",
            ProcessPoint::Mark {
                provider: None,
                name: "*".into(),
            },
        ),
        (
            "provider_marks.l",
            "sdt",
            ProcessPoint::Mark {
                provider: Some("myprov".into()),
                name: "*".into(),
            },
        ),
        (
            "plt.l",
            "sdt",
            ProcessPoint::Plt {
                name: None,
                is_return: false,
            },
        ),
        ("alias.l", "libdbgt.so", function("lib_alias")),
        ("lib_functions.l", "libdbgt.so", function("*")),
        (
            "lib_exported.l",
            "libdbgt.so",
            ProcessPoint::Function {
                spec: "*".into(),
                flavor: FunctionFlavor::Exported,
                is_return: false,
            },
        ),
    ];
    for (golden, bin, point) in cases {
        let actual: String = pps(bin, point).iter().map(|l| format!("{l}\n")).collect();
        support::check_golden(golden, &actual, &stap_probe_text(bin, point));
    }
    // More than 5 lines from any code: stap 4.8 finds nothing, and neither may rtap.
    let m = load("vars_O0");
    assert!(
        resolve(
            &m,
            &prefix("vars_O0"),
            &ProcessPoint::Statement {
                spec: "*@vars.c:20".into(),
                nearest: true
            }
        )
        .is_err()
    );
    assert!(
        resolve(
            &m,
            &prefix("vars_O0"),
            &ProcessPoint::Statement {
                spec: "*@vars.c:66".into(),
                nearest: true
            }
        )
        .is_err()
    );
}

/// The probe point as stap spells it, for regenerating golden files with stap -l.
fn stap_probe_text(bin: &str, point: &ProcessPoint) -> String {
    let p = prefix(bin);
    match point {
        ProcessPoint::Function {
            spec,
            flavor,
            is_return,
        } => {
            let f = match flavor {
                FunctionFlavor::Any => "",
                FunctionFlavor::Call => ".call",
                FunctionFlavor::Inline => ".inline",
                FunctionFlavor::Exported => ".exported",
            };
            format!(
                "{p}.function(\"{spec}\"){f}{}",
                if *is_return { ".return" } else { "" }
            )
        }
        ProcessPoint::Statement { spec, nearest } => format!(
            "{p}.statement(\"{spec}\"){}",
            if *nearest { ".nearest" } else { "" }
        ),
        ProcessPoint::Mark {
            provider: Some(pr),
            name,
        } => format!("{p}.provider(\"{pr}\").mark(\"{name}\")"),
        ProcessPoint::Mark {
            provider: None,
            name,
        } => format!("{p}.mark(\"{name}\")"),
        ProcessPoint::Plt { name, .. } => {
            format!("{p}.plt(\"{}\")", name.as_deref().unwrap_or("*"))
        }
        other => panic!("no stap text for {other:?}"),
    }
}

#[test]
fn sdt_notes_match_readelf() {
    for bin in ["sdt", "sdt_nopie"] {
        let m = load(bin);
        let notes = tool("readelf", &["--notes", bin]);
        // readelf: "Provider: P", "Name: N", "Location: 0x…, Base: 0x…, Semaphore: 0x…", "Arguments: …"
        let mut expected = Vec::new();
        let mut lines = notes.lines().map(str::trim);
        while let Some(l) = lines.next() {
            let Some(provider) = l.strip_prefix("Provider: ") else {
                continue;
            };
            let name = lines.next().unwrap().strip_prefix("Name: ").unwrap();
            let loc = lines.next().unwrap();
            let hex = |key: &str| {
                let v = loc.split(key).nth(1).unwrap().trim_start_matches("0x");
                u64::from_str_radix(v.split(',').next().unwrap().trim(), 16).unwrap()
            };
            let args = lines
                .next()
                .unwrap()
                .strip_prefix("Arguments: ")
                .unwrap_or("")
                .to_owned();
            expected.push((
                provider.to_owned(),
                name.to_owned(),
                hex("Location: "),
                hex("Semaphore: "),
                args,
            ));
        }
        let actual: Vec<_> = m
            .sdt
            .iter()
            .map(|p| {
                (
                    p.provider.clone(),
                    p.name.clone(),
                    p.address,
                    p.semaphore.unwrap_or(0),
                    p.args_text.clone(),
                )
            })
            .collect();
        assert_eq!(actual, expected, "{bin}");
        assert_eq!(m.sdt.iter().filter(|p| p.semaphore.is_some()).count(), 1);
        // The semaphore is the variable nm knows.
        let sem = tool("nm", &[bin])
            .lines()
            .find(|l| l.ends_with(" otherprov_guarded_semaphore"))
            .map(|l| u64::from_str_radix(&l[..16], 16).unwrap());
        assert_eq!(m.sdt.iter().find_map(|p| p.semaphore), sem);
    }
}

#[test]
fn plt_entries_match_objdump() {
    for bin in ["sdt", "uselib", "vars_O0_nopie"] {
        let m = load(bin);
        // objdump -d names stubs `0000000000001030 <puts@plt>:`.
        let mut expected: Vec<(String, u64)> =
            tool("objdump", &["-d", "-j", ".plt", "-j", ".plt.sec", bin])
                .lines()
                .filter_map(|l| {
                    let (addr, rest) = l.split_once(" <")?;
                    let name = rest.strip_suffix("@plt>:")?;
                    Some((name.to_owned(), u64::from_str_radix(addr, 16).ok()?))
                })
                .collect();
        expected.sort_by_key(|e| e.1);
        let actual: Vec<_> = m.plt.iter().map(|e| (e.name.clone(), e.address)).collect();
        assert!(!expected.is_empty(), "{bin}");
        assert_eq!(actual, expected, "{bin}");
    }
}

#[test]
fn separate_debug_files_are_found_by_debuglink_and_build_id() {
    let linked = load("vars_O0_linked");
    assert!(
        linked
            .separate
            .as_ref()
            .is_some_and(|s| s.path.ends_with("vars_O0_linked.debug"))
    );
    let res = resolve(&linked, &prefix("vars_O0_linked"), &function("walk")).unwrap();
    assert_eq!(
        res.sites[0].address,
        support::gdb_breakpoint("vars_O0", "walk")
    );

    let stripped = path("vars_O2_stripped");
    let without = Module::load(&stripped).unwrap();
    assert!(!without.has_dwarf());
    let with = Module::load_with_debug_roots(&stripped, &[build_dir().join("debugroot")]).unwrap();
    assert!(with.has_dwarf());
    // --strip-all removed .symtab: the debug file's symbols come back too.
    assert!(with.symbols.by_name("show").next().is_some());
    assert_eq!(with.build_id_hex().unwrap(), support::build_id(&stripped));
}

#[test]
fn symbol_table_fallback_without_dwarf() {
    let m = Module::load(&path("vars_O2_stripped")).unwrap();
    // Only .dynsym is left: main is not in it, but the imported-function stubs are not functions.
    let res = resolve(
        &m,
        &prefix("vars_O2_stripped"),
        &ProcessPoint::Plt {
            name: Some("printf".into()),
            is_return: false,
        },
    );
    assert!(res.is_ok());
    let err = resolve(
        &m,
        &prefix("vars_O2_stripped"),
        &ProcessPoint::Statement {
            spec: "main@vars.c:50".into(),
            nearest: false,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("has no debuginfo"), "{err}");
    // With the symbol table (not stripped, but pretend no DWARF for `_start`): crt functions.
    let full = load("vars_O0");
    let start = resolve(&full, &prefix("vars_O0"), &function("_start")).unwrap();
    let nm = support::nm_functions("vars_O0", false);
    assert_eq!(
        start.sites[0].address,
        nm.iter().find(|(n, _)| n == "_start").unwrap().1
    );
    assert!(start.sites[0].pp.ends_with(".function(\"_start\")"));
}

#[test]
fn statement_addresses_match_addr2line() {
    let m = load("vars_O0");
    let res = resolve(
        &m,
        &prefix("vars_O0"),
        &ProcessPoint::Statement {
            spec: "*@vars.c:*".into(),
            nearest: false,
        },
    )
    .unwrap();
    let addrs: Vec<String> = res
        .sites
        .iter()
        .map(|s| format!("{:#x}", s.address))
        .collect();
    let mut args = vec!["-e", "vars_O0"];
    args.extend(addrs.iter().map(String::as_str));
    let out = tool("addr2line", &args);
    for (site, line) in res.sites.iter().zip(out.lines()) {
        // addr2line: "/dir/vars.c:31" (optionally " (discriminator N)").
        let want = line.split(' ').next().unwrap();
        let pp_line = site.pp.rsplit_once(':').unwrap().1.trim_end_matches("\")");
        assert_eq!(want.rsplit_once(':').unwrap().1, pp_line, "{}", site.pp);
    }
}

#[test]
fn shared_library_resolution_and_offsets() {
    let cache = ModuleCache::new();
    let exe = path("uselib");
    let libs = find_library(&cache, &exe, "libdbgt.so", None).unwrap();
    assert_eq!(
        libs,
        vec![std::fs::canonicalize(path("libdbgt.so")).unwrap()]
    );
    let wild = find_library(&cache, &exe, "libdbg*", None).unwrap();
    assert_eq!(wild, libs);
    let libc = find_library(&cache, &exe, "libc.so.6", None).unwrap();
    assert!(libc[0].to_string_lossy().contains("libc.so.6"));
    assert!(find_library(&cache, &exe, "libnosuch.so", None).is_err());

    let lib = cache.get(&libs[0]).unwrap();
    assert_eq!(lib.kind, rtap_runtime::debuginfo::ModuleKind::SharedLibrary);
    let prefix = format!(
        "process(\"{}\").library(\"{}\")",
        exe.display(),
        libs[0].display()
    );
    let exported = resolve(
        &lib,
        &prefix,
        &ProcessPoint::Function {
            spec: "lib_*".into(),
            flavor: FunctionFlavor::Exported,
            is_return: false,
        },
    )
    .unwrap();
    let names: Vec<_> = exported
        .sites
        .iter()
        .filter_map(|s| s.function.clone())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        vec!["lib_entry".to_owned(), "lib_real_impl".to_owned()],
        "hidden functions are not exported"
    );
    let dynsym = support::nm_functions("libdbgt.so", true);
    let entry = exported
        .sites
        .iter()
        .find(|s| s.function.as_deref() == Some("lib_entry"))
        .unwrap();
    assert_eq!(
        entry.address,
        dynsym.iter().find(|(n, _)| n == "lib_entry").unwrap().1
    );
    assert!(exported.sites[0].pp.starts_with(&prefix));
}

#[test]
fn executables_resolve_like_a_shell() {
    let dir = build_dir();
    let script = dir.join("script.sh");
    std::fs::write(&script, format!("#!{}/vars_O0 arg\n", dir.display())).unwrap();
    let cwd = Path::new("/");
    assert_eq!(
        resolve_executable(script.to_str().unwrap(), cwd, None).unwrap(),
        path("vars_O0")
    );
    assert_eq!(
        resolve_executable("vars_O0", cwd, Some(dir.as_os_str())).unwrap(),
        path("vars_O0")
    );
    assert_eq!(
        resolve_executable("./vars_O0", dir, None).unwrap(),
        path("vars_O0")
    );
    assert!(resolve_executable("vars_O0", cwd, Some("/nonexistent".as_ref())).is_err());
}

#[test]
fn module_cache_reuses_until_the_file_changes() {
    let cache = ModuleCache::new();
    let p = build_dir().join("cache_copy");
    std::fs::copy(path("vars_O0"), &p).unwrap();
    let a = cache.get(&p).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &cache.get(&p).unwrap()));
    std::fs::copy(path("many"), &p).unwrap();
    let b = cache.get(&p).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &b));
    assert!(b.symbols.by_name("f599").next().is_some());
}

#[test]
fn resolving_a_thousand_probe_points_is_fast() {
    support::build_dir(); // compile first: not part of the figure
    let start = Instant::now();
    let m = load("many");
    let entry = resolve(&m, &prefix("many"), &function("f[0-9]*")).unwrap();
    let ret = resolve(
        &m,
        &prefix("many"),
        &ProcessPoint::Function {
            spec: "f[0-9]*".into(),
            flavor: FunctionFlavor::Any,
            is_return: true,
        },
    )
    .unwrap();
    let elapsed = start.elapsed();
    let total = entry.sites.len() + ret.sites.len();
    assert_eq!(total, 2 * support::MANY_FUNCTIONS);
    eprintln!(
        "resolved {total} probe points (load + index + resolve) in {:.1} ms",
        elapsed.as_secs_f64() * 1e3
    );
    assert!(elapsed.as_secs_f64() < 0.5, "took {elapsed:?}");
    // Spot-check against gdb.
    for name in ["f0", "f311", "f599"] {
        let site = entry
            .sites
            .iter()
            .find(|s| s.function.as_deref() == Some(name))
            .unwrap();
        assert_eq!(
            site.address,
            support::gdb_breakpoint("many", name),
            "{name}"
        );
    }
}
