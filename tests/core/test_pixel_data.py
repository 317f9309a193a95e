"""Which pixels are valid: the compiled check for non-finite values against numpy."""

import numpy as np
import pytest

from napari_gmm.core._backend import use_backend
from napari_gmm.core._features import pixel_data
from napari_gmm.core._nb_estep import BLOCK, count_nonfinite

pytest.importorskip("numba")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
def test_count_nonfinite_matches_numpy(dtype, bad):
    step = 4 * BLOCK  # values per parallel task
    values = np.random.default_rng(0).standard_normal(3 * step + 17).astype(dtype)
    if bad is not None:
        values[[0, step - 1, step, 3 * step + 16]] = bad  # task edges and the tail
    assert count_nonfinite(values) == int((~np.isfinite(values)).sum())
    big = np.full(5, np.finfo(dtype).max, dtype=dtype)  # huge but finite: x - x is 0
    assert count_nonfinite(big) == 0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("channel_axis", [None, 0, 2])
def test_valid_pixels_on_both_backends(backend, channel_axis):
    rng = np.random.default_rng(1)
    shape = (3, 40, 30) if channel_axis is not None else (40, 30)
    image = rng.standard_normal(shape).astype(np.float32)
    with use_backend(backend):
        assert pixel_data(image, channel_axis).valid is None  # all finite: no mask
        image[(0,) * image.ndim] = np.nan
        image[(1,) * image.ndim] = -np.inf
        data = pixel_data(image, channel_axis)
    ref = np.isfinite(data.features).all(axis=1)
    assert np.array_equal(data.valid, ref) and data.n_valid == int(ref.sum()) == ref.size - 2


def test_strided_image_is_checked_too():
    image = np.zeros((20, 40), dtype=np.float64)
    image[3, 4] = np.nan
    data = pixel_data(image[:, ::2])  # not contiguous
    assert data.n_valid == 20 * 20 - 1 and not data.valid[3 * 20 + 2]
