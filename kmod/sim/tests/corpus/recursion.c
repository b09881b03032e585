#include "rt.h"
/* Deep and mutual recursion. */
static u64 fib(int n) { return n < 2 ? (u64)n : fib(n - 1) + fib(n - 2); }
static int ack(int m, int n) { return m == 0 ? n + 1 : n == 0 ? ack(m - 1, 1) : ack(m - 1, ack(m, n - 1)); }
static int is_odd(unsigned n);
static int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }
static u64 hanoi(int n, int a, int b, int c) { return n == 0 ? 0 : hanoi(n - 1, a, c, b) + 1 + hanoi(n - 1, c, b, a); }
int main(void) {
    rt_show("fib20", fib(20));
    rt_show("ack2_3", ack(2, 3));
    rt_show("even", is_even(777));
    rt_show("hanoi", hanoi(12, 1, 2, 3));
    return ack(2, 2);
}
