"""Halo blocks of lazy smoothing on the compiled class-major planes of the in-memory path.

The numba route of :mod:`._apply`: a halo block's posteriors stay class-major
(:class:`..potts._planes.Planes`, (K, N) float32) from the sweeps to the block's results,
so that no pixel-major copy of the whole halo block is made, and the block's own voxels
are read in place from the planes (strided views, no copy): turned into labels, max
posterior (and posteriors) by :func:`pack_rows`, or reduced to the HMRF M-step statistics
of the own voxels by the compiled :func:`..potts._moments.moments_kernel` under a mask
(per-block partial sums in a fixed order, so the sums do not depend on the thread count).
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

from .._backend import use_cupy, use_numba
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


def gpu_blocks(spatial_shape, n_classes: int, n_features: int) -> bool:
    """Whether halo blocks' planes live on the GPU: blocks on the planes
    (:func:`fused_route`), backend ``'cupy'`` and an image the CUDA kernels handle
    (:class:`..potts._gpu.GpuPlanes`, the twin of the CPU planes)."""
    from ..potts._gpu import supported

    return (fused_route(len(spatial_shape), n_classes) and use_cupy()
            and supported(spatial_shape, n_classes, n_features))


def block_planes(data, n_classes, kernel, beta, count=None):
    """Empty planes of a halo block: on the GPU (:func:`gpu_blocks`) or on the CPU;
    `count`: the voxels their sweeps count changes of (per-axis masks, see
    :class:`..potts._planes.Planes`)."""
    from ..potts._planes import Planes

    weights = _axis_weights(kernel)
    shape = data.spatial_shape
    if gpu_blocks(shape, n_classes, data.n_features):
        from ..potts._gpu import GpuPlanes

        return GpuPlanes(data.features, data.valid, shape, n_classes, kernel, weights, beta,
                         count)
    ok = None if data.valid is None else data.to_spatial(data.valid)
    return Planes(ok, shape, n_classes, kernel, weights, beta, count)


def host(array) -> np.ndarray:
    """`array` itself when it is on the host, else a host copy of it (a CuPy array)."""
    return array if isinstance(array, np.ndarray) else array.get()


def per_model(sweeps, n_models) -> list:
    """Sweeps per model: `sweeps` itself (one per model), or an int for each of them."""
    return [sweeps] * n_models if np.ndim(sweeps) == 0 else list(sweeps)


def start_planes(planes, init, shape, labels=None):
    """Write a block's starting posteriors into `planes` (see :func:`swept_planes`): what
    ``init(q)`` writes into them (K, *block), or class-major posteriors `init`; on the GPU
    through a host buffer, uploaded once. `labels`: ``(slices, labels)`` written into the
    planes' labels there (only counted, :mod:`._pilot`)."""
    k = planes.q.shape[0]
    if isinstance(planes.q, np.ndarray):
        if callable(init):
            init(planes.q.reshape(k, *shape))
        else:
            planes.q[...] = init.reshape(k, -1)
        if labels is not None:
            planes.labels.reshape(shape)[labels[0]] = labels[1]
        return
    cp = planes.cp
    q = np.empty((k, *shape), dtype=np.float32)
    if callable(init):
        init(q)
    else:
        q[...] = init
    planes.q[...] = cp.asarray(q.reshape(k, -1))
    if labels is not None:
        host_labels = np.zeros(shape, dtype=np.uint8)
        host_labels[labels[0]] = labels[1]
        planes.labels[...] = cp.asarray(host_labels.reshape(-1))


def swept_planes(data, models, smoothing, scale, sweeps, init=None):
    """Planes of a halo block (:func:`block_planes`: :class:`..potts._planes.Planes` or
    their GPU twin) after ``sweeps[i]`` sweeps of ``models[i]`` (an int: that many for
    each), each model warm-started from the previous one's posteriors.

    The first model starts from what ``init(q)`` writes into the planes' posteriors
    (K, *block) (no copy of them held meanwhile), or from class-major posteriors `init`
    (K, *block), else from its own plain posteriors;
    log-likelihood planes are computed once per model. Every block runs the sweeps the
    in-memory path runs on the whole image (:mod:`._pilot`), so no block stops on its own.
    """
    shape = data.spatial_shape
    kernel = neighbour_kernel(len(shape), scale)
    k = models[0].n_components
    sweeps = per_model(sweeps, len(models))
    planes = block_planes(data, k, kernel, float(smoothing) * POTTS_SCALE)
    for i, gmm in enumerate(models):
        planes.set_model(gmm, data.features)
        if i == 0 and init is None:
            planes.plain()
        elif i == 0:
            start_planes(planes, init, shape)
        drive(planes.iter_sweeps(sweeps[i]))
    return planes


def swept_stats(data, gmm, smoothing, scale, sweeps, inner, store=None, select=None):
    """The first round of a halo block for the HMRF M-step: `sweeps` sweeps of `gmm`, then
    ``store(q_own)`` (a view of the own voxels' posteriors (K, *own)) when given, and

    - `select` None: ``(nk, S1, S2)`` of the own valid voxels around the model means;
    - `select` ``()``: None;
    - else the posteriors (K, n) of the own voxels at coordinates `select`.

    The own voxels are read in place while the planes live (no copy of them).
    """
    with PLANES_LOCK:
        planes = swept_planes(data, [gmm], smoothing, scale, sweeps)
        q_own = own_view(planes, data.spatial_shape, inner)
        if store is not None:
            store(q_own)
        shift = np.asarray(gmm.means_, dtype=np.float64)
        if select is None and isinstance(planes.q, np.ndarray):
            mask = own_mask(data.spatial_shape, inner, data.valid)
            part = block_moments(planes, data, mask, shift)
        elif select is None:  # GPU planes: from the host copy of the own voxels
            part = own_moments(q_own, data, inner, shift)
        else:
            part = None if select == () else q_own[(slice(None), *select)]  # a copy
        del planes, q_own  # freed before the lock lets another block build its planes
    return part


def own_view(planes, shape, inner) -> np.ndarray:
    """Class-major posteriors (K, *own) of the block's own voxels: a view of the planes
    (nothing copied; valid while the planes are), or a host copy of them from the GPU."""
    k = planes.q.shape[0]
    return host(planes.q.reshape(k, *shape)[(slice(None), *inner)])


def finish_posteriors(planes) -> np.ndarray:
    """Pixel-major posteriors (N, K) of a block's planes (CPU or GPU) on the host; the
    planes are given up."""
    order = np.arange(planes.q.shape[0])
    if isinstance(planes.q, np.ndarray):
        return planes.finish(order, np.uint8)[2]
    return planes.finish(order, posteriors=True)[2]


@njit(cache=True, parallel=True, fastmath=False)
def pack_rows(q, order, out):
    """Label (argmax + 1, 0 where every posterior is 0), max posterior and, when `out` has
    more than 2 columns, the posteriors with classes in `order`, into `out` (Z Y X, 2 [+ K]).

    `q` (K, Z, Y, X) may be a strided view (the own voxels of a halo block's planes); its
    rows along X are read in place. The first maximum wins ties, as
    :func:`..potts._planes_kernels.finish_planes`; class outer and voxel inner loops, so
    that they vectorise.
    """
    n_comp, nz, ny, nx = q.shape
    wide = out.shape[1] > 2
    for r in prange(nz * ny):
        z, y = r // ny, r % ny
        lo = r * nx
        top = np.empty(nx, dtype=np.float32)
        best = np.zeros(nx, dtype=np.int64)
        first = q[order[0], z, y]
        for x in range(nx):
            top[x] = first[x]
        for k in range(1, n_comp):
            qk = q[order[k], z, y]
            for x in range(nx):
                better = qk[x] > top[x]
                top[x] = qk[x] if better else top[x]
                best[x] = k if better else best[x]
        for x in range(nx):
            out[lo + x, 0] = best[x] + 1 if top[x] > 0 else 0
            out[lo + x, 1] = top[x]
        if wide:
            for k in range(n_comp):
                qk = q[order[k], z, y]
                for x in range(nx):
                    out[lo + x, 2 + k] = qk[x]


def packed_outputs(q_own, order, n_out) -> np.ndarray:
    """``(*own, n_out)`` float32: label, max posterior (and posteriors in `order`) of
    class-major posteriors `q_own` (K, *own), a view of a block's planes or an array."""
    from ..potts._planes_kernels import locked

    k = q_own.shape[0]
    own = q_own.shape[1:]
    order = np.arange(k) if order is None else np.asarray(order)
    out = np.empty((int(np.prod(own, dtype=np.int64)), n_out), dtype=np.float32)
    rows = q_own[(slice(None),) + (None,) * (3 - len(own))]  # (K, Z, Y, X), still a view
    if rows.strides[-1] != rows.itemsize:  # X not contiguous (never for a planes view)
        rows = np.ascontiguousarray(rows)
    locked(pack_rows, rows, np.ascontiguousarray(order, dtype=np.int64), out)
    return out.reshape(*own, n_out)


def own_outputs(planes, shape, inner, order, n_out) -> np.ndarray:
    """:func:`packed_outputs` of a halo block's own voxels (slices `inner` of `shape`).

    On the GPU without posteriors (``n_out == 2``) labels and probability are made on the
    device and only they come to the host (5 bytes per voxel instead of the ``4 K`` of the
    own voxels' posteriors); the planes are then given up.
    """
    if isinstance(planes.q, np.ndarray) or n_out > 2:
        return packed_outputs(own_view(planes, shape, inner), order, n_out)
    k = planes.q.shape[0]
    labels, prob, _ = planes.finish(np.arange(k) if order is None else np.asarray(order),
                                    posteriors=False)
    labels, prob = labels.reshape(shape)[inner], prob.reshape(shape)[inner]
    out = np.empty((*labels.shape, 2), dtype=np.float32)
    out[..., 0] = labels
    out[..., 1] = prob
    return out


def own_mask(shape, inner, valid) -> np.ndarray:
    """(N,) bool: the block's own voxels (slices `inner` of `shape`) that are `valid`."""
    mask = np.zeros(shape, dtype=bool)
    mask[inner] = True
    mask = mask.reshape(-1)
    if valid is not None:
        mask &= valid
    return mask


def own_moments(q_own, data, inner, shift):
    """``(nk, S1, S2)`` of the valid own voxels of a halo block around `shift` (K, C), from
    the class-major posteriors of its own voxels `q_own` (K, *own) and its features."""
    from ..potts._moments import cpu_moments

    k, c = shift.shape
    X = data.features.reshape(*data.spatial_shape, c)[inner].reshape(-1, c)
    valid = None if data.valid is None else data.to_spatial(data.valid)[inner].reshape(-1)
    q = np.ascontiguousarray(q_own, dtype=np.float32).reshape(k, -1)
    m = cpu_moments(np.ascontiguousarray(X), q, valid, shift)
    return m[:, 0].copy(), m[:, 1 : 1 + c].copy(), m[:, 1 + c :].reshape(k, c, c).copy()


def block_moments(planes, data, mask, shift):
    """``(nk, S1, S2)`` of the voxels `mask` of a halo block around `shift` (K, C), from
    its planes and features in place (no copy of its own voxels)."""
    from ..potts._moments import cpu_moments

    k, c = shift.shape
    X = np.ascontiguousarray(data.features)
    m = cpu_moments(X, planes.q, mask, shift)
    return m[:, 0].copy(), m[:, 1 : 1 + c].copy(), m[:, 1 + c :].reshape(k, c, c).copy()
