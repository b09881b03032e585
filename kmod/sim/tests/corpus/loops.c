#include "rt.h"
/* Nested loops with early exits, do/while, and countdowns. */
int grid[20][20];
int main(void) {
    int total = 0;
    for (int i = 0; i < 20; i++)
        for (int j = 0; j < 20; j++) {
            if ((i * j) % 7 == 3) continue;
            if (i + j > 35) break;
            grid[i][j] = i * 20 + j;
            total += grid[i][j];
        }
    int n = 1000, steps = 0;
    do {
        n = n & 1 ? n * 3 + 1 : n / 2;
        steps++;
    } while (n != 1);
    unsigned u = 10;
    while (u--) total += u;
    rt_show("total", total);
    rt_show("steps", steps);
    return steps;
}
