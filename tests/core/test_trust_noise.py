"""Noise never turns finite float pixels into inf (issue 20, item 16)."""

import numpy as np
import pytest

from napari_gmm import add_gaussian_noise


@pytest.mark.parametrize(
    ("dtype", "value", "sigma"),
    [(np.float32, 3e38, 1e38), (np.float16, 60000.0, 1e6), (np.float64, 1.7e308, 1e307)],
)
def test_float_noise_saturates_at_dtype_range(dtype, value, sigma):
    img = np.full((50, 50), value, dtype=dtype)
    img[0, 0] = -value
    noisy = add_gaussian_noise(img, sigma, seed=0)
    assert noisy.dtype == img.dtype
    assert np.isfinite(noisy).all()
    finfo = np.finfo(dtype)
    assert noisy.max() == finfo.max  # saturated, as integer images are
    assert noisy.min() >= finfo.min


def test_nan_and_inf_pixels_stay():
    img = np.zeros((10, 10), np.float32)
    img[0, 0], img[0, 1], img[0, 2] = np.nan, np.inf, -np.inf
    noisy = add_gaussian_noise(img, 1.0, seed=0)
    assert np.isnan(noisy[0, 0]) and noisy[0, 1] == np.inf and noisy[0, 2] == -np.inf
    assert np.isfinite(noisy.ravel()[3:]).all()
