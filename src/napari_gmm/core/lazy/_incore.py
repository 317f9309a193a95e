"""Lazy smoothing in core: a dask image whose smoothing fits in memory runs the in-memory path.

The halo blocks of :mod:`._apply` bound memory for volumes of any size, but they cost time
(halos, two halo passes, each block's first sweep over fresh planes, and the sweeps of the
boxes that find the rounds' number of sweeps, :mod:`._pilot`, the whole image when it is
small). When the whole
image's smoothing working set (the log-likelihood and posterior planes the in-memory path
holds, :func:`~.._resources.segmentation_bytes`, plus the image itself) fits a memory budget
of the same kind as the first round's posterior cache (:mod:`._cache`, which already holds
``4 K`` bytes per voxel of the whole image), the image is read once through dask and
segmented by the in-memory code: the same labels, probability and posteriors as
``segment(np.asarray(image), ...)``, at its speed. The outputs are then dask arrays
wrapping the computed results, chunked like the input, so callers see the same types.

Larger images keep the halo blocks. With a ``dask.distributed`` client the image is read
through the cluster and segmented in this process, so a volume that fits gets the same
result on one machine and on a cluster (the halo blocks too, for integer volumes).
"""

from __future__ import annotations

import numpy as np

#: Most bytes of the in-core working set, whatever the memory available.
MAX_INCORE_BYTES = 4 << 30
#: Share of the memory available now that the in-core working set may take.
INCORE_SHARE = 0.25


def incore_budget() -> int:
    """Bytes an in-core lazy segmentation may take: :data:`INCORE_SHARE` of the available
    memory (``NAPARI_GMM_AVAILABLE_MEMORY`` overrides the reading), at most
    :data:`MAX_INCORE_BYTES`; 0 when the available memory is unknown."""
    from .._resources import memory_budget

    return memory_budget(INCORE_SHARE, MAX_INCORE_BYTES)


def incore_bytes(pixels, dtype, n_components: int, *, posteriors: bool) -> float:
    """Peak bytes of segmenting the dask image of `pixels` (:class:`._fit.LazyPixels`, input
    `dtype`) in memory with smoothing: the image, its outputs and the smoothing planes (a
    lower bound, as the in-memory memory check)."""
    from .._backend import get_backend
    from .._resources import segmentation_bytes

    n_pixels = int(np.prod(pixels.spatial_shape, dtype=np.int64))
    itemsize = 4 if dtype == np.float16 else int(dtype.itemsize)
    return n_pixels * pixels.n_features * itemsize + segmentation_bytes(
        n_pixels, n_components, smoothing=1.0, posteriors=posteriors, backend=get_backend()
    )


def runs_in_core(image, n_components, opts: dict) -> bool:
    """Whether lazy smoothing of the dask `image` with checked options `opts` runs in core
    (see the module docstring).

    Only smoothing (a strength, 'auto' or 'held-out'), mean-field marginals and no bias
    field: the other options keep their lazy routes (and errors) whatever the image's size.
    'auto' classes count as 8.
    """
    from ._fit import lazy_pixels

    smoothing = opts["smoothing"]
    if not (isinstance(smoothing, str) or smoothing > 0) or opts["bias_field"] is not None:
        return False
    if opts["marginals"] != "mean-field":
        return False
    pixels = lazy_pixels(image, opts["channel_axis"])  # the lazy checks and errors first
    k = n_components if isinstance(n_components, int) else 8
    budget = incore_budget()
    needed = incore_bytes(pixels, image.dtype, k, posteriors=bool(opts["return_posteriors"]))
    return budget > 0 and needed <= budget


def _iter_in_core(image, channel_axis, steps_of):
    """Read the dask `image` into memory and run the in-memory steps ``steps_of(array)`` on
    it (generator: yields progress, returns their result with dask outputs)."""
    from ..progress import rescale

    yield 0.01, "reading the image into memory"
    result = yield from rescale(steps_of(np.asarray(image.compute())), 0.05, 0.95)
    return as_lazy(result, image, channel_axis)


def iter_segment_in_core(image, n_components, options: dict, checked, start):
    """The in-memory segmentation of the dask `image` (generator: yields progress, returns
    the :class:`~.._result.Segmentation` with dask outputs)."""
    from ..pipeline._image import iter_segment_image

    def steps_of(data):
        # segment_steps only serves 'auto' classes with a bias field, which stays lazy
        return iter_segment_image(data, n_components, options, checked, partial=False,
                                  start=start, segment_steps=None)

    return (yield from _iter_in_core(image, checked.as_dict()["channel_axis"], steps_of))


def iter_apply_in_core(image, apply_steps, *, channel_axis, **options):
    """`apply_steps` (:func:`~.._apply.iter_apply_image` with its model) on the dask `image`
    read into memory (generator: yields progress, returns the result with dask outputs)."""
    return (yield from _iter_in_core(
        image, channel_axis, lambda data: apply_steps(data, channel_axis=channel_axis, **options)
    ))


def as_lazy(result, image, channel_axis):
    """`result` (an in-memory :class:`~.._result.Segmentation`) with its per-voxel arrays as
    dask arrays chunked like the spatial axes of the dask `image`."""
    import dataclasses

    import dask.array as da

    chunks = list(image.chunks)
    if channel_axis is not None:
        del chunks[int(channel_axis) % image.ndim]
    chunks = tuple(chunks)
    posteriors = result.posteriors
    if posteriors is not None:
        posteriors = da.from_array(posteriors, chunks=(*chunks, -1))
    return dataclasses.replace(
        result,
        labels=da.from_array(result.labels, chunks=chunks),
        probability=da.from_array(result.probability, chunks=chunks),
        posteriors=posteriors,
    )
