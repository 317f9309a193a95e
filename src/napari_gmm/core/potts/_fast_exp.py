"""Branch-free exponentials and logarithms that numba vectorises (the C library's do not).

Used by the class-major sweeps (:mod:`._planes_kernels`), the log-likelihood planes
(:mod:`._loglik_planes`) and the tempering of class-major posteriors
(:mod:`._temper_kernel`); the tests compare them with numpy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_LOG2E = np.float32(1.4426950408889634)
_LN2 = np.float32(0.6931471805599453)


@njit(cache=True, fastmath=True, inline="always")
def fast_exp(x):
    """exp(x) of a float32 ``x <= 0`` (clamped at -80): range reduction by powers of 2.

    ``x = (n + f) ln 2`` with n = round(x / ln 2), |f| <= 1/2; ``2^f`` by its degree-7
    Taylor polynomial (relative error < 1e-8) and ``2^n`` as a product of exact powers of
    two selected by the bits of -n, so the loop has no calls and no table look-ups.
    """
    x = max(x, np.float32(-80.0))
    t = x * _LOG2E
    n = np.float32(np.floor(t + np.float32(0.5)))
    u = (t - n) * _LN2
    p = np.float32(1.0) + u * (np.float32(1.0) + u * (np.float32(0.5) + u * (
        np.float32(1.0 / 6) + u * (np.float32(1.0 / 24) + u * (np.float32(1.0 / 120) + u * (
            np.float32(1.0 / 720) + u * np.float32(1.0 / 5040)))))))
    m = np.int32(-n)
    p *= np.float32(0.5) if m & 1 else np.float32(1.0)
    p *= np.float32(0.25) if m & 2 else np.float32(1.0)
    p *= np.float32(1.0 / 16) if m & 4 else np.float32(1.0)
    p *= np.float32(1.0 / 256) if m & 8 else np.float32(1.0)
    p *= np.float32(2.0**-16) if m & 16 else np.float32(1.0)
    p *= np.float32(2.0**-32) if m & 32 else np.float32(1.0)
    p *= np.float32(2.0**-64) if m & 64 else np.float32(1.0)
    return p


@njit(cache=True, fastmath=True, inline="always")
def fast_exp64(x):
    """exp(x) of a float64 ``x <= 0`` (clamped at -700), as :func:`fast_exp` in float64.

    Cody-Waite reduction ``x = n ln 2 + u`` (|u| <= ln 2 / 2), the degree-12 Taylor
    polynomial of ``e^u`` and ``2^n`` as a product of exact powers of two: relative error
    < 1e-13 over the range (< 2e-15 above -30), branch-free, so loops of it vectorise where
    the C library's ``exp`` does not (about 4x faster here).
    """
    x = max(x, -700.0)
    n = np.floor(x * 1.4426950408889634 + 0.5)
    u = (x - n * 0.693147180369123816490) - n * 1.90821492927058770002e-10
    p = 1.0 + u * (1.0 + u * (1 / 2 + u * (1 / 6 + u * (1 / 24 + u * (1 / 120 + u * (
        1 / 720 + u * (1 / 5040 + u * (1 / 40320 + u * (1 / 362880 + u * (
            1 / 3628800 + u * (1 / 39916800 + u / 479001600)))))))))))
    m = np.int64(-n)
    p *= 0.5 if m & 1 else 1.0
    p *= 0.25 if m & 2 else 1.0
    p *= 1 / 16 if m & 4 else 1.0
    p *= 1 / 256 if m & 8 else 1.0
    p *= 2.0**-16 if m & 16 else 1.0
    p *= 2.0**-32 if m & 32 else 1.0
    p *= 2.0**-64 if m & 64 else 1.0
    p *= 2.0**-128 if m & 128 else 1.0
    p *= 2.0**-256 if m & 256 else 1.0
    p *= 2.0**-512 if m & 512 else 1.0
    return p


_SQRT2 = np.float32(1.4142135623730951)


@njit(cache=True, fastmath=True, inline="always")
def fast_log(m, e):
    """log(m 2^e) of a float32 mantissa ``m`` in [1, 2) and exponent ``e`` (a float32).

    The caller takes both from the bits of a normal float32 (``(bits & 0x7FFFFF) |
    0x3F800000`` read as float32, and ``((bits >> 23) & 0xFF) - 127``). ``m`` is brought
    into [sqrt(1/2), sqrt(2)); ``log m = 2 atanh(u)``, ``u = (m - 1) / (m + 1)``, by its odd
    series up to ``u^11`` (|u| <= 0.172: relative error < 1e-7); branch-free, so loops of
    it vectorise where the C library's ``log`` does not.
    """
    big = m > _SQRT2
    m = m * np.float32(0.5) if big else m
    e = e + np.float32(1.0) if big else e
    u = (m - np.float32(1.0)) / (m + np.float32(1.0))
    u2 = u * u
    s = u * (np.float32(2.0) + u2 * (np.float32(2.0 / 3) + u2 * (np.float32(2.0 / 5) + u2 * (
        np.float32(2.0 / 7) + u2 * (np.float32(2.0 / 9) + u2 * np.float32(2.0 / 11))))))
    return e * _LN2 + s
