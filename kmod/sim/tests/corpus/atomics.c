#include "rt.h"
/* GCC's __atomic builtins with -march=armv8-a: LDXR/STXR, LDAXR/STLXR, LDAR/STLR loops. */
u64 counter64;
u32 counter32;
u16 counter16;
u8 flag8;
u64 pair[2] __attribute__((aligned(16)));
int main(void) {
    for (int i = 0; i < 100; i++) {
        __atomic_fetch_add(&counter64, i, __ATOMIC_SEQ_CST);
        __atomic_fetch_sub(&counter32, 3, __ATOMIC_RELAXED);
        __atomic_fetch_or(&counter16, 1 << (i & 15), __ATOMIC_ACQUIRE);
        __atomic_fetch_xor(&flag8, i, __ATOMIC_RELEASE);
    }
    u64 expected = counter64;
    int swapped = __atomic_compare_exchange_n(&counter64, &expected, 7, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    u64 wrong = 1;
    int failed = __atomic_compare_exchange_n(&counter64, &wrong, 9, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    u64 old = __atomic_exchange_n(&counter64, 1234, __ATOMIC_SEQ_CST);
    __atomic_store_n(&counter32, __atomic_load_n(&counter32, __ATOMIC_ACQUIRE) + 1, __ATOMIC_RELEASE);
    u64 p = __atomic_load_n(&pair[1], __ATOMIC_SEQ_CST) + __atomic_add_fetch(&pair[0], 3, __ATOMIC_ACQ_REL);
    rt_show("swapped", swapped);
    rt_show("failed", failed);
    rt_show("wrong", wrong);
    rt_show("old", old);
    rt_show("c32", counter32);
    rt_show("c16", counter16);
    rt_show("f8", flag8);
    rt_show("p", (i64)p);
    return (int)old;
}
