#include "rt.h"
/* Dense switches (jump tables) and sparse ones (compare chains). */
static int dense(int x) {
    switch (x) {
    case 0: return 11; case 1: return 7; case 2: return -3; case 3: return 100;
    case 4: return 42; case 5: return 9; case 6: return 12; case 7: return -50;
    case 8: return 1; case 9: return 77; case 10: return 8; case 11: return 13;
    default: return 0;
    }
}
static int sparse(long x) {
    switch (x) {
    case -1000: return 1; case 7: return 2; case 4096: return 3; case 99999: return 4;
    case 0x7fffffff: return 5; default: return 6;
    }
}
static const char *name(unsigned c) {
    switch (c) { case 'a': return "alpha"; case 'b': return "bravo"; case 'c': return "charlie"; case 'd': return "delta"; case 'e': return "echo"; case 'f': return "foxtrot"; default: return "?"; }
}
int main(void) {
    int s = 0;
    for (int i = -2; i < 15; i++) s = s * 3 + dense(i);
    long keys[] = {-1000, 7, 8, 4096, 99999, 0x7fffffff, 0};
    for (int i = 0; i < 7; i++) s += sparse(keys[i]) * i;
    for (char c = 'a'; c < 'h'; c++) rt_puts(name(c));
    rt_puts("\n");
    rt_show("s", s);
    return s & 0xff;
}
