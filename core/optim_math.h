/* One element of the Adam/AdamW and SGD updates, compiled by both the C
 * library (optim.c) and the CUDA backend (core/cuda/optim.cu), so both apply
 * torch 1.13's arithmetic in the same order (optim.h explains it). */
#ifndef AAPMT_OPTIM_MATH_H
#define AAPMT_OPTIM_MATH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "philox.h" /* AT_HOST_DEVICE */

/* The scalars of one update, rounded once as torch rounds them. */
typedef struct {
    double lr, beta1, beta2, eps, wd, decay;   /* decay: AdamW's 1 - lr*wd */
    double neg_step_size, bc2_sqrt;
    double momentum, dampening;
    bool first;   /* SGD: the momentum buffer starts as a copy of g */
} at_update_scalars;

/* a*b + c rounded once: a float product is exact in double, so only the sum
 * rounds (twice, to double then float, which differs from fmaf only when the
 * double lands exactly on a float tie). */
AT_HOST_DEVICE static inline float at_fma32(float a, float b, float c) {
    return (float)((double)a * (double)b + (double)c);
}
AT_HOST_DEVICE static inline double at_fma64(double a, double b, double c) { return fma(a, b, c); }
AT_HOST_DEVICE static inline float at_max_nan32(float a, float b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
AT_HOST_DEVICE static inline double at_max_nan64(double a, double b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }

/* Element i of an Adam (decoupled: AdamW) update; vmax is NULL without amsgrad. */
#define AT_DEFINE_ADAM_ELEMENT(T, FMA, MAX, SQRT)                                                        \
    AT_HOST_DEVICE static inline void at_adam_element_##T(T *p, const T *g, T *m, T *v, T *vmax, int64_t i, \
                                                          const at_update_scalars *s, bool decoupled) {    \
        const bool l2 = !decoupled && s->wd != 0, decays = decoupled && s->wd != 0;                      \
        T gi = l2 ? FMA(p[i], (T)s->wd, g[i]) : g[i];                                                    \
        T pi = decays ? p[i] * (T)s->decay : p[i];                                                       \
        T mi = FMA(gi, (T)(1 - s->beta1), m[i] * (T)s->beta1);                                           \
        T vi = FMA((T)(1 - s->beta2) * gi, gi, v[i] * (T)s->beta2);                                      \
        T vu = vi;                                                                                       \
        if (vmax) vu = vmax[i] = MAX(vmax[i], vi);                                                       \
        T denom = SQRT(vu) / (T)s->bc2_sqrt + (T)s->eps;                                                 \
        m[i] = mi;                                                                                       \
        v[i] = vi;                                                                                       \
        p[i] = pi + ((T)s->neg_step_size * mi) / denom;                                                  \
    }
AT_DEFINE_ADAM_ELEMENT(float, at_fma32, at_max_nan32, sqrtf)
AT_DEFINE_ADAM_ELEMENT(double, at_fma64, at_max_nan64, sqrt)

/* Element i of an SGD update; buf is NULL without momentum. */
#define AT_DEFINE_SGD_ELEMENT(T, FMA)                                                                    \
    AT_HOST_DEVICE static inline void at_sgd_element_##T(T *p, const T *g, T *buf, int64_t i,             \
                                                         const at_update_scalars *s, bool nesterov) {     \
        T d = s->wd != 0 ? FMA(p[i], (T)s->wd, g[i]) : g[i];                                             \
        if (buf) {                                                                                       \
            T b = s->first ? d : FMA(d, (T)(1 - s->dampening), buf[i] * (T)s->momentum);                 \
            buf[i] = b;                                                                                  \
            d = nesterov ? FMA(b, (T)s->momentum, d) : b;                                                \
        }                                                                                                \
        p[i] = FMA(d, (T)(-s->lr), p[i]);                                                                \
    }
AT_DEFINE_SGD_ELEMENT(float, at_fma32)
AT_DEFINE_SGD_ELEMENT(double, at_fma64)

#endif
