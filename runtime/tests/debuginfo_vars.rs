//! Target variables read from real stopped processes (a ptrace breakpoint at the probe site)
//! compared with gdb's values at the same address; pretty-printing formats are stap's
//! (`stap -p3` generated format strings), filled with gdb's values.

#[path = "debuginfo/support.rs"]
mod support;
#[path = "debuginfo/tracer.rs"]
mod tracer;

use rtap_runtime::debuginfo::location::Hit;
use rtap_runtime::debuginfo::target::{Accessor, Index, Pretty, TargetBase, VarSet};
use rtap_runtime::debuginfo::{
    FunctionFlavor, Module, ProbeSite, ProcessPoint, TargetCompiler, TargetExpr, TargetValue,
    resolve, unwind,
};
use support::{gdb_values, path};
use tracer::Stopped;

fn site(module: &Module, bin: &str, point: ProcessPoint) -> ProbeSite {
    let res = resolve(module, &format!("process(\"{bin}\")"), &point).unwrap();
    assert_eq!(res.sites.len(), 1, "{point:?}");
    res.sites[0].clone()
}

fn function(name: &str, is_return: bool) -> ProcessPoint {
    ProcessPoint::Function {
        spec: name.into(),
        flavor: FunctionFlavor::Call,
        is_return,
    }
}

/// Runs `bin` to the probe site of `func`'s entry.
fn stopped_in(bin: &str, func: &str) -> (Module, ProbeSite, Stopped) {
    let m = Module::load(&path(bin)).unwrap();
    let s = site(&m, bin, function(func, false));
    let stopped = Stopped::run_to(&path(bin), &m, s.address);
    (m, s, stopped)
}

/// The hit state of a stopped process, the CFA computed as an engine would.
fn hit_of<'a>(m: &Module, stopped: &'a Stopped, mem: &'a tracer::ProcMem<'a>) -> Hit<'a> {
    Hit {
        regs: &stopped.regs,
        mem,
        bias: stopped.bias,
        cfa: unwind::cfa(m, &stopped.regs, stopped.bias),
    }
}

/// Reads target expressions at a stopped process.
fn read_all(
    module: &Module,
    site: &ProbeSite,
    stopped: &Stopped,
    exprs: &[&str],
) -> Vec<TargetValue> {
    let mut compiler = TargetCompiler::new(module, site).unwrap();
    let mem = stopped.memory();
    let hit = hit_of(module, stopped, &mem);
    exprs
        .iter()
        .map(|e| {
            let compiled = compiler
                .compile(&TargetExpr::parse(e).unwrap())
                .unwrap_or_else(|err| panic!("{e}: {err}"));
            compiled
                .plan
                .read(&hit, &[])
                .unwrap_or_else(|f| panic!("{e}: {f}"))
        })
        .collect()
}

fn longs(values: &[TargetValue]) -> Vec<String> {
    values
        .iter()
        .map(|v| match v {
            TargetValue::Long(l) => l.to_string(),
            TargetValue::String(s) => s.clone(),
        })
        .collect()
}

#[test]
fn unoptimized_variables_members_and_bitfields_match_gdb() {
    let (m, s, stopped) = stopped_in("vars_O0", "walk");
    let pairs = [
        ("$n", "n"),
        ("$p->x", "p->x"),
        ("$p->next->y", "p->next->y"),
        ("$p->flag", "p->flag"),
        ("$p->next->flag", "p->next->flag"),
        ("$p->other", "p->other"),
        ("$p->next->other", "p->next->other"),
        ("$p->c", "p->c"),
        ("$p->next->c", "p->next->c"),
        ("$p->in->s", "p->in.s"),
        ("$p->next->in->s", "p->next->in.s"),
        ("&$p->y", "&p->y"),
        ("$p->name", "p->name"),
        ("$p->in->tag[1]", "p->in.tag[1]"),
        ("$p->d", "*(long *)&p->d"),
        ("$p", "p"),
        ("$global_counter", "global_counter"),
        ("$tls_counter", "tls_counter"),
        ("&$tls_counter", "&tls_counter"),
        ("@var(\"table@vars.c\")[3]", "table[3]"),
        ("@var(\"global_counter\")", "global_counter"),
    ];
    let ours = longs(&read_all(&m, &s, &stopped, &pairs.map(|p| p.0)));
    let gdb_prints: Vec<(&str, String)> = pairs
        .iter()
        .map(|(_, g)| ("%ld", format!("(long)({g})")))
        .collect();
    let gdb_prints: Vec<(&str, &str)> = gdb_prints.iter().map(|(f, e)| (*f, e.as_str())).collect();
    let gdb = gdb_values("vars_O0", "walk", &gdb_prints);
    for ((expr, _), (a, b)) in pairs.iter().zip(ours.iter().zip(&gdb)) {
        assert_eq!(a, b, "{expr}");
    }
}

#[test]
fn pretty_printing_follows_stap_formats() {
    let (m, s, stopped) = stopped_in("vars_O0", "walk");
    let got = longs(&read_all(
        &m,
        &s,
        &stopped,
        &["$p$", "$p$$", "$p->in$$", "$n$", "$p->name$$"],
    ));
    let next = &gdb_values("vars_O0", "walk", &[("%#lx", "(long)p->next")])[0];
    // Formats from `stap -p3` for $p$ and $p$$ (`{.x=%lld, .y=%lld, .flag=%llu, .other=%lld,
    // .name=[...], .in={...}, .c=%llu, .next=%#p, .d=?}`), values from the C source.
    assert_eq!(
        got[0],
        format!(
            "{{.x=1, .y=2, .flag=1, .other=2, .name=[...], .in={{...}}, .c=5, .next={next}, .d=?}}"
        )
    );
    assert_eq!(
        got[1],
        format!(
            "{{.x=1, .y=2, .flag=1, .other=2, .name=\"ay\", .in={{.s=-2, .tag=\"ina\"}}, .c=5, .next={next}, .d=?}}"
        )
    );
    assert_eq!(got[2], "{.s=-2, .tag=\"ina\"}");
    assert_eq!(got[3], "2");
    assert_eq!(got[4], "\"ay\"");
}

#[test]
fn dollar_dollar_vars_follow_stap_formats() {
    let (m, s, stopped) = stopped_in("vars_O0", "show");
    // gdb's values, printed as stap's `%#llx` does (the Linux vsprintf: `0x0` for zero).
    let g: Vec<String> = gdb_values(
        "vars_O0",
        "show",
        &[
            ("%ld", "(long)msg"),
            ("%ld", "(long)big"),
            ("%ld", "(long)c"),
            ("%ld", "(long)arr"),
            ("%ld", "(long)calls"),
        ],
    )
    .iter()
    .map(|v| format!("{:#x}", v.parse::<i64>().unwrap()))
    .collect();
    let mut compiler = TargetCompiler::new(&m, &s).unwrap();
    let mem = stopped.memory();
    let hit = hit_of(&m, &stopped, &mem);
    let read = |c: &mut TargetCompiler, set, pretty| {
        c.compile_vars(set, pretty).unwrap().read(&hit).unwrap()
    };
    // `stap -p3`: "msg=%#llx val={...} big=%#llx c=%#llx arr=%#llx" for $$parms.
    assert_eq!(
        read(&mut compiler, VarSet::Parms, Pretty::None),
        format!(
            "msg={} val={{...}} big={} c={} arr={}",
            g[0], g[1], g[2], g[3]
        )
    );
    assert_eq!(
        read(&mut compiler, VarSet::Locals, Pretty::None),
        format!("calls={}", g[4])
    );
    assert_eq!(
        read(&mut compiler, VarSet::Vars, Pretty::None),
        format!(
            "msg={} val={{...}} big={} c={} arr={} calls={}",
            g[0], g[1], g[2], g[3], g[4]
        )
    );
    // $$parms$: "msg=%s val=%s big=%s c=%s arr=%s" with a quoted string for char*, a shallow
    // union, %llu for unsigned long and the enum, and the top-level pointer followed.
    assert_eq!(
        read(&mut compiler, VarSet::Parms, Pretty::Shallow),
        "msg=\"hello\" val={.i=1094861636, .c=[...]} big=1099511627776 c=0 arr=7"
    );
}

#[test]
fn stack_arguments_and_static_locals() {
    let (m, s, stopped) = stopped_in("vars_O0", "many");
    let exprs = ["$a1", "$a2", "$a6", "$a7", "$a8"];
    let gdb = gdb_values("vars_O0", "many", &exprs.map(|e| ("%ld", &e[1..])));
    assert_eq!(longs(&read_all(&m, &s, &stopped, &exprs)), gdb);
}

#[test]
fn optimized_code_location_lists_match_gdb() {
    // -O2: probes on the entry pc, parameters in registers via location lists.
    let bin = path("vars_O2_nopie");
    let m = Module::load(&bin).unwrap();
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("walk", &[("$p->x", "p->x"), ("$p->next->y", "p->next->y")]),
        (
            "many",
            &[
                ("$a1", "a1"),
                ("$a5", "a5"),
                ("$a6", "a6"),
                ("$a7", "a7"),
                ("$a8", "a8"),
            ],
        ),
        (
            "show",
            &[
                ("$big", "big"),
                ("$c", "c"),
                ("$arr[1]", "arr[1]"),
                ("$msg", "msg"),
                ("$val->i", "val.i"),
            ],
        ),
        ("fact", &[("$n", "n")]),
    ];
    for (func, pairs) in cases {
        let s = site(&m, "vars_O2_nopie", function(func, false));
        let stopped = Stopped::run_to(&bin, &m, s.address);
        let ours = longs(&read_all(
            &m,
            &s,
            &stopped,
            &pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
        ));
        let exprs: Vec<String> = pairs.iter().map(|p| format!("(long)({})", p.1)).collect();
        let prints: Vec<(&str, &str)> = exprs.iter().map(|e| ("%ld", e.as_str())).collect();
        let gdb = gdb_values("vars_O2_nopie", &format!("*{:#x}", s.address), &prints);
        assert_eq!(ours, gdb, "{func}");
    }
}

#[test]
fn return_values_match_gdb_finish() {
    for bin_name in ["vars_O0", "vars_O2_nopie"] {
        let bin = path(bin_name);
        let m = Module::load(&bin).unwrap();
        for (func, want) in [("fact", "120"), ("many", "77")] {
            let s = site(&m, bin_name, function(func, true));
            let mut stopped = Stopped::run_to(&bin, &m, s.address);
            stopped.continue_to_return();
            let got = longs(&read_all(&m, &s, &stopped, &["$return"]));
            // gdb's `finish` out of the first call prints "Value returned is $1 = N".
            let brk = format!("break *{:#x}", s.address + stopped.bias);
            let mut args = support::GDB_SAME_ENVIRONMENT.to_vec();
            // Delete the breakpoint first: fact's recursive calls would stop `finish`.
            args.extend([
                "-ex", &brk, "-ex", "run", "-ex", "delete", "-ex", "finish", bin_name,
            ]);
            let out = support::tool("gdb", &args);
            let gdb = out
                .lines()
                .find_map(|l| l.split("Value returned is $1 = ").nth(1))
                .unwrap_or_else(|| panic!("{out}"));
            assert_eq!((got[0].as_str(), gdb), (want, want), "{bin_name} {func}");
        }
    }
}

#[test]
fn errors_name_the_variable_and_the_alternatives() {
    let m = Module::load(&path("vars_O0")).unwrap();
    let s = site(&m, "vars_O0", function("walk", false));
    let mut c = TargetCompiler::new(&m, &s).unwrap();
    let err = |c: &mut TargetCompiler, e: &str| {
        c.compile(&TargetExpr::parse(e).unwrap())
            .unwrap_err()
            .to_string()
    };
    let e = err(&mut c, "$nosuch");
    assert!(
        e.starts_with("unable to find local 'nosuch', [man error::dwarf] dieoffset"),
        "{e}"
    );
    assert!(e.ends_with("(alternatives: p n s)"), "{e}");
    assert!(e.contains("in walk"), "{e}");
    let e = err(&mut c, "$p->zz");
    assert_eq!(
        e,
        "unable to find member 'zz' for struct pt (alternatives: x y flag other name in c next d)"
    );
    let e = err(&mut c, "$n->x");
    assert!(e.contains("is not a struct or union"), "{e}");
    let e = err(&mut c, "$p->in");
    assert!(e.contains("is being accessed instead of a member"), "{e}");
    let e = err(&mut c, "&$p->flag");
    assert!(e.contains("bitfield"), "{e}");
    assert!(err(&mut c, "$return").contains("unable to find local 'return'"));
    assert!(c.is_defined(&TargetExpr::parse("$p->next").unwrap()));
    assert!(!c.is_defined(&TargetExpr::parse("$q").unwrap()));
    assert!(TargetExpr::parse("$p->").is_err());
    assert!(TargetExpr::parse("p").is_err());
}

#[test]
fn listings_with_variables_match_stap() {
    let cases: &[(&str, &str, ProcessPoint, &str)] = &[
        (
            "functions_O0.L",
            "vars_O0",
            ProcessPoint::Function {
                spec: "*".into(),
                flavor: FunctionFlavor::Any,
                is_return: false,
            },
            "function(\"*\")",
        ),
        (
            "returns_O0.L",
            "vars_O0",
            ProcessPoint::Function {
                spec: "[a-m]*".into(),
                flavor: FunctionFlavor::Any,
                is_return: true,
            },
            "function(\"[a-m]*\").return",
        ),
        (
            "statement_O0.L",
            "vars_O0",
            ProcessPoint::Statement {
                spec: "walk@vars.c:32".into(),
                nearest: false,
            },
            "statement(\"walk@vars.c:32\")",
        ),
        (
            "calls_O2.L",
            "vars_O2",
            ProcessPoint::Function {
                spec: "*".into(),
                flavor: FunctionFlavor::Call,
                is_return: false,
            },
            "function(\"*\").call",
        ),
        (
            "marks.L",
            "sdt",
            ProcessPoint::Mark {
                provider: None,
                name: "*".into(),
            },
            "mark(\"*\")",
        ),
    ];
    for (golden, bin, point, stap_text) in cases {
        let m = Module::load(&path(bin)).unwrap();
        let prefix = format!("process(\"{}\")", path(bin).display());
        let res = resolve(&m, &prefix, point).unwrap();
        let mut lines: Vec<String> = res
            .sites
            .iter()
            .map(|s| support::portable(&rtap_runtime::debuginfo::target::listing_line(&m, s)))
            .collect();
        lines.sort();
        lines.dedup();
        let actual: String = lines.iter().map(|l| format!("{l}\n")).collect();
        support::check_golden(golden, &actual, &format!("{prefix}.{stap_text}"));
    }
}

#[test]
fn sdt_arguments_read_at_the_marker() {
    for bin_name in ["sdt", "sdt_nopie"] {
        let bin = path(bin_name);
        let m = Module::load(&bin).unwrap();
        let counter = support::tool("nm", &[bin_name])
            .lines()
            .find(|l| l.ends_with(" counter"))
            .map(|l| u64::from_str_radix(&l[..16], 16).unwrap())
            .unwrap();
        for (mark, expected) in [
            ("start", vec![1i64, 3]),
            ("three", vec![0, 0, -1]),
            ("globals", vec![40, -2]),
        ] {
            let probe = m.sdt.iter().find(|p| p.name == mark).unwrap();
            let stopped = Stopped::run_to(&bin, &m, probe.address);
            let mem = stopped.memory();
            // Through the target compiler, as `$arg1..$argN` of the `.mark` site.
            let site = site(
                &m,
                bin_name,
                ProcessPoint::Mark {
                    provider: None,
                    name: mark.into(),
                },
            );
            let names: Vec<String> = (1..=probe.args.len()).map(|i| format!("$arg{i}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let values: Vec<i64> = read_all(&m, &site, &stopped, &names)
                .into_iter()
                .map(|v| match v {
                    TargetValue::Long(l) => l,
                    other => panic!("{other:?}"),
                })
                .collect();
            let direct: Vec<i64> = probe
                .args
                .iter()
                .map(|a| a.read(&stopped.regs, &mem, stopped.bias).unwrap())
                .collect();
            assert_eq!(values, direct);
            let mut compiler = TargetCompiler::new(&m, &site).unwrap();
            let err = compiler
                .compile(&TargetExpr::parse("$arg9").unwrap())
                .unwrap_err();
            assert!(err.to_string().contains("argument(s)"), "{err}");
            if mark == "three" {
                // argv[0] is the program path; &counter is its run-time address; (char)-argc.
                let argv0 = rtap_runtime::debuginfo::MemoryReader::read_cstring(
                    &mem,
                    values[0] as u64,
                    4096,
                )
                .unwrap();
                assert_eq!(argv0, bin.to_str().unwrap().as_bytes(), "{bin_name}");
                assert_eq!(values[1] as u64, counter + stopped.bias, "{bin_name}");
                assert_eq!(values[2], -1, "{bin_name}");
            } else {
                assert_eq!(values, expected, "{bin_name} {mark}");
            }
        }
    }
}

#[test]
fn casts_and_faults() {
    let (m, s, stopped) = stopped_in("vars_O0", "walk");
    let mut compiler = TargetCompiler::new(&m, &s).unwrap();
    let mem = stopped.memory();
    let hit = hit_of(&m, &stopped, &mem);
    let long = |c: &mut TargetCompiler, e: &TargetExpr, inputs: &[i64]| {
        c.compile(e).unwrap().plan.read(&hit, inputs)
    };
    let TargetValue::Long(p) = long(&mut compiler, &TargetExpr::parse("$p").unwrap(), &[]).unwrap()
    else {
        panic!()
    };
    // @cast($p, "struct pt")->next->in->s, the address passed in as input 0.
    let cast = TargetExpr {
        base: TargetBase::Cast {
            type_name: "struct pt".into(),
            input: 0,
        },
        path: ["next", "in", "s"]
            .map(|m| Accessor::Member(m.into()))
            .to_vec(),
        address_of: false,
        pretty: Pretty::None,
    };
    let gdb = gdb_values("vars_O0", "walk", &[("%ld", "(long)p->next->in.s")]);
    assert_eq!(
        long(&mut compiler, &cast, &[p]).unwrap(),
        TargetValue::Long(gdb[0].parse().unwrap())
    );
    // A runtime index: $p->name[i] with i from the script.
    let index = TargetExpr {
        base: TargetBase::Variable("p".into()),
        path: vec![
            Accessor::Member("name".into()),
            Accessor::Index(Index::Input(0)),
        ],
        address_of: false,
        pretty: Pretty::None,
    };
    assert_eq!(
        long(&mut compiler, &index, &[1]).unwrap(),
        TargetValue::Long(b'y' as i64)
    );
    // b.next is NULL: stap's fault text names the address read.
    let fault = long(
        &mut compiler,
        &TargetExpr::parse("$p->next->next->y").unwrap(),
        &[],
    )
    .unwrap_err();
    assert_eq!(fault.to_string(), "read fault [man error::fault] at 0x4");
    let bad_type = compiler.compile(&TargetExpr {
        base: TargetBase::Cast {
            type_name: "struct nosuch".into(),
            input: 0,
        },
        path: Vec::new(),
        address_of: false,
        pretty: Pretty::Shallow,
    });
    assert!(
        bad_type
            .unwrap_err()
            .to_string()
            .contains("type definition 'struct nosuch' not found")
    );
}
