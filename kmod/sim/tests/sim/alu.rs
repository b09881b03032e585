//! Integer data processing, expectations computed by hand.

use crate::harness::{check_regs, flags, run_snippet};

/// Runs `source` and checks `(register, value)` pairs and, if given, the flags.
fn check(source: &str, expected: &[(usize, u64)], nzcv: Option<&str>) {
    let Some(regs) = run_snippet(source) else {
        return;
    };
    check_regs(&regs, source, expected);
    if let Some(want) = nzcv {
        assert_eq!(flags(&regs), want, "flags after:\n{source}");
    }
}

#[test]
fn add_sub_immediate_and_flags() {
    check(
        "mov x0, #5\nsubs x1, x0, #7",
        &[(1, (-2i64) as u64)],
        Some("Nzcv"),
    );
    check("mov x0, #7\nsubs x1, x0, #7", &[(1, 0)], Some("nZCv"));
    check(
        "mov w0, #0x7fffffff\nadds w1, w0, #1",
        &[(1, 0x8000_0000)],
        Some("NzcV"),
    );
    check("mov x0, #-1\nadds x1, x0, #1", &[(1, 0)], Some("nZCv"));
    check(
        "mov x0, #0x1000\nadd x1, x0, #3, lsl #12",
        &[(1, 0x4000)],
        None,
    );
    // W results zero the upper half.
    check("mov x0, #-1\nadd w1, w0, #1", &[(1, 0)], None);
}

#[test]
fn add_sub_shifted_and_extended() {
    check(
        "mov x0, #1\nmov x1, #3\nadd x2, x0, x1, lsl #4",
        &[(2, 49)],
        None,
    );
    check(
        "mov x0, #100\nmov x1, #-8\nsub x2, x0, x1, asr #2",
        &[(2, 102)],
        None,
    );
    check(
        "mov x0, #10\nmov w1, #-1\nadd x2, x0, w1, sxtw",
        &[(2, 9)],
        None,
    );
    check(
        "mov x0, #10\nmov w1, #-1\nadd x2, x0, w1, uxtw #1",
        &[(2, 10 + 0x1_ffff_fffe)],
        None,
    );
    check(
        "mov x0, #0x180\nmov x1, #0\nadd x2, x1, x0, sxtb",
        &[(2, (-128i64) as u64)],
        None,
    );
    check(
        "mov x0, sp\nadd x1, sp, #16\nsub x2, x1, x0",
        &[(2, 16)],
        None,
    );
    check(
        "mov x0, #0\nmov x1, #1\ncmp x0, x1\nadc x2, xzr, xzr\nsbc x3, x1, xzr",
        &[(2, 0), (3, 0)],
        Some("Nzcv"),
    );
    check(
        "mov x0, #2\nmov x1, #1\ncmp x0, x1\nadc x2, xzr, xzr\nngc x3, xzr",
        &[(2, 1), (3, 0)],
        Some("nzCv"),
    );
}

#[test]
fn logical_and_move_wide() {
    check(
        "mov x0, #0xff00\nand x1, x0, #0xf0f0f0f0f0f0f0f0",
        &[(1, 0xf000)],
        None,
    );
    check(
        "mov x0, #0x5555555555555555\nmvn x1, x0",
        &[(0, 0x5555_5555_5555_5555), (1, 0xaaaa_aaaa_aaaa_aaaa)],
        None,
    );
    check(
        "mov x0, #0xf0\nmov x1, #0x3c\nbic x2, x0, x1\norn x3, xzr, x1\neon x4, x0, x1",
        &[(2, 0xc0), (3, !0x3c), (4, !(0xf0 ^ 0x3c))],
        None,
    );
    check("mov x0, #1\ntst x0, #2", &[], Some("nZcv"));
    check(
        "mov x0, #-1\nands x1, x0, #0x8000000000000000",
        &[(1, 1 << 63)],
        Some("Nzcv"),
    );
    check(
        "movz x0, #0x1234, lsl #16\nmovk x0, #0xabcd\nmovk x0, #0xffff, lsl #48",
        &[(0, 0xffff_0000_1234_abcd)],
        None,
    );
    check(
        "movn w0, #0\nmovn x1, #0x10, lsl #16",
        &[(0, 0xffff_ffff), (1, !0x10_0000)],
        None,
    );
    check(
        "mov x0, #0x1234\nror x1, x0, #4",
        &[(1, 0x4000_0000_0000_0123)],
        None,
    );
}

#[test]
fn bitfield_and_extract() {
    check(
        "mov x0, #0xabcd\nubfx x1, x0, #4, #8\nsbfx x2, x0, #12, #4",
        &[(1, 0xbc), (2, (-6i64) as u64)],
        None,
    );
    check(
        "mov x0, #0xff\nmov x1, #-1\nbfi x1, x0, #8, #4",
        &[(1, !0xf00 | 0xf00)],
        None,
    );
    check(
        "mov x0, #0\nmov x1, #0x5\nbfi x0, x1, #60, #4\nbfxil x2, x1, #0, #2",
        &[(0, 0x5 << 60), (2, 1)],
        None,
    );
    check(
        "mov x0, #0x81\nsxtb x1, w0\nuxtb w2, w0\nsxth x3, w0\nlsl x4, x0, #60\nasr x5, x4, #62",
        &[
            (1, (-127i64) as u64),
            (2, 0x81),
            (3, 0x81),
            (4, 1 << 60),
            (5, 0),
        ],
        None,
    );
    check(
        "mov w0, #-8\nsxtw x1, w0\nlsr w2, w0, #1\nasr w3, w0, #1",
        &[(1, (-8i64) as u64), (2, 0x7fff_fffc), (3, 0xffff_fffc)],
        None,
    );
    check(
        "mov x0, #0x1111\nmov x1, #0x2222\nextr x2, x0, x1, #8",
        &[(2, 0x1100_0000_0000_0022)],
        None,
    );
}

#[test]
fn conditional_select_and_compare() {
    check(
        "mov x0, #3\nmov x1, #4\ncmp x0, x1\ncsel x2, x0, x1, lt\ncsinc x3, x0, x1, ge\ncsinv x4, x0, x1, eq\ncsneg x5, x0, x1, hi\ncset x6, ls",
        &[(2, 3), (3, 5), (4, !4), (5, (-4i64) as u64), (6, 1)],
        None,
    );
    // CCMP: condition false -> flags = #nzcv immediate.
    check(
        "mov x0, #1\ncmp x0, #2\nccmp x0, #1, #0b0010, eq",
        &[],
        Some("nzCv"),
    );
    check(
        "mov x0, #1\ncmp x0, #1\nccmp x0, #1, #0b0010, eq",
        &[],
        Some("nZCv"),
    );
    check(
        "mov x0, #5\ncmp x0, #5\nccmn x0, #3, #0, ne",
        &[],
        Some("nzcv"),
    );
}

#[test]
fn multiply_divide_and_bits() {
    check(
        "mov x0, #7\nmov x1, #6\nmov x2, #100\nmadd x3, x0, x1, x2\nmsub x4, x0, x1, x2\nmneg x5, x0, x1",
        &[(3, 142), (4, 58), (5, (-42i64) as u64)],
        None,
    );
    check(
        "mov x0, #-1\nmov x1, #2\numulh x2, x0, x1\nsmulh x3, x0, x1",
        &[(2, 1), (3, u64::MAX)],
        None,
    );
    check(
        "mov w0, #-2\nmov w1, #3\nsmull x2, w0, w1\numull x3, w0, w1\nsmaddl x4, w0, w1, x1",
        &[
            (2, (-6i64) as u64),
            (3, 0xffff_fffe * 3),
            (4, (-3i64) as u64),
        ],
        None,
    );
    check(
        "mov x0, #-7\nmov x1, #2\nsdiv x2, x0, x1\nudiv x3, x1, x0\nudiv x4, x0, xzr",
        &[(2, (-3i64) as u64), (3, 0), (4, 0)],
        None,
    );
    check(
        "mov x0, #0x8000000000000000\nmov x1, #-1\nsdiv x2, x0, x1",
        &[(2, 1 << 63)],
        None,
    );
    check(
        "mov x0, #1\nclz x1, x0\nclz w2, wzr\ncls x3, xzr\nrbit x4, x0\nrbit w5, w0",
        &[(1, 63), (2, 32), (3, 63), (4, 1 << 63), (5, 1 << 31)],
        None,
    );
    check(
        "ldr x0, =0x0102030405060708\nrev x1, x0\nrev w2, w0\nrev16 x3, x0\nrev32 x4, x0",
        &[
            (1, 0x0807_0605_0403_0201),
            (2, 0x0807_0605),
            (3, 0x0201_0403_0605_0807),
            (4, 0x0403_0201_0807_0605),
        ],
        None,
    );
    check(
        "mov x0, #1\nmov x1, #66\nlsl x2, x0, x1\nmov w3, #-16\nasr w4, w3, w0\nror w5, w0, w0",
        &[(2, 4), (4, 0xffff_fff8), (5, 0x8000_0000)],
        None,
    );
}

#[test]
fn pc_relative_and_branches() {
    check("adr x0, .\nadr x1, 1f\n1: sub x2, x1, x0", &[(2, 8)], None);
    check(
        "adrp x0, .\nadr x1, .\nand x1, x1, #~0xfff\nsub x2, x1, x0",
        &[(2, 0)],
        None,
    );
    check(
        "mov x0, #0\nmov x1, #10\n1: add x0, x0, x1\nsubs x1, x1, #1\nb.ne 1b",
        &[(0, 55), (1, 0)],
        None,
    );
    check(
        "mov x0, #0\ncbz x0, 1f\nmov x0, #9\n1: cbnz x0, 2f\nmov x1, #1\n2: tbz x1, #0, 3f\nmov x2, #2\n3: tbnz x1, #63, 4f\nmov x3, #3\n4:",
        &[(0, 0), (1, 1), (2, 2), (3, 3)],
        None,
    );
    check(
        "bl 1f\nb 2f\n1: mov x0, x30\nret\n2: adr x1, .\nsub x2, x1, x0",
        &[(2, 12)],
        None,
    );
    check(
        "adr x0, 1f\nblr x0\nb 2f\n1: mov x3, #7\nret\n2:",
        &[(3, 7)],
        None,
    );
    check(
        "adr x30, 1f\nblr x30\nb 2f\n1: mov x4, #8\nret\n2:",
        &[(4, 8)],
        None,
    );
}

#[test]
fn system_registers() {
    check(
        "mrs x0, ctr_el0\nmrs x1, dczid_el0\nmrs x2, currentel\nmrs x3, mpidr_el1",
        &[(0, 0x8444_c004), (1, 4), (2, 4), (3, 1 << 31)],
        None,
    );
    check(
        "mov x0, #0x60000000\nmsr nzcv, x0\nmrs x1, nzcv\nmsr tpidr_el0, x0\nmrs x2, tpidr_el0",
        &[(1, 0x6000_0000), (2, 0x6000_0000)],
        Some("nZCv"),
    );
    check(
        "msr daifset, #0xf\nmrs x0, daif\nmsr daifclr, #2\nmrs x1, daif",
        &[(0, 0x3c0), (1, 0x340)],
        None,
    );
    check(
        "mrs x0, cntvct_el0\nnop\nmrs x1, cntvct_el0\nsub x2, x1, x0",
        &[(2, 2)],
        None,
    );
}
