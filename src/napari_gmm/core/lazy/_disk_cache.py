"""The first HMRF round's posteriors of a volume beyond the memory budget, kept on disk.

:class:`._cache.PosteriorCache` keeps the first round's posteriors in memory when they fit,
so the second halo pass of lazy smoothing starts from them instead of recomputing the
first round (twice the halo, the log-likelihoods of both mixtures). Beyond the memory
budget (e.g. 1024^3 at K=3: 12 GB of posteriors) they used to be recomputed: measured on
512^3 uint8 (2 threads) the recomputing run took 19.1 s where the same blocks starting
from kept posteriors took 10.0 s.

:class:`DiskPosteriorCache` keeps them in files instead: one ``.npy`` file of posteriors
(K, *own) float32 per block, written by the first pass, in a directory
of its own made by :func:`tempfile.mkdtemp` (under ``NAPARI_GMM_TMPDIR`` when set, else
the system's temporary directory) and removed with the cache (or at exit). The second
pass reads each halo block from the files of the blocks it overlaps through short-lived
memory maps, so only the pages it needs are read and the process holds none of the
rest. It is used only where the disk has room (:func:`disk_room`) and is not memory in
disguise (``tmpfs``); otherwise the first round is recomputed as before. Nothing outside
that directory is written or removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
import weakref
from pathlib import Path

import numpy as np

#: Bytes left free on the disk beyond the cache itself.
DISK_MARGIN = 1 << 30
#: File systems held in memory: a cache there would take the memory it is meant to spare.
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})


def cache_directory() -> str:
    """Where cache directories are made: ``NAPARI_GMM_TMPDIR`` if set, else the system's
    temporary directory (:func:`tempfile.gettempdir`, which honours ``TMPDIR``)."""
    return os.environ.get("NAPARI_GMM_TMPDIR") or tempfile.gettempdir()


def filesystem_type(path, mounts: str | None = None) -> str | None:
    """File system type of `path` from the mount table `mounts` (default: the text of
    ``/proc/self/mounts``); None where unknown."""
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:
            return None
    path = os.path.realpath(path)
    best, kind = "", None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, parts[2]
    return kind


def disk_room(directory, n_bytes: int) -> bool:
    """Whether `directory` can take `n_bytes` more (leaving :data:`DISK_MARGIN` free) on a
    disk, not a file system held in memory."""
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return False
    return filesystem_type(directory) not in MEMORY_FILESYSTEMS and free >= n_bytes + DISK_MARGIN


class DiskPosteriorCache:
    """First-round posteriors (K, *spatial) float32 of a lazy image, one file per block,
    with the interface of :class:`._cache.PosteriorCache`.

    The blocks written must tile the image (the blocks of one chunk grid); any region can
    then be read back.
    """

    #: The halo passes split chunks into blocks of at most this many voxels (the image is
    #: beyond the memory budget): those of the recomputing route. Blocks of 2^21 voxels
    #: were 15-20 % faster (512^3 and 1024^3 uint8) but raised the peak memory of 1024^3
    #: from 0.46x to 0.52x the input, over the 0.5x the big-data benchmark holds to.
    merge_blocks = False
    block_voxels = 1 << 20

    def __init__(self, spatial_shape, n_classes: int, directory=None):
        self.spatial_shape = tuple(int(n) for n in spatial_shape)
        self.n_classes = int(n_classes)
        self.path = Path(tempfile.mkdtemp(prefix="napari-gmm-posteriors-",
                                          dir=directory or cache_directory()))
        self._token = uuid.uuid4().hex
        self._blocks = {}  # block starts -> (stops, file stem)
        self._grid = None
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def __dask_tokenize__(self):
        return ("napari-gmm-disk-posterior-cache", self._token)

    def __getstate__(self):
        # a copy in another process (a scheduler's worker) reads the files and never
        # removes them: the directory belongs to this object
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_finalizer")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._finalizer = lambda: None

    @classmethod
    def allocate(cls, spatial_shape, n_classes: int):
        """A cache on disk for this image, or None when the disk lacks room (or is memory)."""
        n_voxels = int(np.prod(spatial_shape, dtype=np.int64))
        directory = cache_directory()
        if not disk_room(directory, 4 * int(n_classes) * n_voxels):
            return None
        return cls(spatial_shape, n_classes, directory)

    def close(self) -> None:
        """Remove the cache's directory (also done when the cache is garbage-collected)."""
        self._finalizer()

    def store(self, where, q) -> None:
        """Write the posteriors (K, *block) of the block at spatial slices `where` (one
        block of the grid, written once)."""
        # contiguous copies: numpy writes a strided view (a block's own voxels in its
        # planes) to a file one element at a time
        self._write(where, np.ascontiguousarray(q, dtype=np.float32))

    def _write(self, where, q) -> None:
        starts = tuple(s.start for s in where)
        stem = self.path / f"block-{'-'.join(map(str, starts))}"
        try:
            np.save(f"{stem}-q.npy", q)
        except OSError as error:
            raise OSError(
                f"Could not keep the smoothing's posteriors in {self.path} ({error}). Set "
                "NAPARI_GMM_TMPDIR to a directory on a disk with more room."
            ) from error
        with self._lock:
            self._blocks[starts] = (tuple(s.stop for s in where), stem)
            self._grid = None

    def read(self, where) -> np.ndarray:
        """Posteriors (K, *region) float32 of the voxels at spatial slices `where`."""
        return self._gather(where, "q", (self.n_classes,), np.float32)

    def read_into(self, where, q) -> None:
        """Read the posteriors (K, *region) of the voxels at spatial slices `where` into
        `q` (no other copy is made)."""
        self._gather(where, "q", (self.n_classes,), np.float32, q)

    def _grid_axes(self):
        with self._lock:
            if self._grid is None:
                keys = np.array(list(self._blocks)).reshape(-1, len(self.spatial_shape))
                self._grid = [np.unique(axis) for axis in keys.T]
            return self._grid

    def _gather(self, where, kind, lead, dtype, out=None):
        where = tuple(slice(*s.indices(n)[:2]) for s, n in zip(where, self.spatial_shape,
                                                                  strict=True))
        shape = (*lead, *(s.stop - s.start for s in where))
        given = out is not None
        if not given:  # every voxel is written below (or the region is refused)
            out = np.empty(shape, dtype=dtype)
        grid = self._grid_axes()
        pick = [g[(g < s.stop) & (np.append(g[1:], n) > s.start)]
                for g, s, n in zip(grid, where, self.spatial_shape, strict=True)]
        covered = 0
        for starts in np.array(np.meshgrid(*pick, indexing="ij")).reshape(len(where), -1).T:
            key = tuple(int(s) for s in starts)
            if key not in self._blocks:
                break
            stops, stem = self._blocks[key]
            lo = [max(s.start, a) for s, a in zip(where, key, strict=True)]
            hi = [min(s.stop, b) for s, b in zip(where, stops, strict=True)]
            src = tuple(slice(a - k, b - k) for a, b, k in zip(lo, hi, key, strict=True))
            dst = tuple(slice(a - s.start, b - s.start) for a, b, s in zip(lo, hi, where,
                                                                           strict=True))
            covered += int(np.prod([b - a for a, b in zip(lo, hi, strict=True)]))
            # only the pages of the region are read
            block = np.load(f"{stem}-{kind}.npy", mmap_mode="r")
            out[(Ellipsis, *dst)] = block[(Ellipsis, *src)]
            del block
        if covered != int(np.prod(shape[len(lead):])):
            raise RuntimeError(f"the posterior cache has no block for part of {where}")
        if not given:
            out.flags.writeable = False
        return out
