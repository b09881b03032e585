//! Loads and stores, expectations computed by hand. X9 points at the data area.

use rtap_armsim::aarch64::{Exception, ExceptionKind, Regs};
use rtap_armsim::{A64Machine, Resume};

use crate::harness::{DATA, Rig, assemble, check_regs, el1_rig, first_exception, run_snippet};

fn check(source: &str, expected: &[(usize, u64)]) {
    let Some(regs) = run_snippet(&format!("ldr x9, ={DATA:#x}\n{source}")) else {
        return;
    };
    check_regs(&regs, source, expected);
}

#[test]
fn every_width_and_sign_extension() {
    check(
        "ldr x0, =0x8182838485868788\nstr x0, [x9]\nldrb w1, [x9]\nldrsb x2, [x9]\nldrh w3, [x9, #2]\nldrsh w4, [x9, #2]\nldr w5, [x9, #4]\nldrsw x6, [x9, #4]\nldr x7, [x9]",
        &[
            (1, 0x88),
            (2, 0xffff_ffff_ffff_ff88),
            (3, 0x8586),
            (4, 0xffff_8586),
            (5, 0x8182_8384),
            (6, 0xffff_ffff_8182_8384),
            (7, 0x8182_8384_8586_8788),
        ],
    );
    check(
        "mov x0, #0x1234\nstrb w0, [x9, #1]\nstrh w0, [x9, #2]\nstr w0, [x9, #4]\nldr x1, [x9]",
        &[(1, 0x0000_1234_1234_3400)],
    );
    check(
        "mov x0, #-1\nstr x0, [x9]\nldrsb w1, [x9]\nldursh x2, [x9, #1]",
        &[(1, 0xffff_ffff), (2, u64::MAX)],
    );
}

#[test]
fn addressing_modes() {
    check(
        "mov x0, #7\nstr x0, [x9, #8]!\nsub x1, x9, #8\nldr x2, [x9], #-8\nsub x3, x9, x1",
        &[(2, 7), (3, 0)],
    );
    check(
        "mov x0, #5\nstur x0, [x9, #-1+9]\nldur x1, [x9, #8]",
        &[(1, 5)],
    );
    check(
        "mov x0, #9\nmov x1, #3\nstr x0, [x9, x1, lsl #3]\nldr x2, [x9, #24]\nmov w3, #-1\nadd x4, x9, #8\nldr x5, [x4, w3, sxtw #3]\nldrb w6, [x9, x1, lsl #0]",
        &[(2, 9), (5, 0), (6, 0)],
    );
    check(
        "mov x0, #1\nmov x1, #2\nstp x0, x1, [x9, #16]!\nldp x2, x3, [x9], #-16\nldp w4, w5, [x9, #16]\nmov w6, #-3\nstr w6, [x9]\nldpsw x7, x8, [x9]",
        &[(2, 1), (3, 2), (4, 1), (5, 0), (7, (-3i64) as u64), (8, 0)],
    );
    check(
        "sub sp, sp, #32\nmov x0, #11\nstp x0, x0, [sp, #16]\nldr x1, [sp, #24]\nadd sp, sp, #32",
        &[(1, 11)],
    );
}

#[test]
fn literal_loads_including_simd() {
    check(
        "ldr w0, 1f\nldr x1, 1f\nldrsw x2, 2f\nldr s3, 1f\nfmov w3, s3\nldr d4, 1f\nfmov x4, d4\nldr q5, 1f\nmov x5, v5.d[1]\nb 3f\n.align 4\n1: .quad 0x1122334455667788\n.quad 0x99aabbccddeeff00\n2: .word 0x80000000\n3:",
        &[
            (0, 0x5566_7788),
            (1, 0x1122_3344_5566_7788),
            (2, 0xffff_ffff_8000_0000),
            (3, 0x5566_7788),
            (4, 0x1122_3344_5566_7788),
            (5, 0x99aa_bbcc_ddee_ff00),
        ],
    );
}

#[test]
fn simd_loads_stores_and_moves() {
    check(
        "ldr x0, =0x0102030405060708\nldr x1, =0x1112131415161718\nstp x0, x1, [x9]\nldr q0, [x9]\nstr q0, [x9, #16]!\nldp x2, x3, [x9]\nldr h1, [x9, #2]\numov w4, v1.h[0]\nldr b2, [x9, #15]\nfmov w5, s2\nmovi v3.2d, #0\nfmov x6, d3\ndup v4.4s, w0\nmov x7, v4.d[1]\nins v4.d[0], x1\nfmov x8, d4",
        &[
            (2, 0x0102_0304_0506_0708),
            (3, 0x1112_1314_1516_1718),
            (4, 0x0506),
            (5, 0x11),
            (6, 0),
            (7, 0x0506_0708_0506_0708),
            (8, 0x1112_1314_1516_1718),
        ],
    );
    check(
        "ldr x0, =0xff00\nfmov d0, x0\nstp d0, d0, [x9]\nldp q1, q2, [x9]\nfmov x1, d1\nmov x2, v1.d[1]",
        &[(1, 0xff00), (2, 0xff00)],
    );
}

#[test]
fn exclusives_and_ordered_accesses() {
    check(
        "ldxr x0, [x9]\nadd x0, x0, #3\nstxr w1, x0, [x9]\nldar x2, [x9]",
        &[(1, 0), (2, 3)],
    );
    check(
        "mov x0, #4\nstxr w1, x0, [x9]\nldr x2, [x9]",
        &[(1, 1), (2, 0)],
    );
    check("ldaxr w0, [x9]\nclrex\nstlxr w1, w0, [x9]", &[(1, 1)]);
    check(
        "mov x0, #1\nmov x1, #2\nldxp x2, x3, [x9]\nstxp w4, x0, x1, [x9]\nldp x5, x6, [x9]\nmov w7, #6\nstlr w7, [x9]\nldarb w8, [x9]",
        &[(4, 0), (5, 1), (6, 2), (8, 6)],
    );
}

#[test]
fn another_cores_store_breaks_the_reservation() {
    let source = format!("ldr x9, ={DATA:#x}\nldxr x1, [x9]\nstxr w2, x3, [x9]\nbrk #0xf00");
    let Some(words) = assemble(&source) else {
        return;
    };
    for (interfere, status) in [(false, 0), (true, 1)] {
        let mut rig = Rig::default_machine();
        rig.load(0, &words);
        rig.start_el1(0, 0);
        let mut host = |_: &mut A64Machine, _: usize, exc: &Exception, _: &mut Regs| -> Resume {
            panic!("unexpected {exc:?}")
        };
        rig.m.step_core(&mut host, 0);
        rig.m.step_core(&mut host, 0);
        assert!(rig.m.uarch(0).monitor_armed());
        if interfere {
            rig.m.write_u64(1, DATA + 8, 5).unwrap(); // same 64-byte granule
        }
        assert_eq!(rig.run_to_done(0).x[2], status);
    }
}

#[test]
fn misaligned_exclusive_and_unprivileged_accesses_fault() {
    for source in [
        "ldxr x0, [x9, #0]\nadd x9, x9, #4\nldxr x1, [x9]",
        "ldtr x0, [x9]",
    ] {
        let Some(mut rig) = el1_rig(&format!("ldr x9, ={DATA:#x}\n{source}"), 0, 0) else {
            return;
        };
        let seen = first_exception(&mut rig.m, 100).map(|e| e.kind);
        let Some(ExceptionKind::DataAbort { fault, .. }) = seen else {
            panic!("{seen:?}")
        };
        // The misaligned LDXR faults on alignment; LDTR at EL1 uses EL0 permissions on a
        // kernel page.
        assert!(
            matches!(
                fault.kind,
                rtap_armsim::FaultKind::Alignment | rtap_armsim::FaultKind::Permission
            ),
            "{fault:?}"
        );
    }
}

#[test]
fn lse_min_max_and_cas_by_hand() {
    check(
        ".arch armv8.1-a\nmov x0, #-5\nstr x0, [x9]\nmov x1, #3\nldsmax x1, x2, [x9]\nldr x3, [x9]\n\
         ldumin x1, x4, [x9]\nldr x5, [x9]\nmov w6, #-1\nldsminh w6, w7, [x9]\nldrh w8, [x9]\n\
         mov x10, #100\nldumaxb w10, w11, [x9]\nldrb w12, [x9]",
        &[
            (2, (-5i64) as u64),
            (3, 3),
            (4, 3),
            (5, 3),
            (7, 3),
            (8, 0xffff),
            (11, 0xff),
            (12, 0xff),
        ],
    );
    check(
        ".arch armv8.1-a\nmov x0, #7\nstr x0, [x9]\nmov x1, #7\nmov x2, #8\ncas x1, x2, [x9]\nldr x3, [x9]\n\
         mov x4, #1\nmov x5, #9\ncasa x4, x5, [x9]\nldr x6, [x9]\nmov x7, #2\nswpl x7, x8, [x9]\nldr x10, [x9]",
        &[(1, 7), (3, 8), (4, 8), (6, 8), (8, 8), (10, 2)],
    );
}
