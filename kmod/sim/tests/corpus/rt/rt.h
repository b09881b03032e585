/* The corpus programs' tiny runtime: output through write(2), and the functions gcc may
 * call on its own. */
#ifndef RT_H
#define RT_H

typedef unsigned long size_t;
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef int i32;
typedef unsigned short u16;
typedef short i16;
typedef unsigned char u8;
typedef signed char i8;

long rt_syscall3(long a0, long a1, long a2, long nr);
void rt_puts(const char *s);
void rt_put_hex(u64 v);
void rt_put_dec(i64 v);
/* Prints "name=<decimal>\n". */
void rt_show(const char *name, i64 v);
/* Prints "name=0x<hex>\n". */
void rt_showx(const char *name, u64 v);

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
