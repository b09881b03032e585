//! IR-level tests: hand-built IR, JIT-compiled, run against a small test runtime that
//! implements the helpers these programs call, following `rtap_abi`'s contract. Expected
//! values are hand-computed (C semantics of SystemTap's generated code, §1.5 of the
//! reference).

use super::*;
use crate::ir::*;
use rtap_abi::codes;
use rtap_abi::context::{UNWIND_ERROR, UNWIND_NONE};
use rtap_abi::format::{Component, ConvKind, Format};
use rtap_abi::{Context, StrBuf};

/// The context these tests run handlers with: the ABI head, then test state.
#[repr(C)]
struct TestCtx {
    abi: Context,
    /// Errors raised: (kind, loc).
    errors: Vec<(i64, i64)>,
    out: Vec<u8>,
    formats: Vec<Format>,
    max_string_len: usize,
    globals: Vec<u64>,
}

fn test_ctx(ctx: *mut Context) -> &'static mut TestCtx {
    // SAFETY: every handler in these tests runs with a `*mut TestCtx` (repr(C), head first).
    unsafe { &mut *ctx.cast::<TestCtx>() }
}

fn bytes<'a>(s: *const StrBuf) -> &'a [u8] {
    // SAFETY: generated code passes valid string buffers (StrBuf header, then `len` bytes).
    unsafe { std::slice::from_raw_parts((*s).bytes.as_ptr(), (*s).len as usize) }
}

fn store(ctx: &TestCtx, dst: *mut StrBuf, value: &[u8]) {
    let n = value.len().min(ctx.max_string_len - 1);
    // SAFETY: destination buffers hold MAXSTRINGLEN bytes; `copy` tolerates overlap.
    unsafe {
        std::ptr::copy(value.as_ptr(), (*dst).bytes.as_mut_ptr(), n);
        (*dst).len = n as u32;
    }
}

unsafe extern "C" fn rt_raise(ctx: *mut Context, kind: i64, loc: i64) {
    let t = test_ctx(ctx);
    t.errors.push((kind, loc));
    t.abi.unwind = UNWIND_ERROR;
}

unsafe extern "C" fn rt_catch(ctx: *mut Context, msg: *mut StrBuf) -> i64 {
    let t = test_ctx(ctx);
    if t.abi.unwind != UNWIND_ERROR {
        return 0;
    }
    t.abi.unwind = UNWIND_NONE;
    if !msg.is_null() {
        let kind = t.errors.last().map_or(0, |e| e.0);
        store(t, msg, format!("error {kind}").as_bytes());
    }
    1
}

unsafe extern "C" fn rt_str_copy(ctx: *mut Context, dst: *mut StrBuf, src: *const StrBuf) {
    let v = bytes(src).to_vec();
    store(test_ctx(ctx), dst, &v);
}

unsafe extern "C" fn rt_str_concat(
    ctx: *mut Context,
    dst: *mut StrBuf,
    a: *const StrBuf,
    b: *const StrBuf,
) {
    let mut v = bytes(a).to_vec();
    v.extend_from_slice(bytes(b));
    store(test_ctx(ctx), dst, &v);
}

unsafe extern "C" fn rt_str_compare(_: *mut Context, a: *const StrBuf, b: *const StrBuf) -> i64 {
    bytes(a).cmp(bytes(b)) as i64
}

/// `%d` and `%s` only, which is all these programs use.
unsafe extern "C" fn rt_printf(ctx: *mut Context, format: i64, args: *const u64, _loc: i64) {
    let t = test_ctx(ctx);
    let mut i = 0;
    for c in &t.formats[format as usize].components {
        match c {
            Component::Literal(b) => t.out.extend_from_slice(&b[..]),
            Component::Conversion(conv) => {
                // SAFETY: one slot per conversion, as the format consumes them.
                let slot = unsafe { *args.add(i) };
                i += 1;
                match conv.kind {
                    ConvKind::Signed => t
                        .out
                        .extend_from_slice((slot as i64).to_string().as_bytes()),
                    ConvKind::String => t.out.extend_from_slice(bytes(slot as *const StrBuf)),
                    other => panic!("test printf does not do {other:?}"),
                }
            }
        }
    }
}

fn helpers() -> Vec<(&'static str, *const u8)> {
    vec![
        ("rt_raise", rt_raise as *const u8),
        ("rt_catch", rt_catch as *const u8),
        ("rt_str_copy", rt_str_copy as *const u8),
        ("rt_str_concat", rt_str_concat as *const u8),
        ("rt_str_compare", rt_str_compare as *const u8),
        ("rt_printf", rt_printf as *const u8),
    ]
}

/// Compiles `program` and runs probe 0 with `actions` of budget.
fn run(program: &Program, actions: i64) -> Box<TestCtx> {
    let compiled = compile(program, &helpers(), &Options::default()).expect("compiles");
    let mut t = Box::new(TestCtx {
        abi: Context::new(),
        errors: Vec::new(),
        out: Vec::new(),
        formats: program.formats.clone(),
        max_string_len: program.max_string_len,
        globals: vec![0; compiled.layout.size.div_ceil(8)],
    });
    for (i, s) in program.scalars.iter().enumerate() {
        if let Const::Long(v) = s.init {
            t.globals[compiled.layout.offsets[i] / 8] = v as u64;
        }
    }
    t.abi.globals = t.globals.as_mut_ptr().cast();
    t.abi.actions_left = actions;
    let ctx: *mut TestCtx = &mut *t;
    // SAFETY: the handler takes the context pointer; TestCtx starts with the ABI head.
    unsafe { (compiled.handlers[0])(ctx.cast()) };
    t
}

fn long_global(t: &TestCtx, program: &Program, g: u32) -> i64 {
    let layout = GlobalsLayout::new(program);
    t.globals[layout.offsets[g as usize] / 8] as i64
}

fn local(name: &str, ty: Type) -> Local {
    Local {
        name: name.to_string(),
        ty,
    }
}

fn block(insts: Vec<Inst>, term: Terminator) -> Block {
    Block {
        insts,
        term,
        unwind: None,
    }
}

fn l(i: u32) -> Value {
    Value::Local(LocalId(i))
}

fn c(v: i64) -> Value {
    Value::Const(v)
}

fn program(scalars: usize, probe: Body, functions: Vec<Function>) -> Program {
    Program {
        max_string_len: 512,
        max_nesting: 10,
        scalars: (0..scalars)
            .map(|i| Scalar {
                name: format!("g{i}"),
                init: Const::Long(0),
                display: false,
            })
            .collect(),
        functions,
        probes: vec![Probe {
            kind: ProbeKind::Begin(0),
            pp: "begin".into(),
            pn: "begin".into(),
            body: probe,
        }],
        locations: (0..4).map(|i| format!("location {i}")).collect(),
        ..Program::default()
    }
}

/// Evaluates `lhs op rhs` for each case in one handler, storing results in globals.
fn eval_binary(cases: &[(Inst, i64)]) {
    let mut insts = Vec::new();
    for (i, (inst, _)) in cases.iter().enumerate() {
        insts.push(inst.clone());
        insts.push(Inst::StoreGlobal {
            global: ScalarId(i as u32),
            src: l(0),
        });
    }
    let body = Body {
        locals: vec![local("x", Type::Long)],
        blocks: vec![block(insts, Terminator::Return(None))],
    };
    let p = program(cases.len(), body, vec![]);
    let t = run(&p, 1000);
    assert_eq!(t.errors, vec![]);
    for (i, (inst, want)) in cases.iter().enumerate() {
        assert_eq!(long_global(&t, &p, i as u32), *want, "{inst:?}");
    }
}

fn bin(op: BinOp, a: i64, b: i64) -> Inst {
    Inst::Binary {
        dst: LocalId(0),
        op,
        lhs: c(a),
        rhs: c(b),
    }
}

fn div(op: DivOp, a: i64, b: i64) -> Inst {
    Inst::Divide {
        dst: LocalId(0),
        op,
        lhs: c(a),
        rhs: c(b),
        loc: LocId(1),
    }
}

#[test]
fn long_arithmetic_wraps_and_masks_shifts() {
    eval_binary(&[
        (bin(BinOp::Add, i64::MAX, 1), i64::MIN),
        (bin(BinOp::Sub, i64::MIN, 1), i64::MAX),
        (bin(BinOp::Mul, 1 << 62, 4), 0),
        (bin(BinOp::Shl, 1, 65), 2),
        (bin(BinOp::Shr, -16, 2), -4),
        (bin(BinOp::Shr, -1, 63 + 64), -1),
        (bin(BinOp::Ushr, -1, 60), 15),
        (bin(BinOp::Xor, 0b1100, 0b1010), 0b0110),
        (bin(BinOp::And, 0b1100, 0b1010), 0b1000),
        (bin(BinOp::Or, 0b1100, 0b1010), 0b1110),
    ]);
}

#[test]
fn division_truncates_and_never_traps() {
    eval_binary(&[
        (div(DivOp::Div, -7, 2), -3),
        (div(DivOp::Rem, -7, 2), -1),
        (div(DivOp::Rem, 7, -2), 1),
        (div(DivOp::Div, i64::MIN, -1), i64::MIN),
        (div(DivOp::Rem, i64::MIN, -1), 0),
        (div(DivOp::Div, 5, -1), -5),
    ]);
}

#[test]
fn division_by_a_variable_minus_one_or_zero() {
    // The divisor comes from a local, so the run-time guards are exercised.
    let body = Body {
        locals: vec![local("d", Type::Long), local("x", Type::Long)],
        blocks: vec![block(
            vec![
                Inst::Move {
                    dst: LocalId(0),
                    src: c(-1),
                },
                Inst::Divide {
                    dst: LocalId(1),
                    op: DivOp::Div,
                    lhs: c(i64::MIN),
                    rhs: l(0),
                    loc: LocId(1),
                },
                Inst::StoreGlobal {
                    global: ScalarId(0),
                    src: l(1),
                },
                Inst::Move {
                    dst: LocalId(0),
                    src: c(0),
                },
                Inst::Divide {
                    dst: LocalId(1),
                    op: DivOp::Rem,
                    lhs: c(5),
                    rhs: l(0),
                    loc: LocId(2),
                },
                // Not reached: the error leaves the handler.
                Inst::StoreGlobal {
                    global: ScalarId(1),
                    src: c(99),
                },
            ],
            Terminator::Return(None),
        )],
    };
    let p = program(2, body, vec![]);
    let t = run(&p, 1000);
    assert_eq!(long_global(&t, &p, 0), i64::MIN);
    assert_eq!(long_global(&t, &p, 1), 0);
    assert_eq!(t.errors, vec![(codes::ERROR_DIVISION_BY_ZERO, 2)]);
    assert_eq!(t.abi.unwind, UNWIND_ERROR);
}

/// `fn0(n) = n < 2 ? n : fn0(n-1) + fn0(n-2)`.
fn fib() -> Function {
    Function {
        name: "fib".into(),
        params: 1,
        ret: Some(Type::Long),
        loc: LocId(3),
        body: Body {
            locals: vec![
                local("n", Type::Long),
                local("", Type::Long),
                local("", Type::Long),
                local("", Type::Long),
            ],
            blocks: vec![
                block(
                    vec![Inst::Compare {
                        dst: LocalId(1),
                        op: CmpOp::Lt,
                        lhs: l(0),
                        rhs: c(2),
                    }],
                    Terminator::Branch {
                        cond: l(1),
                        then: BlockId(1),
                        otherwise: BlockId(2),
                    },
                ),
                block(vec![], Terminator::Return(Some(Arg::Long(l(0))))),
                block(
                    vec![
                        bin_l(1, BinOp::Sub, l(0), c(1)),
                        call_long(2, 0, vec![Arg::Long(l(1))]),
                        bin_l(1, BinOp::Sub, l(0), c(2)),
                        call_long(3, 0, vec![Arg::Long(l(1))]),
                        bin_l(2, BinOp::Add, l(2), l(3)),
                    ],
                    Terminator::Return(Some(Arg::Long(l(2)))),
                ),
            ],
        },
    }
}

fn bin_l(dst: u32, op: BinOp, lhs: Value, rhs: Value) -> Inst {
    Inst::Binary {
        dst: LocalId(dst),
        op,
        lhs,
        rhs,
    }
}

fn call_long(dst: u32, func: u32, args: Vec<Arg>) -> Inst {
    Inst::Call {
        ret: Some(Ret::Long(LocalId(dst))),
        next: None,
        func: FuncId(func),
        args,
        loc: LocId(0),
    }
}

fn call_fib_probe(n: i64) -> Body {
    Body {
        locals: vec![local("r", Type::Long)],
        blocks: vec![block(
            vec![
                call_long(0, 0, vec![Arg::Long(c(n))]),
                Inst::StoreGlobal {
                    global: ScalarId(0),
                    src: l(0),
                },
            ],
            Terminator::Return(None),
        )],
    }
}

#[test]
fn recursion_within_maxnesting() {
    let mut p = program(1, call_fib_probe(20), vec![fib()]);
    p.max_nesting = 20;
    let t = run(&p, 1000);
    assert_eq!(t.errors, vec![]);
    assert_eq!(long_global(&t, &p, 0), 6765);
    assert_eq!(t.abi.nesting, 0, "every frame is counted out");
}

#[test]
fn maxnesting_is_raised_near_the_function() {
    let mut p = program(1, call_fib_probe(20), vec![fib()]);
    p.max_nesting = 10;
    let t = run(&p, 1000);
    assert_eq!(t.errors, vec![(codes::ERROR_MAXNESTING, 3)]);
    assert_eq!(
        long_global(&t, &p, 0),
        0,
        "the store after the call is skipped"
    );
    assert_eq!(t.abi.nesting, 0, "unwinding counts every frame out");
}

#[test]
fn maxaction_stops_an_endless_loop() {
    // while (1) { x++ }  with one action per iteration.
    let body = Body {
        locals: vec![local("x", Type::Long)],
        blocks: vec![
            block(vec![], Terminator::Jump(BlockId(1))),
            block(
                vec![
                    Inst::Actions {
                        count: 1,
                        loc: Some(LocId(2)),
                    },
                    bin_l(0, BinOp::Add, l(0), c(1)),
                    Inst::StoreGlobal {
                        global: ScalarId(0),
                        src: l(0),
                    },
                ],
                Terminator::Jump(BlockId(1)),
            ),
        ],
    };
    let p = program(1, body, vec![]);
    let t = run(&p, 500);
    assert_eq!(t.errors, vec![(codes::ERROR_MAXACTION, 2)]);
    // The 500th action exhausts the budget before the 500th increment.
    assert_eq!(long_global(&t, &p, 0), 499);
}

#[test]
fn try_catch_gets_the_message_and_continues() {
    // try { x = 1 / 0 } catch (msg) { printf("caught %s\n", msg) }  printf("after\n")
    let body = Body {
        locals: vec![local("x", Type::Long), local("msg", Type::Str)],
        blocks: vec![
            Block {
                insts: vec![div(DivOp::Div, 1, 0)],
                term: Terminator::Jump(BlockId(2)),
                unwind: Some(BlockId(1)),
            },
            block(
                vec![],
                Terminator::Catch {
                    msg: Some(LocalId(1)),
                    caught: BlockId(3),
                    uncaught: BlockId(4),
                },
            ),
            block(vec![], Terminator::Jump(BlockId(5))),
            block(
                vec![Inst::Printf {
                    format: FormatId(0),
                    args: vec![Arg::Str(Str::Local(LocalId(1)))],
                    loc: LocId(0),
                }],
                Terminator::Jump(BlockId(5)),
            ),
            block(vec![], Terminator::Unwind),
            block(
                vec![Inst::Printf {
                    format: FormatId(1),
                    args: vec![],
                    loc: LocId(0),
                }],
                Terminator::Return(None),
            ),
        ],
    };
    let mut p = program(0, body, vec![]);
    p.formats = vec![
        Format::parse(b"caught %s\n").unwrap(),
        Format::parse(b"after\n").unwrap(),
    ];
    let t = run(&p, 1000);
    assert_eq!(
        String::from_utf8_lossy(&t.out),
        format!("caught error {}\nafter\n", codes::ERROR_DIVISION_BY_ZERO)
    );
    assert_eq!(t.abi.unwind, UNWIND_NONE);
}

#[test]
fn catch_does_not_stop_maxaction() {
    // try { actions 5 } catch { printf } with a budget of 3: the error stays pending.
    let body = Body {
        locals: vec![],
        blocks: vec![
            Block {
                insts: vec![Inst::Actions {
                    count: 5,
                    loc: Some(LocId(1)),
                }],
                term: Terminator::Return(None),
                unwind: Some(BlockId(1)),
            },
            block(
                vec![],
                Terminator::Catch {
                    msg: None,
                    caught: BlockId(2),
                    uncaught: BlockId(3),
                },
            ),
            block(
                vec![Inst::Printf {
                    format: FormatId(0),
                    args: vec![],
                    loc: LocId(0),
                }],
                Terminator::Return(None),
            ),
            block(vec![], Terminator::Unwind),
        ],
    };
    let mut p = program(0, body, vec![]);
    p.formats = vec![Format::parse(b"caught\n").unwrap()];
    let t = run(&p, 3);
    assert_eq!(t.out, b"");
    assert_eq!(t.errors, vec![(codes::ERROR_MAXACTION, 1)]);
    assert_eq!(t.abi.unwind, UNWIND_ERROR);
}

/// `function f:string (s) { if (s == "x") next; return s . "!" }`, overloaded by
/// `function f:string (s) { return "other" }`.
fn overloads() -> Vec<Function> {
    let first = Function {
        name: "f".into(),
        params: 1,
        ret: Some(Type::Str),
        loc: LocId(0),
        body: Body {
            locals: vec![
                local("s", Type::Str),
                local("", Type::Long),
                local("", Type::Str),
            ],
            blocks: vec![
                block(
                    vec![Inst::StrCompare {
                        dst: LocalId(1),
                        op: CmpOp::Eq,
                        lhs: Str::Local(LocalId(0)),
                        rhs: Str::Lit(b"x".to_vec()),
                    }],
                    Terminator::Branch {
                        cond: l(1),
                        then: BlockId(1),
                        otherwise: BlockId(2),
                    },
                ),
                block(vec![], Terminator::Next),
                block(
                    vec![Inst::StrConcat {
                        dst: StrDst::Local(LocalId(2)),
                        lhs: Str::Local(LocalId(0)),
                        rhs: Str::Lit(b"!".to_vec()),
                    }],
                    Terminator::Return(Some(Arg::Str(Str::Local(LocalId(2))))),
                ),
            ],
        },
    };
    let second = Function {
        name: "f".into(),
        params: 1,
        ret: Some(Type::Str),
        loc: LocId(0),
        body: Body {
            locals: vec![local("s", Type::Str)],
            blocks: vec![block(
                vec![],
                Terminator::Return(Some(Arg::Str(Str::Lit(b"other".to_vec())))),
            )],
        },
    };
    vec![first, second]
}

/// Calls the overload chain of `overloads()` on `arg` and prints the result.
fn call_chain(arg: &[u8]) -> Body {
    let call = |func| Inst::Call {
        ret: Some(Ret::Str(StrDst::Local(LocalId(0)))),
        next: Some(LocalId(1)),
        func: FuncId(func),
        args: vec![Arg::Str(Str::Lit(arg.to_vec()))],
        loc: LocId(0),
    };
    Body {
        locals: vec![local("", Type::Str), local("", Type::Long)],
        blocks: vec![
            block(
                vec![call(0)],
                Terminator::Branch {
                    cond: l(1),
                    then: BlockId(1),
                    otherwise: BlockId(2),
                },
            ),
            block(vec![call(1)], Terminator::Jump(BlockId(2))),
            block(
                vec![Inst::Printf {
                    format: FormatId(0),
                    args: vec![Arg::Str(Str::Local(LocalId(0)))],
                    loc: LocId(0),
                }],
                Terminator::Return(None),
            ),
        ],
    }
}

#[test]
fn overload_chain_with_next_and_string_results() {
    for (arg, want) in [(&b"ab"[..], "ab!\n"), (b"x", "other\n")] {
        let mut p = program(0, call_chain(arg), overloads());
        p.formats = vec![Format::parse(b"%s\n").unwrap()];
        let t = run(&p, 1000);
        assert_eq!(String::from_utf8_lossy(&t.out), want);
        assert_eq!(t.errors, vec![]);
    }
}

#[test]
fn strings_are_truncated_to_maxstringlen() {
    // s = "abcdef" . "ghij" with MAXSTRINGLEN 8 keeps 7 bytes.
    let body = Body {
        locals: vec![local("s", Type::Str)],
        blocks: vec![block(
            vec![
                Inst::StrConcat {
                    dst: StrDst::Local(LocalId(0)),
                    lhs: Str::Lit(b"abcdef".to_vec()),
                    rhs: Str::Lit(b"ghij".to_vec()),
                },
                Inst::Printf {
                    format: FormatId(0),
                    args: vec![Arg::Str(Str::Local(LocalId(0)))],
                    loc: LocId(0),
                },
            ],
            Terminator::Return(None),
        )],
    };
    let mut p = program(0, body, vec![]);
    p.max_string_len = 8;
    p.formats = vec![Format::parse(b"[%s]").unwrap()];
    let t = run(&p, 1000);
    assert_eq!(t.out, b"[abcdefg]");
}

#[test]
fn a_missing_helper_is_an_error_not_a_panic() {
    let body = Body {
        locals: vec![],
        blocks: vec![block(
            vec![Inst::MapClear { map: MapId(0) }],
            Terminator::Return(None),
        )],
    };
    let mut p = program(0, body, vec![]);
    p.maps = vec![Map {
        name: "a".into(),
        keys: vec![Type::Long],
        value: MapValue::Long,
        size: None,
        wrap: false,
        display: false,
    }];
    let err = compile(&p, &helpers(), &Options::default()).unwrap_err();
    assert!(
        matches!(err, CodegenError::MissingHelper("rt_map_clear")),
        "{err}"
    );
}

#[test]
fn malformed_ir_is_an_error() {
    let body = Body {
        locals: vec![local("s", Type::Str)],
        blocks: vec![block(
            vec![Inst::Move {
                dst: LocalId(0),
                src: c(1),
            }],
            Terminator::Return(None),
        )],
    };
    let p = program(0, body, vec![]);
    let err = compile(&p, &helpers(), &Options::default()).unwrap_err();
    assert!(matches!(err, CodegenError::Malformed { .. }), "{err}");
}

#[test]
fn clif_text_is_kept_on_request() {
    let p = program(1, call_fib_probe(3), vec![fib()]);
    let compiled = compile(&p, &helpers(), &Options { keep_clif: true }).unwrap();
    let clif = compiled.clif.unwrap();
    assert!(clif.contains("; function fib"), "{clif}");
    assert!(clif.contains("; probe 0 (begin)"), "{clif}");
}
