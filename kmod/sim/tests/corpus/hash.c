#include "rt.h"
/* FNV-1a, a murmur-style finaliser and xorshift. */
static u64 fnv(const u8 *p, size_t n) { u64 h = 0xcbf29ce484222325ull; while (n--) { h ^= *p++; h *= 0x100000001b3ull; } return h; }
static u64 fmix(u64 k) { k ^= k >> 33; k *= 0xff51afd7ed558ccdull; k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ull; k ^= k >> 33; return k; }
static u32 xorshift32(u32 *s) { u32 x = *s; x ^= x << 13; x ^= x >> 17; x ^= x << 5; return *s = x; }
u64 results[16];
int main(void) {
    u32 s = 2463534242u;
    for (int i = 0; i < 16; i++) {
        u32 r = xorshift32(&s);
        results[i] = fmix(r) ^ fnv((const u8 *)&r, 4);
    }
    rt_showx("fnv", fnv((const u8 *)"hello, world", 12));
    rt_showx("mix", results[15]);
    rt_showx("all", fnv((const u8 *)results, sizeof results));
    return (int)(results[0] & 0xff);
}
