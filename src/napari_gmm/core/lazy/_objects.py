"""``label_objects`` on dask labels: blockwise components merged across chunk borders.

Own code rather than ``dask_image.ndmeasure.label``: the objects must be numbered as in
memory (by class, then by the position of their first pixel in C order), objects of
different classes must stay apart where they touch, small objects are removed by their
size over every block, and the table is accumulated in the same pass; dask-image's label
numbers components by chunk and has none of the rest, so it would need this bookkeeping
anyway (and one more dependency).

1. Every block is labelled on its own, class by class (``scipy.ndimage.label``), and
   reduced to a summary: per component its class, size, first pixel (global C-order
   index), coordinate sums, bounding box and intensity sums, and the component ids on the
   block's first and last slice along every axis.
2. Components get global ids (block offsets); along every internal chunk border the two
   planes of ids facing each other are compared at every neighbour offset of the
   connectivity, and components of the same class that touch are joined (connected
   components of that graph, ``scipy.sparse.csgraph``).
3. Objects smaller than ``min_size`` are dropped; the rest are numbered by class, then
   first pixel (the in-memory order), and the table is summed per object.
4. The instance labels stay lazy: each block is labelled again and its component ids are
   mapped through the lookup table of step 3.

Memory: the summaries (a few numbers per component and the border planes), one block per
worker thread, the lookup table (one int32 per component).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..objects._measure import size_name


def _label_block(block, classes, structure):
    """Components of each class of a block: int64 ids 1..n (class by class), and classes."""
    out = np.zeros(block.shape, dtype=np.int64)
    owner = []
    for c in classes:
        inst, n = ndimage.label(block == c, structure=structure)
        if n:
            out[inst > 0] = inst[inst > 0] + len(owner)
            owner += [c] * n
    return out, np.asarray(owner, dtype=np.int64)


def _block_summary(block, values, start, shape, classes, structure):
    """Per-component sums of a block and its border slices (ids local to the block)."""
    local, owner = _label_block(block, classes, structure)
    n = len(owner)
    where = np.flatnonzero(local)
    ids = local.ravel()[where] - 1
    coords = [c + s for c, s in zip(np.unravel_index(where, block.shape), start, strict=True)]
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, ids, np.ravel_multi_index(coords, shape))
    low = np.full((len(shape), n), np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full((len(shape), n), -1, dtype=np.int64)
    for axis, c in enumerate(coords):
        np.minimum.at(low[axis], ids, c)
        np.maximum.at(high[axis], ids, c)
    faces = [(local[(slice(None),) * a + (0,)], local[(slice(None),) * a + (-1,)])
             for a in range(block.ndim)]
    summary = {
        "class": owner,
        "count": np.bincount(ids, minlength=n).astype(np.int64),
        "first": first,
        "sums": np.stack([np.bincount(ids, weights=c, minlength=n) for c in coords]),
        "low": low,
        "high": high,
        "faces": faces,
    }
    if values is not None:
        table = values.reshape(-1, values.shape[-1])[where].astype(np.float64)
        finite = np.isfinite(table)
        summary["isum"] = np.stack([np.bincount(ids, weights=np.where(finite[:, c], table[:, c],
                                   0.0), minlength=n) for c in range(table.shape[1])])
        summary["icount"] = np.stack([np.bincount(ids, weights=finite[:, c], minlength=n)
                                      for c in range(table.shape[1])])
    return summary


def _summaries(labels, values, classes, structure):
    """The summary of every block (C order), a group of blocks at a time."""
    import dask
    from dask import delayed

    from ._blockwise import group_size

    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in labels.chunks]
    lab_blocks = labels.to_delayed()
    val_blocks = None if values is None else values.to_delayed()
    tasks = []
    for index in np.ndindex(*labels.numblocks):
        start = tuple(int(s[i]) for s, i in zip(starts, index, strict=True))
        vals = None if val_blocks is None else val_blocks[(*index, 0)]
        tasks.append(delayed(_block_summary)(lab_blocks[index], vals, start, labels.shape,
                                             classes, structure))
    out, size = [], group_size()
    for i in range(0, len(tasks), size):
        out.extend(dask.compute(*tasks[i : i + size]))
    return out


def _border_pairs(summaries, offsets, labels, structure):
    """Pairs of global component ids (1-based) that touch across a chunk border."""
    pairs = []
    for axis in range(labels.ndim):
        steps = [d for d in np.argwhere(structure) - 1 if d[axis] == 1]
        for i in range(labels.numblocks[axis] - 1):
            plane_a = _plane(summaries, offsets, labels, axis, i, 1)
            plane_b = _plane(summaries, offsets, labels, axis, i + 1, 0)
            for d in steps:
                shift = [int(v) for k, v in enumerate(d) if k != axis]
                a, b = _shifted(plane_a, plane_b, shift)
                keep = (a > 0) & (b > 0)
                pairs.append(np.stack([a[keep], b[keep]]))
    return np.concatenate(pairs, axis=1) if pairs else np.zeros((2, 0), np.int64)


def _plane(summaries, offsets, labels, axis, i, side):
    """Global ids of the blocks at position `i` along `axis`: their first (`side` 0) or last
    (1) slice, assembled into one cross-section of the volume."""
    starts = [np.concatenate([[0], np.cumsum(c)]) for c in labels.chunks]
    plane = np.zeros([n for k, n in enumerate(labels.shape) if k != axis], dtype=np.int64)
    for index in np.ndindex(*labels.numblocks):
        if index[axis] != i:
            continue
        b = int(np.ravel_multi_index(index, labels.numblocks))
        face = summaries[b]["faces"][axis][side]
        box = tuple(slice(int(starts[k][j]), int(starts[k][j + 1]))
                    for k, j in enumerate(index) if k != axis)
        plane[box] = np.where(face > 0, face + offsets[b], 0)
    return plane


def _shifted(a, b, shift):
    """``a[x]`` and ``b[x + shift]`` where both exist (planes of equal shape)."""
    src, dst = [], []
    for s, n in zip(shift, a.shape, strict=True):
        src.append(slice(max(0, -s), n - max(0, s)))
        dst.append(slice(max(0, s), n - max(0, -s)))
    return a[tuple(src)], b[tuple(dst)]


def lazy_label_objects(labels, chosen, structure, *, values=None, min_size=0, scale=None):
    """Instance labels (lazy, int32) and the table of the components of dask labels.

    `chosen` are the (checked) classes, `structure` the connectivity, `values` the image as
    a dask array ``(*spatial, C)`` in one channel chunk, or None.
    """
    import dask.array as da
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    summaries = _summaries(labels, values, chosen, structure)
    counts = [len(s["class"]) for s in summaries]
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    total = int(sum(counts))
    cat = {key: np.concatenate([s[key] for s in summaries], axis=-1)
           for key in summaries[0] if key != "faces"}
    pairs = _border_pairs(summaries, offsets, labels, structure) - 1
    same = cat["class"][pairs[0]] == cat["class"][pairs[1]] if pairs.size else pairs[0] == 0
    pairs = pairs[:, same]
    graph = coo_matrix((np.ones(pairs.shape[1]), (pairs[0], pairs[1])), shape=(total, total))
    n_comp, comp = connected_components(graph, directed=False)
    size = np.bincount(comp, weights=cat["count"], minlength=n_comp).astype(np.int64)
    first = np.full(n_comp, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, comp, cat["first"])
    klass = np.zeros(n_comp, dtype=np.int64)
    klass[comp] = cat["class"]
    kept = np.flatnonzero(size >= max(min_size, 1))
    kept = kept[np.lexsort((first[kept], klass[kept]))]
    final = np.zeros(n_comp, dtype=np.int32)
    final[kept] = np.arange(1, kept.size + 1, dtype=np.int32)
    lookup = np.concatenate([[0], final[comp]]).astype(np.int32)  # global id + 1 -> object
    table = _table(cat, comp, final, kept, klass, labels.ndim, scale)
    instances = da.map_blocks(_block_instances, labels, chosen, structure, lookup, offsets,
                              labels.numblocks, dtype=np.int32)
    return instances, table


def _block_instances(block, chosen, structure, lookup, offsets, numblocks, block_info=None):
    local, _ = _label_block(block, chosen, structure)
    index = np.ravel_multi_index(block_info[0]["chunk-location"], numblocks)
    return np.where(local > 0, lookup[np.where(local > 0, local + offsets[index], 0)], 0).astype(
        np.int32
    )


def _table(cat, comp, final, kept, klass, ndim, scale) -> dict:
    """The columns of ``measure_objects`` from the per-component sums."""
    n = kept.size
    obj = final[comp] - 1  # object index per component, -1 when dropped
    use = obj >= 0
    count = np.bincount(obj[use], weights=cat["count"][use], minlength=n).astype(np.int64)
    name = size_name(ndim)
    columns = {"label": np.arange(1, n + 1, dtype=np.int32), "class": klass[kept],
               name: count}
    if scale is not None:
        columns[f"{name}_scaled"] = count * float(np.prod(scale))
    safe = np.maximum(count, 1)
    centroid = [np.bincount(obj[use], weights=s[use], minlength=n) / safe for s in cat["sums"]]
    for axis, c in enumerate(centroid):
        columns[f"centroid-{axis}"] = c
    if scale is not None:
        for axis, c in enumerate(centroid):
            columns[f"centroid_scaled-{axis}"] = c * float(scale[axis])
    lows, highs = [], []
    for axis in range(ndim):
        low = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        high = np.full(n, -1, dtype=np.int64)
        np.minimum.at(low, obj[use], cat["low"][axis][use])
        np.maximum.at(high, obj[use], cat["high"][axis][use])
        lows.append(low)
        highs.append(high + 1)
    for j, column in enumerate(lows + highs):
        columns[f"bbox-{j}"] = column
    if "isum" in cat:
        n_channels = cat["isum"].shape[0]
        for c in range(n_channels):
            sums = np.bincount(obj[use], weights=cat["isum"][c][use], minlength=n)
            finite = np.bincount(obj[use], weights=cat["icount"][c][use], minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(finite > 0, sums / np.maximum(finite, 1), np.nan)
            columns["intensity_mean" if n_channels == 1 else f"intensity_mean-{c}"] = mean
    return columns


def label_objects_dask(labels, classes, *, image=None, channel_axis=None, min_size=0,
                       fill_holes=False, connectivity=None, scale=None, time_axis=None,
                       n_classes=None):
    """:func:`napari_gmm.label_objects` of dask labels (same options, same result).

    The instance labels are a lazy int32 dask array with the chunks of `labels`; the table
    is computed (one pass over the blocks). `fill_holes` and `time_axis` are not available
    (a hole, like a frame, can span every block).
    """
    import dask.array as da

    from .._validation import check_channel_axis, check_int
    from ..objects._checks import check_classes, check_connectivity, check_scale
    from ..objects._table import Objects

    if labels.dtype.kind not in "biu":
        raise TypeError(
            f"labels must be an integer (or bool) array of classes such as "
            f"segment(...).labels; got dtype {labels.dtype}. Pass the class labels."
        )
    if fill_holes or time_axis is not None:
        raise ValueError(
            "fill_holes and time_axis are not available for dask labels (a hole or a frame "
            "can span every block); label a region in memory, np.asarray(labels[...]), or "
            "leave them off."
        )
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    k = int(labels.max().compute()) if n_classes is None else n_classes
    chosen = check_classes(classes, max(k, 1))
    min_size = check_int("min_size", min_size, minimum=0,
                         hint=" It is the smallest object size kept, in pixels.")
    conn = check_connectivity(connectivity, labels.ndim)
    scale = check_scale(scale, labels.ndim, labels.ndim, None)
    structure = ndimage.generate_binary_structure(labels.ndim, conn)
    values = None
    if image is not None:
        values = image if isinstance(image, da.Array) else da.from_array(np.asarray(image))
        axis = check_channel_axis(values.ndim, channel_axis)
        values = values[..., None] if axis is None else da.moveaxis(values, axis, -1)
        if values.shape[:-1] != labels.shape:
            raise ValueError(
                f"image has shape {image.shape} but labels have shape {labels.shape}; pass "
                "the image that was segmented, with its channel_axis."
            )
        values = values.rechunk((*labels.chunks, -1))
    instances, table = lazy_label_objects(labels, chosen, structure, values=values,
                                          min_size=min_size, scale=scale)
    return Objects(instances, table, chosen, None, scale)
