/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
 * The key is the 64-bit seed, the counter is (index, 0): one 128-bit block
 * per element, so any element can be drawn without drawing the others. */
#include "rng.h"
#include "parallel.h"
#include "philox.h"

#include <math.h>

at_rng at_rng_new(uint64_t seed) { return (at_rng){seed, 0}; }

void at_philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]) { at_philox_block(seed, counter, out); }

double at_uniform_at(uint64_t seed, uint64_t index) { return at_philox_uniform(seed, index); }

double at_normal_at(uint64_t seed, uint64_t index) {
    uint32_t r[4];
    at_philox4x32(seed, index, r);
    double u1 = 1.0 - at_philox_unit53(r[0], r[1]); /* (0, 1]: log stays finite */
    double u2 = at_philox_unit53(r[2], r[3]);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static at_tensor *fill_random(at_rng *rng, at_dtype dtype, int ndim, const int64_t *shape, bool normal) {
    if (!at_dtype_is_float(dtype)) {
        at_set_error("%s: dtype %s is not a float dtype", normal ? "randn" : "rand", at_dtype_name(dtype));
        return NULL;
    }
    at_tensor *t = at_empty_uninit(dtype, ndim, shape);
    if (!t) return NULL;
    int64_t n = at_numel(t);
    uint64_t seed = rng->seed, base = rng->counter;
    void *p = at_data(t);
    #pragma omp parallel for if (n >= AT_PARALLEL_MIN / 8)
    for (int64_t i = 0; i < n; i++) {
        double v = normal ? at_normal_at(seed, base + (uint64_t)i) : at_uniform_at(seed, base + (uint64_t)i);
        if (dtype == AT_F64) ((double *)p)[i] = v;
        else if (dtype == AT_F32) ((float *)p)[i] = (float)v;
        else if (dtype == AT_F16) ((uint16_t *)p)[i] = at_f32_to_f16((float)v);
        else ((uint16_t *)p)[i] = at_f32_to_bf16((float)v);
    }
    rng->counter += (uint64_t)n;
    return t;
}

at_tensor *at_rand(at_rng *rng, at_dtype dtype, int ndim, const int64_t *shape) {
    return fill_random(rng, dtype, ndim, shape, false);
}

at_tensor *at_randn(at_rng *rng, at_dtype dtype, int ndim, const int64_t *shape) {
    return fill_random(rng, dtype, ndim, shape, true);
}
