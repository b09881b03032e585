/* SDT markers (sys/sdt.h); sdt_sem.c adds one guarded by a semaphore. */
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>

int counter = 40;
static long values[4] = {1, -2, 3, -4};
void guarded(long v);

int main(int argc, char **argv) {
  long v = argc * 3;
  char c = (char)-argc;
  DTRACE_PROBE2(myprov, start, argc, v);
  STAP_PROBE3(myprov, three, argv[0], &counter, c);
  STAP_PROBE2(myprov, globals, counter, values[argc]);
  guarded(v);
  puts("hi");
  return (int)v + abs(argc) - 3;
}
