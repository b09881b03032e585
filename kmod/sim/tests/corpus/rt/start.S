// Entry and exit of every corpus program. The entry zeroes every register and switches to a
// static stack, so the program's whole state is deterministic; the exit stores every
// register (X0-X30, SP, NZCV, Q0-Q31) and has rt_finish print them and a hash of memory, so
// comparing stdout with qemu-aarch64 compares registers and memory exactly.
        .text
        .globl _start
_start:
        .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
        mov x\r, #0
        .endr
        msr nzcv, xzr
        adrp x0, rt_stack_top
        add x0, x0, :lo12:rt_stack_top
        mov sp, x0
        mov x0, #0
        bl main
        stp x16, x17, [sp, #-16]!
        adrp x16, rt_regs
        add x16, x16, :lo12:rt_regs
        stp x0, x1, [x16, #0]
        stp x2, x3, [x16, #16]
        stp x4, x5, [x16, #32]
        stp x6, x7, [x16, #48]
        stp x8, x9, [x16, #64]
        stp x10, x11, [x16, #80]
        stp x12, x13, [x16, #96]
        stp x14, x15, [x16, #112]
        stp x18, x19, [x16, #144]
        stp x20, x21, [x16, #160]
        stp x22, x23, [x16, #176]
        stp x24, x25, [x16, #192]
        stp x26, x27, [x16, #208]
        stp x28, x29, [x16, #224]
        str x30, [x16, #240]
        ldp x0, x1, [sp], #16
        stp x0, x1, [x16, #128]
        mov x0, sp
        mrs x1, nzcv
        stp x0, x1, [x16, #248]
        add x17, x16, #272
        stp q0, q1, [x17, #0]
        stp q2, q3, [x17, #32]
        stp q4, q5, [x17, #64]
        stp q6, q7, [x17, #96]
        stp q8, q9, [x17, #128]
        stp q10, q11, [x17, #160]
        stp q12, q13, [x17, #192]
        stp q14, q15, [x17, #224]
        stp q16, q17, [x17, #256]
        stp q18, q19, [x17, #288]
        stp q20, q21, [x17, #320]
        stp q22, q23, [x17, #352]
        stp q24, q25, [x17, #384]
        stp q26, q27, [x17, #416]
        stp q28, q29, [x17, #448]
        stp q30, q31, [x17, #480]
        mov x0, x16
        bl rt_finish

        .globl rt_syscall3
rt_syscall3:
        mov x8, x3
        svc #0
        ret

        .bss
        .balign 16
        .globl rt_regs
rt_regs:
        .skip 272 + 512
        .balign 16
rt_stack:
        .skip 65536
rt_stack_top:
