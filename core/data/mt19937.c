/* numpy's legacy MT19937, init_genrand seeding and shuffle; see mt19937.h. */
#include "mt19937.h"

#define MT_M 397
#define MATRIX_A 0x9908b0dfu
#define UPPER_MASK 0x80000000u
#define LOWER_MASK 0x7fffffffu

void at_mt19937_seed(at_mt19937 *mt, uint32_t seed) {
    for (int i = 0; i < AT_MT19937_N; i++) {
        mt->key[i] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)(i + 1);
    }
    mt->pos = AT_MT19937_N;   /* the first draw regenerates the whole state */
}

static uint32_t twist(uint32_t a, uint32_t b, uint32_t m) {
    uint32_t y = (a & UPPER_MASK) | (b & LOWER_MASK);
    return m ^ (y >> 1) ^ ((0u - (y & 1u)) & MATRIX_A);
}

static void regenerate(at_mt19937 *mt) {
    uint32_t *k = mt->key;
    int i = 0;
    for (; i < AT_MT19937_N - MT_M; i++) k[i] = twist(k[i], k[i + 1], k[i + MT_M]);
    for (; i < AT_MT19937_N - 1; i++) k[i] = twist(k[i], k[i + 1], k[i + MT_M - AT_MT19937_N]);
    k[AT_MT19937_N - 1] = twist(k[AT_MT19937_N - 1], k[0], k[MT_M - 1]);
    mt->pos = 0;
}

uint32_t at_mt19937_next32(at_mt19937 *mt) {
    if (mt->pos >= AT_MT19937_N) regenerate(mt);
    uint32_t y = mt->key[mt->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

uint64_t at_mt19937_interval(at_mt19937 *mt, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max;
    for (int shift = 1; shift <= 32; shift *= 2) mask |= mask >> shift;
    uint64_t value;
    if (max <= 0xffffffffu) {
        do value = at_mt19937_next32(mt) & mask; while (value > max);
    } else {
        do {
            uint64_t high = at_mt19937_next32(mt);
            value = ((high << 32) | at_mt19937_next32(mt)) & mask;
        } while (value > max);
    }
    return value;
}

void at_numpy_shuffle_indices(at_mt19937 *mt, int64_t n, int64_t *perm) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)at_mt19937_interval(mt, (uint64_t)i);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
