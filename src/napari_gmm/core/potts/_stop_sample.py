"""The voxels counted by the sweeps' early stop: all of them, or a fixed grid of boxes.

A round of mean-field sweeps ends after the first sweep in which fewer than
:data:`._hmrf.STOP_CHANGED` of the counted valid voxels changed label. An image of up to
:data:`SAMPLE_ABOVE` voxels counts every voxel. A larger one counts the voxels of a grid of
boxes chosen from its shape alone: the outer product of evenly spaced intervals of
:func:`box_width` voxels along each axis, about :data:`SAMPLE_VOXELS` voxels in all (whole
axes where the intervals would cover them).

Why not every voxel: a dask image smoothed in halo blocks (:mod:`..lazy._pilot`) has to know
a round's number of sweeps before any block's result is final, since every block must run
the sweeps the whole image runs for its labels to be the in-memory ones. Counting over every
voxel would cost one more pass over the volume per round; counting over these boxes costs
sweeping the boxes alone (each with a halo as deep as the sweeps), a few per cent of the
volume. Two million voxels spread over the image estimate the fraction that changed to
within a few per cent of itself where it matters (0.1 %, ~2,000 changes).
"""

from __future__ import annotations

import itertools

import numpy as np

#: Images of up to this many voxels count every voxel.
SAMPLE_ABOVE = 1 << 22
#: About how many voxels larger images count.
SAMPLE_VOXELS = 1 << 21


def box_width(n_axes: int) -> int:
    """Side of a counted box along each axis: a box of 64^3 voxels in 3-D (its halo of
    12 voxels per side, two rounds of sweeps, adds 1.6x its voxels), 256^2 in 2-D."""
    return {1: 1 << 16, 2: 256, 3: 64}.get(n_axes, 16)


def _counts(shape, width, target):
    """Intervals per axis (0: the whole axis) such that their product has ~`target` voxels."""
    shape = [int(n) for n in shape]
    free = [i for i, n in enumerate(shape) if n > width]
    counts = dict.fromkeys(range(len(shape)), 0)
    while free:
        rest = target / np.prod([float(n) for i, n in enumerate(shape) if i not in free])
        share = (rest / np.prod([float(shape[i]) for i in free])) ** (1.0 / len(free))
        wanted = {i: max(1, round(share * shape[i] / width)) for i in free}
        whole = [i for i in free if wanted[i] * width >= shape[i]]
        if not whole:
            counts.update(wanted)
            break
        free = [i for i in free if i not in whole]
    return [counts[i] for i in range(len(shape))]


def count_intervals(spatial_shape):
    """``[(start, stop), ...]`` per axis of the counted grid, or None (every voxel counted)."""
    shape = tuple(int(n) for n in spatial_shape)
    if int(np.prod(shape, dtype=np.int64)) <= SAMPLE_ABOVE:
        return None
    width = box_width(len(shape))
    counts = _counts(shape, width, SAMPLE_VOXELS)
    if not any(counts):
        return None
    intervals = []
    for n, m in zip(shape, counts, strict=True):
        if m == 0:
            intervals.append([(0, n)])
            continue
        starts = [min(n - width, max(0, int((j + 0.5) * n / m) - width // 2)) for j in range(m)]
        intervals.append([(s, s + width) for s in starts])
    return intervals


def count_axes(spatial_shape) -> list[np.ndarray]:
    """Per axis, uint8 1 where the counted grid has the coordinate (all ones without a grid)."""
    intervals = count_intervals(spatial_shape)
    masks = []
    for axis, n in enumerate(spatial_shape):
        mask = np.zeros(int(n), dtype=np.uint8)
        for start, stop in [(0, n)] if intervals is None else intervals[axis]:
            mask[start:stop] = 1
        masks.append(mask)
    return masks


def counted_boxes(spatial_shape) -> list[tuple[slice, ...]]:
    """The boxes of the counted grid (the whole image when every voxel is counted)."""
    intervals = count_intervals(spatial_shape)
    if intervals is None:
        return [tuple(slice(0, int(n)) for n in spatial_shape)]
    return [tuple(slice(a, b) for a, b in box) for box in itertools.product(*intervals)]


def _runs(mask) -> list[tuple[int, int]]:
    """``(start, stop)`` of the runs of ones of a 0/1 vector."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(mask, np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def n_counted(masks, valid=None) -> int:
    """How many voxels the per-axis `masks` count: all of them in their grid, or those
    where `valid` (an array of the spatial shape, NumPy's or CuPy's, summed box by box
    in place) is true."""
    if valid is None:
        return int(np.prod([int(np.count_nonzero(m)) for m in masks], dtype=np.int64))
    total = 0
    for box in itertools.product(*[_runs(m) for m in masks]):
        total += int(valid[tuple(slice(a, b) for a, b in box)].sum())
    return total


def volume_masks(masks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-axis masks of 1 to 3 spatial axes as the (Z, Y, X) masks of the kernels."""
    one = np.ones(1, dtype=np.uint8)
    full = [one] * (3 - len(masks)) + [np.ascontiguousarray(m, dtype=np.uint8) for m in masks]
    return tuple(full)
