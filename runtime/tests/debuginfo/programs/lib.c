/* A shared library: one exported function, one hidden, one static. */
#include <string.h>

static int scale(int x) { return x * 3; }

__attribute__((visibility("hidden"))) int lib_hidden(int x) { return scale(x) + 1; }

int lib_entry(const char *s, int k) {
  return (int)strlen(s) + lib_hidden(k);
}
