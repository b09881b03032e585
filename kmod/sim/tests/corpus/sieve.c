#include "rt.h"
/* Sieve of Eratosthenes over bytes and over a bitmap. */
u8 composite[20000];
u64 bitmap[20000 / 64 + 1];
int main(void) {
    int count = 0, last = 0;
    for (int i = 2; i < 20000; i++) {
        if (composite[i]) continue;
        count++; last = i;
        for (int j = 2 * i; j < 20000; j += i) composite[j] = 1;
    }
    int count2 = 0;
    for (int i = 2; i < 20000; i++) {
        if (bitmap[i / 64] >> (i % 64) & 1) continue;
        count2++;
        for (int j = i * 2; j < 20000; j += i) bitmap[j / 64] |= 1ull << (j % 64);
    }
    rt_show("primes", count);
    rt_show("last", last);
    rt_show("primes2", count2);
    return count == count2;
}
