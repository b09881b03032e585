// Hand-written exclusives: a successful LDXR/STXR pair, a store-exclusive without a
// reservation (fails), CLREX, exclusive pairs, acquire/release, and the SIMD&FP literal
// loads the probe engine must classify.
        .text
        .globl main
main:
        adrp x9, cell
        add x9, x9, :lo12:cell
        mov x10, #0
1:      ldxr x0, [x9]
        add x0, x0, #5
        stxr w1, x0, [x9]
        cbnz w1, 1b
        add x10, x10, #1
        cmp x10, #10
        b.ne 1b
        mov x2, #77
        stxr w3, x2, [x9]          // no reservation: fails, w3 = 1
        ldaxr w4, [x9]
        clrex
        stlxr w5, w4, [x9]         // cleared: fails, w5 = 1
        mov x6, #1
        mov x7, #2
2:      ldaxp x11, x12, [x9]
        stlxp w13, x6, x7, [x9]
        cbnz w13, 2b
        ldar x14, [x9]
        stlrb w14, [x9, #0]
        ldarh w15, [x9]
        ldr q0, lit_q
        ldr d1, lit_d
        ldr s2, lit_s
        ldr x0, [x9, #8]
        add x0, x0, x3
        add x0, x0, x5
        ret
        .balign 16
lit_q:  .quad 0x0123456789abcdef, 0xfedcba9876543210
lit_d:  .quad 0x1122334455667788
lit_s:  .word 0x99aabbcc
        .data
        .balign 16
cell:   .quad 0, 0
