/* cflags: -march=armv8.1-a+crc */
#include "rt.h"
#include <arm_acle.h>
/* ARMv8.1 atomics (LDADD/LDCLR/LDEOR/LDSET/LDSMAX/LDUMIN, SWP, CAS, CASP) and CRC32/CRC32C. */
u64 c64;
u32 c32;
u16 c16;
u8 c8;
i32 smax = -5;
__int128 pair __attribute__((aligned(16)));
int main(void) {
    for (int i = 0; i < 50; i++) {
        __atomic_fetch_add(&c64, i * 3, __ATOMIC_SEQ_CST);
        __atomic_fetch_and(&c32, ~(1u << (i % 32)), __ATOMIC_ACQUIRE);
        __atomic_fetch_or(&c16, 1 << (i % 16), __ATOMIC_RELEASE);
        __atomic_fetch_xor(&c8, i, __ATOMIC_RELAXED);
    }
    c32 = 0xffffffffu;
    u32 old32 = __atomic_fetch_and(&c32, 0x0f0f0f0fu, __ATOMIC_SEQ_CST);
    u64 swapped = __atomic_exchange_n(&c64, 99, __ATOMIC_ACQ_REL);
    u64 expected = 99;
    int ok = __atomic_compare_exchange_n(&c64, &expected, 5, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    u64 wrong = 1;
    int bad = __atomic_compare_exchange_n(&c64, &wrong, 6, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    u16 e16 = c16;
    int ok16 = __atomic_compare_exchange_n(&c16, &e16, 0x1234, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    /* CASPAL x0, x1, x2, x3, [pair]: GCC only emits 128-bit CAS through libatomic. */
    register u64 x0 __asm__("x0") = 0, x1 __asm__("x1") = 0;
    register u64 x2 __asm__("x2") = 9, x3 __asm__("x3") = 7;
    __asm__ volatile("caspal x0, x1, x2, x3, [%4]" : "+r"(x0), "+r"(x1) : "r"(x2), "r"(x3), "r"(&pair) : "memory");
    int okp = x0 == 0 && x1 == 0;
    u32 crc = __crc32b(~0u, 0x31);
    crc = __crc32h(crc, 0x3332);
    crc = __crc32w(crc, 0x37363534);
    crc = __crc32d(crc, 0x3938373635343332ull);
    u32 crcc = __crc32cd(~0u, 0x0123456789abcdefull) ^ __crc32cw(0, 0xdeadbeef) ^ __crc32ch(1, 2) ^ __crc32cb(3, 4);
    rt_showx("c64", c64);
    rt_showx("c32", c32);
    rt_showx("old32", old32);
    rt_showx("c16", c16);
    rt_showx("c8", c8);
    rt_show("swapped", swapped);
    rt_show("ok", ok);
    rt_show("bad", bad);
    rt_show("wrong", wrong);
    rt_show("ok16", ok16);
    rt_show("okp", okp);
    rt_showx("pair_hi", (u64)(pair >> 64));
    rt_showx("crc", crc);
    rt_showx("crcc", crcc);
    return ok + bad + ok16;
}
