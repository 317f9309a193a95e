"""Memory checks before big allocations: a clear error instead of a MemoryError or the OOM killer.

An in-memory segmentation holds its outputs (labels, probability, optional posteriors) and,
with smoothing, posterior buffers for every voxel. For a volume that does not fit, numpy
either raises a bare ``MemoryError`` deep inside the work or, worse, the allocation
succeeds (Linux overcommits) and the kernel's OOM killer ends the process (and a napari
session with it) once the pages are touched. The estimate below is checked against the
memory available *before* anything is allocated; it is a lower bound of the peak (measured
peaks in README.md "Speed: compiled kernels"), so the check refuses only what cannot work.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class NotEnoughMemoryError(MemoryError, ValueError):
    """The request needs more memory than the machine has available.

    A ``MemoryError`` (what callers catch for memory failures) and a ``ValueError`` (the
    input is too big for the in-memory path: pass a dask array instead).
    """


def _meminfo_available() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _cgroup_available() -> int | None:
    """Room left under a cgroup v2 memory limit (containers, batch schedulers)."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((root / "memory.current").read_text())
    except (OSError, ValueError):
        return None


def available_memory() -> int | None:
    """Bytes of memory available to this process now, or None when unknown.

    ``NAPARI_GMM_AVAILABLE_MEMORY`` (bytes) overrides the reading, e.g. to leave room for
    other work on a shared machine.
    """
    override = os.environ.get("NAPARI_GMM_AVAILABLE_MEMORY")
    if override:
        return int(float(override))
    readings = [r for r in (_meminfo_available(), _cgroup_available()) if r is not None]
    if not readings:
        try:
            import psutil
        except ImportError:
            return None
        return int(psutil.virtual_memory().available)
    return min(readings)


def memory_budget(share: float, max_bytes: int) -> int:
    """`share` of the memory available now (:func:`available_memory`), at most `max_bytes`;
    0 when the available memory is unknown."""
    available = available_memory()
    if available is None:
        return 0
    return int(min(max_bytes, share * available))


def _human(n_bytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n_bytes < 1024 or unit == "TB":
            return f"{n_bytes:.1f} {unit}" if unit != "bytes" else f"{int(n_bytes)} bytes"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def check_memory(needed: float, what: str) -> None:
    """Raise :class:`NotEnoughMemoryError` when `needed` bytes exceed the available memory.

    `what` describes the work, e.g. ``"segmenting a 1000x1000x1000 image with K=3"``.
    """
    available = available_memory()
    if available is None or needed <= available:
        return
    raise NotEnoughMemoryError(
        f"{what[0].upper()}{what[1:]} needs at least {_human(needed)} of memory, but only "
        f"{_human(max(available, 0))} are available. Pass the image as a dask array (e.g. "
        "dask.array.from_zarr(...) or dask.array.from_array(image, chunks=256)) to segment "
        "it block by block out of core, or segment a region or a coarser level of it."
    )


def features_copy_bytes(arr: np.ndarray, channel_axis: int | None) -> int:
    """Bytes of the pixel table copy :func:`pixel_data` makes (0 when it is a view)."""
    itemsize = arr.dtype.itemsize
    if arr.dtype == np.float16:
        return arr.size * 4
    if not arr.dtype.isnative:
        return arr.size * itemsize
    moved = arr if channel_axis is None else np.moveaxis(arr, channel_axis, -1)
    return 0 if moved.flags.c_contiguous else arr.size * itemsize


def segmentation_bytes(n_pixels: int, n_components: int, *, smoothing, posteriors: bool,
                       backend: str) -> float:
    """Lower bound of the peak bytes of segmenting `n_pixels` pixels in memory.

    Outputs: labels (1-2 bytes) and probability (4); posteriors 4 K; smoothing: the
    log-likelihood and two posterior float32 planes and a label map with the compiled
    kernels (12 K + 1), nothing more in host memory on the GPU ('cupy'; the caller passes
    the CPU backend when the GPU is too small for them, which then runs them), the numpy
    reference about 20 K + 16 (measured: 56 bytes/voxel at K=2, 76 at K=3).
    """
    k = n_components
    per_pixel = (1 if k < 256 else 2) + 4
    if posteriors:
        per_pixel += 4 * k
    if smoothing:
        per_pixel += {"numba": 12 * k + 1, "cupy": 0}.get(backend, 20 * k + 16)
    return float(n_pixels) * per_pixel


def check_segmentation_memory(image, channel_axis, n_components, *, smoothing, posteriors,
                              what: str = "segmenting") -> None:
    """Check the memory of segmenting (or applying a model to) an in-memory image.

    Called before the pixel table is built, so that a volume too big for memory fails at
    once with advice (a dask array) instead of part-way through. Images whose shape or
    dtype is invalid pass here and are reported by the usual checks.
    """
    from ._backend import cpu_backend, get_backend

    arr = np.asarray(image) if hasattr(image, "__array__") else None
    if arr is None or arr.dtype.kind not in "biuf" or arr.size == 0:
        return
    axis = None
    if isinstance(channel_axis, int) and not isinstance(channel_axis, bool):
        if not -arr.ndim <= channel_axis < arr.ndim:
            return
        axis = channel_axis
    n_pixels = arr.size // (arr.shape[axis] if axis is not None else 1)
    needed = features_copy_bytes(arr, axis)
    what = f"{what} an image of shape {arr.shape} ({arr.dtype})"
    if n_components is not None:
        k = n_components if isinstance(n_components, int) else 8  # 'auto': up to 8 classes
        backend = get_backend()
        if backend == "cupy" and smoothing:  # too big for the GPU: the CPU kernels run it
            from .potts._gpu_memory import spatial_model_fits

            channels = 1 if axis is None else arr.shape[axis]
            if not spatial_model_fits(n_pixels, max(k, 1), channels, arr.dtype):
                backend = cpu_backend()
        needed += segmentation_bytes(n_pixels, max(k, 1), smoothing=smoothing,
                                     posteriors=posteriors, backend=backend)
        what += f" into {k} classes" + (" with smoothing" if smoothing else "")
    check_memory(needed, what)
