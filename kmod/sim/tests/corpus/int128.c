#include "rt.h"
/* 128-bit arithmetic: UMULH/SMULH, ADDS/ADC chains, libgcc division. */
volatile unsigned __int128 a = ((unsigned __int128)0x0123456789abcdefull << 64) | 0xfedcba9876543210ull;
volatile __int128 b = -((__int128)1 << 100) + 12345;
int main(void) {
    unsigned __int128 x = a;
    __int128 y = b;
    unsigned __int128 p = x * 0x1000000000000001ull;
    __int128 q = y * -7;
    unsigned __int128 d = x / 1000000007ull;
    __int128 r = y % 97;
    u64 hi = (u64)(p >> 64) ^ (u64)((unsigned __int128)q >> 64) ^ (u64)(d >> 64);
    u64 lo = (u64)p ^ (u64)q ^ (u64)d ^ (u64)r;
    u64 m = ((unsigned __int128)0xffffffffffffffffull * 0xfffffffffffffffeull) >> 64;
    i64 sm = ((__int128)(i64)-3 * (i64)0x7fffffffffffffffll) >> 64;
    rt_showx("hi", hi);
    rt_showx("lo", lo);
    rt_showx("m", m);
    rt_showx("sm", sm);
    return (int)(lo & 0x3f);
}
