"""Spatial regularisation of mixture posteriors with a Potts prior (hidden Markov random field).

Per-pixel EM labels each pixel from its value alone. A Potts prior adds the belief that
neighbouring pixels tend to share a class; its mean-field approximation (as in FSL FAST and
ANTs Atropos) repeatedly updates the posteriors ``q`` of every pixel as::

    q  <-  softmax_k( log(pi_k N(x | k)) + beta * neighbour_mean(q)_k )

where ``neighbour_mean`` averages ``q`` over the 2 * ndim face neighbours (4 in 2D, 6 in 3D).
A pixel whose neighbours all agree on class k gets prior odds of ``exp(beta)`` towards k.
:func:`._hmrf_rounds.hmrf_em` alternates these regularised E-steps with M-steps that
re-estimate the mixture.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._backend import use_numba
from ..progress import run
from ._neighbours import (
    MAX_KERNEL_NDIM,
    POTTS_SCALE,
    _axis_weights,
    _neighbour_sum,
    _softmax_,
    neighbour_kernel,
)


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
):
    """Generator form of :func:`potts_posteriors`: yields the fraction of sweeps done after
    each sweep and returns the posteriors.

    With `stop_changed` (a fraction, e.g. 0.001) the sweeps end after the first one in
    which fewer than that fraction of the counted valid pixels (:mod:`._stop_sample`)
    changed label; `sweeps`, a list,
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
        counted = counted_index(shape)  # the voxels the early stop counts (_stop_sample.py)
        n_counted = int(np.count_nonzero(ok if counted is None else ok[counted]))
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
                flips = new != labels
                changed = int(np.count_nonzero(flips if counted is None else flips[counted]))
                labels = new
                if changed < stop_changed * n_counted:
                    run = sweep + 1
                    break
        if sweeps is not None:
            sweeps.append(run)
        del nb, tmp
    del lp
    return np.ascontiguousarray(np.moveaxis(q, 0, -1))


def counted_index(spatial_shape):
    """Index of the voxels the early stop counts (:mod:`._stop_sample`), None for all."""
    from ._stop_sample import count_axes, count_intervals

    if count_intervals(spatial_shape) is None:
        return None
    return np.ix_(*[np.flatnonzero(m) for m in count_axes(spatial_shape)])


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
