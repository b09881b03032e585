/* longjmp out of probed functions, a probed function called from a signal handler, the
 * program's own int3 with its SIGTRAP handler, fork, and exec of itself. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static jmp_buf env;
static volatile long sink;
static volatile int traps;
FILE *out;

__attribute__((noipa)) long jumper(long depth) {
    sink += depth;
    if (depth == 0)
        longjmp(env, 1);
    long r = jumper(depth - 1);
    sink += r; /* keeps -O2 from turning the recursion into a loop */
    return r + 1;
}

__attribute__((noipa)) long after(long x) { return x * 7; }

__attribute__((noipa)) long in_handler(long sig) { return sig + 100; }

static void on_usr1(int sig) { sink += in_handler(sig); }

static void on_trap(int sig) { (void)sig; traps++; }

__attribute__((noipa)) long child_work(long x) { return x + 1; }

__attribute__((noipa)) long exec_work(long x) { return x * 2; }

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[2], "exec") == 0) {
        FILE *f = fopen(argv[1], "a");
        long r = 0;
        for (int i = 0; i < 4; i++)
            r += exec_work(i);
        fprintf(f, "exec %ld\n", r);
        fclose(f);
        return 0;
    }
    out = fopen(argv[1], "w");
    setvbuf(out, NULL, _IONBF, 0);
    for (int round = 0; round < 3; round++) {
        if (setjmp(env) == 0)
            jumper(5);
        fprintf(out, "after %ld\n", after(round));
    }
    signal(SIGUSR1, on_usr1);
    for (int i = 0; i < 4; i++)
        raise(SIGUSR1);
    fprintf(out, "sink %ld\n", sink);
    signal(SIGTRAP, on_trap);
    for (int i = 0; i < 3; i++)
        __asm__ volatile("int3");
    fprintf(out, "traps %d\n", traps);
    pid_t pid = fork();
    if (pid == 0) {
        long r = 0;
        for (int i = 0; i < 5; i++)
            r += child_work(i);
        fprintf(out, "child %ld\n", r);
        execl("/proc/self/exe", argv[0], argv[1], "exec", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    fprintf(out, "parent status %d\n", status);
    fclose(out);
    return 0;
}
