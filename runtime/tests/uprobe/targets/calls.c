/* Probe target: argument reads, return values, recursion, call instructions under a
 * breakpoint. Writes what it computed to argv[1], so tests compare the values a probe read
 * with the values the program saw. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

FILE *out;
volatile long sink;
long table[4] = {10, 20, 30, 40};

__attribute__((noinline)) long add3(int a, long b, const char *s) {
    sink += a;
    return a + b + (long)strlen(s);
}

__attribute__((noinline)) long fact(long n) {
    if (n <= 1)
        return 1;
    long r = fact(n - 1);
    sink = r; /* keeps -O2 from turning the recursion into a loop */
    return n * r;
}

/* RIP-relative first instruction at -O2. */
__attribute__((noinline)) long get_table(int i) { return table[i & 3]; }

/* First instruction: a tail jump at -O2. */
__attribute__((noinline)) long tail(long n) { return fact(n); }

__attribute__((noinline)) void side(void) { sink++; }
void (*volatile side_ptr)(void) = side;

/* A call instruction 4 bytes into the function (after `sub $8,%rsp`), three forms. */
extern void call_direct(void), call_reg(void), call_mem(void);
__asm__(".text\n"
        ".globl call_direct\n.type call_direct,@function\ncall_direct:\n"
        "  sub $8, %rsp\n  call side\n  add $8, %rsp\n  ret\n"
        ".globl call_reg\n.type call_reg,@function\ncall_reg:\n"
        "  sub $8, %rsp\n  mov side_ptr(%rip), %rax\n  call *%rax\n  add $8, %rsp\n  ret\n"
        ".globl call_mem\n.type call_mem,@function\ncall_mem:\n"
        "  sub $8, %rsp\n  call *side_ptr(%rip)\n  add $8, %rsp\n  ret\n");

int main(int argc, char **argv) {
    out = fopen(argv[1], "w");
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    const char *words[] = {"alpha", "be", "gamma-delta"};
    for (int i = 0; i < rounds; i++) {
        const char *w = words[i % 3];
        long r = add3(i, 1000L * i, w);
        fprintf(out, "add3 %d %ld %s = %ld\n", i, 1000L * i, w, r);
    }
    for (long n = 1; n <= 5; n++)
        fprintf(out, "fact %ld = %ld\n", n, fact(n));
    fprintf(out, "tail %ld\n", tail(6));
    for (int i = 0; i < 4; i++)
        fprintf(out, "table %d = %ld\n", i, get_table(i));
    call_direct();
    call_reg();
    call_mem();
    fprintf(out, "sink %ld\n", sink);
    fclose(out);
    return 0;
}
