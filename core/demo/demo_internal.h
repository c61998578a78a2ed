/* Shared by the demo's generator (demo_db.c) and renderer (demo_draw.c);
 * not a public header. */
#ifndef AAPMT_DEMO_INTERNAL_H
#define AAPMT_DEMO_INTERNAL_H

#include <stdint.h>

/* SplitMix64's finaliser: a well-mixed 64-bit hash of x, for keys that must
 * not depend on the random streams' positions. */
static inline uint64_t at_demo_mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

#endif
