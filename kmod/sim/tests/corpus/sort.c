#include "rt.h"
/* Quicksort and insertion sort on pseudo-random data; checks sortedness. */
static u32 state = 12345;
static u32 rnd(void) { state = state * 1103515245 + 12345; return state >> 8; }
static void quicksort(i32 *a, int lo, int hi) {
    if (lo >= hi) return;
    i32 p = a[(lo + hi) / 2];
    int i = lo, j = hi;
    while (i <= j) {
        while (a[i] < p) i++;
        while (a[j] > p) j--;
        if (i <= j) { i32 t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    quicksort(a, lo, j);
    quicksort(a, i, hi);
}
static void insertion(u16 *a, int n) {
    for (int i = 1; i < n; i++) { u16 v = a[i]; int j = i - 1; while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; } a[j + 1] = v; }
}
i32 big[500];
u16 small[100];
int main(void) {
    for (int i = 0; i < 500; i++) big[i] = (i32)rnd() - (1 << 23);
    for (int i = 0; i < 100; i++) small[i] = (u16)rnd();
    quicksort(big, 0, 499);
    insertion(small, 100);
    int ok = 1;
    for (int i = 1; i < 500; i++) ok &= big[i - 1] <= big[i];
    for (int i = 1; i < 100; i++) ok &= small[i - 1] <= small[i];
    rt_show("ok", ok);
    rt_show("min", big[0]);
    rt_show("max", big[499]);
    rt_show("median", small[50]);
    return ok;
}
