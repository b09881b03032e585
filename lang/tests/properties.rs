//! Property tests of the front end:
//! - the `-p1` listing of any accepted script parses back to the same tree;
//! - no input — random token sequences, mutated valid scripts — makes any pass panic.
//!
//! Valid scripts come from a grammar-based generator and from the accepted fixtures of
//! `tests/parse/`.

use proptest::prelude::*;
use rtap_lang::ast::Script;
use rtap_lang::printer::print_script;
use rtap_lang::session::{Options, Session};
use rtap_lang::target::{KernelConfig, Target};

fn options(guru: bool) -> Options {
    let mut options = Options::new();
    options.guru = guru;
    options.tapset_path =
        vec![concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/parse/tapset").into()];
    options.args = vec!["1".to_string(), "two".to_string()];
    options.target = Target {
        kernel_release: "6.1.0".into(),
        arch: "x86_64".into(),
        runtime: "dyninst".into(),
        compatible: "4.8".into(),
        privilege: "stapdev".into(),
        guru_mode: guru,
        kernel_config: KernelConfig::fixed([]),
    };
    options
}

/// Parses text as a user script; the tree and whether it parsed without errors.
fn parse(text: &str) -> (Script, bool) {
    let mut session = Session::new(options(true));
    session.add_user_text("<input>", text.to_string());
    let mut parsed = session.parse();
    let ok = !parsed.diagnostics.iter().any(|d| d.is_error());
    (parsed.scripts.remove(0), ok)
}

/// Runs every pass the front end has over the text; only panics matter.
fn run_all_passes(text: &str) {
    let mut session = Session::new(options(false));
    session.add_user_text("<input>", text.to_string());
    let _ = session.parse();
}

/// The tree with all spans erased (spans print as `FILE@START..END` in Debug output).
fn shape(script: &Script) -> String {
    let debug = format!("{:?}", script.items);
    let bytes = debug.as_bytes();
    let mut out = String::with_capacity(debug.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = span_at(&bytes[i..]) {
            out.push('_');
            i += len;
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    out
}

/// Length of a `D+@D+..D+` span printed at the start of `text`.
fn span_at(text: &[u8]) -> Option<usize> {
    let digits = |from: usize| {
        text[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let a = digits(0);
    if a == 0 || text.get(a) != Some(&b'@') {
        return None;
    }
    let b = digits(a + 1);
    if b == 0 || text.get(a + 1 + b..a + 3 + b) != Some(b"..") {
        return None;
    }
    let c = digits(a + 3 + b);
    (c > 0).then_some(a + 3 + b + c)
}

fn assert_round_trip(text: &str) {
    let (first, ok) = parse(text);
    assert!(ok, "does not parse:\n{text}");
    let listing = print_script(&first);
    let (second, ok) = parse(&listing);
    assert!(ok, "the listing does not parse:\n{listing}\n(from)\n{text}");
    assert_eq!(
        shape(&first),
        shape(&second),
        "the listing parses to another tree:\n{listing}"
    );
}

// ---- a generator of valid scripts ------------------------------------------------------------

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x"),
        Just("y"),
        Just("total"),
        Just("s"),
        Just("a_1"),
        Just("$p")
    ]
    .prop_map(str::to_string)
}

fn string_literal() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("a"),
            Just(" "),
            Just("\\n"),
            Just("\\\""),
            Just("\\\\"),
            Just("%d"),
            Just("\\x41"),
            Just("é")
        ],
        0..5,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()))
}

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (0u64..u64::MAX).prop_map(|n| n.to_string()),
        Just("0x1f".to_string()),
        string_literal(),
        ident(),
        Just("a[1, \"k\"]".to_string()),
        Just("@count(s)".to_string()),
        Just("$p->x[2]$".to_string()),
        Just("@cast(p, \"t\")->m".to_string()),
        Just("f()".to_string()),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        let binary_op = prop_oneof![
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
            Just("%"),
            Just("<<"),
            Just(">>"),
            Just(">>>"),
            Just("&"),
            Just("|"),
            Just("^"),
            Just("&&"),
            Just("||"),
            Just("<"),
            Just("<="),
            Just("=="),
            Just("!="),
            Just(">"),
            Just(">="),
            Just("."),
        ];
        let assign_op = prop_oneof![Just("="), Just("+="), Just(".="), Just("<<<"), Just("|=")];
        prop_oneof![
            (inner.clone(), binary_op, inner.clone())
                .prop_map(|(l, op, r)| format!("({l}) {op} ({r})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, t, f)| format!("({c}) ? {t} : ({f})")),
            (ident(), assign_op, inner.clone()).prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            (
                prop_oneof![Just("-"), Just("!"), Just("~"), Just("+")],
                inner.clone()
            )
                .prop_map(|(op, e)| format!("{op} ({e})")),
            inner.clone().prop_map(|e| format!("({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("g({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[({a}), ({b})] in arr")),
            inner.clone().prop_map(|e| format!("sprintf(\"%d\", {e})")),
            inner.clone().prop_map(|e| format!("({e}) =~ \"^a+\"")),
            ident().prop_map(|v| format!("{v}++")),
            ident().prop_map(|v| format!("--{v}")),
        ]
    })
}

fn statement() -> impl Strategy<Value = String> {
    let simple = prop_oneof![
        expr().prop_map(|e| format!("{e};")),
        expr().prop_map(|e| format!("if ({e}) x = 1; else {{ y = 2 }}")),
        expr().prop_map(|e| format!("while ({e}) break")),
        expr().prop_map(|e| format!("for (i = 0; {e}; i++) continue")),
        Just("foreach ([k1, k2-] in arr[*, 1] limit 3) { next }".to_string()),
        Just("foreach (v = k in s @sum+) ;".to_string()),
        Just("delete arr[1, *];".to_string()),
        Just("try { error(\"e\") } catch (m) { println(m) }".to_string()),
        Just(";".to_string()),
        expr().prop_map(|e| format!("printf(\"%s %d\\n\", \"x\", {e});")),
    ];
    simple.prop_recursive(2, 8, 3, |inner| {
        proptest::collection::vec(inner, 0..3)
            .prop_map(|stmts| format!("{{ {} }}", stmts.join("\n")))
    })
}

fn script() -> impl Strategy<Value = String> {
    (proptest::collection::vec(statement(), 0..6), proptest::collection::vec(statement(), 0..3)).prop_map(
        |(probe_body, function_body)| {
            format!(
                "global arr, s%[10], z = -3\n\
                 probe begin, timer.ms(10)?, process(\"a\").function(\"*\").return if (z) {{\n{}\n}}\n\
                 function g:long (a, b:string) :2 {{\n{}\nreturn 1\n}}\n\
                 probe al = end {{ }}, {{ }}\n",
                probe_body.join("\n"),
                function_body.join("\n")
            )
        },
    )
}

// ---- random and mutated input ----------------------------------------------------------------

const VOCABULARY: &[&str] = &[
    "probe",
    "global",
    "private",
    "function",
    "if",
    "else",
    "for",
    "foreach",
    "in",
    "limit",
    "return",
    "delete",
    "while",
    "break",
    "continue",
    "next",
    "string",
    "long",
    "try",
    "catch",
    "begin",
    "end",
    "x",
    "$x",
    "$$vars",
    "@cast",
    "@var",
    "@define",
    "@count",
    "@hist_log",
    "@hist_linear",
    "@entry",
    "@defined",
    "@m",
    "@1",
    "$1",
    "$#",
    "@#",
    "0",
    "42",
    "0x",
    "18446744073709551616",
    "\"s\"",
    "\"",
    "%{ c %}",
    "%{",
    "%(",
    "%?",
    "%:",
    "%)",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ".",
    ":",
    "?",
    "!",
    "*",
    "**",
    "=",
    "+=",
    "<<<",
    ">>>",
    "->",
    "&",
    "&&",
    "||",
    "-",
    "--",
    "++",
    "=~",
    "\"re\"",
    "printf",
    "print",
    "sprintf",
    "println",
    "arch",
    "==",
    "kernel_v",
    "\u{1}",
    "#",
    "//",
    "/*",
    "*/",
    "\n",
];

fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..60)
        .prop_map(|tokens| tokens.join(" "))
}

/// The accepted `-p1` fixtures of the binary's test suite.
fn accepted_fixtures() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/parse");
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(dir).expect("tests/parse") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "stp") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let first = text.lines().next().unwrap_or("");
        if text.contains("# oracle: pass") && first.contains("-p1") && !text.contains("# args:") {
            texts.push(text);
        }
    }
    texts.sort();
    texts
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Duplicate(usize, usize),
    Swap(usize, usize),
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for mutation in mutations {
        let len = bytes.len().max(1);
        match *mutation {
            Mutation::Delete(at, n) => {
                let at = at % len;
                let end = (at + n % 16).min(bytes.len());
                bytes.drain(at.min(bytes.len())..end);
            }
            Mutation::Insert(at, token) => {
                let at = (at % len).min(bytes.len());
                bytes.splice(at..at, token.bytes());
            }
            Mutation::Duplicate(at, n) => {
                let at = (at % len).min(bytes.len());
                let end = (at + n % 32).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
            Mutation::Swap(a, b) => {
                if !bytes.is_empty() {
                    let (a, b) = (a % bytes.len(), b % bytes.len());
                    bytes.swap(a, b);
                }
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), proptest::sample::select(VOCABULARY))
            .prop_map(|(a, t)| Mutation::Insert(a, t)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
    ]
}

#[test]
fn accepted_fixtures_round_trip() {
    let fixtures = accepted_fixtures();
    assert!(
        fixtures.len() > 50,
        "only {} fixtures found",
        fixtures.len()
    );
    for text in fixtures {
        assert_round_trip(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_scripts_round_trip(text in script()) {
        assert_round_trip(&text);
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        run_all_passes(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        index in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let fixtures = accepted_fixtures();
        let text = mutate(&fixtures[index % fixtures.len()], &mutations);
        run_all_passes(&text);
    }
}
