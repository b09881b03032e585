#include "rt.h"
/* Loads and stores of every width, signed and unsigned, packed and unaligned. */
struct __attribute__((packed)) mixed { u8 a; u16 b; u32 c; u64 d; i8 e; i16 f; i32 g; };
u8 bytes[64];
struct mixed m[4];
int main(void) {
    for (int i = 0; i < 64; i++) bytes[i] = (u8)(i * 37 + 11);
    i64 s = 0;
    for (int i = 0; i < 56; i++) {
        s += *(i8 *)(bytes + i) + *(u8 *)(bytes + i);
        s += *(volatile i16 *)(bytes + (i & ~1)) + *(volatile u16 *)(bytes + (i & ~1));
        s += *(volatile i32 *)(bytes + (i & ~3)) + *(volatile u32 *)(bytes + (i & ~3));
        s ^= *(volatile u64 *)(bytes + (i & ~7));
    }
    for (int i = 0; i < 4; i++) {
        m[i].a = s >> i; m[i].b = s >> (8 * i); m[i].c = s * i; m[i].d = s ^ i;
        m[i].e = -i; m[i].f = -1000 * i; m[i].g = -100000 * i;
        s += m[i].a + m[i].b + m[i].c + m[i].d + m[i].e + m[i].f + m[i].g;
    }
    rt_showx("s", s);
    return 0;
}
