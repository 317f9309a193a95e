"""Calibrated probabilities under the Potts prior: a temperature on the mean-field posteriors.

Mean-field posteriors are over-confident: at the fixed point every pixel's belief is fed
back to it through its neighbours' beliefs, so wrong pixels get probabilities near 1. The
final posteriors are *tempered*, ``q_k^(1/T) / sum_j q_j^(1/T)`` with ``T >= 1``, which
keeps every pixel's label (the order of its classes is unchanged) and only lowers the
confidence.

``T`` is fitted without ground truth, by the held-out likelihood of hidden pixels: on a
central block of the image (at most :data:`MAX_VOXELS`), a random tenth of the valid pixels
loses its data term (their weighted log-likelihood becomes ``log pi_k``, so they still take
part as neighbours), and :data:`CAVITY_SWEEPS` mean-field sweeps, started from the final
posteriors, let the block forget what those pixels' values told their neighbours. What
the neighbours then predict for a hidden pixel ``i``, tempered, is scored by its value:
``T = argmax mean_i log sum_k q_ik^(1/T) N(x_i | k) / Z_i``. The held-out pixels need the
same softening of the neighbours' evidence as the visible ones, whose posteriors are then
tempered by ``T``. Cost: the sweeps on the block (a few milliseconds whatever the image
size) and, where ``T > 1``, one pass over the posteriors (compiled kernels with the numba
backend, :mod:`._temper_kernel`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from .._backend import use_numba
from ..fit._sklearn_private import weighted_log_prob
from ._meanfield import potts_posteriors

#: Largest number of voxels of the block on which the temperature is fitted.
MAX_VOXELS = 1 << 14
#: Fraction of the block's valid voxels whose data are hidden.
HIDDEN = 0.1
#: Mean-field sweeps after hiding. The fitted T grows with them (the neighbours forget more
#: of the hidden values): on ``benchmarks/bench_quality.py``'s synthetic images 3 sweeps give
#: about 0.75x the T of lowest calibration error against the truth, 12 about 0.9x; on the
#: anatomy phantoms (``benchmarks/bench_anatomy.py``) 12 give 0.5-0.8x.
CAVITY_SWEEPS = 12
#: Largest temperature.
MAX_TEMPERATURE = 8.0


def temper(posteriors, temperature):
    """Temper posteriors (n, K) in place: ``q^(1/T)`` renormalised per row.

    Rows that are all 0 (invalid pixels) stay 0; the argmax of every row is kept.

    Returns
    -------
    probability : ndarray of float32, shape (n,)
        The largest tempered posterior of every row.

    Examples
    --------
    >>> q = np.array([[0.9, 0.1], [0.0, 0.0]], dtype=np.float32)
    >>> temper(q, 2.0).round(3).tolist(), q[0].round(3).tolist()
    ([0.75, 0.0], [0.75, 0.25])
    """
    q = posteriors
    if temperature != 1.0 and use_numba() and q.flags.c_contiguous and q.dtype == np.float32:
        from .._nb_estep import KERNEL_LOCK
        from ._temper_kernel import temper_rows

        prob = np.empty(q.shape[0], dtype=np.float32)
        with KERNEL_LOCK:
            temper_rows(q, 1.0 / float(temperature), prob)
        return prob
    temper_planes(q.T, temperature)  # the class-major view of the same posteriors
    # column by column: numpy's max over a short last axis is ~50x slower
    prob = np.array(q[:, 0], dtype=np.float32)
    for j in range(1, q.shape[1]):
        np.maximum(prob, q[:, j], out=prob)
    return prob


def central_block(shape, max_voxels=None):
    """Slices of the central block of at most about `max_voxels` (default
    :data:`MAX_VOXELS`) voxels on which the temperature is fitted."""
    max_voxels = MAX_VOXELS if max_voxels is None else max_voxels
    factor = min(1.0, (max_voxels / float(np.prod(shape))) ** (1.0 / len(shape)))
    new = [max(min(n, 3), int(n * factor)) for n in shape]
    return tuple(slice((n - m) // 2, (n - m) // 2 + m) for n, m in zip(shape, new, strict=True))


def held_out_temperature(gmm, features, posteriors, valid, *, smoothing, scale=None,
                         random_state=0, classes=None, box=None) -> float:
    """The temperature (>= 1) of best held-out likelihood (see the module docstring).

    Parameters
    ----------
    gmm : GaussianMixture
        The final mixture (its components in the posteriors' column order).
    features : array (*spatial, C)
    posteriors : array (*spatial, K), or callable
        Final mean-field posteriors (0 on invalid voxels), or a function of the central
        block's slices (:func:`central_block`) returning that block's posteriors (so that
        a caller holding them elsewhere, e.g. on a GPU, fetches only the block).
    valid : bool array of the spatial shape, or None (every voxel valid)
    smoothing : float
        Strength of the Potts prior the posteriors were computed with.
    scale : sequence of float, optional
        Physical pixel size per spatial axis.
    random_state : int
        Seed of the hidden voxels.
    classes : (weights (K,), log_prob) or None
        Classes that are not the mixture's components (groups of them): their weights and
        a function of feature rows (n, C) giving their weighted log-probabilities (n, K).
        None: the components of `gmm`.
    box : tuple of slices, optional
        The block to fit on, by default the :func:`central_block` of `features` (a dask
        image passes its own central block, inside the part of it read).

    Returns
    -------
    float
    """
    box = central_block(features.shape[:-1]) if box is None else box
    block_q = posteriors(box) if callable(posteriors) else posteriors[box]
    x = np.asarray(features[box], dtype=np.float64)
    ok = np.isfinite(x).all(axis=-1)
    if valid is not None:
        ok &= valid[box]
    rng = np.random.default_rng(random_state)
    hide = ok & (rng.random(ok.shape) < HIDDEN)
    if hide.sum() < 10:
        return 1.0
    k = block_q.shape[-1]
    weights, log_prob = (gmm.weights_, lambda rows: weighted_log_prob(gmm, rows)) \
        if classes is None else classes
    log_w = np.log(np.maximum(np.asarray(weights, dtype=np.float64), 1e-300))
    lp = np.zeros((*ok.shape, k), dtype=np.float64)
    lp[ok] = log_prob(x[ok])
    density = lp[hide] - log_w
    lp[hide] = log_w
    lp[~ok] = -np.inf
    q = potts_posteriors(lp.astype(np.float32), smoothing=smoothing, valid=ok, spacing=scale,
                         n_iter=CAVITY_SWEEPS, init=np.asarray(block_q, np.float32))
    log_q = np.log(np.maximum(q[hide].astype(np.float64), 1e-300))
    return fit_temperature(log_q, density)


def fit_temperature(log_q, density, *, upper=MAX_TEMPERATURE) -> float:
    """``argmax_T mean_i log sum_k softmax(log_q_i / T)_k exp(density_ik)`` over [1, upper].

    Parameters
    ----------
    log_q : (n, K) array
        Log of the predicted class probabilities of held-out voxels.
    density : (n, K) array
        Their log-densities ``log N(x_i | k)``.

    Examples
    --------
    >>> log_q = np.log([[0.99, 0.01], [0.99, 0.01], [0.99, 0.01], [0.01, 0.99]])
    >>> density = np.log([[1.0, 0.1], [1.0, 0.1], [0.1, 1.0], [0.1, 1.0]])
    >>> fit_temperature(log_q, density) > 1.5   # one neighbourhood of 4 was wrong
    True
    """
    log_q = np.asarray(log_q, dtype=np.float64)
    density = np.asarray(density, dtype=np.float64)

    dens = np.exp(density - density.max(axis=1, keepdims=True))  # up to a constant per row
    log_q = log_q - log_q.max(axis=1, keepdims=True)

    def negative(log_t):
        e = np.exp(log_q / np.exp(log_t))  # <= 1, and 1 at each row's maximum
        mixed = np.maximum((e * dens).sum(axis=1), 1e-300)
        return float(np.mean(np.log(e.sum(axis=1)) - np.log(mixed)))

    best = minimize_scalar(negative, bounds=(0.0, np.log(upper)), method="bounded",
                           options={"xatol": 1e-3})
    log_t = best.x if negative(best.x) < negative(0.0) else 0.0
    return float(np.exp(log_t))


def calibration_seed(random_state) -> int:
    """Seed of the hidden voxels for a segmentation's `random_state`."""
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(2**31 - 1))


def calibrate(gmm, data, posteriors, *, smoothing, scale=None, random_state=0,
              probability=None, classes=None):
    """Temper the final mean-field posteriors (n_pixels, K) in place by the held-out
    temperature (:func:`held_out_temperature`).

    `probability`, the untempered largest posterior of every pixel when the caller has it,
    is returned as it is when the temperature is 1 (no pass over the posteriors).

    Parameters
    ----------
    gmm : GaussianMixture
        The final mixture, components in the posteriors' column order.
    data : PixelData
    posteriors : ndarray (n_pixels, K) float32
    smoothing : float
    scale : sequence of float, optional
    random_state : int, RandomState or None
    classes : (weights (K,), log_prob) or None
        Classes that are not the mixture's components (:func:`held_out_temperature`).

    Returns
    -------
    probability : ndarray of float32, shape (n_pixels,)
        The largest tempered posterior of every pixel (0 on invalid pixels).
    temperature : float
    """
    q = posteriors
    seed = calibration_seed(random_state)
    valid = None if data.valid is None else data.to_spatial(data.valid)
    t = held_out_temperature(
        gmm, data.to_spatial(data.features), data.to_spatial(q), valid,
        smoothing=smoothing, scale=scale, random_state=seed, classes=classes,
    )
    if t == 1.0 and probability is not None:
        return probability, t
    return temper(q, t), t


def calibrate_planes(planes, model, data, *, smoothing, scale=None, random_state=0) -> None:
    """Temper the posteriors of `planes` (:class:`._planes.Planes` or the GPU's) in place by
    the held-out temperature, fitted on their central block (:func:`held_out_temperature`;
    `model` with its components in the planes' class order, `random_state` the seed of the
    hidden voxels)."""
    valid = None if data.valid is None else data.to_spatial(data.valid)
    planes.temper(held_out_temperature(
        model, data.to_spatial(data.features), planes.posterior_block, valid,
        smoothing=smoothing, scale=scale, random_state=random_state,
    ))


def temper_planes(q, temperature) -> None:
    """Temper class-major posteriors (K, ...) float32 in place (0 columns stay 0)."""
    if temperature == 1.0:
        return
    if use_numba() and q.flags.c_contiguous and q.dtype == np.float32 and q.ndim > 1:
        from .._nb_estep import KERNEL_LOCK
        from ._temper_kernel import temper_planes_kernel

        with KERNEL_LOCK:
            temper_planes_kernel(q.reshape(q.shape[0], -1), 1.0 / float(temperature))
        return
    np.power(q, np.float32(1.0 / temperature), out=q)
    total = q.sum(axis=0)
    np.divide(q, total, out=q, where=total > 0)
