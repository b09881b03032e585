#include "rt.h"
/* Variable and constant shifts, including arithmetic shifts of negative values. */
volatile i64 vals[] = {1, -1, -12345, 0x7f00ff00aa55ll, -0x7f00ff00aa55ll};
volatile int amounts[] = {0, 1, 5, 31, 32, 63};
u64 table[5][6];
int main(void) {
    u64 h = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++) {
            int s = amounts[j];
            i64 v = vals[i];
            table[i][j] = (v << s) ^ (u64)v >> s ^ (u64)(v >> s);
            i32 w = (i32)v;
            table[i][j] += (u32)(w << (s & 31)) + (u32)((u32)w >> (s & 31)) + (u32)(w >> (s & 31));
            h = h * 1000003 ^ table[i][j];
        }
    rt_showx("h", h);
    return (int)(h & 63);
}
