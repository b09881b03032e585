/* Target for the debuginfo tests: every kind of variable and type rtap must read. */
#include <stdio.h>

#define NOINLINE __attribute__((noinline))

typedef unsigned long ulong_t;
enum color { RED, GREEN = 5, BLUE };
struct inner { short s; char tag[6]; };
struct pt {
  int x;
  int y;
  unsigned flag : 3;
  signed other : 5;
  char name[8];
  struct inner in;
  enum color c;
  struct pt *next;
  double d;
};
union u { int i; char c[4]; };

int global_counter = 7; __thread int tls_counter = 5; /* one line: keeps line numbers */
static const char *greeting = "hello";
static int table[5] = {10, 20, 30, 40, 50};

int add(int a, int b) { int c = a + b; return c; }

NOINLINE static int walk(struct pt *p, int n) {
  int s = 0;
  for (int i = 0; i < n && p; i++) {
    int prod = p->x * p->y;
    s += prod;
    p = p->next;
  }
  return s;
}

NOINLINE long many(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8) {
  return a1 + a2 + a3 + a4 + a5 + a6 + a7 * a8;
}

NOINLINE int fact(int n) { return n <= 1 ? 1 : n * fact(n - 1); }

NOINLINE void show(const char *msg, union u val, ulong_t big, enum color c, int arr[3]) {
  static int calls;
  calls++;
  printf("%s %d %lu %d %d %d\n", msg, val.i, big, c, arr[1], calls);
}

int main(int argc, char **argv) {
  struct pt b = {3, 4, 5, -3, "bee", {9, "inb"}, BLUE, 0, 1.5};
  struct pt a = {1, 2, 1, 2, "ay", {-2, "ina"}, GREEN, &b, 2.5};
  union u val = { .i = 0x41424344 };
  int arr[3] = {7, 8, 9};
  printf("%d %d\n", add(argc, 2), walk(&a, 2));
  printf("%ld %d\n", many(1, 2, 3, 4, 5, 6, 7, 8), fact(5));
  show(greeting, val, 1UL << 40, RED, arr);
  global_counter += table[2]; tls_counter += argc;
  return 0;
}
