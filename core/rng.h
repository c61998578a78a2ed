/* Counter-based random numbers (Philox4x32-10).
 *
 * Element i of a draw depends only on (seed, counter + i), so results are
 * bit-identical whatever the thread count or the order of evaluation. A
 * generator is just (seed, counter); each draw advances the counter by the
 * number of 128-bit blocks it used. */
#ifndef AAPMT_RNG_H
#define AAPMT_RNG_H

#include <stdint.h>
#include "tensor.h"

typedef struct at_rng {
    uint64_t seed;
    uint64_t counter;
} at_rng;

at_rng at_rng_new(uint64_t seed);
void at_philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]);
/* Uniform in [0, 1) with 24 bits (f32) or 53 bits (f64) of precision. */
double at_uniform_at(uint64_t seed, uint64_t index);
/* Standard normal via Box-Muller on one Philox block per element. */
double at_normal_at(uint64_t seed, uint64_t index);

/* Fills new tensors; advance rng->counter by numel. */
at_tensor *at_rand(at_rng *rng, at_dtype dtype, int ndim, const int64_t *shape);
at_tensor *at_randn(at_rng *rng, at_dtype dtype, int ndim, const int64_t *shape);

#endif
