"""add_gaussian_noise: level, range, reproducibility, per-channel sigma, dtype handling."""

import numpy as np
import pytest

import napari_gmm as ng


def test_noise_level_float():
    image = np.full((400, 400), 100.0)
    noisy = ng.add_gaussian_noise(image, 20.0, seed=1)
    diff = noisy - image
    assert abs(diff.mean()) < 0.2
    assert diff.std() == pytest.approx(20.0, rel=0.01)
    assert noisy.dtype == np.float64


def test_float32_stays_float32_and_nan_stays_nan():
    image = np.full((50, 50), 0.5, dtype=np.float32)
    image[0, 0] = np.nan
    noisy = ng.add_gaussian_noise(image, 0.1, seed=0)
    assert noisy.dtype == np.float32
    assert np.isnan(noisy[0, 0])
    assert np.isfinite(noisy.ravel()[1:]).all()


def test_uint8_rounded_and_clipped_no_wraparound():
    image = np.full((300, 300), 250, dtype=np.uint8)
    image[:150] = 5
    noisy = ng.add_gaussian_noise(image, 30.0, seed=2)
    assert noisy.dtype == np.uint8
    top, bottom = noisy[150:].astype(int), noisy[:150].astype(int)
    # wrap-around would put values near 0 in the bright half and near 255 in the dark half
    assert top.min() > 100 and bottom.max() < 150
    assert (top == 255).mean() > 0.3 and (bottom == 0).mean() > 0.3


def test_uint16_and_int16_ranges():
    u16 = np.full((100, 100), 65530, dtype=np.uint16)
    noisy = ng.add_gaussian_noise(u16, 100.0, seed=0)
    assert noisy.dtype == np.uint16 and noisy.min() > 60000
    i16 = np.full((100, 100), -32760, dtype=np.int16)
    noisy = ng.add_gaussian_noise(i16, 100.0, seed=0)
    assert noisy.dtype == np.int16 and noisy.max() < -30000


def test_integer_noise_level_in_mid_range():
    image = np.full((400, 400), 128, dtype=np.uint8)
    diff = ng.add_gaussian_noise(image, 10.0, seed=3).astype(float) - 128
    assert abs(diff.mean()) < 0.1
    assert diff.std() == pytest.approx(10.0, rel=0.02)


def test_reproducible_with_seed_and_different_without():
    image = np.zeros((64, 64), dtype=np.uint8) + 100
    a = ng.add_gaussian_noise(image, 5, seed=42)
    b = ng.add_gaussian_noise(image, 5, seed=42)
    c = ng.add_gaussian_noise(image, 5, seed=43)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    gen = np.random.default_rng(7)
    assert np.array_equal(
        ng.add_gaussian_noise(image, 5, seed=gen),
        ng.add_gaussian_noise(image, 5, seed=np.random.default_rng(7)),
    )


def test_per_channel_sigma():
    image = np.full((300, 300, 3), 128, dtype=np.uint8)
    noisy = ng.add_gaussian_noise(image, [0.0, 5.0, 20.0], seed=0, channel_axis=-1)
    stds = (noisy.astype(float) - 128).std(axis=(0, 1))
    assert stds[0] == 0.0
    assert stds[1] == pytest.approx(5.0, rel=0.03)
    assert stds[2] == pytest.approx(20.0, rel=0.03)
    # channel axis first
    first = ng.add_gaussian_noise(
        np.moveaxis(image, -1, 0), [0.0, 5.0, 20.0], seed=0, channel_axis=0
    )
    assert (first[0] == 128).all() and (first[2] != 128).any()


def test_zero_sigma_is_an_unchanged_copy():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    noisy = ng.add_gaussian_noise(image, 0.0, seed=0)
    assert np.array_equal(noisy, image) and noisy is not image


def test_bool_image_stays_bool():
    image = np.zeros((50, 50), dtype=bool)
    noisy = ng.add_gaussian_noise(image, 0.4, seed=0)
    assert noisy.dtype == bool and 0 < noisy.mean() < 0.5


def test_int64_extremes_do_not_overflow():
    image = np.array([[np.iinfo(np.int64).max, np.iinfo(np.int64).min]], dtype=np.int64)
    noisy = ng.add_gaussian_noise(image, 1e6, seed=0)
    assert noisy[0, 0] > 0 > noisy[0, 1]


def test_input_not_modified():
    image = np.full((20, 20, 3), 100, dtype=np.uint8)
    image.setflags(write=False)
    ng.add_gaussian_noise(image, [1, 2, 3], seed=0, channel_axis=-1)
    assert (image == 100).all()
