#include "rt.h"
/* Branch-free selects: CSEL/CSINC/CSNEG/CCMP chains from min/max/abs/clamp. */
static i64 clamp(i64 v, i64 lo, i64 hi) { return v < lo ? lo : v > hi ? hi : v; }
static int in_range(i64 a, i64 b) { return a > 3 && a < 100 && b != 7 && b >= -2; }
volatile i64 vals[] = {-50, -3, 0, 3, 4, 7, 99, 100, 1000, -2};
int main(void) {
    i64 s = 0;
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++) {
            i64 a = vals[i], b = vals[j];
            s += clamp(a, -5, 50) + (a < b ? a : b) - (a > b ? a : b);
            s += (a < 0 ? -a : a) + in_range(a, b) * 11 + (a == b) + (a != b ? 2 : 5);
            s += (u64)a < (u64)b ? 1 : -1;
        }
    rt_show("s", s);
    return (int)(s & 0xff);
}
