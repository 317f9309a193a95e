"""HMRF-EM rounds: mean-field Potts posteriors alternated with weighted M-steps.

The numpy reference drives :func:`._meanfield.iter_potts_posteriors` round by round; the
numba and GPU routes run the rounds on class-major planes (:mod:`._planes`, :mod:`._gpu`).
"""

from __future__ import annotations

import copy

import numpy as np

from .._backend import use_cupy, use_numba
from .._features import PixelData
from .._predict import pixel_log_prob
from ..fit._fit import subsample_rows
from ..progress import rescale
from ._masks import finite_mask
from ._meanfield import drive, iter_potts_posteriors
from ._mstep import update_mixture
from ._neighbours import MAX_KERNEL_NDIM, POTTS_SCALE, _axis_weights, neighbour_kernel


def _image_log_prob(gmm, features: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Weighted log-probabilities of the valid pixels, float32 (*spatial, K), 0 elsewhere."""
    flat_ok = ok.reshape(-1)
    data = PixelData(
        features.reshape(-1, features.shape[-1]), ok.shape, flat_ok, int(flat_ok.sum())
    )
    return data.to_spatial(pixel_log_prob(gmm, data))


def hmrf_em(gmm, features, *, progress=None, **options):
    """Re-estimate a fitted mixture with Potts-regularised posteriors (HMRF-EM).

    Each round: E-step (weighted log-likelihoods of the current mixture), mean-field Potts
    posteriors (:func:`._meanfield.potts_posteriors`, warm-started from the previous
    round), then a weighted M-step on those posteriors
    (:func:`._mstep.m_step_from_posteriors`). A final regularised E-step gives the returned
    posteriors.

    Parameters
    ----------
    gmm : sklearn.mixture.GaussianMixture
        Fitted mixture; not modified.
    features : array of shape (*spatial_shape, n_features) or (*spatial_shape,)
        The pixel features the mixture was fitted on (the last axis is taken as the feature
        axis when its length equals ``gmm.n_features_in_``).
    smoothing, valid, spacing, n_iter
        As in :func:`._meanfield.potts_posteriors`; pixels with non-finite features are
        invalid too.
    n_rounds : int, default 1
        Re-estimation rounds; 0 only regularises the posteriors of `gmm`.
    max_samples : int, default 200000
        The M-step uses a seeded random subsample of at most this many valid pixels.
    random_state : int, default 0
        Seed of that subsample.
    log_prob_fn : callable, optional
        ``log_prob_fn(gmm) -> (*spatial_shape, K)`` weighted log-probabilities of every pixel
        (e.g. from a lookup table on the distinct values of an integer image); by default
        they are computed from `features` in chunks. The numba backend recomputes them
        from `features` inside its fused sweep instead (same values, less memory).
    progress : callable, optional
        Called as ``progress(fraction)`` after every mean-field sweep; an exception it
        raises (e.g. a cancellation) stops the work.

    Returns
    -------
    gmm : GaussianMixture
        A re-estimated copy of the mixture.
    posteriors : ndarray of float32, shape (*spatial_shape, K)
    """
    return drive(iter_hmrf_em(gmm, features, **options), progress)


def iter_hmrf_em(
    gmm,
    features,
    *,
    smoothing=1.0,
    valid=None,
    spacing=None,
    n_rounds=1,
    n_iter=10,
    max_samples=200_000,
    random_state=0,
    log_prob_fn=None,
    stop_changed=None,
    sweeps=None,
):
    """Generator form of :func:`hmrf_em`: yields the fraction of sweeps done after each
    sweep and returns ``(gmm, posteriors)``.

    `stop_changed` and `sweeps` (the sweeps run per round are appended) are those of
    :func:`._meanfield.iter_potts_posteriors`.
    """
    gmm = copy.deepcopy(gmm)
    features, ok, X, rows = _prepare(
        gmm, features, valid, smoothing, n_rounds, n_iter, max_samples, random_state
    )
    n_rounds, n_iter = int(n_rounds), int(n_iter)
    counts = (n_rounds, n_iter)
    total = max(1, (n_rounds + 1) * n_iter)
    if use_cupy() and _gpu_handles(ok.shape, gmm.n_components, features.shape[-1]):
        steps = _iter_hmrf_gpu(gmm, features, ok, smoothing, spacing, counts,
                               stop_changed, sweeps)
        q = yield from sweep_fractions(steps, total)
        return gmm, q.reshape((*ok.shape, q.shape[-1]))
    if planes_handle(ok.shape, gmm.n_components):
        steps = _iter_hmrf_numba(gmm, features, ok, X, rows, smoothing, spacing, counts,
                                 stop_changed, sweeps)
        planes = yield from sweep_fractions(steps, total)
        q = planes.finish(np.arange(gmm.n_components), np.uint8)[2]
        return gmm, q.reshape((*ok.shape, q.shape[-1]))
    opts = {"smoothing": smoothing, "valid": ok, "spacing": spacing, "n_iter": n_iter,
            "stop_changed": stop_changed, "sweeps": sweeps}
    if log_prob_fn is None:

        def log_prob_fn(model):
            return _image_log_prob(model, features, ok)

    q = None
    for r in range(n_rounds + 1):
        if r > 0:
            update_mixture(gmm, X, q.reshape(-1, q.shape[-1])[rows])
        steps = iter_potts_posteriors(log_prob_fn(gmm), init=q, **opts)
        q = None  # the previous posteriors are only needed as the start
        q = yield from rescale(steps, r * n_iter / total, n_iter / total)
    return gmm, q


def _prepare(gmm, features, valid, smoothing, n_rounds, n_iter, max_samples, random_state,
             finite_checked=False):
    """Checked arguments of :func:`iter_hmrf_em`: ``(features (*spatial, C), valid mask,
    M-step subsample X (float64), its voxel indices)``. With `finite_checked` the caller
    vouches that `valid` (or every voxel, if None) has finite features; the mask is then
    None when every voxel is valid."""
    if int(n_rounds) != n_rounds or n_rounds < 0:
        raise ValueError(f"n_rounds must be an integer >= 0, got {n_rounds!r}.")
    if not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(f"smoothing must be a finite number >= 0, got {smoothing!r}.")
    if int(n_iter) != n_iter or n_iter < 0:
        raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}.")
    features = np.asarray(features)
    n_features = gmm.means_.shape[1]
    if features.ndim < 2 or features.shape[-1] != n_features:
        if n_features != 1 or features.ndim < 1:
            raise ValueError(
                f"features must have shape (*spatial_shape, {n_features}) for this mixture, "
                f"got {features.shape}."
            )
        features = features[..., None]
    ok, n_ok = None, int(np.prod(features.shape[:-1]))  # every voxel valid, no mask
    if not finite_checked:
        ok = finite_mask(features)
        if valid is not None:
            if np.shape(valid) != ok.shape:
                raise ValueError(
                    f"valid must have the spatial shape {ok.shape}, got {np.shape(valid)}."
                )
            ok &= np.asarray(valid, dtype=bool)
    elif valid is not None:
        ok = np.asarray(valid, dtype=bool)
    if ok is not None:
        n_ok = int(np.count_nonzero(ok))  # no index array of every voxel when all are valid
    if n_ok == 0:
        raise ValueError("There are no valid pixels (finite features inside `valid`) to segment.")
    subsample = subsample_rows(n_ok, max_samples, random_state)
    if ok is None or n_ok == ok.size:  # the valid voxels' indices are 0..n-1
        rows = np.arange(n_ok) if subsample is None else subsample
    else:
        rows = np.flatnonzero(ok)
        rows = rows if subsample is None else rows[subsample]
    X = features.reshape(-1, n_features)[rows].astype(np.float64)
    return features, ok, X, rows


def sweep_fractions(steps, total):
    """Re-yield a generator that yields once per sweep as fractions of `total`; return its
    value."""
    done = 0
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
        done += 1
        yield done / total


def planes_handle(spatial_shape, n_classes) -> bool:
    """Whether the compiled class-major planes (numba backend) handle this image."""
    return use_numba() and len(spatial_shape) <= MAX_KERNEL_NDIM and n_classes <= 254


def iter_hmrf_planes_numba(gmm, features, *, smoothing, valid, spacing, n_rounds, n_iter,
                           max_samples, random_state, stop_changed, sweeps):
    """:func:`iter_hmrf_em` on the numba planes without the final copy: `gmm` is updated in
    place and the swept :class:`._planes.Planes` returned (posteriors, labels and the final
    mixture's mean log-likelihood still to read). Check :func:`planes_handle` first.
    `valid` (or every voxel, when None) must have finite features, as
    :class:`.._features.PixelData` guarantees."""
    features, ok, X, rows = _prepare(
        gmm, features, valid, smoothing, n_rounds, n_iter, max_samples, random_state,
        finite_checked=True,
    )
    counts = (int(n_rounds), int(n_iter))
    steps = _iter_hmrf_numba(gmm, features, ok, X, rows, smoothing, spacing, counts,
                             stop_changed, sweeps)
    return (yield from sweep_fractions(steps, max(1, (counts[0] + 1) * counts[1])))


def _iter_hmrf_numba(gmm, features, ok, X, rows, smoothing, spacing, counts, stop, sweeps):
    """Compiled HMRF-EM on class-major planes (:class:`._planes.Planes`); yields after
    each sweep and returns the :class:`._planes.Planes`. `counts` is ``(n_rounds, n_iter)``.

    The log-likelihood planes are computed once per mixture and reused by every sweep.
    """
    from ._planes import Planes, iter_hmrf_planes

    shape = features.shape[:-1]
    kernel = neighbour_kernel(len(shape), spacing)
    beta = float(smoothing) * POTTS_SCALE
    flat = features.reshape(-1, features.shape[-1])
    planes = Planes(ok, shape, gmm.n_components, kernel, _axis_weights(kernel), beta)
    def mstep(model, done):  # on the subsample, as the numpy reference; parallel sums
        from ._moments import cpu_moments, update_from_moments

        shift = np.asarray(model.means_, dtype=np.float64)
        update_from_moments(model, cpu_moments(X, done.q[:, rows], None, shift), shift,
                            X.shape[0])

    yield from iter_hmrf_planes(planes, gmm, flat, counts, stop, sweeps, mstep)
    return planes


def _gpu_handles(spatial_shape, n_classes, n_channels) -> bool:
    from ._gpu import supported

    return supported(spatial_shape, n_classes, n_channels)


def _iter_hmrf_gpu(gmm, features, ok, smoothing, spacing, counts, stop, sweeps):
    """HMRF-EM on the GPU (every valid voxel in the M-step); returns host posteriors."""
    from ._gpu import GpuPlanes
    from ._planes import iter_hmrf_planes

    flat_ok = ok.reshape(-1)
    kernel = neighbour_kernel(ok.ndim, spacing)
    planes = GpuPlanes(
        features.reshape(-1, features.shape[-1]), None if flat_ok.all() else flat_ok,
        ok.shape, gmm.n_components, kernel, _axis_weights(kernel),
        float(smoothing) * POTTS_SCALE,
    )
    yield from iter_hmrf_planes(planes, gmm, None, counts, stop, sweeps)
    return planes.finish(np.arange(gmm.n_components))[2]
