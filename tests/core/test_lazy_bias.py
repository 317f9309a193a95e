"""The bias field on dask arrays against the in-memory path (core/lazy/_bias.py)."""

import dask
import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image, make_shading
from napari_gmm.core.bias._basis import PolynomialBasis
from napari_gmm.core.bias._ecm import field_on_grid
from napari_gmm.core.lazy._bias import field_on_box

BIAS = "polynomial"


def _shaded(shape, dtype="float32", seed=2, **kwargs):
    image, truth = make_class_image(shape, 3, sigma=12, seed=seed, dtype="float32", **kwargs)[:2]
    field = make_shading(image.shape[: len(shape)], seed=1)
    if image.ndim > len(shape):
        field = field[..., None]
    shaded = image * field
    if np.dtype(dtype).kind == "u":
        shaded = np.clip(np.rint(shaded), 0, np.iinfo(dtype).max)
    return shaded.astype(dtype), truth


@pytest.mark.parametrize("shape", [(17, 23), (6, 9, 11)])
def test_field_on_boxes_tiles_the_grid_field(shape):
    basis = PolynomialBasis(shape, 3)
    coef = np.random.default_rng(0).normal(size=basis.n_terms) * 0.1
    coef[0] = 1.0
    u_range = (0.7, 1.3)
    grid = field_on_grid(basis, coef, u_range)
    np.testing.assert_allclose(field_on_box(basis, coef, u_range, [slice(None)] * len(shape)),
                               grid, rtol=1e-6)
    cut = tuple(slice(n // 3, n - 1) for n in shape)
    np.testing.assert_allclose(field_on_box(basis, coef, u_range, cut), grid[cut], rtol=1e-6)


@pytest.mark.parametrize(
    ("shape", "chunks", "dtype"),
    [((40, 96, 96), (20, 48, 48), "float32"), ((192, 200), (64, 50), "uint8")],
)
def test_labels_agree_with_in_memory_on_a_shaded_image(shape, chunks, dtype):
    image, _ = _shaded(shape, dtype)
    ref = ng.segment(image, 3, bias_field=BIAS, random_state=0)
    plain = ng.segment(image, 3, random_state=0)
    seg = ng.segment(da.from_array(image, chunks=chunks), 3, bias_field=BIAS, random_state=0)
    assert isinstance(seg.labels, da.Array) and isinstance(seg.bias_field, da.Array)
    labels, field, corrected = dask.compute(seg.labels, seg.bias_field, seg.corrected)
    assert (labels == ref.labels).mean() >= 0.99
    assert (plain.labels == ref.labels).mean() < 0.97  # the field matters here
    assert field.shape == shape and field.dtype == np.float32
    assert field.mean() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(field, ref.bias_field, atol=0.03)
    np.testing.assert_allclose(corrected, image / field.astype(np.float64), rtol=1e-5)
    assert seg.log_likelihood == pytest.approx(ref.log_likelihood, abs=0.01)
    assert seg.bic == pytest.approx(ref.bic, rel=5e-3)


def test_multichannel_keeps_the_channel_axis_and_agrees():
    image, _ = _shaded((96, 90), n_channels=2)
    image = np.ascontiguousarray(np.moveaxis(image, -1, 0))  # (C, Y, X)
    ref = ng.segment(image, 3, channel_axis=0, bias_field=BIAS, random_state=0)
    seg = ng.segment(da.from_array(image, chunks=(2, 48, 45)), 3, channel_axis=0,
                     bias_field=BIAS, random_state=0)
    assert seg.corrected.shape == image.shape and seg.bias_field.shape == (96, 90)
    assert (seg.labels.compute() == ref.labels).mean() >= 0.99


def test_with_smoothing_and_non_finite_voxels():
    image, truth = _shaded((20, 64, 64), seed=3)
    image[0, :3, :3] = np.nan
    ref = ng.segment(image, 3, bias_field=BIAS, smoothing=1.0, random_state=0)
    seg = ng.segment(da.from_array(image, chunks=(10, 32, 32)), 3, bias_field=BIAS,
                     smoothing=1.0, random_state=0)
    labels = seg.labels.compute()
    assert (labels[0, :3, :3] == 0).all()
    assert (labels == ref.labels).mean() >= 0.99
    assert (labels == truth).mean() >= 0.99
    assert seg.n_valid == image.size - 9


def test_graph_pickles_and_apply_model_still_refuses():
    import pickle

    image, _ = _shaded((64, 64))
    seg = ng.segment(da.from_array(image, chunks=32), 3, bias_field=BIAS, random_state=0)
    again = pickle.loads(pickle.dumps(seg.labels))
    np.testing.assert_array_equal(again.compute(), seg.labels.compute())
    with pytest.raises(ValueError, match="not available for dask arrays"):
        ng.apply_model(seg.model, da.from_array(image, chunks=32), bias_field=BIAS)
