/* Uses the shared library from lib.c. */
#include <stdio.h>
int lib_entry(const char *s, int k);
int main(void) {
  printf("%d\n", lib_entry("four", 2));
  return 0;
}
