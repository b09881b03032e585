#include "rt.h"
/* Multi-word addition with carries and multiplication (ADDS/ADCS, UMULH). */
#define W 8
u64 x[W], y[W], z[2 * W];
static void add(u64 *r, const u64 *a, const u64 *b) {
    u64 carry = 0;
    for (int i = 0; i < W; i++) {
        u64 s, t;
        u64 c1 = __builtin_add_overflow(a[i], b[i], &s);
        u64 c2 = __builtin_add_overflow(s, carry, &t);
        r[i] = t;
        carry = c1 | c2;
    }
}
static void mul(u64 *r, const u64 *a, const u64 *b) {
    for (int i = 0; i < 2 * W; i++) r[i] = 0;
    for (int i = 0; i < W; i++) {
        u64 carry = 0;
        for (int j = 0; j < W; j++) {
            unsigned __int128 p = (unsigned __int128)a[i] * b[j] + r[i + j] + carry;
            r[i + j] = (u64)p;
            carry = (u64)(p >> 64);
        }
        r[i + W] = carry;
    }
}
int main(void) {
    for (int i = 0; i < W; i++) { x[i] = ~0ull - i; y[i] = 0x9e3779b97f4a7c15ull * (i + 1); }
    add(x, x, y);
    mul(z, x, y);
    for (int i = 2 * W - 1; i >= 0; i -= 5) rt_showx("z", z[i]);
    return (int)(z[0] & 0x7f);
}
