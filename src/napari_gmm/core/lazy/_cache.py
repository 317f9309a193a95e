"""Keep the first HMRF round's posteriors between the two halo passes of lazy smoothing.

Lazy smoothing (:mod:`._apply`) reads the image twice: the first pass runs the first
round of mean-field sweeps on every halo block and sums the M-step statistics; the
second produces the labels of the re-estimated mixture. That second round starts from the
first round's posteriors, so without them the second pass has to run the first round
again, with a halo twice as deep (``2 * sweeps``) and the log-likelihoods of both mixtures:
measured on 64x256x256 uint8 (128^2 chunks, 2 threads) it was 60 % of the lazy run.

When they fit in a memory budget (:func:`cache_budget`), the first pass writes the
posteriors of every block's own voxels into one class-major float32 ``(K, *spatial)``
array (the layout of the sweeps), the one
the in-memory path holds anyway (where it also holds log-likelihoods and a second
posterior buffer); the second pass reads each block's posteriors with a halo of
``sweeps`` voxels from it and runs only the second round. The posteriors of the block's
own voxels are exact (a halo of one voxel per sweep), so the cache is the first round of
the whole image and the labels are those of recomputing it. Larger volumes (e.g. 1024^3:
12 GB of posteriors at K=3) keep them on disk (:mod:`._disk_cache`) where it has room;
``dask.distributed`` clusters (whose workers cannot write into this process's memory or
disk) and volumes without room recompute the first round instead.
"""

from __future__ import annotations

import uuid

import numpy as np

#: Most bytes of cached posteriors, whatever the memory available.
MAX_CACHE_BYTES = 4 << 30
#: Share of the memory available now that the cache may take.
CACHE_SHARE = 0.25


def cache_budget() -> int:
    """Bytes the posterior cache may take: :data:`CACHE_SHARE` of the available memory
    (``NAPARI_GMM_AVAILABLE_MEMORY`` overrides the reading), at most :data:`MAX_CACHE_BYTES`."""
    from .._resources import memory_budget

    return memory_budget(CACHE_SHARE, MAX_CACHE_BYTES)


class PosteriorCache:
    """First-round posteriors ``q`` (K, *spatial) float32 of a lazy image (0 where invalid).
    (No labels: the blocks run a known number of sweeps, :mod:`._pilot`, and count no
    changes.)

    Written block by block by the first halo pass (:meth:`store`), read with halos by the
    second (:meth:`read`). Tokenised by identity, so that dask never hashes its data.
    """

    #: The image fits the memory budget: the halo passes merge chunks into bigger blocks.
    merge_blocks = True

    def __init__(self, spatial_shape, n_classes: int):
        self.q = np.zeros((n_classes, *spatial_shape), dtype=np.float32)
        self._token = uuid.uuid4().hex

    def __dask_tokenize__(self):
        return ("napari-gmm-posterior-cache", self._token)

    @classmethod
    def allocate(cls, spatial_shape, n_classes: int, array=None):
        """A cache for this image: in memory when it fits the budget, else on disk
        (:class:`._disk_cache.DiskPosteriorCache`) where the disk has room; None when
        neither, or when the scheduler that computes `array` (the dask image) runs its
        tasks in other processes (a ``dask.distributed`` cluster, the ``"processes"``
        scheduler): their writes would go to copies of the cache, and the second pass
        would start from posteriors never written."""
        from ._blockwise import scheduler_shares_memory
        from ._disk_cache import DiskPosteriorCache

        if array is not None and not scheduler_shares_memory(array):
            return None
        n_bytes = 4 * n_classes * int(np.prod(spatial_shape, dtype=np.int64))
        if n_bytes > cache_budget():
            return DiskPosteriorCache.allocate(spatial_shape, n_classes)
        return cls(spatial_shape, n_classes)

    def store(self, where, q) -> None:
        """Write posteriors (K, *block) of the voxels at spatial slices `where`."""
        self.q[(slice(None), *where)] = q

    def read(self, where) -> np.ndarray:
        """Posteriors (K, *block) of the voxels at spatial slices `where`: a view, not to
        be written (the lazy results may be computed again)."""
        view = self.q[(slice(None), *where)]
        view.flags.writeable = False
        return view

    def read_into(self, where, q) -> None:
        """Copy the posteriors (K, *block) of the voxels at spatial slices `where` into
        `q`."""
        q[...] = self.q[(slice(None), *where)]


def block_starts(chunks):
    """First index of every block along each axis (one array per axis)."""
    return [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in chunks]


def halo_slices(starts, block_id, pads):
    """Spatial slices, in the whole image, of a halo block (its own voxels plus `pads`)."""
    return tuple(
        slice(int(s[i]) - lo, int(s[i + 1]) + hi)
        for s, i, (lo, hi) in zip(starts, block_id, pads, strict=True)
    )


def own_slices(starts, block_id):
    """Spatial slices, in the whole image, of a block's own voxels."""
    return tuple(slice(int(s[i]), int(s[i + 1])) for s, i in zip(starts, block_id, strict=True))


#: Most voxels of a block when the cache is used (the image then fits the memory budget):
#: a halo block's sweeps hold about ``12 K + 13`` bytes per voxel, 200 MB at K=3.
MAX_BLOCK_VOXELS = 1 << 22


def merged_chunks(chunks, max_voxels: int | None = None):
    """Chunks of fewer, larger blocks: neighbouring chunks merged in pairs, last axis first
    (longer rows sweep faster), while the largest block stays within `max_voxels`
    (default :data:`MAX_BLOCK_VOXELS`).

    Bigger blocks need fewer halo voxels (a 128^3 block with a halo of 6 sweeps 31 % more
    voxels than its own, a 256^3 one 15 %) and fewer tasks; every block boundary stays a
    boundary of the input's chunks, so no input chunk is split.
    """
    max_voxels = MAX_BLOCK_VOXELS if max_voxels is None else max_voxels
    chunks = [tuple(int(c) for c in axis) for axis in chunks]

    def largest(ch):
        return int(np.prod([max(axis) for axis in ch], dtype=np.int64))

    grown = True
    while grown:
        grown = False
        for axis in reversed(range(len(chunks))):
            if len(chunks[axis]) == 1:
                continue
            old = chunks[axis]
            pairs = tuple(sum(old[i : i + 2]) for i in range(0, len(old), 2))
            trial = [*chunks[:axis], pairs, *chunks[axis + 1 :]]
            if largest(trial) <= max_voxels:
                chunks, grown = trial, True
    return tuple(chunks)


#: Most voxels of a block when the posteriors are recomputed (no cache: the image exceeds
#: the memory budget). A 128^3 chunk with the labels pass's halo of 12 voxels is 3.5 M
#: voxels (~175 MB of planes at K=3); split to 128x128x64 it is 2.0 M (~100 MB): on a
#: 1024^3 uint8 volume the peak memory fell from 0.57x to below 0.5x the input.
RECOMPUTE_BLOCK_VOXELS = 1 << 20


def split_chunks(chunks, max_voxels: int = RECOMPUTE_BLOCK_VOXELS):
    """Chunks with every block within `max_voxels`: chunks halved along the first axes
    first (the last axis, the rows the sweeps run along, is kept whole); every input chunk
    boundary stays a boundary."""
    chunks = [[int(c) for c in axis] for axis in chunks]

    def largest():
        return int(np.prod([max(axis) for axis in chunks], dtype=np.int64))

    for axis in range(len(chunks) - 1):
        while largest() > max_voxels and max(chunks[axis]) > 1:
            chunks[axis] = [p for c in chunks[axis] for p in (c - c // 2, c // 2) if p > 0]
    return tuple(tuple(axis) for axis in chunks)


def overlapped(pixels, depth: int, cache=None):
    """The image of `pixels` (:class:`._fit.LazyPixels`) rechunked so every block is at
    least `depth` wide, with a halo of `depth`.

    With an in-memory `cache` (the image fits the memory budget) neighbouring chunks are
    first merged into bigger blocks (:func:`merged_chunks`); else big chunks are
    split (:func:`split_chunks`) to the cache's ``block_voxels`` (without a cache,
    :data:`RECOMPUTE_BLOCK_VOXELS`).
    """
    import dask.array as da
    from dask.array.overlap import ensure_minimum_chunksize

    arr = pixels.array
    if cache is not None and cache.merge_blocks:
        arr = arr.rechunk((*merged_chunks(arr.chunks[:-1]), -1))
    else:
        limit = getattr(cache, "block_voxels", RECOMPUTE_BLOCK_VOXELS)
        arr = arr.rechunk((*split_chunks(arr.chunks[:-1], limit), -1))
    chunks = tuple(
        ensure_minimum_chunksize(depth, c) if n > depth else (n,)
        for c, n in zip(arr.chunks[:-1], arr.shape[:-1], strict=True)
    )
    arr = arr.rechunk((*chunks, -1))
    # an axis held in one block needs no halo (and dask refuses a halo deeper than the
    # axis): e.g. a (1, Y, X) stack or an axis of 5 voxels with 6 sweeps
    depths = {a: depth if len(arr.chunks[a]) > 1 else 0 for a in range(arr.ndim - 1)}
    depths[arr.ndim - 1] = 0
    return arr, da.overlap.overlap(arr, depth=depths, boundary="none")
