#include "rt.h"
/* A linked list and a binary search tree in a static pool: pointer chasing. */
struct node { struct node *next, *left, *right; i64 key; };
struct node pool[300];
int used;
static struct node *alloc(i64 key) { struct node *n = &pool[used++]; n->key = key; return n; }
static struct node *insert(struct node *t, struct node *n) {
    if (!t) return n;
    if (n->key < t->key) t->left = insert(t->left, n); else t->right = insert(t->right, n);
    return t;
}
static int depth(const struct node *t) { if (!t) return 0; int l = depth(t->left), r = depth(t->right); return 1 + (l > r ? l : r); }
static i64 inorder(const struct node *t, i64 acc) { if (!t) return acc; acc = inorder(t->left, acc); acc = acc * 3 + t->key; return inorder(t->right, acc); }
int main(void) {
    struct node *head = 0, *root = 0;
    u32 s = 7;
    for (int i = 0; i < 150; i++) {
        s = s * 1664525 + 1013904223;
        struct node *n = alloc(s >> 20);
        n->next = head; head = n;
        root = insert(root, alloc(s >> 16));
    }
    i64 sum = 0; int len = 0;
    for (struct node *n = head; n; n = n->next) { sum += n->key; len++; }
    rt_show("len", len);
    rt_show("sum", sum);
    rt_show("depth", depth(root));
    rt_showx("inorder", inorder(root, 0));
    return depth(root);
}
