"""Spatial regularisation of mixture posteriors with a Potts prior (hidden Markov random field).

Per-pixel EM labels each pixel from its value alone. A Potts prior adds the belief that
neighbouring pixels tend to share a class; its mean-field approximation (as in FSL FAST and
ANTs Atropos) repeatedly updates the posteriors ``q`` of every pixel as::

    q  <-  softmax_k( log(pi_k N(x | k)) + beta * neighbour_mean(q)_k )

where ``neighbour_mean`` averages ``q`` over the 2 * ndim face neighbours (4 in 2D, 6 in 3D).
A pixel whose neighbours all agree on class k gets prior odds of ``exp(beta)`` towards k.
:func:`hmrf_em` alternates these regularised E-steps with M-steps that re-estimate the mixture.
"""

from __future__ import annotations

import copy

import numpy as np
from scipy import ndimage

from .._backend import use_cupy, use_numba
from .._features import PixelData
from .._predict import pixel_log_prob
from ..fit._fit import subsample_rows
from ..fit._sklearn_private import (
    compute_precision_cholesky,
    estimate_gaussian_parameters,
    set_parameters,
)
from ..progress import rescale, run
from ._masks import finite_mask

#: Potts coupling ``beta`` (in nats) of ``smoothing=1.0``. On synthetic 2D and 3D images of 2-3
#: classes with noise of 0.3-0.7 times the class spacing, accuracy is highest for beta between
#: 6 and 12, and 8 is within 0.5 % of the best in every case. Larger values erode 1-pixel-wide
#: structures more at high noise (their pixels have at most half their neighbours in class).
POTTS_SCALE = 8.0
#: Most spatial axes the compiled kernels handle (more run on the numpy route).
MAX_KERNEL_NDIM = 3


def neighbour_kernel(ndim: int, spacing=None) -> np.ndarray:
    """Weights of the 2 * ndim face neighbours, shape (3,) * ndim, summing to 1.

    The two neighbours along axis ``a`` each weigh ``(1 / spacing[a]) / (2 * sum(1 / spacing))``:
    neighbours farther apart in physical units count less. Isotropic: ``1 / (2 * ndim)`` each.

    Examples
    --------
    >>> neighbour_kernel(2)
    array([[0.  , 0.25, 0.  ],
           [0.25, 0.  , 0.25],
           [0.  , 0.25, 0.  ]], dtype=float32)
    >>> neighbour_kernel(3, spacing=(3.0, 1.0, 1.0))[:, 1, 1].round(4)
    array([0.0714, 0.    , 0.0714], dtype=float32)
    """
    from .._validation import check_smoothing_ndim

    check_smoothing_ndim(1.0, ndim)  # guard: a (3,) * ndim kernel for absurd ndim
    s = np.ones(ndim) if spacing is None else np.asarray(spacing, dtype=np.float64).ravel()
    if s.size != ndim or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(
            f"spacing must give one positive pixel size per spatial axis ({ndim} values), "
            f"got {spacing!r}."
        )
    inv = 1.0 / s
    weights = inv / (2.0 * inv.sum())
    kernel = np.zeros((3,) * ndim, dtype=np.float32)
    for axis, side in np.ndindex(ndim, 2):
        kernel[(1,) * axis + (2 * side,) + (1,) * (ndim - axis - 1)] = weights[axis]
    return kernel


def _softmax_(z: np.ndarray) -> np.ndarray:
    """In-place softmax over axis 0."""
    z -= z.max(axis=0)
    np.exp(z, out=z)
    z /= z.sum(axis=0)
    return z


def _axis_weights(kernel: np.ndarray) -> tuple[float, ...]:
    """Weight of the two face neighbours along each axis of a :func:`neighbour_kernel`."""
    centre = (1,) * kernel.ndim
    weights = []
    for axis in range(kernel.ndim):
        index = list(centre)
        index[axis] = 0
        weights.append(float(kernel[tuple(index)]))
    return tuple(weights)


def _neighbour_sum(q, out, axis_weights, tmp=None):
    """Weighted sum of the face neighbours of every pixel of q (K, *spatial), zero outside.

    The same as ``ndimage.correlate(q, neighbour_kernel[None], mode='constant')`` but with
    two shifted-slice additions per axis instead of visiting all 3**ndim taps of the kernel:
    about 4x faster, and this runs once per mean-field sweep.
    """
    same = len(set(axis_weights)) == 1
    out[...] = 0.0
    for axis, weight in enumerate(axis_weights, start=1):
        acc = out if same else tmp
        if not same:
            acc[...] = 0.0
        lo = [slice(None)] * q.ndim
        hi = [slice(None)] * q.ndim
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        acc[tuple(hi)] += q[tuple(lo)]
        acc[tuple(lo)] += q[tuple(hi)]
        if not same:
            out += weight * acc
    if same:
        out *= axis_weights[0]
    return out


def potts_posteriors(
    log_prob, *, smoothing=1.0, valid=None, spacing=None, n_iter=10, init=None, progress=None
) -> np.ndarray:
    """Posteriors regularised by a Potts prior over face neighbours (mean-field updates).

    Parameters
    ----------
    log_prob : array of shape (*spatial_shape, K)
        Weighted log-likelihoods ``log(pi_k) + log N(x | k)`` of every pixel, e.g.
        ``weighted_log_prob(gmm, X).reshape(*spatial_shape, K)``. Any number of
        spatial axes (2D, 3D, ...); the last axis holds the classes and is never smoothed.
    smoothing : float, default 1.0
        Strength of the prior: ``beta = smoothing * POTTS_SCALE`` (8 nats at 1.0, the
        recommended value in 2D and 3D). 0 gives the plain per-pixel posteriors.
    valid : bool array of shape `spatial_shape`, optional
        Pixels to segment. Invalid pixels (e.g. NaN in the image), and pixels whose row of
        `log_prob` is not finite, get posterior 0 and do not count as neighbours.
    spacing : sequence of float, optional
        Physical pixel size per spatial axis, e.g. ``(3.0, 1.0, 1.0)`` for anisotropic voxels;
        neighbours weigh ``1 / spacing`` (see :func:`neighbour_kernel`). Default isotropic.
    n_iter : int, default 10
        Mean-field sweeps (each: one neighbour average and one softmax over the volume).
    init : array of shape log_prob.shape, optional
        Starting posteriors, e.g. from a previous round; default the plain posteriors.
        Returned as they are when ``n_iter=0``; ignored when ``smoothing=0``.
    progress : callable, optional
        Called as ``progress(fraction)`` after every sweep; an exception it raises (e.g. a
        cancellation) stops the sweeps.

    Returns
    -------
    ndarray of float32, shape log_prob.shape
        Posteriors summing to 1 over the last axis on valid pixels, 0 on invalid ones.
        Labels are ``argmax + 1`` (see :func:`posterior_labels`). The neighbour mean is taken
        over the neighbours that exist: pixels on the image border or next to invalid pixels
        average their remaining neighbours, so the prior has the same strength everywhere.

    Examples
    --------
    >>> lp = np.log(np.full((5, 5, 2), [0.7, 0.3]))  # every pixel leans to class 1
    >>> lp[2, 2] = np.log([0.2, 0.8])  # except one, which leans to class 2
    >>> q = potts_posteriors(lp)
    >>> q.shape, q.dtype, bool(np.allclose(q.sum(axis=-1), 1))
    ((5, 5, 2), dtype('float32'), True)
    >>> int(lp[2, 2].argmax() + 1), int(posterior_labels(q)[0][2, 2])
    (2, 1)
    """
    steps = iter_potts_posteriors(
        log_prob, smoothing=smoothing, valid=valid, spacing=spacing, n_iter=n_iter, init=init
    )
    return drive(steps, progress)


def drive(steps, progress=None):
    """Run a generator that yields fractions done; call ``progress(fraction)`` on each
    (the kernels' one-argument form of :func:`..progress.run`)."""
    return run(steps, None if progress is None else lambda fraction, _stage: progress(fraction))


def iter_potts_posteriors(
    log_prob, *, smoothing=1.0, valid=None, spacing=None, n_iter=10, init=None,
    stop_changed=None, sweeps=None,
):  # fmt: skip
    """Generator form of :func:`potts_posteriors`: yields the fraction of sweeps done after
    each sweep and returns the posteriors.

    With `stop_changed` (a fraction, e.g. 0.001) the sweeps end after the first one in
    which fewer than that fraction of the valid pixels changed label; `sweeps`, a list,
    gets the number of sweeps run appended.
    """
    log_prob = np.asarray(log_prob)
    if log_prob.ndim < 2 or log_prob.shape[-1] < 1 or log_prob.size == 0:
        raise ValueError(
            "log_prob must have shape (*spatial_shape, K) with at least one spatial axis, "
            f"got {log_prob.shape}."
        )
    shape = log_prob.shape[:-1]
    if not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(f"smoothing must be a finite number >= 0, got {smoothing!r}.")
    if int(n_iter) != n_iter or n_iter < 0:
        raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}.")
    if valid is not None:
        valid = np.asarray(valid)
        if valid.shape != shape or valid.dtype != bool:
            raise ValueError(
                f"valid must be a boolean array of the spatial shape {shape}, got "
                f"{valid.dtype} {valid.shape}."
            )
    if init is not None and np.shape(init) != log_prob.shape:
        raise ValueError(
            f"init must have the shape of log_prob {log_prob.shape}, got {np.shape(init)}."
        )
    beta = float(smoothing) * POTTS_SCALE
    if use_numba() and len(shape) <= MAX_KERNEL_NDIM and log_prob.shape[-1] <= 254:
        q = yield from _iter_potts_numba(
            log_prob, shape, beta, valid, spacing, n_iter, init, stop_changed, sweeps
        )
        return q
    lp = np.moveaxis(log_prob, -1, 0).astype(np.float32, order="C")  # (K, *shape), a copy
    _recentre_underflow(np.moveaxis(lp, 0, -1), log_prob)
    ok = np.isfinite(lp.max(axis=0))  # NaN or all -inf rows cannot be normalised
    if valid is not None:
        ok &= valid
    invalid = None if ok.all() else ~ok
    if invalid is not None:
        lp[:, invalid] = 0.0
    if init is None or beta == 0:
        q = _softmax_(lp.copy())
    else:
        q = np.moveaxis(init, -1, 0).astype(np.float32, order="C")
    if invalid is not None:
        q[:, invalid] = 0.0
    if beta > 0 and n_iter > 0:
        kernel = neighbour_kernel(len(shape), spacing)
        axis_weights = _axis_weights(kernel)
        # total weight of the existing valid neighbours of each pixel, to average over them
        present = ndimage.correlate(ok.astype(np.float32), kernel, mode="constant")
        scale = np.divide(beta, present, out=np.zeros_like(present), where=present > 0)
        del present
        nb = np.empty_like(q)
        tmp = np.empty_like(q) if len(set(axis_weights)) > 1 else None
        labels = q.argmax(axis=0) if stop_changed is not None else None
        run = int(n_iter)
        for sweep in range(int(n_iter)):
            _neighbour_sum(q, nb, axis_weights, tmp)
            nb *= scale
            nb += lp
            _softmax_(nb)
            if invalid is not None:
                nb[:, invalid] = 0.0
            q, nb = nb, q
            yield (sweep + 1) / n_iter
            if labels is not None:
                new = q.argmax(axis=0)
                changed = int(np.count_nonzero(new != labels))
                labels = new
                if changed < stop_changed * ok.sum():
                    run = sweep + 1
                    break
        if sweeps is not None:
            sweeps.append(run)
        del nb, tmp
    del lp
    return np.ascontiguousarray(np.moveaxis(q, 0, -1))


def _recentre_underflow(lp32, log_prob) -> None:
    """Fix rows of `lp32` (a float32 copy of `log_prob`, same layout (..., K)) that
    underflowed to -inf for every class although `log_prob` is finite there.

    A pixel far from every class (e.g. a model applied to an image of other intensities)
    has log-probabilities like -1e40: finite in float64, -inf in float32, which would mark
    it invalid (label 0, reserved for non-finite pixels). The posteriors only depend on
    differences between classes, so such rows are stored relative to their maximum.
    Costs one pass over `lp32`; `log_prob` is read only on the rows concerned.
    """
    if lp32.dtype == log_prob.dtype:
        return
    lost = np.flatnonzero(~np.isfinite(lp32.max(axis=-1)).reshape(-1))
    if lost.size == 0:
        return
    rows = np.asarray(log_prob).reshape(-1, log_prob.shape[-1])[lost].astype(np.float64)
    top = rows.max(axis=1, keepdims=True)
    fine = np.isfinite(top[:, 0])
    view = lp32.reshape(-1, lp32.shape[-1])
    view[lost[fine]] = (rows[fine] - top[fine]).astype(np.float32)


def _iter_potts_numba(log_prob, shape, beta, valid, spacing, n_iter, init, stop, sweeps):
    """The compiled route of :func:`iter_potts_posteriors` (same arguments, validated)."""
    from ._planes import Planes

    k = log_prob.shape[-1]
    lp = np.ascontiguousarray(log_prob.reshape(-1, k), dtype=np.float32)
    _recentre_underflow(lp, log_prob.reshape(-1, k))
    ok = np.isfinite(lp.max(axis=1))
    if valid is not None:
        ok &= valid.reshape(-1)
    kernel = neighbour_kernel(len(shape), spacing)
    planes = Planes(ok.reshape(shape), shape, k, kernel, _axis_weights(kernel), beta)
    planes.set_log_prob(lp)
    del lp
    if init is None or beta == 0:
        planes.plain()
    else:
        planes.start_from(np.reshape(init, (-1, k)))
    if beta > 0 and n_iter > 0:
        steps = planes.iter_sweeps(int(n_iter), stop)
        done = 0
        while True:
            try:
                next(steps)
            except StopIteration as end:
                run = end.value
                break
            done += 1
            yield done / n_iter
        if sweeps is not None:
            sweeps.append(run)
    return planes.finish(np.arange(k), np.uint8)[2].reshape(log_prob.shape)


def posterior_labels(posteriors) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``argmax + 1`` (0 where all posteriors are 0) and the max posterior.

    Returns
    -------
    labels : ndarray of shape posteriors.shape[:-1], smallest unsigned dtype holding K
    probability : ndarray of float32, same shape
    """
    q = np.asarray(posteriors)
    arg = q.argmax(axis=-1)
    prob = np.take_along_axis(q, arg[..., None], axis=-1)[..., 0].astype(np.float32)
    labels = (arg + 1).astype(np.min_scalar_type(q.shape[-1]))
    labels[prob <= 0] = 0
    return labels, prob


def m_step_from_posteriors(X, q, covariance_type="full", reg_covar=1e-6):
    """Mixture parameters re-estimated from (regularised) posteriors: a weighted M-step.

    Parameters
    ----------
    X : array of shape (n_pixels, n_features)
        Pixel features (valid pixels only, or a random subsample of them).
    q : array of shape (n_pixels, K)
        Posteriors of those pixels, e.g. rows of :func:`potts_posteriors`.
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
    reg_covar : float, default 1e-6
        Added to the covariance diagonals, as in scikit-learn.

    Returns
    -------
    weights, means, covariances, precisions_cholesky
        In scikit-learn's layout, for ``set_parameters(gmm, (weights, means, ...))``.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [10.0], [12.0]])
    >>> q = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> w, m, c, p = m_step_from_posteriors(X, q)
    >>> w.round(3).tolist(), m.ravel().round(3).tolist(), c.ravel().round(3).tolist()
    ([0.5, 0.5], [0.5, 11.0], [0.25, 1.0])
    """
    X = np.asarray(X, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if X.ndim != 2 or q.ndim != 2 or X.shape[0] != q.shape[0] or X.shape[0] == 0:
        raise ValueError(
            f"X must be (n_pixels, n_features) and q (n_pixels, K) with the same non-zero "
            f"number of rows, got {X.shape} and {q.shape}."
        )
    nk, means, covariances = estimate_gaussian_parameters(X, q, reg_covar, covariance_type)
    weights = nk / nk.sum()
    return weights, means, covariances, compute_precision_cholesky(covariances, covariance_type)


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
    posteriors (:func:`potts_posteriors`, warm-started from the previous round), then a
    weighted M-step on those posteriors (:func:`m_step_from_posteriors`). A final regularised
    E-step gives the returned posteriors.

    Parameters
    ----------
    gmm : sklearn.mixture.GaussianMixture
        Fitted mixture; not modified.
    features : array of shape (*spatial_shape, n_features) or (*spatial_shape,)
        The pixel features the mixture was fitted on (the last axis is taken as the feature
        axis when its length equals ``gmm.n_features_in_``).
    smoothing, valid, spacing, n_iter
        As in :func:`potts_posteriors`; pixels with non-finite features are invalid too.
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
    :func:`iter_potts_posteriors`.
    """
    features = np.asarray(features)
    n_features = gmm.means_.shape[1]
    if features.ndim < 2 or features.shape[-1] != n_features:
        if n_features != 1 or features.ndim < 1:
            raise ValueError(
                f"features must have shape (*spatial_shape, {n_features}) for this mixture, "
                f"got {features.shape}."
            )
        features = features[..., None]
    ok = finite_mask(features)
    if valid is not None:
        if np.shape(valid) != ok.shape:
            raise ValueError(
                f"valid must have the spatial shape {ok.shape}, got {np.shape(valid)}."
            )
        ok &= np.asarray(valid, dtype=bool)
    n_ok = int(np.count_nonzero(ok))  # no index array of every voxel when all are valid
    if n_ok == 0:
        raise ValueError("There are no valid pixels (finite features inside `valid`) to segment.")
    if int(n_rounds) != n_rounds or n_rounds < 0:
        raise ValueError(f"n_rounds must be an integer >= 0, got {n_rounds!r}.")
    if not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(f"smoothing must be a finite number >= 0, got {smoothing!r}.")
    if int(n_iter) != n_iter or n_iter < 0:
        raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}.")
    gmm = copy.deepcopy(gmm)
    subsample = subsample_rows(n_ok, max_samples, random_state)
    if n_ok == ok.size:  # the valid voxels' indices are 0..n-1
        rows = np.arange(n_ok) if subsample is None else subsample
    else:
        rows = np.flatnonzero(ok)
        rows = rows if subsample is None else rows[subsample]
    X = features.reshape(-1, n_features)[rows].astype(np.float64)
    n_rounds, n_iter = int(n_rounds), int(n_iter)
    total = max(1, (n_rounds + 1) * n_iter)
    if use_cupy() and _gpu_handles(ok.shape, gmm.n_components, n_features):
        steps = _iter_hmrf_gpu(gmm, features, ok, smoothing, spacing, (n_rounds, n_iter),
                               stop_changed, sweeps)  # fmt: skip
    elif use_numba() and ok.ndim <= MAX_KERNEL_NDIM and gmm.n_components <= 254:
        steps = _iter_hmrf_numba(
            gmm, features, ok, X, rows, smoothing, spacing, (n_rounds, n_iter),
            stop_changed, sweeps,
        )  # fmt: skip
    else:
        steps = None
    if steps is not None:
        done = 0
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                q = stop.value
                break
            done += 1
            yield done / total
        return gmm, q.reshape((*ok.shape, q.shape[-1]))
    opts = {"smoothing": smoothing, "valid": ok, "spacing": spacing, "n_iter": n_iter,
            "stop_changed": stop_changed, "sweeps": sweeps}  # fmt: skip
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


def update_mixture(gmm, X, q_rows) -> None:
    """One weighted M-step of `gmm` in place from posteriors `q_rows` of the rows `X`."""
    weights, means, covs, prec_chol = m_step_from_posteriors(
        X, q_rows, gmm.covariance_type, gmm.reg_covar
    )
    # a component the prior has emptied keeps its previous shape, with ~zero weight
    empty = weights * X.shape[0] < 1.0
    if empty.any():
        means[empty] = gmm.means_[empty]
        if gmm.covariance_type != "tied":
            covs[empty] = gmm.covariances_[empty]
            prec_chol[empty] = gmm.precisions_cholesky_[empty]
    set_parameters(gmm, (weights, means, covs, prec_chol))


def _iter_hmrf_numba(gmm, features, ok, X, rows, smoothing, spacing, counts, stop, sweeps):
    """Compiled HMRF-EM on class-major planes (:class:`._planes.Planes`); yields after
    each sweep. `counts` is ``(n_rounds, n_iter)``.

    The log-likelihood planes are computed once per mixture and reused by every sweep.
    """
    from ._planes import Planes, iter_hmrf_planes

    shape = ok.shape
    kernel = neighbour_kernel(len(shape), spacing)
    beta = float(smoothing) * POTTS_SCALE
    flat = features.reshape(-1, features.shape[-1])
    planes = Planes(ok, shape, gmm.n_components, kernel, _axis_weights(kernel), beta)
    def mstep(model, done):  # on the subsample, as the numpy reference
        update_mixture(model, X, done.rows(rows))

    yield from iter_hmrf_planes(planes, gmm, flat, counts, stop, sweeps, mstep)
    return planes.finish(np.arange(gmm.n_components), np.uint8)[2]


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
    )  # fmt: skip
    yield from iter_hmrf_planes(planes, gmm, None, counts, stop, sweeps)
    return planes.finish(np.arange(gmm.n_components))[2]
