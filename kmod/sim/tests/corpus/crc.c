#include "rt.h"
/* CRC-32 (IEEE) bitwise and table-driven; the check value of "123456789" is 0xcbf43926. */
u32 table[256];
static u32 crc_bitwise(const u8 *p, size_t n) {
    u32 c = ~0u;
    while (n--) { c ^= *p++; for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1; }
    return ~c;
}
static u32 crc_table(const u8 *p, size_t n) {
    u32 c = ~0u;
    while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}
int main(void) {
    for (u32 i = 0; i < 256; i++) { u32 c = i; for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1; table[i] = c; }
    const char *s = "123456789";
    rt_showx("bitwise", crc_bitwise((const u8 *)s, 9));
    rt_showx("table", crc_table((const u8 *)s, 9));
    rt_showx("long", crc_table((const u8 *)table, sizeof table));
    return crc_bitwise((const u8 *)s, 9) == 0xcbf43926u;
}
