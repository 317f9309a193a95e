"""The apply stage on dask arrays: lazy labels, probability and posteriors, block by block.

Every output block is computed by the in-memory code on that block: plain prediction calls
:func:`~._apply.iter_apply` (lookup table on the block's distinct values for integer
images, chunked E-step otherwise), so labels equal the in-memory ones exactly. The Potts
prior needs neighbours: a block is read with a halo of one voxel per mean-field sweep
(``dask.array.overlap``), which makes the sweeps inside the block exact (errors from the
missing outside travel one voxel per sweep and never reach the block's own voxels).
When the first round's posteriors are kept, in memory (:mod:`._cache`, then on blocks
merged from the input's chunks) or on disk (:mod:`._disk_cache`), the second pass starts
from them, with a halo of one round. Every block runs the number of sweeps per round that
the in-memory path runs on the whole image, found before the round's blocks run
(:mod:`._pilot`), so the labels are the in-memory ones.

One lazy ``(*spatial, 2 [+ K])`` float32 array holds label, max posterior (and posteriors)
per voxel; ``labels``, ``probability`` and ``posteriors`` are slices of it, so computing or
storing them together (``dask.compute(seg.labels, seg.probability)``) evaluates each block
once.
"""

from __future__ import annotations

import functools

import numpy as np

from .._predict import label_dtype, pixel_log_prob
from ..potts._calibrate import temper_planes
from ..potts._meanfield import (
    posterior_labels,
    potts_posteriors,
)
from ..potts._mixel_swap import swapped_outputs
from ..progress import run
from . import _fused_blocks
from ._cache import block_starts, halo_slices, overlapped, own_slices
from ._fit import LazyPixels, block_pixel_data
from ._fused_blocks import (
    finish_posteriors,
    fused_route,
    own_outputs,
    per_model,
    swept_planes,
    swept_stats,
)


def _pack(labels, prob, post, spatial_shape, n_out):
    out = np.zeros((*spatial_shape, n_out), dtype=np.float32)
    out[..., 0] = labels.reshape(spatial_shape)
    out[..., 1] = prob.reshape(spatial_shape)
    if n_out > 2:
        out[..., 2:] = post.reshape(*spatial_shape, n_out - 2)
    return out


def _predict_block(block, gmm, max_distinct, want_post):
    """Plain per-pixel prediction of one block (the in-memory apply code)."""
    from .._options import compress_if_integer
    from .._predict import iter_predict_chunked, predict_distinct

    data = block_pixel_data(block)
    k = gmm.n_components
    n_out = 2 + k * bool(want_post)
    if data.n_valid == 0:
        return np.zeros((*data.spatial_shape, n_out), dtype=np.float32)
    # the two routes of iter_apply without smoothing
    compressed = compress_if_integer(data, max_distinct)
    if compressed is not None:
        pred = predict_distinct(gmm, data, compressed, posteriors=want_post)
    else:
        pred = run(iter_predict_chunked(gmm, data, posteriors=want_post))
    return _pack(pred.labels, pred.probability, pred.posteriors, data.spatial_shape, n_out)


def _crop(pads, shape):
    return tuple(slice(lo, n - hi) for (lo, hi), n in zip(pads, shape, strict=True))


def _pads(block_id, numblocks, depth):
    """Halo actually present on each side of an overlapped block (none at the image edge)."""
    return [
        (depth if i > 0 else 0, depth if i < n - 1 else 0)
        for i, n in zip(block_id[:-1], numblocks[:-1], strict=True)
    ]


def _block_log_prob(gmm, data, max_distinct):
    from .._options import compress_if_integer

    compressed = compress_if_integer(data, max_distinct)
    return data.to_spatial(pixel_log_prob(gmm, data, compressed))


def _potts_block(block, models, smoothing, scale, sweeps, max_distinct, init=None):
    """Mean-field posteriors (*block, K) of a halo block: ``sweeps[i]`` of ``models[i]``
    (an int: that many each), warm-started in turn (the first model from class-major
    posteriors `init` (K, *block) when given)."""
    data = block_pixel_data(block)
    sweeps = per_model(sweeps, len(models))
    if fused_route(len(data.spatial_shape), models[0].n_components):
        return _potts_block_fused(data, models, smoothing, scale, sweeps, init), data
    valid = None if data.valid is None else data.to_spatial(data.valid)
    q = None if init is None else np.array(np.moveaxis(init, 0, -1))
    for gmm, n in zip(models, sweeps, strict=True):
        lp = _block_log_prob(gmm, data, max_distinct)
        q = potts_posteriors(lp, smoothing=smoothing, valid=valid, spacing=scale, n_iter=n,
                             init=q)
    return q, data


def _potts_block_fused(data, models, smoothing, scale, sweeps, init=None):
    """:func:`_potts_block` by the compiled class-major sweeps of the in-memory path
    (:class:`..potts._planes.Planes`): log-likelihood planes once per model."""
    k = models[0].n_components
    with _fused_blocks.PLANES_LOCK:
        planes = swept_planes(data, models, smoothing, scale, sweeps, init)
        return finish_posteriors(planes).reshape(*data.spatial_shape, k)


def _smooth_block(block, models, order, smoothing, scale, sweeps, max_distinct, want_post,
                  depth, numblocks, cache=None, starts=None, temperature=1.0, mixels=None,
                  block_id=None):
    """Labels / max posterior (/ posteriors) of the Potts posteriors of one halo block,
    tempered by `temperature` (:mod:`._calibrate`), swapped by `mixels` when given.

    With a :class:`._cache.PosteriorCache` the sweeps start from its posteriors (with the
    halo; `starts` are the blocks' first indices), else from none.
    """
    k = models[0].n_components
    n_out = 2 + k * bool(want_post)
    pads = _pads(block_id, numblocks, depth)
    inner = _crop(pads, block.shape[:-1])
    if mixels is not None:
        packed = _smooth_block(block, models, order, smoothing, scale, sweeps, max_distinct,
                               True, depth, numblocks, cache, starts, temperature,
                               block_id=block_id)
        return _swap_packed(packed, block[inner], mixels, n_out)
    if not np.isfinite(block).any():
        shape = tuple(s.stop - s.start for s in inner)
        return np.zeros((*shape, n_out), dtype=np.float32)
    where = None if cache is None else halo_slices(starts, block_id[:-1], pads)
    data = block_pixel_data(block)
    if fused_route(len(data.spatial_shape), k):
        with _fused_blocks.PLANES_LOCK:  # the cache read straight into the planes
            init = None if cache is None else functools.partial(cache.read_into, where)
            planes = swept_planes(data, models, smoothing, scale, sweeps, init)
            planes.temper(temperature)  # halo too: no copy of the own voxels
            out = own_outputs(planes, data.spatial_shape, inner, order, n_out)
            del planes  # freed before the lock lets another block build its planes
        return out
    init = None if cache is None else cache.read(where)
    q, _ = _potts_block(block, models, smoothing, scale, sweeps, max_distinct, init)
    q = np.ascontiguousarray(np.moveaxis(q[inner], -1, 0))
    temper_planes(q, temperature)
    q = np.moveaxis(q if order is None else q[order], 0, -1)
    labels, prob = posterior_labels(q)
    return _pack(labels, prob, q, labels.shape, n_out)


def _swap_packed(packed, values, mixels, n_out):
    """A packed block's outputs with its posteriors swapped by the mixel model
    (:func:`..potts._mixel_swap.swapped_outputs`); `values` are its voxels (*own, C)."""
    shape = packed.shape[:-1]
    k = packed.shape[-1] - 2
    features = values.reshape(-1, values.shape[-1])
    labels, prob, q = swapped_outputs(mixels, features, packed[..., 2:].reshape(-1, k))
    return _pack(labels, prob, q, shape, n_out)


def _stats_block(block, gmm, smoothing, scale, sweeps, max_distinct, depth, numblocks,
                 block_id, select=None, cache=None, starts=None):
    """HMRF M-step sufficient statistics of a halo block's own voxels.

    Returns ``(nk, S1, S2)`` with ``nk = sum q``, ``S1 = sum q (x - m)`` and
    ``S2 = sum q (x - m)(x - m)^T`` per class, centred on the model means ``m`` (for
    accuracy with large intensities). `select`: coordinates of the voxels to sum over
    (inside the block's own voxels), None for all. `cache`: a
    :class:`._cache.PosteriorCache` that gets the posteriors of the block's own voxels
    (`starts`: the blocks' first indices).
    """
    k, c = gmm.means_.shape
    pads = _pads(block_id, numblocks, depth)
    inner = _crop(pads, block.shape[:-1])
    zero = np.zeros(k), np.zeros((k, c)), np.zeros((k, c, c))
    if not np.isfinite(block).any():
        return zero
    data = block_pixel_data(block)
    where = None if cache is None else own_slices(starts, block_id[:-1])
    if fused_route(len(data.spatial_shape), k):  # own voxels read in place from the planes
        part = swept_stats(data, gmm, smoothing, scale, sweeps, inner,
                           None if cache is None else functools.partial(cache.store, where),
                           select)
        if select is None or select == ():
            return zero if part is None else part
        q = part.T  # (n, K) posteriors of the chosen voxels
    else:
        q, _ = _potts_block(block, [gmm], smoothing, scale, sweeps, max_distinct)
        q_own = np.ascontiguousarray(np.moveaxis(q[inner], -1, 0))
        if cache is not None:
            cache.store(where, q_own)
        if select == ():  # no voxel of the subsample here: only the cache wanted this block
            return zero
        # gather the chosen voxels first: no copy of the whole block
        q = np.moveaxis(q_own, 0, -1) if select is None else q_own[(slice(None), *select)].T
    X = block[inner] if select is None else block[inner][select]
    q, X = q.reshape(-1, k).astype(np.float64), X.reshape(-1, c).astype(np.float64)
    ok = np.isfinite(X).all(axis=1) & (q.sum(axis=1) > 0)
    q, X = q[ok], X[ok]
    nk = q.sum(axis=0)
    s1 = np.empty((k, c))
    s2 = np.empty((k, c, c))
    for j in range(k):
        d = X - gmm.means_[j]
        s1[j] = q[:, j] @ d
        s2[j] = (d * q[:, j, None]).T @ d
    return nk, s1, s2


def lazy_stats(pixels: LazyPixels, gmm, *, smoothing, scale, sweeps, max_distinct, rows=None,
               cache=None):
    """Delayed ``(nk, S1, S2)`` of every halo block: the HMRF M-step reduction over every
    voxel, or over the voxels of flat indices `rows` (sorted); sum them with
    :func:`._blockwise.sum_in_groups`. Computing them fills `cache` (a
    :class:`._cache.PosteriorCache`, optional) with the posteriors of every voxel."""
    from dask import delayed

    arr, halo = overlapped(pixels, sweeps, cache)
    blocks = halo.to_delayed()
    select = _select_by_block(rows, arr.chunks[:-1], pixels.spatial_shape)
    args = (gmm, smoothing, scale, sweeps, max_distinct, sweeps, arr.numblocks)
    starts = block_starts(arr.chunks[:-1])
    parts = []
    for index in np.ndindex(*blocks.shape):
        chosen = None if select is None else select.get(index[:-1], ())
        if chosen == () and cache is None:
            continue
        parts.append(delayed(_stats_block)(blocks[index], *args, index, chosen, cache, starts))
    return parts


def _select_by_block(rows, chunks, shape):
    """Local coordinates of the voxels of flat indices `rows`, grouped by block index."""
    if rows is None:
        return None
    coords = np.unravel_index(rows, shape)
    starts = [np.concatenate([[0], np.cumsum(c)]) for c in chunks]
    which = [np.searchsorted(s, c, side="right") - 1 for s, c in zip(starts, coords, strict=True)]
    keys = np.ravel_multi_index(which, [len(c) for c in chunks])
    order = np.argsort(keys, kind="stable")
    uniq, first = np.unique(keys[order], return_index=True)
    select = {}
    for key, part in zip(uniq, np.split(order, first[1:]), strict=True):
        block = np.unravel_index(key, [len(c) for c in chunks])
        select[tuple(int(b) for b in block)] = tuple(
            (c[part] - s[b]).astype(np.int32)
            for c, s, b in zip(coords, starts, block, strict=True)
        )
    return select


def lazy_outputs(pixels: LazyPixels, models, *, order=None, smoothing=0.0, scale=None,
                 sweeps=0, max_distinct, want_post, cache=None, temperature=1.0, mixels=None):
    """Lazy ``(labels, probability, posteriors or None)`` of `models` (the last one labels).

    Without smoothing only ``models[-1]`` is used, block by block. With smoothing, model
    ``i`` in turn runs ``sweeps[i]`` mean-field sweeps (an int: that many each; see
    :mod:`._pilot`) warm-started from the previous one's posteriors (``[gmm,
    reestimated]`` is HMRF-EM's final E-step), on blocks with a halo of all their sweeps;
    `order` permutes the classes of the result. With a filled
    :class:`._cache.PosteriorCache` (the posteriors of ``models[0]``'s sweeps, see
    :func:`lazy_stats`) only the last model's sweeps run, on a halo of as many voxels.
    With a mixel model (`mixels`, smoothing only) the blocks' own posteriors are swapped as
    in memory (:mod:`..potts._mixel_swap`).
    """
    k = models[-1].n_components
    n_out = 2 + k * bool(want_post)
    if smoothing <= 0:
        arr = pixels.array
        packed = arr.map_blocks(
            _predict_block, models[-1], max_distinct, bool(want_post),
            dtype=np.float32, chunks=(*arr.chunks[:-1], (n_out,)),
        )
    else:
        sweeps = per_model(sweeps, len(models))
        if cache is not None:
            models, sweeps = [models[-1]], sweeps[-1:]
        depth = int(sum(sweeps))
        arr, halo = overlapped(pixels, depth, cache)
        starts = None if cache is None else block_starts(arr.chunks[:-1])
        packed = halo.map_blocks(
            _smooth_block, models, order, smoothing, scale, sweeps, max_distinct,
            bool(want_post), depth, arr.numblocks, cache, starts, temperature, mixels,
            dtype=np.float32, chunks=(*arr.chunks[:-1], (n_out,)),
        )
    labels = packed[..., 0].astype(label_dtype(k))
    probability = packed[..., 1]
    posteriors = packed[..., 2:] if want_post else None
    return labels, probability, posteriors
