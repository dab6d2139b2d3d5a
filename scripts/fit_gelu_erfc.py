#!/usr/bin/env python3
"""Fits the polynomial R of the AVX-512 GELU (runtime/kernels/unary.cc, Gelu16::kR):
erfc(a) * exp(a^2) ~= R(t), t = 1 / (1 + a / 2), a in [0, 10], degree 10, least squares on the
relative error at 2,000 Chebyshev nodes of t. Prints the coefficients as float32, highest degree
first (the order of kR), and R's worst relative error in float32 Horner over 200,001 points.

Usage: /usr/bin/python3 scripts/fit_gelu_erfc.py   (numpy; Debian's python3-numpy)
"""
import math

import numpy as np

DEGREE, NODES, A_MAX = 10, 2000, 10.0


def target(a):
    return math.erfc(a) * math.exp(a * a)


def main():
    t_min = 1.0 / (1.0 + A_MAX / 2.0)
    k = np.arange(NODES)
    t = 0.5 * (1 + t_min) + 0.5 * (1 - t_min) * np.cos(np.pi * (k + 0.5) / NODES)
    y = np.array([target(v) for v in 2.0 * (1.0 / t - 1.0)])
    coefficients, *_ = np.linalg.lstsq(np.vander(t, DEGREE + 1) / y[:, None], np.ones_like(y), rcond=None)
    c32 = coefficients.astype(np.float32)
    print(", ".join("%.9ef" % c for c in c32))
    tt = np.linspace(t_min, 1.0, 200001)
    want = np.array([target(v) for v in 2.0 * (1.0 / tt - 1.0)])
    p = np.zeros_like(tt, dtype=np.float32)
    for c in c32:
        p = p * tt.astype(np.float32) + c
    print("worst relative error in float32: %.3g" % np.max(np.abs(p.astype(np.float64) - want) / want))


if __name__ == "__main__":
    main()
