//! Parser unit tests: shapes of trees the fixtures cannot show directly. The fixture suite
//! (`tests/parse/`) checks listings, diagnostics and stap's verdicts.

use super::*;
use crate::ast::*;
use crate::lexer;
use crate::preprocess::{self, PpEnv, PpState};
use crate::printer::{print_expr, print_script};
use crate::source::FileKind;
use crate::target::{KernelConfig, Target};

fn target() -> Target {
    Target {
        kernel_release: "6.1.0".into(),
        arch: "x86_64".into(),
        runtime: "dyninst".into(),
        compatible: "4.8".into(),
        privilege: "stapdev".into(),
        guru_mode: false,
        kernel_config: KernelConfig::fixed([]),
    }
}

fn parse_text(text: &str, privileged: bool) -> (Script, Vec<String>, SourceMap) {
    let mut sources = SourceMap::new();
    let file = sources.add("t.stp", None, FileKind::User, text.to_string());
    let tokens = lexer::lex(&sources, file).tokens;
    let target = target();
    let env = PpEnv {
        target: &target,
        args: &[],
    };
    let pp = preprocess::preprocess(&mut PpState::default(), env, &mut sources, tokens);
    let (script, diagnostics) = parse(&sources, file, &pp.tokens, ParseOptions { privileged });
    let errors = pp
        .diagnostics
        .iter()
        .chain(&diagnostics)
        .map(|d| d.headline(&sources))
        .collect();
    (script, errors, sources)
}

fn ok(text: &str) -> Script {
    let (script, errors, _) = parse_text(text, false);
    assert!(errors.is_empty(), "{text}: {errors:?}");
    script
}

fn errors(text: &str) -> Vec<String> {
    parse_text(text, false).1
}

/// The single expression statement of `probe begin { EXPR }`, printed.
fn expr(text: &str) -> String {
    let script = ok(&format!("probe begin {{ {text} }}"));
    let Item::Probe(probe) = &script.items[0] else {
        panic!()
    };
    let StmtKind::Expr(e) = &probe.body.stmts[0].kind else {
        panic!("{:?}", probe.body.stmts[0])
    };
    print_expr(e)
}

#[test]
fn precedence_follows_stap() {
    assert_eq!(expr("a = b = 1"), "(a) = ((b) = (1))");
    assert_eq!(expr("1 + 2 * 3 - 4"), "((1) + ((2) * (3))) - (4)");
    // Concatenation binds looser than + and tighter than comparisons and shifts.
    assert_eq!(expr(r#""a" . 1 + 2"#), r#"("a") . ((1) + (2))"#);
    assert_eq!(expr(r#"x << "a" . "b""#), r#"(x) << (("a") . ("b"))"#);
    assert_eq!(expr("a < b == c"), "((a) < (b)) == (c)");
    assert_eq!(
        expr("a & b | c ^ d && e || f"),
        "((((a) & (b)) | ((c) ^ (d))) && (e)) || (f)"
    );
    assert_eq!(expr("a in b && c"), "([(a)] in b) && (c)");
    assert_eq!(expr("[a, *] in b"), "[(a), *] in b");
    // The ternary's false arm binds tighter than assignment (stap >= 4.0).
    assert_eq!(expr("x = c ? a : b = 2"), "(x) = (((c) ? (a) : (b)) = (2))");
    assert_eq!(expr("c ? a = 1 : b"), "(c) ? ((a) = (1)) : (b)");
    assert_eq!(expr("c ? a : d ? e : f"), "(c) ? (a) : ((d) ? (e) : (f))");
    assert_eq!(expr("- - ! ~x"), "-(-(!(~(x))))");
    assert_eq!(expr("x++ + ++y"), "((x)++) + (++(y))");
    assert_eq!(expr("s <<< 1 + 2"), "(s) <<< ((1) + (2))");
    assert_eq!(expr("x >>> 2 >> 1"), "((x) >>> (2)) >> (1)");
}

#[test]
fn literals() {
    assert_eq!(
        expr("0x10 + 010 + 18446744073709551615"),
        "((16) + (8)) + (18446744073709551615)"
    );
    assert_eq!(expr(r#""a" "b" /* c */ "c""#), r#""abc""#);
    assert_eq!(expr(r#""tab\there\x41\101""#), r#""tab\thereAA""#);
    // `[x]` alone is just x (stap's parse_array_in).
    assert_eq!(expr("y = [x]"), "(y) = (x)");
}

#[test]
fn targets_and_at_operators() {
    assert_eq!(expr("$p->a->b[2]$"), "$p->a->b[2]$");
    assert_eq!(expr("$p$$"), "$p$$");
    assert_eq!(expr("&$p->x"), "&$p->x");
    assert_eq!(
        expr("@cast(p, \"task_struct\", \"kernel\")->pid"),
        "@cast(p, \"task_struct\", \"kernel\")->pid"
    );
    assert_eq!(expr("@var(\"errno@errno.c\")"), "@var(\"errno@errno.c\")");
    assert_eq!(expr("f(x)->y"), "(f(x))->y");
    assert_eq!(expr("a[1][2]"), "(a[1])[2]");
    assert_eq!(expr("@defined($x) ? $x : 0"), "(@defined($x)) ? ($x) : (0)");
    assert_eq!(
        expr("@entry($a) + @count(s) + @variance(s, 3)"),
        "((@entry($a)) + (@count(s))) + (@variance(s, 3))"
    );
    assert_eq!(expr("@hist_log(s)[3]"), "@hist_log(s)[3]");
    assert_eq!(
        expr("print(@hist_linear(s, 0, 100, 10))"),
        "print(@hist_linear(s, 0, 100, 10))"
    );
    assert_eq!(
        expr("@uderef(4, p) + @uregister(0)"),
        "(@uderef(4, p)) + (@uregister(0))"
    );
}

#[test]
fn print_family() {
    assert_eq!(expr(r#"printf("%d\n", 1)"#), r#"printf("%d\n", 1)"#);
    assert_eq!(expr(r#"printdln(",", a, b)"#), r#"printdln(",", a, b)"#);
    assert_eq!(expr("println()"), "println()");
    assert!(errors("probe begin { print() }").len() == 1);
    assert!(errors("probe begin { printd(\",\", a) }").len() == 1);
    assert!(errors("probe begin { x = printf }").len() == 1);
}

#[test]
fn probe_points_expand_braces() {
    let script = ok("probe {a, b}.{c, d}?, e if (x > 0) { }");
    let Item::Probe(probe) = &script.items[0] else {
        panic!()
    };
    let names: Vec<String> = probe
        .points
        .iter()
        .map(crate::printer::print_probe_point)
        .collect();
    assert_eq!(names, ["a.c?", "a.d?", "b.c?", "b.d?", "e"]);
    assert!(probe.points[4].condition.is_some());
    let script = ok("probe sys*read, kernel.function(\"*@fs/*.c\").return, x.**.y { }");
    let Item::Probe(probe) = &script.items[0] else {
        panic!()
    };
    let names: Vec<String> = probe
        .points
        .iter()
        .map(crate::printer::print_probe_point)
        .collect();
    assert_eq!(
        names,
        ["sys*read", "kernel.function(\"*@fs/*.c\").return", "x.**.y"]
    );
    assert_eq!(errors("probe a * b { }").len(), 1);
    assert_eq!(
        errors("probe {a?, b}.c { }"),
        ["parse error: '?', '!' or condition must only be specified in suffix at t.stp:1:8"]
    );
}

#[test]
fn aliases() {
    let script = ok("probe a = b = begin { x = 1 }, { y = 2 } probe c += end { }");
    let Item::Alias(alias) = &script.items[0] else {
        panic!()
    };
    assert_eq!(alias.names.len(), 2);
    assert!(matches!(alias.body, AliasBody::Both(..)));
    let Item::Alias(alias) = &script.items[1] else {
        panic!()
    };
    assert!(matches!(alias.body, AliasBody::Epilogue(_)));
    assert_eq!(
        errors("probe a += b { } , { }"),
        ["parse error: Combined prologue and epilogue cannot be defined with '+=' at t.stp:1:18"]
    );
    assert_eq!(
        errors("probe a? = b { }"),
        ["parse error: probe point alias name cannot be optional nor sufficient at t.stp:1:7"]
    );
}

#[test]
fn foreach_forms() {
    let script = ok(
        "global a probe begin { foreach (v- = [x, y] in a[*, 1] limit 3) ; \
                     foreach (k in a @sum+) ; foreach ([p, q-] in a) ; }",
    );
    let listing = print_script(&script);
    assert!(
        listing.contains("foreach (v = [x, y] in a[*, 1]- limit 3)"),
        "{listing}"
    );
    assert!(listing.contains("foreach (k in a @sum+)"), "{listing}");
    assert!(listing.contains("foreach ([p, q-] in a)"), "{listing}");
    assert_eq!(
        errors("global a probe begin { foreach ([x+, y-] in a) ; }"),
        ["parse error: multiple sort directives at t.stp:1:39"]
    );
    assert_eq!(
        errors("global a probe begin { foreach (x in a @sum) ; }").len(),
        1
    );
}

#[test]
fn declarations() {
    let script = ok(
        "global a = 1, b%[10], c = \"s\"; private d function f:string (x:long, y) :5 { return \"\" }",
    );
    assert_eq!(script.items.len(), 5);
    let Item::Function(f) = &script.items[4] else {
        panic!()
    };
    assert_eq!(
        f.priority.as_ref().map(|p| p.value.clone()),
        Some(LiteralValue::Number(5))
    );
    assert_eq!(
        errors("function f() :0 { }"),
        ["parse error: specified priority must be > 0 at t.stp:1:15"]
    );
    assert_eq!(
        errors("function f(a, a) { }"),
        ["parse error: duplicate parameter names at t.stp:1:15"]
    );
    assert_eq!(
        errors("global a private a"),
        ["parse error: global versus private variable declaration conflict at t.stp:1:18"]
    );
    assert_eq!(
        errors("probe begin { return 1 }"),
        ["parse error: found 'return' not in function context at t.stp:1:15"]
    );
}

#[test]
fn embedded_code_needs_privilege() {
    let text =
        "%{ #include <x.h> %} function f() %{ STAP_RETURN(1); %} probe begin { x = %{ 1 %} }";
    assert_eq!(errors(text).len(), 3);
    let (_, errors, _) = parse_text(text, true);
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn recovery_reports_every_error() {
    let text = "probe begin {\n  x = (1 +\n  y = 2\n  z = )\n}\nprobe end { a b c = ; }\nfunction f( { }\nprobe x { ok = 1 }";
    let found = errors(text);
    assert_eq!(found.len(), 4, "{found:?}");
    // The last probe is intact.
    let (script, _, _) = parse_text(text, false);
    assert!(
        script
            .items
            .iter()
            .any(|i| matches!(i, Item::Probe(p) if p.points[0].components[0].name == "x"))
    );
}

#[test]
fn junk_and_eof() {
    assert_eq!(errors("probe begin { x = 1 \u{1} }").len(), 1);
    assert_eq!(errors("probe begin { x = 1").len(), 1);
    assert_eq!(errors("probe begin { @count(s y z) }").len(), 0);
    assert_eq!(
        errors("probe begin { x = @foo(1) }"),
        ["parse error: unknown operator @foo at t.stp:1:19"]
    );
}
