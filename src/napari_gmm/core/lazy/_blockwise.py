"""Compute lazy results a few blocks at a time, so that memory does not grow with the volume.

With smoothing, every output block needs its input block and a halo from its 26
neighbours. Computing all blocks in one ``dask.compute`` lets the threaded scheduler read
input blocks long before their last consumer runs: measured on 1024^3 volumes (128^3
chunks) the peak memory reached 1.0 GB for a uint8 input of 1.07 GB (0.99x) and 1.39 GB for
a uint16 one, growing with the volume. Computing a group of a few consecutive blocks at a
time (each group reads the input blocks it needs, some of them again for the next group)
bounds the peak by the group's working set, whatever the volume's size (see README.md, "Big
data"); the input is read several times, from a store that decodes at GB/s.

On a ``dask.distributed`` cluster the workers' memory is their own, and the scheduler
spills and balances it: there everything is computed at once.
"""

from __future__ import annotations

import itertools
import os

import numpy as np


def uses_distributed() -> bool:
    """Whether a ``dask.distributed`` client is the default scheduler now."""
    try:
        from distributed import default_client
    except ImportError:
        return False
    try:
        default_client()
    except ValueError:
        return False
    return True


def scheduler_shares_memory(array) -> bool:
    """Whether the scheduler that would compute the dask `array` now runs its tasks in this
    process (dask's threaded or synchronous scheduler), so that a task can write into an
    object of the caller's (:mod:`._cache`). False for the ``"processes"`` scheduler, a
    ``dask.distributed`` client and anything else, whose tasks write into copies."""
    import dask.local
    import dask.threaded
    from dask.base import get_scheduler

    return get_scheduler(collections=[array]) in (dask.threaded.get, dask.local.get_sync)


def group_size() -> int:
    """Blocks per group: one per dask worker thread, so that reading stays parallel."""
    import dask

    workers = dask.config.get("num_workers", None)
    return max(1, int(workers) if workers else (os.cpu_count() or 1))


def block_groups(chunks, size: int):
    """Slices of groups of up to `size` consecutive blocks along the last axis (C order)."""
    starts = [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in chunks]
    outer = [range(len(c)) for c in chunks[:-1]]
    n_last = len(chunks[-1])
    for index in itertools.product(*outer):
        head = tuple(
            slice(int(s[i]), int(s[i + 1])) for s, i in zip(starts[:-1], index, strict=True)
        )
        for k0 in range(0, n_last, size):
            k1 = min(n_last, k0 + size)
            yield (*head, slice(int(starts[-1][k0]), int(starts[-1][k1])))


def compute_in_groups(arrays, *, keep=None, progress=None, size=None) -> list:
    """Compute dask arrays of the same chunks together, a group of blocks at a time.

    Parameters
    ----------
    arrays : sequence of dask.array.Array
        E.g. write tasks (``to_zarr(..., compute=False)``) and lazy labels; all with the
        chunks of the first (else they are computed at once).
    keep : sequence of bool, optional
        Which results to assemble and return (default all); the others (write tasks) are
        computed for their effect and returned as None.
    progress : callable, optional
        Called as ``progress(done, total)`` after each group.
    size : int, optional
        Blocks per group (default :func:`group_size`).

    Returns
    -------
    list
        One numpy array per input (None where not kept).
    """
    import dask

    arrays = list(arrays)
    keep = [True] * len(arrays) if keep is None else list(keep)
    if not arrays:
        return []
    chunks = arrays[0].chunks
    same = all(a.chunks == chunks for a in arrays) and arrays[0].ndim > 0
    if uses_distributed() or not same:
        done = dask.compute(*arrays)
        if progress is not None:
            progress(1, 1)
        return [d if k else None for d, k in zip(done, keep, strict=True)]
    out = [
        np.empty(a.shape, dtype=a.dtype) if k else None
        for a, k in zip(arrays, keep, strict=True)
    ]
    groups = list(block_groups(chunks, size or group_size()))
    for n, where in enumerate(groups, start=1):
        parts = dask.compute(*(a[where] for a in arrays))
        for target, part in zip(out, parts, strict=True):
            if target is not None:
                target[where] = part
        if progress is not None:
            progress(n, len(groups))
    return out


def sum_in_groups(parts, add, size=None):
    """Sum delayed partial results, computing a group of `size` of them at a time (all at
    once on a distributed cluster); `add(a, b)` adds two results."""
    import dask

    parts = list(parts)
    if uses_distributed() or len(parts) <= 1:
        from ._fit import tree_sum

        (total,) = dask.compute(tree_sum(parts)) if parts else (None,)
        return total
    size = size or group_size()
    total = None
    for start in range(0, len(parts), size):
        for value in dask.compute(*parts[start : start + size]):
            total = value if total is None else add(total, value)
    return total
