#include "rt.h"
/* Integer matrix multiply and transpose. */
#define N 24
i32 a[N][N], b[N][N], c[N][N];
i64 t[N][N];
int main(void) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) { a[i][j] = (i * 7 + j * 3) % 17 - 8; b[i][j] = (i ^ j) - 5; }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            i32 s = 0;
            for (int k = 0; k < N; k++) s += a[i][k] * b[k][j];
            c[i][j] = s;
        }
    for (int i = 0; i < N; i++) for (int j = 0; j < N; j++) t[j][i] = (i64)c[i][j] * c[j][i];
    i64 trace = 0;
    for (int i = 0; i < N; i++) trace += t[i][i];
    rt_show("c00", c[0][0]);
    rt_show("trace", trace);
    return (int)(trace & 0x7f);
}
