"""The spatial model on a CUDA GPU through CuPy (backend ``'cupy'``).

:class:`GpuPlanes` holds an image's features, mask, log-likelihood and posterior planes
on the device and has the interface of :class:`._planes.Planes` (its CPU twin), so the
same driver (:func:`._planes.iter_hmrf_planes`) runs HMRF-EM on either; on the GPU the
M-step uses every valid voxel. Transfers go through pinned host buffers, chunk by chunk,
alternating two streams so that the host-side copy of one chunk overlaps the transfer of
the previous one. CuPy is imported only here, only when the backend is used.
"""

from __future__ import annotations

import numpy as np

from .._nb_estep import kernel_params
from ._gpu_kernels import MAX_CHANNELS, MAX_CLASSES, MAX_MOMENTS, THREADS, grid, kernel
from ._moments import n_moments, update_from_moments

#: Bytes per transfer chunk.
CHUNK_BYTES = 1 << 26


def supported(spatial_shape, n_classes: int, n_channels: int) -> bool:
    """Whether the CUDA kernels handle this image and mixture."""
    return (
        1 <= len(spatial_shape) <= 3
        and n_classes <= MAX_CLASSES
        and n_channels <= MAX_CHANNELS
        and n_moments(n_classes, n_channels) <= MAX_MOMENTS
    )


def device_dtype(dtype) -> np.dtype:
    """float32 on the device, float64 for float64 and wide integers (exact values)."""
    dtype = np.dtype(dtype)
    if dtype == np.float64 or (dtype.kind in "iu" and dtype.itemsize >= 4):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


class _Pinned:
    """Two pinned host buffers and two streams for chunked, overlapped transfers."""

    def __init__(self, cp, nbytes):
        self.buffers = [cp.cuda.alloc_pinned_memory(nbytes) for _ in range(2)]
        self.streams = [cp.cuda.Stream(non_blocking=True) for _ in range(2)]
        self.events = [None, None]

    def view(self, j, dtype, count):
        return np.frombuffer(self.buffers[j], dtype=dtype, count=count)

    def wait(self, j):
        if self.events[j] is not None:
            self.events[j].synchronize()

    def record(self, j):
        self.events[j] = self.streams[j].record()


def to_device(host: np.ndarray):
    """A 1D/2D C-contiguous host array on the device (pinned, chunked, overlapped)."""
    import cupy as cp

    flat = host.reshape(-1)
    out = cp.empty(flat.shape, dtype=flat.dtype)
    step = max(1, CHUNK_BYTES // flat.itemsize)
    pinned = _Pinned(cp, min(flat.nbytes, CHUNK_BYTES) or 1)
    for c, start in enumerate(range(0, flat.size, step)):
        j = c % 2
        stop = min(flat.size, start + step)
        pinned.wait(j)
        buf = pinned.view(j, flat.dtype, stop - start)
        buf[...] = flat[start:stop]
        out[start:stop].set(buf, stream=pinned.streams[j])
        pinned.record(j)
    for j in range(2):
        pinned.wait(j)
    return out.reshape(host.shape)


def to_host(dev, out: np.ndarray | None = None) -> np.ndarray:
    """A device array copied into `out` (a new array by default), chunked and overlapped."""
    import cupy as cp

    flat = dev.reshape(-1)
    result = np.empty(dev.shape, dtype=dev.dtype) if out is None else out
    target = result.reshape(-1)
    step = max(1, CHUNK_BYTES // flat.itemsize)
    pinned = _Pinned(cp, min(flat.nbytes, CHUNK_BYTES) or 1)
    cp.cuda.get_current_stream().synchronize()
    pending = [None, None]
    for c, start in enumerate(range(0, flat.size, step)):
        j = c % 2
        stop = min(flat.size, start + step)
        if pending[j] is not None:
            pinned.wait(j)
            s0, s1 = pending[j]
            target[s0:s1] = pinned.view(j, flat.dtype, s1 - s0)
        buf = pinned.view(j, flat.dtype, stop - start)
        flat[start:stop].get(stream=pinned.streams[j], out=buf, blocking=False)
        pinned.record(j)
        pending[j] = (start, stop)
    for j in range(2):
        if pending[j] is not None:
            pinned.wait(j)
            s0, s1 = pending[j]
            target[s0:s1] = pinned.view(j, flat.dtype, s1 - s0)
    return result


class GpuPlanes:
    """Device-resident planes of one image: the GPU twin of :class:`._planes.Planes`.

    Parameters
    ----------
    features : (N, C) host array
        Pixel features; uploaded once (as float32, or float64 when needed for exact values).
    valid : (N,) bool host array or None
        Voxels to segment; voxels with non-finite features are excluded on the device.
    spatial_shape, n_classes, kernel, axis_weights, beta, count
        As :class:`._planes.Planes`.
    """

    def __init__(self, features, valid, spatial_shape, n_classes, kernel_, axis_weights, beta,
                 count=None):
        import cupy as cp
        from cupyx.scipy import ndimage as cnd

        from ._planes import volume_shape
        from ._stop_sample import count_axes, n_counted, volume_masks

        self.cp = cp
        n, c = features.shape
        self.n, self.n_classes, self.n_channels = n, n_classes, c
        host = np.ascontiguousarray(features)
        self.x = to_device(host)
        dtype = device_dtype(host.dtype)
        if self.x.dtype != dtype:
            self.x = self.x.astype(dtype)
        if valid is None:
            self.valid = cp.ones(n, dtype=cp.uint8)
        else:
            self.valid = to_device(np.ascontiguousarray(valid, dtype=bool).view(np.uint8))
        kernel("finite", dtype)(grid(n), (256,), (self.x, np.int64(n), np.int32(c), self.valid))
        self.n_valid = int(self.valid.sum(dtype=cp.int64))
        self.masked = self.n_valid < n
        self.spatial_shape = tuple(spatial_shape)
        self.shape = volume_shape(spatial_shape)
        pad = 3 - len(spatial_shape)
        self.weights = np.array((0.0,) * pad + tuple(axis_weights), dtype=np.float32)
        self.beta = np.float32(beta)
        self.scale = cp.zeros(1, dtype=cp.float32)
        if self.masked and beta > 0:
            ok = self.valid.reshape(spatial_shape).astype(cp.float32)
            present = cnd.correlate(ok, cp.asarray(kernel_), mode="constant")
            safe = cp.where(present > 0, present, 1)
            self.scale = cp.where(present > 0, np.float32(beta) / safe, 0).astype(cp.float32)
            self.scale = self.scale.reshape(-1)
        self.lp = cp.empty((n_classes, n), dtype=cp.float32)
        self.q = cp.empty_like(self.lp)
        self.spare = None
        self.labels = cp.zeros(n, dtype=cp.uint8)
        self.changed = cp.zeros(1, dtype=cp.uint64)
        count = count_axes(spatial_shape) if count is None else count
        self.count = tuple(cp.asarray(m) for m in volume_masks(count))
        self.n_counted = n_counted(
            count, self.valid.reshape(spatial_shape) if self.masked else None)
        self.log_likelihood = None

    def set_model(self, gmm, features=None, last=False) -> None:
        """Log-likelihood planes of `gmm` (the features are those on the device). With
        `last` (the final mixture), also its mean log-likelihood over the valid voxels
        (:attr:`log_likelihood`), from the same pass, as :class:`._planes.Planes`."""
        cp = self.cp
        means, prec, const = (cp.asarray(a) for a in kernel_params(gmm))
        blocks = cp.zeros(grid(self.n)[0] if last else 1, dtype=cp.float64)
        kernel("loglik", self.x.dtype)(
            grid(self.n), (THREADS,),
            (self.x, self.valid, np.int32(self.masked), np.int64(self.n),
             np.int32(self.n_classes), np.int32(self.n_channels), means, prec, const, self.lp,
             blocks, np.int32(bool(last))),
        )
        if last:
            self.log_likelihood = float(blocks.sum()) / self.n_valid

    def plain(self) -> None:
        kernel("plain")(
            grid(self.n), (256,),
            (self.lp, self.q, self.labels, self.valid, np.int32(self.masked), np.int64(self.n),
             np.int32(self.n_classes)),
        )

    def sweep(self) -> int:
        """One mean-field sweep; returns the number of labels that changed."""
        if self.spare is None:
            self.spare = self.cp.empty_like(self.q)
        self.changed[...] = 0
        nz, ny, nx = (np.int32(v) for v in self.shape)
        masked = np.int32(self.masked and self.beta > 0)
        kernel("sweep")(
            grid(self.n), (256,),
            (self.lp, self.q, self.spare, self.labels, self.scale, self.valid, masked, nz, ny,
             nx, np.int32(self.n_classes), *self.weights, self.beta, *self.count,
             self.changed),
        )
        self.q, self.spare = self.spare, self.q
        return int(self.changed.get()[0])

    def iter_sweeps(self, n_iter, stop_changed=None):
        """As :meth:`._planes.Planes.iter_sweeps`."""
        for sweep in range(int(n_iter)):
            changed = self.last_changed = self.sweep()
            yield
            if stop_changed is not None and changed < stop_changed * self.n_counted:
                return sweep + 1
        return int(n_iter)

    def moments(self, shift) -> np.ndarray:
        """Weighted moments (K, 1 + C + C^2) of every valid voxel around `shift` (K, C)."""
        cp = self.cp
        k, c = self.n_classes, self.n_channels
        out = cp.zeros((k, 1 + c + c * c), dtype=cp.float64)
        blocks = (cp.cuda.Device().attributes["MultiProcessorCount"] * 8,)
        kernel("moments", self.x.dtype)(
            blocks, (256,),
            (self.x, self.q, self.valid, np.int32(self.masked), np.int64(self.n), np.int32(k),
             np.int32(c), cp.asarray(shift, dtype=cp.float64), out),
        )
        return out.get()

    def full_mstep(self, gmm, features=None) -> None:
        """M-step of `gmm` in place from every valid voxel."""
        shift = np.asarray(gmm.means_, dtype=np.float64)
        update_from_moments(gmm, self.moments(shift), shift, self.n_valid)

    def posterior_block(self, box) -> np.ndarray:
        """The posteriors of the block `box` (slices of the spatial shape) on the host,
        pixel-major (*block, K): what the temperature is fitted on
        (:func:`._calibrate.held_out_temperature`), without copying the rest."""
        q = self.q.reshape(self.n_classes, *self.spatial_shape)[(slice(None), *box)]
        return np.moveaxis(q.get(), 0, -1)

    def temper(self, temperature) -> None:
        """Temper the posteriors on the device (``q^(1/T)`` renormalised; labels kept)."""
        if temperature != 1.0:
            kernel("temper")(
                grid(self.n), (256,),
                (self.q, np.int64(self.n), np.int32(self.n_classes),
                 np.float32(1.0 / float(temperature))),
            )

    def finish(self, order, posteriors=True):
        """Host labels (uint8), max posterior and, if asked, pixel-major posteriors (N, K)."""
        cp = self.cp
        self.lp = self.spare = None  # freed before the outputs take their place
        labels = cp.empty(self.n, dtype=cp.uint8)
        prob = cp.empty(self.n, dtype=cp.float32)
        post = cp.empty((self.n, self.n_classes) if posteriors else (1,), dtype=cp.float32)
        kernel("finish")(
            grid(self.n), (256,),
            (self.q, cp.asarray(order, dtype=cp.int64), np.int64(self.n),
             np.int32(self.n_classes), labels, prob, post, np.int32(bool(posteriors))),
        )
        self.q = None
        return to_host(labels), to_host(prob), (to_host(post) if posteriors else None)

    def host_labels(self) -> np.ndarray:
        """The labels of the last sweep (argmax + 1 of the current posteriors)."""
        return to_host(self.labels)
