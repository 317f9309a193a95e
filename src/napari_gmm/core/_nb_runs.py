"""Vectorised runs of pixels for the compiled E-step (numba).

:func:`._nb_estep.estep_kernel` and :func:`.potts._loglik_planes.loglik_planes` work a run
of pixels at a time: the weighted log-probabilities relative to each pixel's maximum,
``z - max`` (K, run) float64 (:func:`relative_run`), then loops over classes and pixels of
the run that numba/LLVM vectorise (exponentials by :func:`.potts._fast_exp.fast_exp64`,
whose scalar C-library counterpart kept the per-pixel E-step from vectorising: 12.7 ns per
pixel at K=2 on one core, 8.9 ns by runs).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .potts._fast_exp import fast_exp64


@njit(cache=True, fastmath=False, inline="always")
def pixel_wlp(features, i, means, prec, const, d, out):
    """Weighted log-probabilities of pixel `i` into `out` (K,); `d` (C,) is scratch."""
    n_comp, n_chan = means.shape
    if n_chan == 1:  # gray images: the same arithmetic without the loop overhead
        x = float(features[i, 0])
        for k in range(n_comp):
            y = (x - means[k, 0]) * prec[k, 0, 0]
            out[k] = const[k] - 0.5 * (y * y)
        return
    for k in range(n_comp):
        for a in range(n_chan):
            d[a] = features[i, a] - means[k, a]
        sq = 0.0
        for b in range(n_chan):
            y = 0.0
            for a in range(b + 1):  # P_k is upper triangular
                y += d[a] * prec[k, a, b]
            sq += y * y
        out[k] = const[k] - 0.5 * sq


#: Pixels per run of :func:`._nb_estep.estep_kernel`: its (K, run) float64 buffers stay in
#: the L1/L2 cache while the loops over them vectorise.
RUN = 1024


@njit(cache=True, fastmath=True)
def gray_run(features, valid, lo, m, means, prec, const, rel, tops):
    """``z - max`` (K, m) into `rel` and the maxima into `tops` of pixels ``lo .. lo + m``
    of a gray image, class by class (vectorised); invalid pixels are evaluated at the first
    mean (then dropped). The maximum's entry is exactly 0."""
    n_comp = means.shape[0]
    check = valid.shape[0] > 0
    for x in range(m):
        tops[x] = -np.inf
    for k in range(n_comp):
        mu, p, c = means[k, 0], prec[k, 0, 0], const[k]
        rk = rel[k]
        for x in range(m):
            v = np.float64(features[lo + x, 0]) if not check or valid[lo + x] else means[0, 0]
            y = (v - mu) * p
            zk = c - 0.5 * (y * y)
            rk[x] = zk
            tops[x] = max(tops[x], zk)
    for k in range(n_comp):
        rk = rel[k]
        for x in range(m):
            rk[x] -= tops[x]


@njit(cache=True, fastmath=False, inline="always")
def relative_run(features, valid, lo, m, means, prec, const, rel, tops, z, d):
    """``z - max`` (K, m) into `rel` and the maxima into `tops` of pixels ``lo .. lo + m``:
    :func:`gray_run` for gray images, pixel by pixel through :func:`pixel_wlp` otherwise.
    The maximum's entry is exactly 0. Inlined into the kernels (not inlined, its call of
    :func:`gray_run` ran ~20 % slower)."""
    n_comp, n_chan = means.shape
    if n_chan == 1:
        gray_run(features, valid, lo, m, means, prec, const, rel, tops)
        return
    for i in range(m):
        pixel_wlp(features, lo + i, means, prec, const, d, z)
        top = z[0]
        for k in range(1, n_comp):
            top = max(top, z[k])
        tops[i] = top
        for k in range(n_comp):
            rel[k, i] = z[k] - top


@njit(cache=True, fastmath=True)
def _exp_run(rel, ex, m, best, total):
    """Exponentials of ``z - max`` (K, m) into `ex`, their sums into `total`, and into
    `best` the first class whose entry is exactly 0 (the first maximum). Entries are
    finite or -inf (a class of weight 0), which :func:`fast_exp64` clamps at -700.
    (Writing the exponentials over `rel` in place kept the loop from vectorising.)"""
    n_comp = rel.shape[0]
    for x in range(m):
        total[x] = 0.0
        best[x] = 0
    for k in range(n_comp - 1, -1, -1):
        rk = rel[k]
        for x in range(m):
            best[x] = k if rk[x] == 0.0 else best[x]
    for k in range(n_comp):
        rk = rel[k]
        ek = ex[k]
        for x in range(m):
            e = fast_exp64(rk[x])
            ek[x] = e
            total[x] += e


@njit(cache=True, fastmath=True)
def ll_run(tops, total, valid, lo, m):
    """``sum_x tops[x] + log total[x]`` over the valid pixels of a run (`total`: the sums
    of ``exp(z - max)``). The logs are taken of products of 64 sums (each at most K <= 254,
    so a product stays below 2^512), so the loops carry no branch and vectorise."""
    check = valid.shape[0] > 0
    acc = 0.0
    for c in range(0, m, 64):
        prod = 1.0
        top = 0.0
        for x in range(c, min(m, c + 64)):
            ok = not check or valid[lo + x]
            prod *= total[x] if ok else 1.0
            top += tops[x] if ok else 0.0
        acc += top + np.log(prod)
    return acc


@njit(cache=True, fastmath=True)
def _write_run(best, total, lo, m, labels, prob):
    for x in range(m):
        labels[lo + x] = best[x] + 1
        prob[lo + x] = 1.0 / total[x]


@njit(cache=True, fastmath=False)
def summarise_run(rel, tops, valid, lo, m, labels, prob, post, acc, ex, best, total):
    """Labels, max posterior (and posteriors) of a run from ``z - max``, and `acc` plus
    its log-likelihood sum (:func:`_exp_run`, then branch-free loops that vectorise, and
    :func:`ll_run`)."""
    n_comp = rel.shape[0]
    _exp_run(rel, ex, m, best, total)
    if valid.shape[0] == 0:
        if labels.shape[0] > 0:
            _write_run(best, total, lo, m, labels, prob)
        if post.shape[0] > 0:
            for k in range(n_comp):
                ek = ex[k]
                for x in range(m):
                    post[lo + x, k] = ek[x] / total[x]
        return acc + ll_run(tops, total, valid, lo, m)
    for x in range(m):
        ok = valid[lo + x]
        if labels.shape[0] > 0:
            labels[lo + x] = best[x] + 1 if ok else 0
            prob[lo + x] = 1.0 / total[x] if ok else 0.0
        for k in range(n_comp if post.shape[0] > 0 else 0):
            post[lo + x, k] = ex[k, x] / total[x] if ok else 0.0
    return acc + ll_run(tops, total, valid, lo, m)
