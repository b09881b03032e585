/* 8 threads call one function 100000 times each (argv[2] overrides the count). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 8
static long iterations = 100000;
static volatile long per_thread[THREADS];

__attribute__((noipa)) void hit(long thread, long i) { per_thread[thread] += i & 1; }

static void *worker(void *arg) {
    long t = (long)arg;
    for (long i = 0; i < iterations; i++)
        hit(t, i);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 2)
        iterations = atol(argv[2]);
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    FILE *out = fopen(argv[1], "w");
    for (int t = 0; t < THREADS; t++)
        fprintf(out, "thread %d odd %ld\n", t, per_thread[t]);
    fclose(out);
    return 0;
}
