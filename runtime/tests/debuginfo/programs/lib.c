/* A shared library: one exported function, one hidden, one static. */
#include <string.h>

static int scale(int x) { return x * 3; }

__attribute__((visibility("hidden"))) int lib_hidden(int x) { return scale(x) + 1; }

int lib_entry(const char *s, int k) {
  return (int)strlen(s) + lib_hidden(k);
}

/* An alias, as glibc's `malloc` is of `__libc_malloc`: probes name the DWARF function. */
int lib_real_impl(int x) { return x + 7; }
extern int lib_alias(int) __attribute__((alias("lib_real_impl")));
