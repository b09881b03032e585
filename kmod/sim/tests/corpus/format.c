#include "rt.h"
/* Number formatting in several bases with a hand-written printf subset. */
static char out[512];
static size_t pos;
static void put(char c) { if (pos < sizeof out - 1) out[pos++] = c; }
static void num(u64 v, unsigned base, int neg, int width) {
    char tmp[70]; int n = 0;
    do { tmp[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % base]; v /= base; } while (v);
    if (neg) tmp[n++] = '-';
    while (n < width) tmp[n++] = ' ';
    while (n) put(tmp[--n]);
}
static void fmt(const char *f, const i64 *args) {
    for (; *f; f++) {
        if (*f != '%') { put(*f); continue; }
        int width = 0;
        while (f[1] >= '0' && f[1] <= '9') width = width * 10 + (*++f - '0');
        i64 v = *args++;
        switch (*++f) {
        case 'd': num(v < 0 ? -(u64)v : (u64)v, 10, v < 0, width); break;
        case 'x': num((u64)v, 16, 0, width); break;
        case 'o': num((u64)v, 8, 0, width); break;
        case 'b': num((u64)v, 2, 0, width); break;
        case 'z': num((u64)v, 36, 0, width); break;
        default: put('?');
        }
    }
}
int main(void) {
    i64 args[] = {-1234567, 0xdeadbeef, 511, 37, 1ll << 62, 0};
    fmt("[%12d] [%x] [%o] [%10b] [%z] [%d]\n", args);
    rt_puts(out);
    return (int)pos;
}
