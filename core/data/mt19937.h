/* numpy's legacy random generator, as far as the paper's split needs it:
 * np.random.seed(seed) followed by np.random.shuffle(x).
 *
 * Followed from numpy 1.24 (the bit generator numpy/random/_mt19937.pyx,
 * src/mt19937/mt19937.c, and the legacy draws in mtrand.pyx and
 * src/distributions/distributions.c):
 *  - seed(n) for a Python int n in 0..2^32-1 goes through
 *    MT19937._legacy_seeding, which calls mt19937_seed: Matsumoto and
 *    Nishimura's init_genrand (key[0] = n, key[i] = 1812433253 *
 *    (key[i-1] ^ key[i-1] >> 30) + i). Only arrays of seeds take the
 *    init_by_array path, so an integer seed never does.
 *  - shuffle(x) of a 1-d array: for i = n-1 down to 1, j = random_interval(i),
 *    swap x[i] and x[j]. random_interval(max) draws masked values, the mask
 *    being the smallest 2^k - 1 >= max, and rejects those above max: 32-bit
 *    draws while max fits in 32 bits, else 64-bit ones (two 32-bit draws,
 *    the first one high).
 * tests/fixtures/make_data_fixtures.py records numpy's own outputs and
 * tests/test_data.c compares. */
#ifndef AAPMT_TRAIN_MT19937_H
#define AAPMT_TRAIN_MT19937_H

#include <stdint.h>

#define AT_MT19937_N 624

typedef struct at_mt19937 {
    uint32_t key[AT_MT19937_N];
    int pos;
} at_mt19937;

/* np.random.seed(seed) for an integer seed in 0..2^32-1. */
void at_mt19937_seed(at_mt19937 *mt, uint32_t seed);
/* The next 32-bit output (MT19937.random_raw). */
uint32_t at_mt19937_next32(at_mt19937 *mt);
/* numpy's legacy random_interval: uniform in 0..max by masked rejection. */
uint64_t at_mt19937_interval(at_mt19937 *mt, uint64_t max);
/* np.random.shuffle on n items, applied to indices: perm (n entries) ends
 * holding the order in which numpy leaves x = np.arange(n). */
void at_numpy_shuffle_indices(at_mt19937 *mt, int64_t n, int64_t *perm);

#endif
