/* Float math written so that GCC vectorises the loops around it (libm's
 * expf is a scalar call). Shared by pointwise.c (exp, GELU) and norm.c
 * (softmax), which differ only in how they clamp and scale. */
#ifndef AAPMT_VMATH_H
#define AAPMT_VMATH_H

/* e^x = 2^n · e^r with x = n·ln2 + r, |r| <= ln2/2: returns e^r by Cephes'
 * polynomial (within 2 ulp of expf) and n, rounded to nearest through the
 * 1.5·2^23 trick. x must already be clamped to where n fits an exponent. */
static inline float at_exp_reduced(float x, float *n_out) {
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f - n * -2.12194440e-4f; /* ln2 split in two for precision */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    *n_out = n;
    return p * r * r + r + 1.0f;
}

#endif
