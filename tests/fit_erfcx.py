#!/usr/bin/env python3
"""The polynomial behind core/ops/pointwise.c's Gaussian tail.

For z >= 0 and t = 1 / (1 + z/2), erfc(z) = t * G(t) * exp(-z*z) with
G(t) = erfcx(z) / t, smooth on t in [1/(1 + 21.3/2), 1]: every z for which
erfc(z) is not 0 in f32. A degree-10 least-squares fit of G in relative error,
on Chebyshev nodes, in f64; printed as the f32 constants for Horner's rule,
highest degree first, with the fit's error in f64 and with f32 coefficients
evaluated in f32.

    python3 tests/fit_erfcx.py        (needs numpy, which python3-torch brings)
"""
import math

import numpy as np

DEGREE, NODES, Z_MAX = 10, 6000, 21.3


def erfcx(z):
    return math.erfc(z) * math.exp(z * z)   # erfc(21.3) is 1e-199: no underflow in f64


def main():
    t_min = 1 / (1 + Z_MAX / 2)
    k = np.arange(NODES)
    t = (1 + t_min) / 2 + (1 - t_min) / 2 * np.cos(np.pi * (k + 0.5) / NODES)
    g = np.array([erfcx(z) for z in (1 / t - 1) * 2]) / t
    v = np.vander(t, DEGREE + 1)
    coeffs, *_ = np.linalg.lstsq(v / g[:, None], np.ones(NODES), rcond=None)
    c32 = coeffs.astype(np.float32)
    t32 = t.astype(np.float32)
    acc = np.full(NODES, c32[0], dtype=np.float32)
    for c in c32[1:]:
        acc = (acc * t32 + c).astype(np.float32)
    exact_at_t32 = np.array([erfcx(z) for z in (1 / t32.astype(np.float64) - 1) * 2]) / t32
    print("relative error: f64 fit %.2e, f32 evaluation %.2e" %
          (np.max(np.abs(v @ coeffs / g - 1)), np.max(np.abs(acc / exact_at_t32 - 1))))
    print(", ".join("%.9gf" % c for c in c32))


if __name__ == "__main__":
    main()
