#include "rt.h"
/* Division by constants (multiply-high tricks) and by variables. */
volatile i64 nums[] = {0, 1, -1, 9, -9, 1000000007, -1000000007, 0x7fffffffffffffffll};
volatile u32 dens[] = {1, 3, 7, 10, 1000, 65535};
int main(void) {
    i64 s = 0;
    for (int i = 0; i < 8; i++) {
        i64 n = nums[i];
        s += n / 3 + n % 3 + n / 10 + n % 10 + n / 7 - n / 1000 + (u64)n / 5 + (u64)n % 13;
        s += (i32)n / 6 + (u32)n / 9 + (i32)n % 11;
        for (int j = 0; j < 6; j++) s ^= (u64)n / dens[j] + n % (i64)dens[j] + (u32)n / dens[j];
    }
    rt_showx("s", s);
    return (int)(s & 0x7f);
}
