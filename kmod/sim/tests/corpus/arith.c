#include "rt.h"
/* Signed and unsigned arithmetic on 8- to 64-bit types, overflow wrap-around. */
volatile i64 in64[] = {0, 1, -1, 7, -7, 0x7fffffffffffffffll, (i64)0x8000000000000000ull, 123456789012345ll};
volatile i32 in32[] = {0, 1, -1, 13, -13, 0x7fffffff, (i32)0x80000000, 65537};
i64 out[64];
int main(void) {
    int k = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j += 3) {
            i64 a = in64[i], b = in64[j];
            i32 c = in32[i], d = in32[j];
            out[k++ % 64] += a + b * 3 - (a >> 2);
            out[k++ % 64] ^= (u64)a * (u64)b + (u32)c * (u32)d;
            out[k++ % 64] += (i64)c * d + (i8)a + (u16)b;
            if (b != 0 && !(a == (i64)0x8000000000000000ull && b == -1)) out[k++ % 64] += a / b + a % b;
            if (d != 0 && !(c == (i32)0x80000000 && d == -1)) out[k++ % 64] += c / d - c % d;
            if (b) out[k++ % 64] += (u64)a / (u64)b;
        }
    i64 sum = 0;
    for (int i = 0; i < 64; i++) sum = sum * 31 + out[i];
    rt_showx("sum", sum);
    return (int)(sum & 0x7f);
}
