"""How many sweeps a round of lazy smoothing runs: the in-memory path's number, found first.

In memory a round of mean-field sweeps ends after the first sweep in which fewer than
:data:`..potts._hmrf.STOP_CHANGED` of the counted valid voxels changed label; a large image
counts the voxels of a fixed grid of boxes (:mod:`..potts._stop_sample`). The halo blocks of
a dask image run exactly that number of sweeps, so that their labels are the in-memory
ones (a block stopping on its own count would stop at a different sweep than the image).

Before a round's blocks run, the counted boxes alone are read, each with a halo as deep as
every sweep up to the end of the round (so their own voxels are those of the whole image),
and swept: the earlier rounds their known number of sweeps, then the round up to
:data:`..potts._hmrf.SWEEPS` sweeps, counting the labels changed among the box's own valid
voxels after each. The first sweep at which the summed count falls below the fraction is
the round's. When the first round's posteriors are kept (:mod:`._cache`), the second
round's boxes start from them, with a halo of that round only, and from the boxes' own
labels kept by the first round's pilot (the in-memory path counts the second round's
first changes against them; the cache holds no labels). Cost: sweeping the boxes
(about 2^21 voxels, 1.4-1.7x that with their halos at 64^3 voxels a box), 3 % of a 512^3
volume (0.35 s of ~10 s) and ~10 % of a 330^3 one, about the smallest to take halo blocks
on a machine with 8 GB.
"""

from __future__ import annotations

import functools

import numpy as np

from ..potts._hmrf import STOP_CHANGED, SWEEPS
from ..potts._meanfield import potts_posteriors
from ..potts._neighbours import POTTS_SCALE, neighbour_kernel
from ..potts._stop_sample import counted_boxes
from ._fit import LazyPixels, block_pixel_data
from ._fused_blocks import PLANES_LOCK, block_planes, fused_route, host, start_planes

#: Most voxels (with their halos) of the boxes read into memory at once.
READ_VOXELS = 1 << 23


def pilot_sweeps(pixels: LazyPixels, models, before=(), *, smoothing, scale,
                 max_distinct, cache=None, labels=None, keep=None) -> int:
    """The sweeps the in-memory path runs with the last of `models` (see the module
    docstring); `before` are the sweeps of the earlier ones (each warm-started from the
    previous, the first from its plain posteriors).

    `keep`, a list, gets each box's own labels after those sweeps (compiled planes
    only). Given those of the second-to-last model as `labels`, and a filled
    :class:`._cache.PosteriorCache` (or its disk twin) holding its posteriors, the boxes
    start from them instead (a halo of :data:`SWEEPS` voxels, only the last model swept):
    the in-memory path counts the next round's first changes against those labels.
    """
    import dask

    if cache is None or len(models) < 2 or not labels:  # recomputed from the first round
        cache = labels = None
    else:
        models, before = models[-1:], ()
    shape = pixels.spatial_shape
    depth = int(sum(before)) + SWEEPS
    changed, counted = np.zeros(SWEEPS, dtype=np.int64), 0
    boxes = counted_boxes(shape)
    outers = [tuple(slice(max(0, s.start - depth), min(n, s.stop + depth))
                    for s, n in zip(box, shape, strict=True)) for box in boxes]
    swept = []  # per box, its own labels after each sweep
    for group in _groups(outers):
        reads = dask.compute(*[pixels.array[(*outers[i], slice(None))] for i in group])
        for i, sub in zip(group, reads, strict=True):
            own = tuple(slice(b.start - o.start, b.stop - o.start)
                        for b, o in zip(boxes[i], outers[i], strict=True))
            start = None if cache is None else (cache, outers[i], labels[i])
            counts, n, box_labels = box_changes(
                np.asarray(sub), own, models, before, smoothing=smoothing, scale=scale,
                max_distinct=max_distinct, start=start, keep=keep is not None)
            changed += counts
            counted += n
            swept.append(box_labels)
    run = next((s + 1 for s in range(SWEEPS) if changed[s] < STOP_CHANGED * counted), SWEEPS)
    if keep is not None:
        keep.extend(box[run - 1] for box in swept if box is not None)
    return run


def _groups(outers):
    """Indices of the boxes in groups of at most :data:`READ_VOXELS` voxels (at least one)."""
    group, size = [], 0
    for i, outer in enumerate(outers):
        n = int(np.prod([s.stop - s.start for s in outer], dtype=np.int64))
        if group and size + n > READ_VOXELS:
            yield group
            group, size = [], 0
        group.append(i)
        size += n
    if group:
        yield group


def box_changes(block, own, models, before, *, smoothing, scale, max_distinct, start=None,
                keep=False):
    """``(changes (SWEEPS,) int64, counted valid voxels, own labels after each sweep or
    None)`` of one box read with its halo (`block`, (*spatial, C)): labels changed among
    the voxels `own` (slices) after each of the last model's sweeps (the labels only with
    `keep`, on the compiled planes). `start`: ``(cache, where, own labels)``, the first
    model starts from the cached posteriors of the image's voxels `where` (the box with
    its halo) and those labels."""
    data = block_pixel_data(block)
    shape = data.spatial_shape
    count = [np.zeros(n, dtype=np.uint8) for n in shape]
    for mask, s in zip(count, own, strict=True):
        mask[s] = 1
    if fused_route(len(shape), models[0].n_components):
        return _planes_changes(data, own, count, models, before, smoothing, scale, start,
                               keep)
    return (*_reference_changes(data, own, models, before, smoothing, scale, max_distinct),
            None)


def _planes_changes(data, own, count, models, before, smoothing, scale, start, keep):
    """:func:`box_changes` on the compiled planes (CPU or GPU), counting in the kernels."""
    shape = data.spatial_shape
    kernel = neighbour_kernel(len(shape), scale)
    changes = np.zeros(SWEEPS, dtype=np.int64)
    labels = [] if keep else None
    with PLANES_LOCK:
        planes = block_planes(data, models[0].n_components, kernel,
                              float(smoothing) * POTTS_SCALE, count)
        for i, gmm in enumerate(models):
            planes.set_model(gmm, data.features)
            if i == 0 and start is None:
                planes.plain()
            elif i == 0:
                cache, where, own_labels = start
                start_planes(planes, functools.partial(cache.read_into, where), shape,
                             labels=(own, own_labels))
            last = i == len(models) - 1
            for sweep, _ in enumerate(planes.iter_sweeps(SWEEPS if last else before[i])):
                if last:
                    changes[sweep] = planes.last_changed
                if last and keep:
                    labels.append(host(planes.labels.reshape(shape)[own]).copy())
        counted = planes.n_counted
        del planes
    return changes, counted, labels


def _reference_changes(data, own, models, before, smoothing, scale, max_distinct):
    """:func:`box_changes` by the numpy reference, one sweep at a time (a sweep started
    from given posteriors is the same arithmetic as the next sweep of a longer run); it
    keeps no labels, so its second round always recomputes the first."""
    from ._apply import _block_log_prob

    valid = None if data.valid is None else data.to_spatial(data.valid)
    changes = np.zeros(SWEEPS, dtype=np.int64)
    q, counted = None, 0
    for i, gmm in enumerate(models):
        lp = _block_log_prob(gmm, data, max_distinct)
        if q is None:
            q = potts_posteriors(lp, smoothing=smoothing, valid=valid, spacing=scale, n_iter=0)
            ok = q.sum(axis=-1) > 0
            counted = int(np.count_nonzero(ok[own]))
        last = i == len(models) - 1
        for sweep in range(SWEEPS if last else before[i]):
            labels = q.argmax(axis=-1)
            q = potts_posteriors(lp, smoothing=smoothing, valid=valid, spacing=scale,
                                 n_iter=1, init=q)
            if last:
                changes[sweep] = np.count_nonzero((q.argmax(axis=-1) != labels)[own])
    return changes, counted
