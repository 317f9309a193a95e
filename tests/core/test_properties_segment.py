"""Property tests of segment and apply_model over the space of inputs (hypothesis).

Every call either raises a ValueError / TypeError that says how to fix the input, or
returns a valid result (see ``check_segmentation``); inputs are never modified; results
are deterministic for a fixed seed and do not depend on the memory layout.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_strategies import (
    bounded,
    check_segmentation,
    images,
    laid_out,
    outcome,
    shapes,
    snapshot,
    values,
)

import napari_gmm as ng

COVARIANCES = st.sampled_from(("full", "tied", "diag", "spherical"))


def run(func, *args, **kwargs):
    """Call func: its result, or None after checking the error it raised."""
    return outcome(func, *args, quiet=(ng.GMMConvergenceWarning,), **kwargs)


@given(
    case=images(),
    k=st.integers(1, 4),
    covariance_type=COVARIANCES,
    smoothing=st.sampled_from((0.0, 0.0, 1.0)),
    posteriors=st.booleans(),
)
def test_segment_gray_any_dtype_shape_layout(case, k, covariance_type, smoothing, posteriors):
    image, _ = case
    before = snapshot(image)
    seg = run(ng.segment, image, k, covariance_type=covariance_type, smoothing=smoothing,
              random_state=0, return_posteriors=posteriors)
    assert snapshot(image) == before
    if seg is None:
        return
    check_segmentation(seg, image, k)
    again = ng.segment(image, k, covariance_type=covariance_type, smoothing=smoothing,
                       random_state=0, return_posteriors=posteriors)
    np.testing.assert_array_equal(again.labels, seg.labels)
    np.testing.assert_array_equal(again.probability, seg.probability)


@given(
    dtype=st.sampled_from(("uint8", "uint16", "int32", "float32", "float64", ">f8")),
    shape=shapes(min_dims=2, max_dims=4, max_side=6, max_size=300),
    n_channels=st.integers(1, 4),
    k=st.integers(1, 3),
    covariance_type=COVARIANCES,
    data=st.data(),
)
def test_segment_multichannel(dtype, shape, n_channels, k, covariance_type, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)), label="channel_axis")
    arr = data.draw(values(dtype, (*shape, n_channels)))
    image, _ = data.draw(laid_out(np.moveaxis(arr, -1, axis)))
    before = snapshot(image)
    seg = run(ng.segment, image, k, channel_axis=axis, covariance_type=covariance_type,
              random_state=1)
    assert snapshot(image) == before
    if seg is not None:
        check_segmentation(seg, image, k, channel_axis=axis)


@given(case=images(dtypes=("uint8", "int16", "float32", ">f4", "float64")), k=st.integers(1, 3))
def test_c_and_fortran_order_give_the_same_result(case, k):
    image, _ = case
    c = run(ng.segment, np.ascontiguousarray(image), k, random_state=0, smoothing=0.5)
    if c is None:
        return
    f = ng.segment(np.asfortranarray(image), k, random_state=0, smoothing=0.5)
    np.testing.assert_array_equal(c.labels, f.labels)
    np.testing.assert_array_equal(c.probability, f.probability)


@bounded(10)
@given(case=images(dtypes=("uint8", "float32", "int64"), min_dims=2, max_size=400),
       k=st.integers(1, 3), smoothing=st.sampled_from((0.0, 1.0)))
def test_concurrent_calls_match_a_serial_call(case, k, smoothing):
    image, _ = case
    serial = run(ng.segment, image, k, random_state=3, smoothing=smoothing)
    if serial is None:
        return
    with ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(ng.segment, image, k, random_state=3, smoothing=smoothing)
            for _ in range(4)
        ]
        results = [f.result() for f in futures]
    for seg in results:
        np.testing.assert_array_equal(seg.labels, serial.labels)
        np.testing.assert_array_equal(seg.probability, serial.probability)


@given(
    case=images(dtypes=("uint8", "uint16", "float32", ">f8", "int64", "bool")),
    k=st.integers(1, 3),
    smoothing=st.sampled_from((0.0, 1.0)),
)
def test_apply_model_to_other_images(case, k, smoothing):
    image, _ = case
    reference = np.linspace(0, 255, 64).reshape(8, 8)
    model = ng.segment(reference, k, random_state=0).model
    before = snapshot(image)
    seg = run(ng.apply_model, model, image, smoothing=smoothing)
    assert snapshot(image) == before
    if seg is None:
        return
    check_segmentation(seg, image, k)
    assert seg.model is model
    valid = seg.labels > 0
    if smoothing == 0 and valid.any():
        features = np.asarray(image, dtype=np.float64)[valid].reshape(-1, 1)
        np.testing.assert_array_equal(model.predict(features) + 1, seg.labels[valid])


@pytest.mark.parametrize("bad", [
    {"n_components": 10**6}, {"n_components": True}, {"max_iter": 2**70},
    {"tol": float("inf")}, {"reg_covar": 1e300}, {"smoothing": -1.0},
    {"smoothing": float("nan")}, {"scale": (0.0, 1.0)}, {"scale": (1.0,)},
    {"max_samples": 1}, {"random_state": "seed"},
])
def test_extreme_parameters(bad):
    image = np.random.default_rng(0).normal(size=(16, 16)).astype(np.float32)
    kwargs = {"n_components": 2} | bad
    seg = run(ng.segment, image, **kwargs)
    if seg is not None:
        check_segmentation(seg, image, kwargs["n_components"])


@bounded(20)
@given(
    case=images(dtypes=("uint8", "uint16", "float32", ">f8", "int16"), min_dims=2, max_dims=3,
                max_size=400),
    k=st.integers(1, 3),
    order=st.integers(0, 7),
    smoothing=st.sampled_from((0.0, 1.0)),
)
def test_segment_with_a_bias_field(case, k, order, smoothing):
    image, _ = case
    before = snapshot(image)
    seg = run(ng.segment, image, k, bias_field="polynomial", bias_order=order,
              smoothing=smoothing, random_state=0)
    assert snapshot(image) == before
    if seg is None:
        return
    check_segmentation(seg, image, k)
    field = seg.bias_field
    assert field.shape == image.shape and field.dtype == np.float32
    assert np.isfinite(field).all() and (field > 0).all()
