"""``n_components='auto'`` and :func:`select_n_components` on dask arrays.

The in-memory selection fits every candidate K on one data set: the exact histogram of an
integer image, else a seeded subsample of at most ``max_samples`` valid pixels. On a dask
image the same two data sets are built block by block (:mod:`._fit`: the summed
per-block histograms, or a block-drawn seeded sample), never the image in memory, and the
candidates are then fitted and scored exactly as in memory. Integer images therefore get
the same K (and the same scores) as in memory; float images a K chosen on a sample of the
same size drawn differently.
"""

from __future__ import annotations

import numpy as np

from ._fit import lazy_histogram, lazy_pixels, lazy_sample
from ._histogram import histogram_to_compressed


def lazy_selection_data(image, channel_axis, max_samples, max_distinct, random_state):
    """`selection._candidates.selection_data` of a dask image (one pass over the blocks)."""
    import dask

    pixels = lazy_pixels(image, channel_axis)
    compressed = lazy_compressed(pixels, max_distinct)
    if compressed is not None:
        return pixels.is_integer, pixels.n_features, compressed, None, False
    ((values, n_valid),) = dask.compute(lazy_sample(pixels, max_samples, _seed(random_state)))
    if values.shape[0] == 0:
        raise ValueError(
            "No valid pixel was found in the image: all pixels are non-finite (NaN or inf). "
            "Check the image or replace invalid values first."
        )
    return pixels.is_integer, pixels.n_features, None, values, max_samples < n_valid


def _seed(random_state) -> int:
    """An int seed for the block-drawn sample, from `random_state`."""
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def lazy_compressed(pixels, max_distinct: int):
    """Exact histogram of a gray integer dask image as ``Compressed``, or None."""
    import dask

    if not pixels.is_integer or pixels.n_features != 1 or max_distinct == 0:
        return None
    (hist,) = dask.compute(lazy_histogram(pixels, max_distinct))
    dtype = pixels.array.dtype
    return histogram_to_compressed(hist, dtype, pixels.n_pixels, max_distinct)
