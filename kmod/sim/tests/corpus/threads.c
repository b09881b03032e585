#include "rt.h"
/* Four threads (clone, one per core) hammer shared counters with LDAXR/STLXR loops and a
 * CAS-based maximum; the totals are exact whatever the interleaving. The program exits
 * directly: thread stacks hold interleaving-dependent spills, so no memory hash. */
#define THREADS 3
#define ROUNDS 3000
u64 counter;
u32 counter32;
u64 maximum;
u32 finished;
u64 per_thread[THREADS + 1];
static u8 stacks[THREADS][16384] __attribute__((aligned(16)));

static void work(u64 id) {
    for (u64 i = 0; i < ROUNDS; i++) {
        __atomic_fetch_add(&counter, 1, __ATOMIC_ACQ_REL);
        __atomic_fetch_add(&counter32, id, __ATOMIC_RELAXED);
        u64 candidate = id * 100000 + i, seen = __atomic_load_n(&maximum, __ATOMIC_ACQUIRE);
        while (seen < candidate &&
               !__atomic_compare_exchange_n(&maximum, &seen, candidate, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        }
        per_thread[id]++;
    }
}

static void thread_main(u64 id) {
    work(id);
    __atomic_fetch_add(&finished, 1, __ATOMIC_RELEASE);
    register long x8 __asm__("x8") = 93; /* exit: this thread only */
    register long x0 __asm__("x0") = 0;
    __asm__ volatile("svc #0" : : "r"(x8), "r"(x0) : "memory");
}

/* clone(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, stack):
 * the child finds its entry and argument at the top of its new stack. */
static long spawn(void (*fn)(u64), u64 arg, u8 *stack_top) {
    u64 *sp = (u64 *)stack_top - 2;
    sp[0] = (u64)fn;
    sp[1] = arg;
    register long x0 __asm__("x0") = 0x50f00;
    register long x1 __asm__("x1") = (long)sp;
    register long x2 __asm__("x2") = 0, x3 __asm__("x3") = 0, x4 __asm__("x4") = 0;
    register long x8 __asm__("x8") = 220;
    __asm__ volatile(
        "svc #0\n"
        "cbnz x0, 1f\n"
        "ldp x1, x0, [sp], #16\n"
        "blr x1\n"
        "1:\n"
        : "+r"(x0)
        : "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x8)
        : "x30", "memory", "cc");
    return x0;
}

int main(void) {
    for (u64 t = 1; t <= THREADS; t++)
        if (spawn(thread_main, t, stacks[t - 1] + sizeof stacks[0]) <= 0) rt_puts("clone failed\n");
    work(0);
    while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) != THREADS) {
    }
    rt_show("counter", counter);
    rt_show("counter32", counter32);
    rt_show("maximum", maximum);
    for (int t = 0; t <= THREADS; t++) rt_show("per_thread", per_thread[t]);
    rt_syscall3(counter == (THREADS + 1) * ROUNDS ? 0 : 1, 0, 0, 94);
    return 0;
}
