"""Device memory of the GPU route: what an image's spatial model needs on the GPU, and
whether the device has it free.

The in-memory GPU route (:mod:`._gpu_hmrf`) holds the whole image's planes on the device:
when they do not fit the memory free there (a large volume on a small GPU), the spatial
model runs on the CPU kernels instead, with a warning, rather than stopping half-way with
CuPy's out-of-memory error; ``seg.backend`` then says ``'numba'``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._gpu import device_dtype

#: Share of the free device memory the route may plan to use (the rest: the memory
#: pool's rounding and fragmentation, CuPy's own buffers).
USABLE = 0.9


def device_bytes(n_voxels: int, n_classes: int, n_channels: int, host_dtype,
                 masked: bool) -> int:
    """Most device bytes :class:`._gpu.GpuPlanes` holds at once for an image: the upload
    (features in their host dtype, then converted), the scale of a masked image (its
    float32 temporaries), and the steady state of the sweeps (features, mask, labels,
    log-likelihood, posterior and spare planes: 12 bytes per voxel and class); the
    finish (labels, probability, pixel-major posteriors beside the posteriors, after the
    log-likelihood and spare planes are freed) needs less.

    Examples
    --------
    >>> device_bytes(10**6, 3, 1, np.float32, masked=False)  # 4 + 1 + 1 + 36 per voxel
    42096786
    """
    n, host, dev = int(n_voxels), np.dtype(host_dtype), device_dtype(host_dtype)
    features = n * n_channels * dev.itemsize
    upload = n * n_channels * (host.itemsize + dev.itemsize) if host != dev else features
    scale = features + n + 22 * n if masked else 0  # ok, present, safe, masks, where, cast
    steady = features + 2 * n + (4 * n if masked else 0) + 12 * n_classes * n
    small = n // 32 + (1 << 16)  # per-block log-likelihood sums, the mixture, counters
    return int(max(upload, scale, steady) + small)


def free_device_bytes() -> int:
    """Bytes free on the current device, counting those CuPy's memory pool holds free."""
    import cupy as cp

    free, _total = cp.cuda.Device().mem_info
    return int(free) + int(cp.get_default_memory_pool().free_bytes())


def spatial_model_fits(n_voxels: int, n_classes: int, n_channels: int, dtype,
                       masked: bool = False) -> bool:
    """Whether :func:`device_bytes` of an image fits :data:`USABLE` of the free memory."""
    need = device_bytes(n_voxels, n_classes, n_channels, dtype, masked)
    return need <= USABLE * free_device_bytes()


def fits_device(data, n_classes: int) -> bool:
    """Whether the spatial model of `data` (PixelData) fits the device's free memory;
    warns (RuntimeWarning) when it does not."""
    image = (data.n_pixels, n_classes, data.n_features, data.features.dtype,
             data.valid is not None)
    if spatial_model_fits(*image):
        return True
    need, free = device_bytes(*image), free_device_bytes()
    warnings.warn(
        f"The GPU has {free / 2**30:.2f} GiB free and the spatial model of this image needs "
        f"about {need / 2**30:.2f} GiB there: it runs on the CPU kernels instead "
        "(seg.backend says which ran). Free GPU memory (other processes, "
        "cupy.get_default_memory_pool().free_all_blocks()), or segment the image as a dask "
        "array, whose blocks fit.",
        RuntimeWarning,
        stacklevel=2,
    )
    return False
