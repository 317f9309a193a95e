"""Exact compression of integer pixel data to its distinct values and their counts.

An integer image usually holds far fewer distinct values (or colours) than pixels, and a
Gaussian mixture fitted by EM only depends on the data through per-value sums. Fitting on
the distinct values weighted by their counts is therefore exact, and any per-pixel result is
a table lookup: compute one row per distinct value, then :meth:`Compressed.take` it.

Memory: gray 8- and 16-bit images (and bool) are indexed by the pixel value itself, so no
per-pixel array is allocated at all; other images keep one ``uint32`` (or ``uint64``/``intp``)
code per pixel. Counting and remapping run in chunks to keep temporaries small.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np

#: Default largest number of distinct values/colours for which compression is used.
#: EM cost grows linearly with the number of rows it runs on. Measured on one core, one E+M
#: step on 2**18 weighted rows takes ~100 ms for a 3-channel 'full' mixture with K=4 (~65 ms
#: gray, K=3), against ~65 ms for scikit-learn on a 200,000-pixel subsample of the
#: fallback path: at this bound the exact path costs at most ~1.5x the approximate one,
#: while 8-bit gray/RGB images and most 16-bit images stay far below it.
MAX_UNIQUE = 2**18

# Rows per chunk when counting/remapping codes: bounds int64 temporaries to 8 MB.
_CHUNK = 1 << 20
# Largest code range counted with np.bincount (int64 counts: 256 MB). Beyond that, or when
# the range exceeds the number of pixels (counts would take more than 8 bytes per pixel),
# sorting the codes (np.unique) is used instead.
_MAX_BINCOUNT_RANGE = 1 << 25
# Largest code range for which `take` pads the table to the whole range instead of
# remapping each pixel's code to a row number once.
_MAX_PADDED_RANGE = 1 << 16


@dataclass(frozen=True, eq=False)
class Compressed:
    """Distinct feature vectors of integer pixel data, their counts and the way back.

    Attributes
    ----------
    values : (U, C) ndarray of float64
        The distinct feature vectors that occur, in ascending (lexicographic) order.
    counts : (U,) ndarray of int64
        How many pixels hold each distinct vector; all > 0, summing to ``n_pixels``.
    n_pixels : int
        Number of rows of the compressed features.
    """

    values: np.ndarray
    counts: np.ndarray
    n_pixels: int
    # Per-pixel index: either a row of `values` (when `_rows` is None) or a code, with
    # `_rows[i]` the code of row i and codes in range(_n_codes).
    _index: np.ndarray = field(repr=False)
    _rows: np.ndarray | None = field(default=None, repr=False)
    _n_codes: int = field(default=0, repr=False)

    def take(self, table: np.ndarray) -> np.ndarray:
        """Expand a per-distinct-value table to a per-pixel array.

        Parameters
        ----------
        table : (U, ...) array_like
            One row per row of :attr:`values` (for example labels, probabilities or
            log-probabilities computed on ``values``).

        Returns
        -------
        out : (n_pixels, ...) ndarray
            ``table[inverse]`` in the input pixel order, with the dtype of `table`.

        Raises
        ------
        ValueError
            If `table` does not have one row per distinct value.
        """
        table = np.asarray(table)
        if table.ndim == 0 or table.shape[0] != self.values.shape[0]:
            raise ValueError(
                f"The table must have one row per distinct value ({self.values.shape[0]}), "
                f"got shape {table.shape}."
            )
        if self._rows is None:
            return table[self._index]
        padded = np.zeros((self._n_codes, *table.shape[1:]), dtype=table.dtype)
        padded[self._rows] = table
        # Fancy indexing with a small unsigned index is buffered by numpy: no intp copy of
        # the per-pixel index is made (np.take would make one).
        return padded[self._index]


def compress_integer(features: np.ndarray, *, max_unique: int = MAX_UNIQUE) -> Compressed | None:
    """Compress integer pixel data exactly to distinct values and counts.

    Parameters
    ----------
    features : (n_pixels, C) ndarray of an integer or bool dtype
        One row per pixel (C=1 gray, 3 RGB, any C). May be a non-contiguous view; it is never
        modified, and for gray 8/16-bit or bool data it is referenced (not copied) by the
        result.
    max_unique : int, default=MAX_UNIQUE (2**18)
        Largest number of distinct values/colours accepted.

    Returns
    -------
    compressed : Compressed or None
        None when there are more than `max_unique` distinct rows (the caller should then
        fit a subsample instead).

    Raises
    ------
    TypeError
        If `features` is not of an integer or bool dtype.
    ValueError
        If `features` is not 2-D or `max_unique` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> c = compress_integer(np.array([[3], [1], [3], [3]], dtype=np.uint8))
    >>> c.values[:, 0], c.counts
    (array([1., 3.]), array([1, 3]))
    >>> c.take(np.array([10, 30]))
    array([30, 10, 30, 30])
    """
    features = np.asarray(features)
    if features.dtype.kind not in "biu":
        raise TypeError(
            f"compress_integer needs integer or bool features, got dtype {features.dtype}."
        )
    if features.ndim != 2:
        raise ValueError(f"features must be 2-D (n_pixels, C), got shape {features.shape}.")
    try:
        max_unique = operator.index(max_unique)
    except TypeError:
        raise ValueError(f"max_unique must be a positive integer, got {max_unique!r}.") from None
    if max_unique < 1:
        raise ValueError(f"max_unique must be a positive integer, got {max_unique}.")
    if features.dtype == bool:
        features = features.view(np.uint8)  # same itemsize: a view even when strided
    if features.shape[0] == 0:
        return Compressed(
            np.empty((0, features.shape[1])), np.empty(0, np.int64), 0, np.empty(0, np.intp)
        )
    if features.shape[1] == 1 and features.dtype.itemsize <= 2:
        return _compress_small_gray(features, max_unique)
    return _compress_packed(features, max_unique)


def chunked_bincount(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """``np.bincount(codes, minlength=n_codes)`` in chunks (bounded intp temporaries)."""
    counts = np.zeros(n_codes, dtype=np.int64)
    for start in range(0, codes.shape[0], _CHUNK):
        counts += np.bincount(codes[start : start + _CHUNK], minlength=n_codes)
    return counts


def _compress_small_gray(features: np.ndarray, max_unique: int) -> Compressed | None:
    # The unsigned view of an 8/16-bit column is its own code (negative values of signed
    # types map to the upper half): no per-pixel array is allocated.
    udtype = np.dtype(f"u{features.dtype.itemsize}")
    codes = features[:, 0].view(udtype)
    counts = chunked_bincount(codes, 1 << (8 * udtype.itemsize))
    present = np.flatnonzero(counts)
    if present.size > max_unique:
        return None
    vals = present.astype(udtype).view(features.dtype).astype(np.float64)
    order = np.argsort(vals, kind="stable")  # signed types: negatives first
    rows = present[order]
    return Compressed(
        vals[order][:, None],
        counts[rows],
        int(features.shape[0]),
        codes,
        rows,
        int(present[-1]) + 1,
    )


def _compress_packed(features: np.ndarray, max_unique: int) -> Compressed | None:
    n, n_channels = features.shape
    lo = [int(v) for v in features.min(axis=0)]
    hi = [int(v) for v in features.max(axis=0)]
    ranges = [h - low + 1 for low, h in zip(lo, hi, strict=True)]
    # Constant channels carry no information in the code; they are restored from `lo`.
    packed = [c for c in range(n_channels) if ranges[c] > 1]
    n_codes = int(np.prod([ranges[c] for c in packed], dtype=object)) if packed else 1
    if n_codes > 1 << 64:
        return _compress_rows(features, max_unique)
    cdtype = np.dtype(np.uint32 if n_codes <= 1 << 32 else np.uint64)
    codes = _pack(features, packed, lo, ranges, cdtype)

    if n_codes <= min(_MAX_BINCOUNT_RANGE, max(_CHUNK, n)):
        counts = chunked_bincount(codes, n_codes)
        present = np.flatnonzero(counts)
        if present.size > max_unique:
            return None
        row_counts = counts[present]
        if n_codes <= _MAX_PADDED_RANGE:
            values = _unpack(present, features.dtype, packed, lo, ranges)
            return Compressed(values, row_counts, n, codes, present, n_codes)
        lookup = counts  # reuse the counts' memory as the code -> row lookup
        lookup[present] = np.arange(present.size)
        uniq = present
    else:
        # np.unique sorts a copy of the codes; the per-pixel rows come from a binary search
        # in place of the codes, which avoids the intp argsort/inverse of return_inverse.
        uniq, row_counts = np.unique(codes, return_counts=True)
        if uniq.size > max_unique:
            return None
        lookup = None
    for start in range(0, n, _CHUNK):
        chunk = codes[start : start + _CHUNK]
        chunk[...] = np.searchsorted(uniq, chunk) if lookup is None else lookup[chunk]
    values = _unpack(uniq, features.dtype, packed, lo, ranges)
    return Compressed(values, row_counts.astype(np.int64), n, codes)


def _pack(features, packed, lo, ranges, cdtype) -> np.ndarray:
    """Mixed-radix code of each row, first packed channel most significant.

    Offsets ``x - min`` are computed modulo 2**bits of the code dtype: the exact offset is
    smaller than the number of codes, so the wrap-around of negative or wide inputs cancels.
    """
    bits = 8 * cdtype.itemsize
    n = features.shape[0]
    codes = np.zeros(n, dtype=cdtype)
    for start in range(0, n, _CHUNK):
        block = features[start : start + _CHUNK]
        acc = codes[start : start + _CHUNK]
        for i, c in enumerate(packed):
            digit = block[:, c].astype(cdtype)
            digit -= cdtype.type(lo[c] % (1 << bits))
            if i:
                acc *= cdtype.type(ranges[c])
            acc += digit
    return codes


def _unpack(codes: np.ndarray, dtype: np.dtype, packed, lo, ranges) -> np.ndarray:
    """Feature vectors (float64) of mixed-radix codes (inverse of :func:`_pack`)."""
    rest = codes.astype(np.uint64)
    values = np.empty((codes.shape[0], len(lo)), dtype=np.float64)
    for c in range(len(lo)):
        values[:, c] = lo[c]
    for i, c in reversed(list(enumerate(packed))):
        digit = rest % np.uint64(ranges[c]) if i else rest
        if i:
            rest //= np.uint64(ranges[c])
        # min + offset modulo 2**64, read back in the input dtype: exact for any width
        raw = digit + np.uint64(lo[c] % (1 << 64))
        signed = np.dtype(dtype).kind == "i"
        values[:, c] = raw.view(np.int64) if signed else raw
    return values


def _compress_rows(features: np.ndarray, max_unique: int) -> Compressed | None:
    # The packed code would not fit in 64 bits (several very wide channels): sort rows.
    uniq, inverse, counts = np.unique(features, axis=0, return_inverse=True, return_counts=True)
    if uniq.shape[0] > max_unique:
        return None
    return Compressed(
        uniq.astype(np.float64), counts.astype(np.int64), features.shape[0], inverse.ravel()
    )
