#include "rt.h"
/* String functions written out, over static buffers. */
static int my_strcmp(const char *a, const char *b) { while (*a && *a == *b) a++, b++; return (u8)*a - (u8)*b; }
static char *my_strcpy(char *d, const char *s) { char *r = d; while ((*d++ = *s++)); return r; }
static char *my_strcat(char *d, const char *s) { my_strcpy(d + strlen(d), s); return d; }
static const char *my_strstr(const char *h, const char *n) {
    size_t len = strlen(n);
    for (; *h; h++) if (memcmp(h, n, len) == 0) return h;
    return 0;
}
static void reverse(char *s) { for (size_t i = 0, j = strlen(s); i + 1 < j; i++, j--) { char t = s[i]; s[i] = s[j - 1]; s[j - 1] = t; } }
static void upper(char *s) { for (; *s; s++) if (*s >= 'a' && *s <= 'z') *s -= 32; }
char buf[256];
int main(void) {
    my_strcpy(buf, "the quick brown fox");
    my_strcat(buf, " jumps over the lazy dog");
    rt_puts(buf); rt_puts("\n");
    rt_show("len", strlen(buf));
    rt_show("find", my_strstr(buf, "lazy") - buf);
    rt_show("cmp", my_strcmp("apple", "apricot"));
    reverse(buf);
    upper(buf);
    rt_puts(buf); rt_puts("\n");
    memmove(buf + 4, buf, 20);
    memset(buf + 30, '#', 5);
    rt_puts(buf); rt_puts("\n");
    return (int)strlen(buf);
}
