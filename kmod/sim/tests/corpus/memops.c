#include "rt.h"
/* memcpy/memmove/memset/memcmp over overlapping and unaligned ranges. */
u8 a[300], b[300];
int main(void) {
    for (int i = 0; i < 300; i++) a[i] = (u8)(i * 7);
    memcpy(b + 3, a + 1, 200);
    memmove(a + 10, a, 100);
    memmove(a, a + 5, 100);
    memset(b + 250, 0xa5, 33);
    int c1 = memcmp(a, b, 300), c2 = memcmp(a + 100, a + 100, 50), c3 = memcmp(b + 250, b + 251, 30);
    u64 h = 0;
    for (int i = 0; i < 300; i++) h = h * 131 + a[i] + 3 * b[i];
    rt_show("c1", c1 > 0 ? 1 : c1 < 0 ? -1 : 0);
    rt_show("c2", c2);
    rt_show("c3", c3);
    rt_showx("h", h);
    return 0;
}
