/* The f32 GELU, its gradient, exp and sigmoid (core/ops/pointwise.c: branch-
 * free versions that vectorise, in place of libm's scalar calls) against
 * the f64 reference, on every 37th float from 1e-30 to 20 in magnitude, both
 * signs: about 57 million inputs across the whole range a network feeds
 * them. Each result must be within a few f32 roundings of the reference. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autograd.h"
#include "check.h"
#include "ops.h"

#define CHUNK (1 << 20)

typedef struct {
    const char *name;
    double worst, at;   /* the largest error seen, in units of the f32 rounding at the reference, and where */
    double bound;
} record;

/* |got - want| over the f32 spacing at scale (an ulp of the result, or of
 * the larger term of a sum that cancels), never finer than the spacing of
 * 16·FLT_MIN: results below that come from denormal intermediates in any f32
 * evaluation, and are measured in absolute terms. */
static double ulps(float got, double want, double scale) {
    scale = fmax(fabs(scale), 0x1p-122);
    return fabs((double)got - want) / ldexp(1.0, ilogb(scale) - 23);
}

static void note(record *r, float got, double want, double scale, double x) {
    double e = ulps(got, want, scale);
    if (e > r->worst || e != e) r->worst = e, r->at = x;
}

static double phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

static void check_chunk(at_tensor *x, record *rec) {
    at_tensor *leaf = at_clone_data(x);
    at_set_requires_grad(leaf, true);
    at_tensor *gelu = at_gelu(leaf), *sum = gelu ? at_sum_all(gelu) : NULL;
    at_tensor *e = at_exp(x), *sig = at_sigmoid(x);
    CHECK(sum && at_backward(sum, NULL) == 0 && e && sig, "ops ran: %s", at_last_error());
    if (sum && leaf->grad && e && sig) {
        const float *xv = at_data(x), *g = at_data(gelu), *dg = at_data(leaf->grad), *ev = at_data(e), *sv = at_data(sig);
        for (int64_t i = 0; i < at_numel(x); i++) {
            double v = xv[i];
            double gelu_ref = v * phi(v), density = v * exp(-0.5 * v * v) / sqrt(2 * M_PI);
            note(&rec[0], g[i], gelu_ref, gelu_ref, v);
            /* Phi(x) + x·phi(x) cancels near its zero at x = -0.7518 */
            note(&rec[1], dg[i], phi(v) + density, fmax(phi(v), fabs(density)), v);
            if (v < 88) note(&rec[2], ev[i], exp(v), exp(v), v);
            note(&rec[3], sv[i], 1 / (1 + exp(-v)), 1 / (1 + exp(-v)), v);
        }
    }
    at_release(leaf);
    at_release(gelu);
    at_release(sum);
    at_release(e);
    at_release(sig);
}

/* Values at the ends, as PyTorch gives them: NaN passes through, gelu(inf)
 * is inf, gelu(-inf) is -inf·0 = NaN, and the gradient at ±inf is NaN
 * (1 + inf·0). */
static void check_special_values(void) {
    const float inputs[6] = {NAN, INFINITY, -INFINITY, -40.0f, 40.0f, 0.0f};
    const float want[6] = {NAN, INFINITY, NAN, 0.0f, 40.0f, 0.0f}, want_grad[6] = {NAN, NAN, NAN, 0.0f, 1.0f, 0.5f};
    int64_t n = 6;
    at_tensor *leaf = at_empty(AT_F32, 1, &n);
    memcpy(at_data(leaf), inputs, sizeof inputs);
    at_set_requires_grad(leaf, true);
    at_tensor *gelu = at_gelu(leaf), *sum = gelu ? at_sum_all(gelu) : NULL;
    CHECK(sum && at_backward(sum, NULL) == 0, "gelu ran: %s", at_last_error());
    if (sum && leaf->grad) {
        const float *g = at_data(gelu), *dg = at_data(leaf->grad);
        for (int i = 0; i < 6; i++) {
            bool same = isnan(want[i]) ? isnan(g[i]) : g[i] == want[i];
            bool same_grad = isnan(want_grad[i]) ? isnan(dg[i]) : dg[i] == want_grad[i];
            CHECK(same, "gelu(%g) = %g, want %g", inputs[i], g[i], want[i]);
            CHECK(same_grad, "gelu'(%g) = %g, want %g", inputs[i], dg[i], want_grad[i]);
        }
    }
    at_release(leaf);
    at_release(gelu);
    at_release(sum);
}

int main(void) {
    check_special_values();
    /* Bounds a little above what the kernels reach (6.5, 6.3, 1.0 and 2.5
     * ulp when written), so a change that loses accuracy fails. */
    record rec[4] = {{"gelu", 0, 0, 7}, {"gelu gradient", 0, 0, 7}, {"exp", 0, 0, 1.5}, {"sigmoid", 0, 0, 3}};
    int64_t n = CHUNK;
    at_tensor *buf = at_empty(AT_F32, 1, &n);
    float *xv = at_data(buf);
    const uint32_t lo = 0x0DA24260u, hi = 0x41A00000u; /* 1e-30 and 20 */
    int64_t filled = 0, total = 0;
    for (uint32_t sign = 0; sign < 2; sign++) {
        for (uint64_t b = lo; b <= hi; b += 37) {
            uint32_t bits = (uint32_t)b | sign << 31;
            memcpy(&xv[filled++], &bits, sizeof bits);
            bool last = sign == 1 && b + 37 > hi;
            if (filled < CHUNK && !last) continue;
            at_tensor *x = at_narrow(buf, 0, 0, filled);
            check_chunk(x, rec);
            at_release(x);
            total += filled, filled = 0;
        }
    }
    for (int k = 0; k < 4; k++) {
        printf("%-14s worst %.2f ulp at x = %.9g (bound %g) over %lld inputs\n", rec[k].name, rec[k].worst, rec[k].at,
               rec[k].bound, (long long)total);
        CHECK(rec[k].worst <= rec[k].bound, "%s: %.2f ulp at x = %.9g", rec[k].name, rec[k].worst, rec[k].at);
    }
    at_release(buf);
    return check_summary();
}
