"""Histograms of gray integer blocks (dense 8/16-bit counts or sparse dicts) and their sum
as a :class:`~napari_gmm.core.fit._compress.Compressed`."""

from __future__ import annotations

import numpy as np

from ..fit._compress import Compressed


def small_code_dtype(dtype: np.dtype) -> np.dtype | None:
    """The unsigned dtype whose values index an 8/16-bit histogram, or None."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu" and dtype.itemsize <= 2:
        return np.dtype(f"u{dtype.itemsize}")
    return None


def block_histogram(block: np.ndarray, max_distinct: int):
    """Histogram of a gray integer block: dense counts (8/16-bit) or a sparse dict."""
    values = block.reshape(-1)
    udtype = small_code_dtype(values.dtype)
    if udtype is not None:
        return np.bincount(values.view(udtype), minlength=1 << (8 * udtype.itemsize))
    uniq, counts = np.unique(values, return_counts=True)
    if uniq.size > max_distinct:
        return None
    return {"values": uniq, "counts": counts.astype(np.int64), "max": max_distinct}


def merge_histograms(parts):
    values = np.concatenate([p["values"] for p in parts])
    counts = np.concatenate([p["counts"] for p in parts])
    uniq, inverse = np.unique(values, return_inverse=True)
    if uniq.size > parts[0]["max"]:
        return None
    return {
        "values": uniq,
        "counts": np.bincount(inverse.ravel(), weights=counts, minlength=uniq.size).astype(
            np.int64
        ),
        "max": parts[0]["max"],
    }


def histogram_to_compressed(hist, dtype: np.dtype, n_pixels: int, max_distinct: int):
    """The :class:`Compressed` (values, counts) of a summed histogram, or None."""
    if hist is None:
        return None
    if isinstance(hist, dict):
        values, counts = hist["values"], hist["counts"]
    else:
        udtype = small_code_dtype(dtype)
        present = np.flatnonzero(hist)
        values = present.astype(udtype).view(np.dtype(dtype))
        counts = hist[present]
    if values.size > max_distinct:
        return None
    vals = values.astype(np.float64)
    order = np.argsort(vals, kind="stable")  # signed 8/16-bit: negatives first
    return Compressed(vals[order][:, None], counts[order].astype(np.int64), n_pixels, None)

