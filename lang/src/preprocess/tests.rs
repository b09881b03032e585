use super::*;
use crate::target::KernelConfig;

fn target() -> Target {
    Target {
        kernel_release: "6.1.0-13-amd64".into(),
        arch: "x86_64".into(),
        runtime: "dyninst".into(),
        compatible: "4.8".into(),
        privilege: "stapdev".into(),
        guru_mode: false,
        kernel_config: KernelConfig::fixed([("CONFIG_SMP".to_string(), "y".to_string())]),
    }
}

struct Outcome {
    text: String,
    errors: Vec<String>,
    warnings: Vec<String>,
    used_args: Vec<bool>,
}

/// Preprocesses `text` (with an optional library macro file) and shows the kept tokens
/// separated by spaces (`!` marks a reported error).
fn run_with(text: &str, args: &[&str], library: Option<&str>) -> Outcome {
    let target = target();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env = PpEnv {
        target: &target,
        args: &args,
    };
    let mut sources = SourceMap::new();
    let mut state = PpState::default();
    if let Some(library) = library {
        let id = sources.add(
            "lib.stpm",
            None,
            FileKind::MacroLibrary,
            library.to_string(),
        );
        let tokens = lexer::lex(&sources, id).tokens;
        let out = preprocess(&mut state, env, &mut sources, tokens);
        assert!(out.tokens.is_empty() && out.diagnostics.is_empty());
        state.library_macros = out.macros;
    }
    let id = sources.add("t.stp", None, FileKind::User, text.to_string());
    let tokens = lexer::lex(&sources, id).tokens;
    let out = preprocess(&mut state, env, &mut sources, tokens);
    let text = out
        .tokens
        .iter()
        .map(|t| {
            if t.kind == TokenKind::Reported {
                "!".to_string()
            } else {
                sources.text(t.span).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let (errors, warnings): (Vec<_>, Vec<_>) = out.diagnostics.iter().partition(|d| d.is_error());
    Outcome {
        text,
        errors: errors.iter().map(|d| d.headline(&sources)).collect(),
        warnings: warnings.iter().map(|d| d.message.clone()).collect(),
        used_args: state.used_args,
    }
}

fn run(text: &str) -> Outcome {
    run_with(text, &[], None)
}

fn expand(text: &str) -> String {
    let out = run(text);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.text
}

#[test]
fn conditionals_pick_one_arm() {
    assert_eq!(expand(r#"a %( arch == "x86_64" %? b %: c %) d"#), "a b d");
    assert_eq!(expand(r#"a %( arch == "arm*" %? b %: c %) d"#), "a c d");
    assert_eq!(expand(r#"%( runtime == "kernel" %? k %)"#), "");
    assert_eq!(expand(r#"%( runtime == "dyninst" %? u %)"#), "u");
    assert_eq!(expand(r#"%( kernel_v >= "2.6.9" %? new %: old %)"#), "new");
    assert_eq!(expand(r#"%( CONFIG_SMP == "y" %? smp %)"#), "smp");
}

#[test]
fn conditionals_nest_and_combine() {
    let nested = r#"%( 1 == 1 %? %( 2 == 3 %? x %: y %) %: %( 1 == 1 %? z %) %)"#;
    assert_eq!(expand(nested), "y");
    // && binds tighter than ||.
    assert_eq!(expand(r#"%( 1 == 2 && 1 == 1 || 2 == 2 %? t %: f %)"#), "t");
    assert_eq!(expand(r#"%( 1 == 1 && 1 == 2 || 2 == 3 %? t %: f %)"#), "f");
    // Skipped arms may contain anything, even junk and bad arguments.
    assert_eq!(expand("%( 1 == 2 %? \u{1} \"open\n $9 %: ok %)"), "ok");
}

#[test]
fn conditional_errors() {
    assert_eq!(
        run("%( 1 == 1 %? a").errors,
        ["parse error: incomplete conditional at end of file at t.stp:1:1"]
    );
    assert_eq!(
        run("a %? b").errors,
        ["parse error: incomplete conditional - missing '%(' at t.stp:1:3"]
    );
    assert_eq!(
        run("%( 1 == 1 %? a %: b %: c %)").errors[0],
        "parse error: invalid conditional - duplicate '%:' at t.stp:1:21"
    );
    assert_eq!(
        run("%( 1 == 1 a %)").errors[0],
        "parse error: expected '%?' marker for conditional at t.stp:1:1"
    );
    assert_eq!(
        run("%( 1 == %)").errors[0],
        format!("parse error: {} at t.stp:1:4", condition::UNKNOWN_CONDITION)
    );
    assert_eq!(
        run(r#"%( foo == "x" %? a %)"#).errors[0],
        format!("parse error: {} at t.stp:1:4", condition::UNKNOWN_CONDITION)
    );
    // A bad term is one error and counts as false.
    let out = run(r#"%( arch < "x" %? a %: b %)"#);
    assert_eq!(
        out.errors,
        ["parse error: expected '==' or '!=' at t.stp:1:9"]
    );
    assert_eq!(out.text, "! b");
}

#[test]
fn macros_with_and_without_parameters() {
    assert_eq!(expand("@define two %( 2 %) x = @two"), "x = 2");
    assert_eq!(
        expand("@define add(a, b) %( (@a + @b) %) @add(1, f(2, 3))"),
        "( 1 + f ( 2 , 3 ) )"
    );
    assert_eq!(
        expand("@define idx(a) %( @a %) @idx(x[1, 2])"),
        "x [ 1 , 2 ]"
    );
    // A parameterless macro leaves parentheses alone.
    assert_eq!(expand("@define f %( g %) @f(1)"), "g ( 1 )");
    // Unknown @words are operators for the parser.
    assert_eq!(
        expand("@cast(p, \"t\") @count(s)"),
        "@cast ( p , \"t\" ) @count ( s )"
    );
}

#[test]
fn macro_parameters_are_closures() {
    // @x in an argument refers to the invoker's parameter x, not the callee's.
    let text = "@define inner(x) %( [@x] %) @define outer(x) %( @inner(@x + 1) %) @outer(5)";
    assert_eq!(expand(text), "[ 5 + 1 ]");
    // Macros may expand to conditionals.
    assert_eq!(
        expand(r#"@define isx %( %( arch == "x86_64" %? 1 %: 0 %) %) @isx"#),
        "1"
    );
    // And conditionals may choose definitions.
    assert_eq!(
        expand(r#"%( 1 == 1 %? @define m %( yes %) %: @define m %( no %) %) @m"#),
        "yes"
    );
}

#[test]
fn macro_errors() {
    assert_eq!(
        run("@define m %( 1 %) @define m %( 2 %)").errors[0],
        "parse error: attempt to redefine macro '@m' in the same file at t.stp:1:27"
    );
    assert_eq!(
        run("@define m(a) %( @a %) @m").errors[0],
        "parse error: expected '(' in invocation of macro '@m' taking 1 parameter at t.stp:1:23"
    );
    assert_eq!(
        run("@define m(a) %( @a %) @m(1, 2)").errors[0],
        "parse error: too many parameters for macro '@m' (expected 1) at t.stp:1:27"
    );
    assert_eq!(
        run("@define m(a, b) %( @a %) @m(1)").errors[0],
        "parse error: too few parameters for macro '@m' (expected 2) at t.stp:1:30"
    );
    assert_eq!(
        run("@define m(a) %( @a %) @m(1").errors[0],
        "parse error: could not find end of macro invocation at t.stp:1:23"
    );
    assert_eq!(
        run("@define m %( x").errors[0],
        "parse error: incomplete macro definition - missing '%)' at t.stp:1:9"
    );
    assert_eq!(
        run("@define m x").errors[0],
        "parse error: expected '%(' or '(' at t.stp:1:11"
    );
    assert_eq!(
        run("@define m(a b) %( %)").errors[0],
        "parse error: expected ',' or ')' at t.stp:1:13"
    );
    assert_eq!(
        run("@define define %( %)").errors[0],
        "parse error: attempt to redefine '@define' at t.stp:1:9"
    );
    assert_eq!(
        run("@define m %( @define n %( 1 %) %) @m").errors[0],
        "parse error: '@define' forbidden inside macro body at t.stp:1:14"
    );
    assert_eq!(
        run("@define cast %( 1 %) @cast").warnings,
        ["macro redefines built-in operator '@cast'"]
    );
}

#[test]
fn runaway_expansion_stops() {
    let out = run("@define r %( @r %) @r");
    assert_eq!(
        out.errors,
        ["parse error: macro expansion nested too deeply (recursive macro?) at t.stp:1:14"]
    );
}

#[test]
fn library_macros_are_global_and_closed() {
    let out = run_with(
        "@lib(3)",
        &[],
        Some("@define lib(x) %( @x * @helper %) @define helper %( 2 %)"),
    );
    assert_eq!(out.text, "3 * 2");
    // File-local macros are not visible inside library macros.
    let out = run_with(
        "@define helper %( 9 %) @lib(3)",
        &[],
        Some("@define lib(x) %( @x * @helper %) @define helper %( 2 %)"),
    );
    assert_eq!(out.text, "3 * 2");
}

#[test]
fn command_line_arguments() {
    let out = run_with("$1 @1 $# @# $2", &["1 + x", "two"], None);
    assert_eq!(out.text, "1 + x \"1 + x\" 2 \"2\" two");
    assert_eq!(out.used_args, [true, true]);
    let out = run_with("f(@1)", &["say \"hi\"\n"], None);
    assert_eq!(out.text, r#"f ( "say \"hi\"\n" )"#);
    let out = run_with("$1", &[], None);
    assert_eq!(
        out.errors,
        ["parse error: command line argument out of range [1-0] at t.stp:1:1"]
    );
    let out = run_with("$1", &["$2"], None);
    assert_eq!(
        out.errors,
        ["parse error: invalid nested substitution of command line arguments at $1:1:1"]
    );
    // Arguments work inside conditions, and pasting them counts as use even when skipped.
    let out = run_with("%( $# > 1 %? $2 %: none %)", &["a"], None);
    assert_eq!(out.text, "none");
    let out = run_with("%( @1 == \"x\" %? yes %)", &["x", "y"], None);
    assert_eq!(
        (out.text.as_str(), out.used_args),
        ("yes", vec![true, false])
    );
}

#[test]
fn lexical_errors_are_reported_when_kept() {
    let out = run("a \"open");
    assert_eq!(
        out.errors,
        ["parse error: Could not find matching closing quote at t.stp:1:3"]
    );
    assert_eq!(out.text, "a !");
    let out = run("%{ open");
    assert_eq!(
        out.errors,
        ["parse error: Could not find matching '%}' to close embedded function block at t.stp:1:1"]
    );
}
