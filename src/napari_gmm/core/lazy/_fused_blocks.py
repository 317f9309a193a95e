"""Halo blocks of lazy smoothing on the compiled class-major planes of the in-memory path.

The numba route of :mod:`._apply`: a halo block's posteriors stay class-major
(:class:`..potts._planes.Planes`, (K, N) float32) from the sweeps to the block's results,
so that no pixel-major copy of the whole halo block is made: the block's own voxels are
cut out of the planes once, then either turned into labels, max posterior (and
posteriors) by the compiled :func:`..potts._planes_kernels.finish_planes`, or reduced to
the HMRF M-step statistics by the compiled :func:`..potts._moments.moments_kernel`
(per-block partial sums in a fixed order, so the sums do not depend on the thread count).
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

from .._backend import use_numba
from ..potts._hmrf import STOP_CHANGED
from ..potts._meanfield import drive
from ..potts._neighbours import MAX_KERNEL_NDIM, POTTS_SCALE, _axis_weights, neighbour_kernel

#: Held while a halo block's planes exist (from its sweeps to its own voxels' results): their
#: kernels use every core already (and run one at a time, ``KERNEL_LOCK``), so a second
#: worker thread gains nothing by sweeping another block meanwhile, while holding two
#: blocks' planes (~50 bytes per halo voxel at K=3) raised the peak memory of a 1024^3
#: volume. The other workers keep reading, decoding and writing blocks in the meantime.
PLANES_LOCK = threading.Lock()


def fused_route(n_spatial: int, n_classes: int) -> bool:
    """Whether a block of `n_spatial` axes and `n_classes` classes runs on the planes."""
    return use_numba() and n_spatial <= MAX_KERNEL_NDIM and n_classes < 255


#: The last model's sweeps of an output block stop once fewer than this fraction of the
#: block's voxels changed label in a sweep (the in-memory criterion, :data:`STOP_CHANGED`,
#: applied per block; None: always `sweeps`). The block's own voxels are then those of
#: that many sweeps over the whole image (the halo is one voxel per sweep allowed).
BLOCK_STOP_CHANGED = STOP_CHANGED


def swept_planes(data, models, smoothing, scale, sweeps, init=None, init_labels=None,
                 stop=None):
    """:class:`Planes` of a halo block after `sweeps` sweeps per model, warm-started in turn.

    The first model starts from class-major posteriors `init` (K, *block) and their labels
    `init_labels` (*block) uint8 when given, else from its own plain posteriors;
    log-likelihood planes are computed once per model. The last model's sweeps stop
    early with `stop` (a fraction of changed labels), the others always run `sweeps`.
    """
    from ..potts._planes import Planes

    shape = data.spatial_shape
    kernel = neighbour_kernel(len(shape), scale)
    ok = None if data.valid is None else data.to_spatial(data.valid)
    k = models[0].n_components
    planes = Planes(ok, shape, k, kernel, _axis_weights(kernel), float(smoothing) * POTTS_SCALE)
    for i, gmm in enumerate(models):
        planes.set_model(gmm, data.features)
        if i == 0 and init is None:
            planes.plain()
        elif i == 0:
            planes.q[...] = init.reshape(k, -1)
            if init_labels is not None:  # labels only count changes (the early stop)
                planes.labels[...] = init_labels.reshape(-1)
        blind = i == 0 and init is not None and init_labels is None  # no labels to compare
        last = i == len(models) - 1
        drive(planes.iter_sweeps(sweeps, stop if last and not blind else None))
    return planes


def own_planes(planes, shape, inner) -> np.ndarray:
    """Class-major posteriors (K, *own) of the block's own voxels (a contiguous copy)."""
    k = planes.q.shape[0]
    return np.ascontiguousarray(planes.q.reshape(k, *shape)[(slice(None), *inner)])


_RUN = 4096


@njit(cache=True, parallel=True, fastmath=False)
def pack_planes(q, order, out):
    """Label (argmax + 1, 0 where every posterior is 0), max posterior and, when `out` has
    more than 2 columns, the posteriors with classes in `order`, into `out` (N, 2 [+ K]).

    The first maximum wins ties, as :func:`..potts._planes_kernels.finish_planes`; class
    outer and voxel inner loops over runs of voxels, so that they vectorise.
    """
    n_comp, n = q.shape
    wide = out.shape[1] > 2
    for b in prange((n + _RUN - 1) // _RUN):
        lo = b * _RUN
        m = min(n, lo + _RUN) - lo
        top = np.empty(m, dtype=np.float32)
        best = np.zeros(m, dtype=np.int64)
        first = q[order[0], lo : lo + m]
        for x in range(m):
            top[x] = first[x]
        for k in range(1, n_comp):
            qk = q[order[k], lo : lo + m]
            for x in range(m):
                better = qk[x] > top[x]
                top[x] = qk[x] if better else top[x]
                best[x] = k if better else best[x]
        for x in range(m):
            out[lo + x, 0] = best[x] + 1 if top[x] > 0 else 0
            out[lo + x, 1] = top[x]
        if wide:
            for k in range(n_comp):
                qk = q[order[k], lo : lo + m]
                for x in range(m):
                    out[lo + x, 2 + k] = qk[x]


def packed_outputs(q_own, order, n_out) -> np.ndarray:
    """``(*own, n_out)`` float32: label, max posterior (and posteriors in `order`)."""
    from ..potts._planes_kernels import locked

    k = q_own.shape[0]
    own = q_own.shape[1:]
    order = np.arange(k) if order is None else np.asarray(order)
    out = np.empty((int(np.prod(own, dtype=np.int64)), n_out), dtype=np.float32)
    locked(pack_planes, q_own.reshape(k, -1), np.ascontiguousarray(order, dtype=np.int64), out)
    return out.reshape(*own, n_out)


def own_moments(q_own, features_own, shift):
    """``(nk, S1, S2)`` of the block's own valid voxels around `shift` (K, C)."""
    from ..potts._moments import cpu_moments

    k = q_own.shape[0]
    c = shift.shape[1]
    X = np.ascontiguousarray(features_own).reshape(-1, c)
    valid = np.isfinite(X).all(axis=1) if X.dtype.kind == "f" else None
    if valid is not None and valid.all():
        valid = None
    m = cpu_moments(X, q_own.reshape(k, -1), valid, shift)
    return m[:, 0].copy(), m[:, 1 : 1 + c].copy(), m[:, 1 + c :].reshape(k, c, c).copy()
