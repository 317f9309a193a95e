"""Per-pixel labels, probabilities and log-likelihoods from a fitted mixture.

Two routes give the same numbers: a lookup table computed on the distinct values of an
integer image, or a chunked pass over the pixels (bounded memory: a few MB per chunk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._backend import use_numba
from ._features import PixelData
from .fit._fit import single_threaded_blas
from .fit._sklearn_private import weighted_log_prob

#: Pixels evaluated at once on the chunked route.
CHUNK_ROWS = 1 << 17
#: Pixels per call of the compiled E-step (a progress step; no temporaries to bound).
KERNEL_ROWS = 1 << 21


@dataclass(frozen=True, eq=False)
class Prediction:
    """Flat per-pixel results (invalid pixels: label 0, probability 0, posteriors 0)."""

    labels: np.ndarray  # (n_pixels,) unsigned int, 1..K
    probability: np.ndarray  # (n_pixels,) float32 max posterior
    log_likelihood: float  # mean log-likelihood per valid pixel
    posteriors: np.ndarray | None  # (n_pixels, K) float32 when asked for
    n_sweeps: tuple = ()  # mean-field sweeps run per round, with smoothing
    backend: str = ""  # 'cupy' when the spatial model ran on the GPU; '': the CPU backend


def label_dtype(n_components: int) -> np.dtype:
    """The smallest unsigned integer dtype that holds labels 0..n_components."""
    return np.min_scalar_type(n_components)


def summarize(wlp: np.ndarray, want_posteriors: bool):
    """argmax, max posterior, log-sum-exp and (optionally) posteriors of log-prob rows."""
    arg = wlp.argmax(axis=1)
    top = np.take_along_axis(wlp, arg[:, None], axis=1)
    shifted = wlp - top
    np.exp(shifted, out=shifted)
    if shifted.shape[1] < 8:
        # numpy reduces short rows slowly: adding the columns in order takes a third off
        # this function for K=3, with bit-identical sums (numpy's pairwise summation only
        # reorders the additions from 8 terms on)
        total = shifted[:, 0].copy()
        for k in range(1, shifted.shape[1]):
            total += shifted[:, k]
    else:
        total = shifted.sum(axis=1)
    prob = (1.0 / total).astype(np.float32)
    lse = top[:, 0] + np.log(total)
    post = (shifted / total[:, None]).astype(np.float32) if want_posteriors else None
    return arg, prob, lse, post


def predict_distinct(gmm, data: PixelData, compressed, *, posteriors=False) -> Prediction:
    """Predict every pixel of an integer image through tables on its distinct values."""
    with single_threaded_blas():
        wlp = weighted_log_prob(gmm, compressed.values)
    arg, prob, lse, post = summarize(wlp, posteriors)
    labels_table = (arg + 1).astype(label_dtype(gmm.n_components))
    ll = float(np.dot(compressed.counts, lse) / data.n_valid)
    return Prediction(
        compressed.take(labels_table),
        compressed.take(prob),
        ll,
        None if post is None else compressed.take(post),
    )


def iter_predict_chunked(gmm, data: PixelData, *, posteriors=False):
    """Predict every valid pixel in chunks of :data:`CHUNK_ROWS` rows.

    A generator: yields the fraction of pixels done after each chunk and returns the
    :class:`Prediction`.
    """
    n, k = data.n_pixels, gmm.n_components
    labels = np.zeros(n, dtype=label_dtype(k))
    prob = np.zeros(n, dtype=np.float32)
    post = np.zeros((n, k), dtype=np.float32) if posteriors else None
    total_ll = 0.0
    if use_numba():
        from ._nb_estep import estep, kernel_params

        params = kernel_params(gmm)
        for start in range(0, n, KERNEL_ROWS):
            rows = slice(start, min(start + KERNEL_ROWS, n))
            mask = None if data.valid is None else data.valid[rows]
            q = None if post is None else post[rows]
            total_ll += estep(data.features[rows], mask, params, labels[rows], prob[rows], q)
            yield rows.stop / n
        return Prediction(labels, prob, total_ll / data.n_valid, post)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        rows = slice(start, stop)
        X = data.features[rows]
        mask = None if data.valid is None else data.valid[rows]
        if mask is not None:
            X = X[mask]
        if X.shape[0]:
            # one BLAS thread per chunk only: the limit must not outlive a `yield`
            with single_threaded_blas():
                wlp = weighted_log_prob(gmm, X)
            arg, p, lse, q = summarize(wlp, posteriors)
            total_ll += float(lse.sum())
            if mask is None:
                labels[rows] = arg + 1
                prob[rows] = p
                if q is not None:
                    post[rows] = q
            else:
                labels[rows][mask] = arg + 1
                prob[rows][mask] = p
                if q is not None:
                    post[rows][mask] = q
        yield stop / n
    return Prediction(labels, prob, total_ll / data.n_valid, post)


def pixel_log_prob(gmm, data: PixelData, compressed=None) -> np.ndarray:
    """Weighted log-probabilities of every pixel, (n_pixels, K) float32 (0 where invalid).

    Rows whose every value would underflow float32 (pixels ~1e19 standard deviations from
    every class) are stored relative to their maximum (:func:`_recentre_lost_rows`):
    posteriors only depend on differences between classes.
    """
    if compressed is not None:
        with single_threaded_blas():
            wlp = weighted_log_prob(gmm, compressed.values)
        with np.errstate(over="ignore"):
            lost = ~np.isfinite(wlp.astype(np.float32).max(axis=1))
        lost &= np.isfinite(wlp.max(axis=1))
        wlp[lost] -= wlp[lost].max(axis=1, keepdims=True)
        with np.errstate(over="ignore"):
            return compressed.take(wlp.astype(np.float32))
    n, k = data.n_pixels, gmm.n_components
    if use_numba():
        from ._nb_estep import kernel_params, log_prob

        out = np.empty((n, k), dtype=np.float32)
        log_prob(data.features, data.valid, kernel_params(gmm), out)
        return _recentre_lost_rows(out, gmm, data)
    out = np.zeros((n, k), dtype=np.float32)
    with single_threaded_blas(), np.errstate(over="ignore"):  # -1e40 -> -inf: recentred
        for start in range(0, n, CHUNK_ROWS):
            rows = slice(start, min(start + CHUNK_ROWS, n))
            X = data.features[rows]
            if data.valid is None:
                out[rows] = weighted_log_prob(gmm, X)
            else:
                mask = data.valid[rows]
                out[rows][mask] = weighted_log_prob(gmm, X[mask])
    return _recentre_lost_rows(out, gmm, data)


def _recentre_lost_rows(out, gmm, data: PixelData) -> np.ndarray:
    """Rows of `out` that underflowed to -inf for every class, recomputed in float64 and
    stored relative to their maximum (so that they keep their label; label 0 is for
    non-finite pixels only)."""
    lost = ~np.isfinite(out.max(axis=1))
    if data.valid is not None:
        lost &= data.valid
    rows = np.flatnonzero(lost)
    if rows.size:
        with single_threaded_blas():
            wlp = weighted_log_prob(gmm, data.features[rows])
        top = wlp.max(axis=1, keepdims=True)
        fine = np.isfinite(top[:, 0])
        out[rows[fine]] = (wlp[fine] - top[fine]).astype(np.float32)
    return out


def mean_log_likelihood(gmm, data: PixelData, compressed=None) -> float:
    """Mean log-likelihood of the mixture over every valid pixel (chunked or by table)."""
    if compressed is None and use_numba():
        from ._nb_estep import estep, kernel_params

        return estep(data.features, data.valid, kernel_params(gmm)) / data.n_valid
    with single_threaded_blas():
        if compressed is not None:
            lse = gmm.score_samples(compressed.values)
            return float(np.dot(compressed.counts, lse) / data.n_valid)
        total = 0.0
        for start in range(0, data.n_pixels, CHUNK_ROWS):
            rows = slice(start, min(start + CHUNK_ROWS, data.n_pixels))
            X = data.features[rows]
            if data.valid is not None:
                X = X[data.valid[rows]]
            if X.shape[0]:
                total += float(gmm.score_samples(np.asarray(X, dtype=np.float64)).sum())
    return total / data.n_valid
