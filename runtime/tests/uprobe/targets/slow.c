/* Calls tick() argv[2] times, sleeping 5 ms inside each call, then writes the sum. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noipa)) long tick(long i) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return i;
}

int main(int argc, char **argv) {
    long n = argc > 2 ? atol(argv[2]) : 200, sum = 0;
    for (long i = 0; i < n; i++)
        sum += tick(i);
    FILE *out = fopen(argv[1], "w");
    fprintf(out, "sum %ld\n", sum);
    fclose(out);
    return 0;
}
