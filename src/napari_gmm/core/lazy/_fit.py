"""The fit stage on dask arrays: one pass over the blocks, never the whole image in memory.

- Gray integer images (bool, 8/16-bit, and wider integers with at most ``max_distinct``
  distinct values): every block is reduced to a histogram of its values, the histograms are
  summed, and the exact weighted EM runs on the distinct values and their counts. The
  :class:`~._compress.Compressed` handed to :func:`~._fit.fit_on_distinct` is the one the
  in-memory path builds, so the model is identical.
- Float images, multichannel integer images (exact colour histograms across blocks are not
  implemented) and integer images with too many distinct values: a seeded random sample of
  valid pixels is drawn block by block (each pixel kept with probability
  ``max_samples / n_pixels``, seeded by the block's position, so any scheduler draws the same
  sample), put in the image's C order and fitted with :func:`~._fit.fit_on_pixels`. When the
  image has at most ``max_samples`` pixels every valid pixel is kept and the model equals the
  in-memory one.

dask is imported only when a dask array is actually given, so numpy-only use stays cheap.
Every function passed into a task graph is a module-level function taking plain arrays or a
``GaussianMixture``, so graphs pickle for ``dask.distributed``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from .._dtypes import to_working_lazy
from .._features import PixelData, check_magnitude
from ..fit._compress import Compressed
from ._histogram import block_histogram, merge_histograms

#: Blocks summed per task in tree reductions (bounds the partial results held at once).
FAN_IN = 16


def is_dask_array(image) -> bool:
    """Whether `image` is a dask array (without importing dask when it is not loaded)."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(image, module.Array)


@dataclass(frozen=True, eq=False)
class LazyPixels:
    """A dask image as ``(*spatial, C)`` blocks, the channels in one chunk.

    Attributes
    ----------
    array : dask.array.Array
        Shape ``(*spatial_shape, n_features)``; bool as uint8, float16 as float32.
    spatial_shape : tuple of int
    """

    array: object
    spatial_shape: tuple[int, ...]

    @property
    def n_features(self) -> int:
        return int(self.array.shape[-1])

    @property
    def n_pixels(self) -> int:
        return int(np.prod(self.spatial_shape, dtype=np.int64))

    @property
    def is_integer(self) -> bool:
        return self.array.dtype.kind in "biu"

    @property
    def spatial_chunks(self) -> tuple:
        return self.array.chunks[:-1]


def lazy_pixels(image, channel_axis=None) -> LazyPixels:
    """Check a dask image as :func:`~._features.pixel_data` checks arrays (no computing)."""
    from .._validation import check_channel_axis

    check_known_chunks(image)
    kind = image.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"image must be a numeric array (bool, integer or float), got dtype {image.dtype}. "
            "Convert it first, e.g. image.astype(float)."
        )
    if image.ndim == 0 or any(n == 0 for n in image.shape):
        raise ValueError(
            f"image is empty or a scalar (shape {image.shape}); it needs at least one pixel."
        )
    axis = check_channel_axis(image.ndim, channel_axis)
    arr = image
    # big-endian, float16, longdouble: converted once, block by block
    arr = arr.astype(np.uint8) if arr.dtype == bool else to_working_lazy(arr)
    arr = arr[..., None] if axis is None else _move_axis_last(arr, axis)
    arr = arr.rechunk({arr.ndim - 1: -1})
    if arr.shape[-1] == 0:
        raise ValueError(
            f"The channel axis {channel_axis} of the image (shape {image.shape}) has length "
            "0; a multichannel image needs at least one channel."
        )
    return LazyPixels(arr, tuple(int(n) for n in arr.shape[:-1]))


def check_known_chunks(image) -> None:
    """ValueError for a dask array of unknown chunk sizes (e.g. after boolean indexing)."""
    if any(np.isnan(n) for n in image.shape):
        raise ValueError(
            f"The dask image has unknown chunk sizes (shape {image.shape}), e.g. after boolean "
            "indexing; its pixels cannot be placed. Call image.compute_chunk_sizes() first, "
            "or index with known bounds."
        )


def _move_axis_last(arr, axis):
    import dask.array as da

    return da.moveaxis(arr, axis, -1)


def block_pixel_data(block: np.ndarray) -> PixelData:
    """:class:`PixelData` of one ``(*spatial, C)`` block; ``n_valid`` may be 0."""
    features = block.reshape(-1, block.shape[-1])
    valid = None
    n_valid = features.shape[0]
    if features.dtype.kind == "f":
        finite = np.isfinite(features).all(axis=1)
        n_valid = int(np.count_nonzero(finite))
        if n_valid < features.shape[0]:
            valid = finite
    return PixelData(features, tuple(block.shape[:-1]), valid, n_valid)


def tree_sum(parts: list):
    """Sum delayed partial results in a tree of fan-in :data:`FAN_IN` (one delayed value)."""
    from dask import delayed

    while len(parts) > 1:
        parts = [delayed(_sum_parts)(*parts[i : i + FAN_IN]) for i in range(0, len(parts), FAN_IN)]
    return parts[0]


def _sum_parts(*parts):
    """Element-wise sum of tuples (or arrays) of partial results; None marks 'too many'."""
    if any(part is None for part in parts):
        return None
    if isinstance(parts[0], tuple):
        return tuple(_sum_parts(*items) for items in zip(*parts, strict=True))
    if isinstance(parts[0], dict):  # sparse histograms: value -> count
        return merge_histograms(parts)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


# --------------------------------------------------------------------------- histograms


def lazy_histogram(pixels: LazyPixels, max_distinct: int):
    """Delayed histogram of a gray integer dask image (None beyond `max_distinct` values)."""
    from dask import delayed

    blocks = pixels.array.to_delayed().ravel()
    return tree_sum([delayed(block_histogram)(b, max_distinct) for b in blocks])


# --------------------------------------------------------------------------- samples


def _block_sample(block, offset, shape, rate, seed, index):
    """Valid pixels of a block kept with probability `rate`, and their global flat indices."""
    data = block_pixel_data(block)
    keep = np.ones(data.n_pixels, bool) if data.valid is None else data.valid.copy()
    if rate < 1.0:
        rng = np.random.default_rng([seed, *index])
        keep &= rng.random(data.n_pixels) < rate
    rows = np.flatnonzero(keep)
    coords = np.unravel_index(rows, data.spatial_shape)
    flat = np.ravel_multi_index(
        tuple(c + o for c, o in zip(coords, offset, strict=True)), shape
    ).astype(np.int64)
    return data.features[rows].astype(np.float64), flat, data.n_valid


def sample_parts(pixels: LazyPixels, max_samples: int, seed: int) -> list:
    """Delayed ``(values, global flat indices, n_valid)`` of every block: the valid pixels
    each keeps with probability ``max_samples / n_pixels`` (seeded per block)."""
    from dask import delayed

    arr = pixels.array
    rate = min(1.0, max_samples / pixels.n_pixels)
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in arr.chunks[:-1]]
    blocks = arr.to_delayed()
    parts = []
    for index in np.ndindex(*arr.numblocks[:-1]):
        offset = tuple(int(s[i]) for s, i in zip(starts, index, strict=True))
        block = blocks[(*index, 0)]
        parts.append(
            delayed(_block_sample)(block, offset, pixels.spatial_shape, rate, seed, index)
        )
    return parts


def lazy_sample(pixels: LazyPixels, max_samples: int, seed: int):
    """Delayed ``(values in C order, n_valid)``: the seeded sample, and all valid pixels."""
    from dask import delayed

    return delayed(_concat_sample)(sample_parts(pixels, max_samples, seed))


def _concat_sample(parts):
    values = np.concatenate([p[0] for p in parts])
    flat = np.concatenate([p[1] for p in parts])
    order = np.argsort(flat, kind="stable")
    return values[order], sum(p[2] for p in parts)


def sample_pixel_data(sample: np.ndarray, n_valid: int | None = None) -> PixelData:
    """The sample as :class:`PixelData` for :func:`~._fit.fit_on_pixels`."""
    if sample.shape[0] == 0:
        raise ValueError(
            "No valid pixel was found in the sample of the image: all sampled pixels are "
            "non-finite (NaN or inf). Check the image or replace invalid values first."
        )
    if sample.dtype == np.float64:  # as for in-memory images: variances must not overflow
        check_magnitude(sample, None)
    return PixelData(sample, (sample.shape[0],), None, sample.shape[0])


# --------------------------------------------------------------------------- scores


def _block_score(block, gmm):
    """Sum of per-pixel mixture log-likelihoods and the number of valid pixels of a block."""
    from .._predict import mean_log_likelihood

    data = block_pixel_data(block)
    if data.n_valid == 0:
        return np.zeros(2)
    return np.array([mean_log_likelihood(gmm, data) * data.n_valid, data.n_valid])


def lazy_score(pixels: LazyPixels, gmm):
    """Delayed ``[sum of log-likelihoods, n_valid]`` over every pixel (a reduction)."""
    from dask import delayed

    blocks = pixels.array.to_delayed().ravel()
    return tree_sum([delayed(_block_score)(b, gmm) for b in blocks])


def histogram_score(gmm, compressed: Compressed) -> float:
    """Mean log-likelihood over every pixel from the histogram (as the in-memory path)."""
    from .._predict import summarize
    from ..fit._fit import single_threaded_blas
    from ..fit._sklearn_private import weighted_log_prob

    with single_threaded_blas():
        wlp = weighted_log_prob(gmm, compressed.values)
    lse = summarize(wlp, False)[2]
    return float(np.dot(compressed.counts, lse) / compressed.n_pixels)
