"""Compiled E-step: labels, max posterior and log-likelihood of every pixel in one pass.

scikit-learn evaluates ``log w_k + log N(x | k)`` as an (N, K) float64 array, then takes
``logsumexp`` and ``argmax`` over it in further passes; the numpy route of
:mod:`._predict` does the same chunk by chunk. The kernels below fuse it per pixel: read
the pixel's channels (in the image's own dtype), evaluate the K log densities in float64
registers, and write only the label, the max posterior (float32) and, when asked, the K
posteriors or log-probabilities. Nothing of size (N, K) float64 is ever allocated.

Every covariance type is evaluated through an upper-triangular precision Cholesky factor
``P_k`` (K, C, C), as scikit-learn does for 'full': ``log N = -C/2 log(2 pi) + log det P_k
- |(x - mu_k) P_k|^2 / 2``; 'tied', 'diag' and 'spherical' factors are expanded to that
form (:func:`kernel_params`), which costs nothing at the few channels of an image.

Parallelism is over fixed blocks of pixels, and per-block log-likelihood sums are added in
block order afterwards, so results do not depend on the number of threads.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

from ._nb_runs import RUN, pixel_wlp, relative_run, summarise_run

#: Pixels per parallel task (fixed, so partial sums do not depend on the thread count).
BLOCK = 1 << 14

_LOG_2PI = float(np.log(2.0 * np.pi))

#: Held around every kernel call. numba's fallback threading layer ('workqueue', used where
#: neither TBB nor OpenMP is installed) must not run parallel kernels from two threads at
#: once; each kernel already uses every core, so serialising costs no throughput.
KERNEL_LOCK = threading.Lock()


def kernel_params(gmm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means (K, C), precision Cholesky factors (K, C, C) and constants (K,) of a mixture.

    ``const_k = log w_k + log det P_k - C/2 log(2 pi)``, all float64, C-contiguous.
    """
    means = np.ascontiguousarray(gmm.means_, dtype=np.float64)
    k, c = means.shape
    pc = np.asarray(gmm.precisions_cholesky_, dtype=np.float64)
    kind = gmm.covariance_type
    if kind == "full":
        prec = pc.copy()
    elif kind == "tied":
        prec = np.repeat(pc[None], k, axis=0)
    elif kind == "diag":
        prec = np.zeros((k, c, c))
        prec[:, np.arange(c), np.arange(c)] = pc
    elif kind == "spherical":
        prec = np.eye(c)[None] * pc[:, None, None]
    else:
        raise ValueError(
            f"covariance_type must be 'full', 'tied', 'diag' or 'spherical', got {kind!r}."
        )
    log_det = np.log(np.diagonal(prec, axis1=1, axis2=2)).sum(axis=1)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(gmm.weights_, dtype=np.float64))
    const = log_w + log_det - 0.5 * c * _LOG_2PI
    return means, np.ascontiguousarray(prec), np.ascontiguousarray(const)


@njit(cache=True, fastmath=False, inline="always")
def softmax_row(z, q_out, i):
    """Write softmax(z) to row `i` of `q_out` (unless it has no rows).

    Returns (argmax, max posterior, max of z, sum of exp(z - max)); as
    :func:`._predict.summarize`, the first maximum wins ties. ``exp(0) = 1`` exactly, so
    the maximum's term is not evaluated.
    """
    n_comp = z.shape[0]
    best = 0
    top = z[0]
    for k in range(1, n_comp):
        if z[k] > top:
            top = z[k]
            best = k
    total = 0.0
    for k in range(n_comp):
        e = 1.0 if k == best else np.exp(z[k] - top)
        z[k] = e
        total += e
    inv = 1.0 / total
    if q_out.shape[0] > 0:
        for k in range(n_comp):
            q_out[i, k] = z[k] * inv
    return best, inv, top, total


@njit(cache=True, parallel=True, fastmath=False)
def estep_kernel(features, valid, means, prec, const, labels, prob, post):
    """Fused E-step over rows of `features` (N, C).

    `valid` is (N,) bool or empty (all valid). `labels` (N,) and `prob` (N,) are written
    (0 for invalid rows) unless empty; `post` (N, K) float32 too unless it has no rows.
    Returns the log-likelihood sum of the valid rows. Runs of :data:`RUN` pixels:
    :func:`._nb_runs.relative_run`, then :func:`._nb_runs.summarise_run`.
    """
    n = features.shape[0]
    n_comp, n_chan = means.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    partial = np.zeros(n_blocks)
    for b in prange(n_blocks):
        z = np.empty(n_comp)
        d = np.empty(n_chan)
        rel = np.empty((n_comp, RUN))
        tops = np.empty(RUN)
        ex = np.empty((n_comp, RUN))
        total = np.empty(RUN)
        best = np.empty(RUN, dtype=np.int64)
        acc = 0.0
        hi = min(n, (b + 1) * BLOCK)
        for lo in range(b * BLOCK, hi, RUN):
            m = min(hi, lo + RUN) - lo
            relative_run(features, valid, lo, m, means, prec, const, rel, tops, z, d)
            acc = summarise_run(rel, tops, valid, lo, m, labels, prob, post, acc, ex, best,
                                 total)
        partial[b] = acc
    total = 0.0
    for b in range(n_blocks):  # fixed order: independent of the thread count
        total += partial[b]
    return total


@njit(cache=True, parallel=True, fastmath=False)
def log_prob_kernel(features, valid, means, prec, const, out):
    """Weighted log-probabilities (N, K) float32 of rows of `features` (0 where invalid)."""
    n = features.shape[0]
    n_comp, n_chan = means.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    check = valid.shape[0] > 0
    for b in prange(n_blocks):
        z = np.empty(n_comp)
        d = np.empty(n_chan)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            if check and not valid[i]:
                for k in range(n_comp):
                    out[i, k] = 0.0
                continue
            pixel_wlp(features, i, means, prec, const, d, z)
            for k in range(n_comp):
                out[i, k] = z[k]


_NO_VALID = np.zeros(0, dtype=bool)


def _valid_arg(valid):
    return _NO_VALID if valid is None else valid


def estep(features, valid, params, labels=None, prob=None, post=None) -> float:
    """Run :func:`estep_kernel` with optional outputs; return the log-likelihood sum."""
    k = params[0].shape[0]
    if labels is None:
        labels, prob = np.zeros(0, np.uint8), np.zeros(0, np.float32)
    if post is None:
        post = np.zeros((0, k), np.float32)
    with KERNEL_LOCK:
        return float(estep_kernel(features, _valid_arg(valid), *params, labels, prob, post))


def log_prob(features, valid, params, out) -> np.ndarray:
    """Run :func:`log_prob_kernel` into `out` (N, K) float32."""
    with KERNEL_LOCK:
        log_prob_kernel(features, _valid_arg(valid), *params, out)
    return out


@njit(cache=True, parallel=True, fastmath=False)
def _count_nonfinite(flat):
    n = flat.shape[0]
    counts = np.zeros((n + 4 * BLOCK - 1) // (4 * BLOCK), dtype=np.int64)
    for b in prange(counts.shape[0]):
        c = 0
        for i in range(b * 4 * BLOCK, min(n, (b + 1) * 4 * BLOCK)):
            v = flat[i]
            c += (v - v) != 0  # NaN and +-inf give NaN
        counts[b] = c
    return counts.sum()


def count_nonfinite(values: np.ndarray) -> int:
    """Number of NaN and infinite values in a C-contiguous float32 or float64 array.

    numpy's ``np.isfinite`` writes a bool mask of the whole image before it can be counted,
    on one core; most images have no NaN at all, so this counts them on every core without
    writing anything, and :func:`._features.pixel_data` builds the mask only when there are
    some.

    Examples
    --------
    >>> count_nonfinite(np.array([[1.0, np.nan], [np.inf, -np.inf]]))
    3
    """
    with KERNEL_LOCK:
        return int(_count_nonfinite(values.reshape(-1)))
