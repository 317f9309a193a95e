"""Every bad input gives a ValueError/TypeError that says what, allowed, got, and how to fix."""

import numpy as np
import pytest

import napari_gmm as ng

GRAY = np.arange(64, dtype=np.uint8).reshape(8, 8)
RGB = np.stack([GRAY, GRAY[::-1], GRAY.T], axis=-1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_components": 0}, ValueError, r"n_components must be an int >= 1, got 0"),
        ({"n_components": -2}, ValueError, r"n_components must be an int >= 1"),
        ({"n_components": 2.5}, TypeError, r"n_components must be an int >= 1, got float"),
        ({"n_components": "many"}, ValueError, r"int >= 1 or 'auto', got 'many'"),
        ({"n_components": 65}, ValueError, r"only 64 distinct valid values.*n_components <= 64"),
        ({"channel_axis": 2}, ValueError, r"channel_axis=2 is out of range.*-2\.\.1"),
        ({"channel_axis": "last"}, TypeError, r"channel_axis must be an int or None"),
        (
            {"covariance_type": "round"},
            ValueError,
            r"covariance_type must be one of 'full', 'tied', 'diag', 'spherical'; got 'round'",
        ),
        ({"init_params": "best"}, ValueError, r"init_params must be one of .*'kmeans'"),
        ({"tol": -1.0}, ValueError, r"tol must be a finite number >= 0"),
        ({"tol": float("nan")}, ValueError, r"tol must be a finite number"),
        ({"max_iter": 0}, ValueError, r"max_iter must be an int >= 1, got 0"),
        ({"n_init": 0}, ValueError, r"n_init must be an int >= 1"),
        ({"reg_covar": -1e-6}, ValueError, r"reg_covar must be a finite number >= 0"),
        ({"max_samples": 0}, ValueError, r"max_samples must be an int >= 1"),
        ({"progress": 3}, TypeError, r"progress must be a callable"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    kwargs = {"n_components": 2} | kwargs
    with pytest.raises(error, match=match):
        ng.segment(GRAY, **kwargs)


def test_too_many_components_for_colours():
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[:2] = 200
    with pytest.raises(ValueError, match=r"only 2 distinct valid colours"):
        ng.segment(rgb, 3, channel_axis=-1)


def test_too_many_components_float_counts_all_pixels():
    image = np.repeat([0.0, 1.0, 2.0], 100).reshape(30, 10)
    with pytest.raises(ValueError, match=r"only 3 distinct valid values"):
        ng.segment(image, 4, max_samples=10)


def test_constant_image_more_than_one_component():
    with pytest.raises(ValueError, match=r"only 1 distinct valid values.*n_components <= 1"):
        ng.segment(np.full((5, 5), 3.0), 2)


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((0, 5)), ValueError, r"empty \(shape \(0, 5\)\)"),
        (np.array(3.0), ValueError, r"at least one axis"),
        (np.full((4, 4), np.nan), ValueError, r"All 16 pixels .* non-finite"),
        (np.ones((4, 4), dtype=complex), TypeError, r"complex dtype.*np.abs"),
        (np.array([["a", "b"]]), TypeError, r"numeric array.*got dtype <U1"),
        (np.array([[object(), object()]]), TypeError, r"numeric array.*got dtype object"),
    ],
)
def test_bad_images(image, error, match):
    with pytest.raises(error, match=match):
        ng.segment(image, 1)


def test_channel_axis_with_one_dimensional_image():
    with pytest.raises(ValueError, match=r"leaves no spatial axis"):
        ng.segment(np.arange(5.0), 1, channel_axis=0)


def test_singular_covariance_gives_advice():
    # two values and reg_covar=0: a component collapses onto one value
    image = np.repeat([0.0, 10.0], 50).reshape(10, 10)
    with pytest.raises(ValueError, match=r"increase reg_covar"):
        ng.segment(image, 2, reg_covar=0.0, random_state=0)


@pytest.mark.parametrize(
    ("sigma", "kwargs", "error", "match"),
    [
        (-1.0, {}, ValueError, r"sigma must be finite and >= 0.*got -1.0"),
        (float("inf"), {}, ValueError, r"sigma must be finite and >= 0"),
        (float("nan"), {}, ValueError, r"sigma must be finite"),
        ([1.0, 2.0], {}, ValueError, r"sigma has 2 values .* channel_axis is None"),
        (
            [1.0, 2.0],
            {"channel_axis": -1},
            ValueError,
            r"sigma has 2 values but the image has 3 channels",
        ),
        ("big", {}, TypeError, r"sigma must be a number"),
        ([[1.0]], {"channel_axis": -1}, ValueError, r"scalar or a 1-D sequence"),
        (1.0, {"channel_axis": 5}, ValueError, r"channel_axis=5 is out of range"),
    ],
)
def test_bad_noise(sigma, kwargs, error, match):
    with pytest.raises(error, match=match):
        ng.add_gaussian_noise(RGB, sigma, **kwargs)


def test_noise_rejects_complex():
    with pytest.raises(TypeError, match="complex"):
        ng.add_gaussian_noise(np.ones((3, 3), dtype=np.complex64), 1.0)
