#include "rt.h"
/* Bit tricks: popcount, clz/ctz, byte swaps, rotates, bitfields, parity. */
struct flags { u32 a : 3, b : 7, c : 1, d : 13; i32 e : 5, f : 3; };
volatile u64 seeds[] = {0, 1, 0x8000000000000000ull, 0xdeadbeefcafebabeull, 0x0123456789abcdefull, 0xffffffffull};
struct flags fl[6];
int main(void) {
    u64 acc = 0;
    for (int i = 0; i < 6; i++) {
        u64 x = seeds[i];
        int pc = 0;
        for (u64 y = x; y; y &= y - 1) pc++;
        acc += pc;
        acc += x ? __builtin_clzll(x) + 64 * __builtin_ctzll(x) : 1000;
        acc ^= __builtin_bswap64(x) + __builtin_bswap32((u32)x) + __builtin_bswap16((u16)x);
        acc += (x << 13 | x >> 51) ^ ((u32)x >> 7 | (u32)x << 25);
        acc += __builtin_parityll(x) + __builtin_clrsbll((i64)x);
        fl[i].a = x; fl[i].b = x >> 3; fl[i].c = x >> 10; fl[i].d = x >> 11; fl[i].e = x >> 24; fl[i].f = x >> 29;
        acc += fl[i].a * 3 + fl[i].b + fl[i].c + fl[i].d + fl[i].e * 7 + fl[i].f;
        rt_showx("acc", acc);
    }
    return (int)(acc % 251);
}
