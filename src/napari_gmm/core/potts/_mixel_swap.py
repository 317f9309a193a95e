"""Mixel-aware posteriors for ``smoothing='auto'`` on clean images with partial volumes.

On a clean image (:func:`._auto_guard.clean_image`) on which a mixel model
(:mod:`._mixels`) lowers BIC, the plain fit's data term in the final (smoothed, tempered)
posteriors is swapped for the mixel model's posterior of the class of the largest fraction:
``q'_k ~ q_k P'(k | x) / max(P(k | x), FLOOR)``. Labels and probability follow ``q'``, so
the label of a voxel holding two tissues is the one it holds most of, and its probability
says it is mixed. The strength is then at most :data:`MIXEL_CAP`.

In memory the swap runs on the final posteriors (:func:`..pipeline._image`); a dask image's
halo blocks run it on their own voxels (:mod:`..lazy._apply`), with the same model (fitted
on the guard's central block) and the same table, so both give the same labels.
"""

from __future__ import annotations

import numpy as np

from .._backend import use_numba
from ._auto_guard import CLEAN_CAP, guard_strength
from ._mixels import FLOOR, MixelModel, fit_mixels

#: Largest strength ``'auto'`` gives a clean image with mixel-aware posteriors. On the
#: anatomy phantoms at 5 % noise (seeds 1-3) 0.15 kept every case within 0.01 of the best
#: fixed strength and all but one (-0.0004) at or above plain EM; 0.2 and 0.25 lost up to
#: 0.002 and 0.005 against plain EM on the 1-voxel sheet.
MIXEL_CAP = 0.15
#: Rows per chunk of the swap (bounds its float64 temporaries).
CHUNK = 1 << 16


def mixel_posteriors(model: MixelModel, features, posteriors) -> np.ndarray:
    """The posteriors (n, K) with the plain fit's data term swapped for the mixel model's
    (see the module docstring), as a new float32 array.

    `features` (n, d) are the pixels' values, `posteriors` (n, K) the final posteriors
    (rows of 0, invalid pixels, stay 0).
    """
    q = np.asarray(posteriors)
    features = np.asarray(features)
    if model.table is not None and use_numba():
        return _compiled(model, features[:, 0], q)
    out = np.zeros(q.shape, dtype=np.float32)
    for start in range(0, q.shape[0], CHUNK):
        rows = slice(start, start + CHUNK)
        qs = q[rows]
        ok = qs.sum(axis=1) > 0
        if ok.any():
            corr = model.fast_correction(features[rows][ok])
            out[np.flatnonzero(ok) + start] = _swapped(qs[ok], corr)
    return out


def _compiled(model: MixelModel, values, q) -> np.ndarray:
    """:func:`mixel_posteriors` of one channel by the compiled kernel
    (:mod:`._mixel_kernel`), chunk by chunk; values outside the table exactly."""
    from .._nb_estep import KERNEL_LOCK
    from ._mixel_kernel import swap_rows

    out = np.zeros(q.shape, dtype=np.float32)
    lo, step = float(model.grid[0]), float(model.grid[1] - model.grid[0])
    for start in range(0, q.shape[0], CHUNK * 16):
        rows = slice(start, start + CHUNK * 16)
        qs = np.ascontiguousarray(q[rows], dtype=np.float32)
        x = values[rows].astype(np.float64)
        outside = np.zeros(x.size, dtype=bool)
        with KERNEL_LOCK:
            swap_rows(qs, x, lo, step, model.table, np.log(FLOOR), out[rows], outside)
        if outside.any():
            index = np.flatnonzero(outside)
            out[index + start] = _swapped(qs[index], model.correction(x[index, None]))
    return out


def _swapped(q, correction) -> np.ndarray:
    """Rows `q` (each with some posterior > 0) times ``exp(correction)``, renormalised."""
    with np.errstate(divide="ignore"):
        log_q = np.log(q.astype(np.float64)) + correction
    log_q -= log_q.max(axis=1, keepdims=True)
    new = np.exp(log_q)
    return new / new.sum(axis=1, keepdims=True)


def swapped_outputs(model: MixelModel, features, posteriors):
    """``(labels, probability, posteriors)`` of :func:`mixel_posteriors` (labels 1..K,
    0 where a row is all 0)."""
    q = mixel_posteriors(model, features, posteriors)
    valid = q.sum(axis=1) > 0
    labels = np.where(valid, q.argmax(axis=1) + 1, 0)
    return labels, q.max(axis=1), q


def guard_with_mixels(gmm, data, estimate, *, scale=None, random_state=None, mixels=True):
    """``smoothing='auto'``'s guarded strength for the `estimate`, and the mixel model its
    posteriors take (None: the plain ones).

    A clean image is fitted a mixel model; where it lowers BIC the strength is at most
    :data:`MIXEL_CAP`, else :data:`._auto_guard.CLEAN_CAP`. `mixels` False (Gibbs
    marginals, whose swap is not measured): no model, the cap of the plain posteriors.

    Returns
    -------
    strength : float
    model : MixelModel or None
        None unless the image is clean, shows partial volumes and the strength is > 0.
    """
    found = []

    def cap():
        found.append(fit_mixels(gmm, data))
        return CLEAN_CAP if found[0] is None else MIXEL_CAP

    strength, clean = guard_strength(
        gmm, data, estimate, scale=scale, random_state=random_state,
        clean_cap=cap if mixels else CLEAN_CAP,
    )
    model = found[0] if found and clean and strength > 0 else None
    return strength, model
