"""Hypothesis strategies and checks shared by the property tests.

Images of 1-5 dimensions (degenerate ones included), every numeric dtype (bool, float16,
int64, big-endian...), in several memory layouts (C, Fortran, strided views, read-only,
memmap), with NaN/inf holes and constant or few-valued content.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = (
    "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", ">u2", ">i4", ">i8", ">f4", ">f8",
)
LAYOUTS = ("C", "F", "strided", "readonly", "memmap")

#: Words one of which every error message must contain: it says how to fix the input.
FIX_WORDS = re.compile(
    r"\b(use|pass|give|rescale|upgrade|install|choose|check|convert|increase|reduce|replace|remove|set|lower|raise|"
    r"fit|save|select|cast|compute|fewer|at least|at most|must|allowed|expected|only)\b",
    re.IGNORECASE,
)

_MEMMAP_DIR = tempfile.TemporaryDirectory(prefix="napari-gmm-props-")


def shapes(min_dims=1, max_dims=5, max_side=7, max_size=600):
    """Array shapes of 1-5 axes with at most `max_size` elements (sides of 1 allowed)."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side
    ).filter(lambda s: int(np.prod(s)) <= max_size)


@st.composite
def values(draw, dtype, shape):
    """An array of `dtype` and `shape`: random, few-valued, constant, with NaN/inf holes."""
    dtype = np.dtype(dtype)
    kind = draw(st.sampled_from(("random", "few", "constant")))
    native = dtype.newbyteorder("=")
    if dtype.kind == "f":
        finite = {"float16": 32768.0, "float32": 2.0**100, "float64": 2.0**1000}[native.name]
        width = 16 if native.itemsize == 2 else 32 if native.itemsize == 4 else 64
        big = draw(st.sampled_from((1e3, min(finite, 2.0**150), finite)))
        elements = st.floats(-big, big, allow_nan=False, allow_infinity=False, width=width)
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        info = np.iinfo(native)
        small = draw(st.booleans())
        lo, hi = (max(info.min, -50), min(info.max, 300)) if small else (info.min, info.max)
        elements = st.integers(int(lo), int(hi))
    if kind == "random":
        arr = draw(hnp.arrays(native, shape, elements=elements))
    else:
        n = 1 if kind == "constant" else draw(st.integers(2, 4))
        pool = draw(st.lists(elements, min_size=n, max_size=n))
        index = draw(hnp.arrays(np.intp, shape, elements=st.integers(0, n - 1)))
        arr = np.asarray(pool, dtype=native)[index]
    if dtype.kind == "f" and arr.size and draw(st.booleans()):
        holes = draw(hnp.arrays(bool, shape, elements=st.booleans()))
        fill = draw(st.sampled_from((np.nan, np.inf, -np.inf)))
        arr = arr.copy()
        arr[holes] = fill
    return arr.astype(dtype)


@st.composite
def laid_out(draw, arr):
    """`arr` in one of several memory layouts (equal values, different strides / flags)."""
    layout = draw(st.sampled_from(LAYOUTS))
    if layout == "F":
        return np.asfortranarray(arr), layout
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in arr.shape), dtype=arr.dtype)
        view = big[tuple(slice(None, None, 2) for _ in arr.shape)]
        view[...] = arr
        return view, layout
    if layout == "readonly":
        out = arr.copy()
        out.flags.writeable = False
        return out, layout
    if layout == "memmap":
        path = Path(_MEMMAP_DIR.name) / f"m{draw(st.integers(0, 10**9))}.dat"
        mm = np.memmap(path, dtype=arr.dtype, mode="w+", shape=arr.shape)
        mm[...] = arr
        mm.flush()
        return np.memmap(path, dtype=arr.dtype, mode="r", shape=arr.shape), layout
    return np.ascontiguousarray(arr), layout


@st.composite
def images(draw, dtypes=DTYPES, **shape_kw):
    """(image, layout) with a random dtype, shape, content and memory layout."""
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(shapes(**shape_kw))
    return draw(laid_out(draw(values(dtype, shape))))


def check_error(err: BaseException) -> None:
    """A ValueError / TypeError message that says what was wrong and how to fix it."""
    assert isinstance(err, ValueError | TypeError), repr(err)
    message = str(err)
    assert len(message) > 30, message
    assert FIX_WORDS.search(message), message


def snapshot(arr) -> tuple:
    """What must not change when a function reads `arr`: bytes, dtype, shape, flags."""
    return (np.array(arr, copy=True).tobytes(), arr.dtype, arr.shape, arr.flags.writeable)


def valid_pixels(image, channel_axis=None) -> np.ndarray:
    """True where every channel of the image is finite (the pixels that get a label)."""
    arr = np.asarray(image)
    finite = np.isfinite(arr) if arr.dtype.kind == "f" else np.ones(arr.shape, bool)
    return finite if channel_axis is None else finite.all(axis=channel_axis)


def check_segmentation(seg, image, n_components, channel_axis=None) -> None:
    """Labels, probability and posteriors of a valid result, as documented."""
    valid = valid_pixels(image, channel_axis)
    spatial = valid.shape
    assert seg.labels.shape == spatial
    assert seg.labels.dtype.kind == "u"
    assert seg.probability.shape == spatial
    assert seg.probability.dtype == np.float32
    k = seg.model.n_components
    assert k == n_components or n_components == "auto"
    assert seg.labels.min() >= 0 and seg.labels.max() <= k
    np.testing.assert_array_equal(seg.labels == 0, ~valid)
    prob = seg.probability
    assert np.isfinite(prob).all()
    assert (prob >= 0).all() and (prob <= 1).all()
    assert (prob[~valid] == 0).all()
    # the max posterior of K classes is at least 1/K
    assert (prob[valid] >= 1.0 / k - 1e-5).all()
    if seg.posteriors is not None:
        post = seg.posteriors
        assert post.shape == (*spatial, k)
        np.testing.assert_allclose(post[valid].sum(axis=-1), 1.0, atol=1e-4)
        np.testing.assert_array_equal(post[valid].argmax(axis=-1) + 1, seg.labels[valid])


def bounded(n: int):
    """`settings` for an expensive property: `n` cases in the suite's ``ci`` profile,
    at least 300 in ``thorough``."""
    import os

    from hypothesis import settings

    thorough = os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci"
    return settings(max_examples=max(n, 300) if thorough else n)


def outcome(func, *args, quiet=(), **kwargs):
    """Call func: its result, or None after checking the ValueError / TypeError it raised
    (see :func:`check_error`). Warnings of the categories in `quiet` are silenced."""
    import warnings

    with warnings.catch_warnings():
        for category in quiet:
            warnings.simplefilter("ignore", category)
        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError) as err:
            check_error(err)
            return None
