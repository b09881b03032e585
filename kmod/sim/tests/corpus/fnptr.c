#include "rt.h"
/* Indirect calls through tables and callbacks (BLR, BR for tail calls). */
typedef i64 (*op_t)(i64, i64);
static i64 add(i64 a, i64 b) { return a + b; }
static i64 sub(i64 a, i64 b) { return a - b; }
static i64 mul(i64 a, i64 b) { return a * b; }
static i64 mx(i64 a, i64 b) { return a > b ? a : b; }
static op_t ops[] = {add, sub, mul, mx};
static i64 fold(op_t f, const i64 *v, int n, i64 init) { for (int i = 0; i < n; i++) init = f(init, v[i]); return init; }
static i64 apply(int which, i64 a, i64 b) { return ops[which & 3](a, b); }
int main(void) {
    i64 v[] = {3, -4, 5, 10, -2};
    i64 r = 0;
    for (int k = 0; k < 4; k++) { r = r * 7 + fold(ops[k], v, 5, k + 1); rt_show("fold", fold(ops[k], v, 5, k + 1)); }
    for (int k = 0; k < 16; k++) r += apply(k, r, k);
    rt_show("r", r);
    return (int)(r & 0xff);
}
