"""compress_integer: exact round trip, counts, input left untouched, max_unique."""

import numpy as np
import pytest
from skimage import data

from napari_gmm.core.fit._compress import MAX_UNIQUE, Compressed, compress_integer

RNG = np.random.default_rng(0)


def _check_round_trip(features, **kwargs) -> Compressed:
    before = features.copy()
    flags = (features.flags.writeable, features.flags.c_contiguous, features.flags.owndata)
    comp = compress_integer(features, **kwargs)
    assert comp is not None
    # input untouched: same values, same flags
    np.testing.assert_array_equal(features, before)
    assert (features.flags.writeable, features.flags.c_contiguous, features.flags.owndata) == (
        flags
    )
    assert comp.values.dtype == np.float64
    assert comp.values.shape[1] == features.shape[1]
    # the distinct rows (compared as integers), in lexicographic order, with their counts
    uniq, inverse, counts = np.unique(features, axis=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(comp.values, uniq.astype(np.float64))
    np.testing.assert_array_equal(comp.counts, counts)
    assert comp.counts.sum() == features.shape[0] == comp.n_pixels
    assert np.all(comp.counts > 0)
    # exact way back, for 1-D and 2-D tables
    np.testing.assert_array_equal(comp.take(np.arange(uniq.shape[0])), inverse.ravel())
    np.testing.assert_array_equal(comp.take(comp.values), features.astype(np.float64))
    return comp


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "bool"])
def test_gray_small_types_index_by_value(dtype):
    if dtype == "bool":
        features = RNG.random((3000, 1)) > 0.3
    else:
        info = np.iinfo(dtype)
        features = RNG.integers(info.min, info.max, size=(3000, 1), endpoint=True, dtype=dtype)
    comp = _check_round_trip(features)
    # no per-pixel array: the pixel values themselves are the index
    assert comp._index.itemsize == max(features.dtype.itemsize, 1)
    assert np.shares_memory(comp._index, features)


def test_int16_with_negatives_sorted():
    features = RNG.integers(-300, 200, size=(4000, 1)).astype(np.int16)
    comp = _check_round_trip(features)
    assert comp.values[0, 0] < 0 < comp.values[-1, 0]


@pytest.mark.parametrize("dtype", ["int32", "uint32", "int64", "uint64"])
def test_gray_wide_types_small_and_full_range(dtype):
    info = np.iinfo(dtype)
    small = (RNG.integers(0, 500, size=(3000, 1)) + (info.min // 2)).astype(dtype)
    assert _check_round_trip(small)._index.dtype == np.uint32  # bincount path, 4 bytes/pixel
    wide = RNG.integers(info.min, info.max, size=(3000, 1), endpoint=True, dtype=dtype)
    wide[:3, 0] = [info.min, info.max, info.min]  # extremes: offsets wrap modulo 2**bits
    _check_round_trip(wide)  # np.unique path


def test_int64_large_range_unique_path():
    features = RNG.choice(np.array([-(2**62), -5, 0, 7, 2**40, 2**62]), size=(2000, 1))
    comp = _check_round_trip(features)
    assert comp.values.shape == (6, 1)


@pytest.mark.parametrize("n_channels", [2, 3, 4])
def test_multichannel_uint8(n_channels):
    features = RNG.integers(0, 256, size=(5000, n_channels), dtype=np.uint8)
    _check_round_trip(features)
    few = RNG.integers(0, 4, size=(5000, n_channels), dtype=np.uint8) * 60
    assert _check_round_trip(few).values.shape[0] <= 4**n_channels


def test_rgb_image_non_contiguous_view():
    rgb = data.immunohistochemistry()
    features = rgb[::7, 3::5].reshape(-1, 3)[:, ::-1]  # reversed channels: strided view
    assert not features.flags.c_contiguous
    _check_round_trip(features)
    _check_round_trip(rgb[:64, :64].reshape(-1, 3))


@pytest.mark.parametrize("dtype", ["int16", "int32", "int64", "uint16"])
def test_multichannel_signed_and_wide(dtype):
    info = np.iinfo(dtype)
    features = RNG.integers(-50, 50, size=(3000, 3)).astype(dtype) if info.min < 0 else None
    if features is not None:
        _check_round_trip(features)
    wide = RNG.integers(info.min, info.max, size=(3000, 3), endpoint=True, dtype=dtype)
    _check_round_trip(wide)


def test_bool_multichannel_and_constant_channels():
    _check_round_trip(RNG.random((500, 3)) > 0.5)
    const = np.zeros((400, 4), dtype=np.int32)
    const[:, 1] = RNG.integers(-3, 3, size=400)
    const[:, 3] = 2**31 - 1
    comp = _check_round_trip(const)
    assert comp.values.shape == (6, 4)


def test_packed_code_overflow_falls_back_to_rows():
    # 3 channels of full-range int64: the mixed-radix code would need 192 bits
    info = np.iinfo(np.int64)
    base = RNG.integers(info.min, info.max, size=(20, 3), endpoint=True, dtype=np.int64)
    base[0] = [info.min, info.max, 0]
    base[1] = [info.max, info.min, 0]
    features = base[RNG.integers(0, 20, size=1000)]
    assert _check_round_trip(features).values.shape[0] == np.unique(features, axis=0).shape[0]


def test_max_unique():
    features = RNG.integers(0, 1000, size=(5000, 1), dtype=np.uint16)
    n_distinct = np.unique(features).size
    assert compress_integer(features, max_unique=n_distinct - 1) is None
    assert compress_integer(features, max_unique=n_distinct).values.shape[0] == n_distinct
    rgb = RNG.integers(0, 256, size=(5000, 3), dtype=np.uint8)
    assert compress_integer(rgb, max_unique=100) is None
    wide = RNG.integers(0, 2**40, size=(5000, 1))
    assert compress_integer(wide, max_unique=100) is None
    assert MAX_UNIQUE == 2**18


def test_take_shapes_and_dtypes():
    comp = compress_integer(np.array([[5], [1], [5], [9]], dtype=np.uint8))
    labels = np.array([1, 2, 3], dtype=np.uint8)
    out = comp.take(labels)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [2, 1, 2, 3])
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(comp.take(table), table[[1, 0, 1, 2]])
    with pytest.raises(ValueError, match="one row per distinct value"):
        comp.take(np.zeros(4))


def test_invalid_input():
    with pytest.raises(TypeError, match="integer or bool"):
        compress_integer(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="2-D"):
        compress_integer(np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="max_unique"):
        compress_integer(np.zeros((4, 1), dtype=np.uint8), max_unique=0)
    empty = compress_integer(np.zeros((0, 3), dtype=np.uint8))
    assert empty.values.shape == (0, 3)
    assert empty.take(np.zeros(0)).shape == (0,)


@pytest.mark.parametrize(
    ("high", "n_channels", "padded"),
    [
        (200, 2, True),  # 200**2 codes: bincount, table padded to the code range
        (64, 3, False),  # 64**3 codes: bincount, codes remapped to rows in place
        (100_000, 1, False),  # int32 gray, 1e5 codes: same
        (256, 3, False),  # 2**24 codes > pixels: np.unique on the codes
    ],
)
def test_code_paths(high, n_channels, padded):
    features = RNG.integers(0, high, size=(6000, n_channels)).astype(np.int32)
    comp = _check_round_trip(features)
    assert (comp._rows is not None) == padded
    assert comp._index.dtype == np.uint32
