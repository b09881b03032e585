#include "rt.h"
/* Bit-test branches (TBZ/TBNZ), bitfield inserts and extracts on packed records. */
u64 words[32];
static void set(unsigned i) { words[i / 64] |= 1ull << (i % 64); }
static int test(unsigned i) { return words[i / 64] >> (i % 64) & 1; }
static u64 pack(u32 a, u32 b, u32 c) { return (u64)(a & 0xfff) | (u64)(b & 0xfffff) << 12 | (u64)(c & 0x3f) << 32; }
int main(void) {
    for (unsigned i = 0; i < 2048; i += 3) set(i);
    for (unsigned i = 0; i < 2048; i += 7) words[i / 64] ^= 1ull << (i % 64);
    int count = 0, runs = 0;
    for (unsigned i = 0; i < 2048; i++) { count += test(i); if (test(i) && !test(i + 1)) runs++; }
    u64 p = 0;
    for (u32 i = 0; i < 50; i++) { u64 r = pack(i * 77, i * 9999, i); p += (r >> 12 & 0xfffff) + (r >> 32) + (r & 0xfff); if (r & (1ull << 35)) p ^= r; }
    rt_show("count", count);
    rt_show("runs", runs);
    rt_showx("p", p);
    return count & 0xff;
}
