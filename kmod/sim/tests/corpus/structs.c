#include "rt.h"
/* Struct copies, by-value arguments and returns (memcpy inlining, LDP/STP, Q registers). */
struct big { i64 v[9]; char tag[12]; };
struct small { i32 x, y; };
static struct big make(int seed) { struct big b; for (int i = 0; i < 9; i++) b.v[i] = seed * (i + 1); memcpy(b.tag, "tag-tag-tag", 12); return b; }
static i64 sum(struct big b) { i64 s = 0; for (int i = 0; i < 9; i++) s += b.v[i]; return s + b.tag[4]; }
static struct small swap(struct small s) { struct small r = {s.y, s.x}; return r; }
struct big store[4];
int main(void) {
    for (int i = 0; i < 4; i++) store[i] = make(i + 3);
    struct big copy = store[2];
    copy.v[0] = -1;
    struct small s = swap((struct small){5, -9});
    rt_show("sum2", sum(store[2]));
    rt_show("sumc", sum(copy));
    rt_show("sx", s.x);
    rt_show("sy", s.y);
    return (int)sum(store[3]) & 0xff;
}
