"""The face-neighbour weights of the Potts prior and the numpy helpers of its sweeps.

Shared by the numpy mean-field reference (:mod:`._meanfield`), the compiled and GPU routes
(:mod:`._planes`, :mod:`._gpu_hmrf`), Gibbs sampling (:mod:`._sampling`) and the out-of-core
blocks.
"""

from __future__ import annotations

import numpy as np

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
