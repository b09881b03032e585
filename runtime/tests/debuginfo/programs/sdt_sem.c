/* A marker guarded by a semaphore (what `dtrace -G` would generate). */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short otherprov_guarded_semaphore __attribute__((unused, section(".probes")));

void guarded(long v) {
  if (otherprov_guarded_semaphore)
    STAP_PROBE1(otherprov, guarded, v);
}
