"""segment / apply_model on dask arrays against the in-memory path."""

import dask
import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.lazy import _calibrate as _lazy_calibrate
from napari_gmm.core.potts import _calibrate

# the halo blocks of images beyond the in-core budget (core/lazy/_incore.py)
pytestmark = pytest.mark.usefixtures("halo_blocks")


def _image(shape, dtype="uint8", seed=1, n_classes=3):
    return make_class_image(shape, n_classes=n_classes, sigma=30, seed=seed, dtype=dtype)[0]


@pytest.mark.parametrize(
    ("shape", "chunks"),
    [((61, 47), (16, 13)), ((23, 31, 29), (7, 11, 9)), ((20, 24, 28), (20, 24, 28))],
)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32"])
def test_integer_labels_equal_in_memory(shape, chunks, dtype):
    image = _image(shape, dtype)
    ref = ng.segment(image, 3, random_state=0, return_posteriors=True)
    seg = ng.segment(da.from_array(image, chunks=chunks), 3, random_state=0,
                     return_posteriors=True)
    assert isinstance(seg.labels, da.Array)
    assert seg.labels.chunks == da.from_array(image, chunks=chunks).chunks
    assert seg.method == ref.method == "exact (distinct values)"
    np.testing.assert_array_equal(seg.model.means_, ref.model.means_)
    labels, prob, post = dask.compute(seg.labels, seg.probability, seg.posteriors)
    assert labels.dtype == ref.labels.dtype
    np.testing.assert_array_equal(labels, ref.labels)
    np.testing.assert_array_equal(prob, ref.probability)
    np.testing.assert_array_equal(post, ref.posteriors)
    assert seg.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-12)
    assert seg.bic == pytest.approx(ref.bic, rel=1e-12)


@pytest.mark.parametrize(("shape", "chunks"), [((64, 57), (20, 15)), ((22, 30, 27), (9, 8, 10))])
def test_smoothing_agrees_with_in_memory(shape, chunks, monkeypatch):
    image = make_class_image(shape, n_classes=3, sigma=45, seed=2, dtype="uint8")[0]
    temperatures = []
    fit = _calibrate.held_out_temperature

    def recorded(*args, **kwargs):
        temperatures.append(fit(*args, **kwargs))
        return temperatures[-1]

    monkeypatch.setattr(_calibrate, "held_out_temperature", recorded)
    monkeypatch.setattr(_lazy_calibrate, "held_out_temperature", recorded)
    ref = ng.segment(image, 3, random_state=0, smoothing=1.0, scale=(1.0,) * (len(shape) - 1)
                     + (2.0,))
    seg = ng.segment(da.from_array(image, chunks=chunks), 3, random_state=0, smoothing=1.0,
                     scale=(1.0,) * (len(shape) - 1) + (2.0,))
    # float32 posteriors (compiled kernels) summed in another order: round-off only
    np.testing.assert_allclose(seg.model.means_, ref.model.means_, rtol=1e-6)
    labels = seg.labels.compute()
    assert (labels == ref.labels).mean() >= 0.999
    # both tempered, by a temperature fitted on the central block's final posteriors (the
    # in-memory image's, and the dask image's block swept with a margin)
    assert len(temperatures) == 2 and temperatures[1] == pytest.approx(temperatures[0], rel=1e-6)
    assert temperatures[0] > 1.0  # the check is not a trivial 1 == 1
    prob = seg.probability.compute()
    same = labels == ref.labels
    np.testing.assert_allclose(prob[same], ref.probability[same], atol=1e-4)
    assert seg.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 1.0])
def test_float_with_nan_holes_across_chunk_borders(smoothing):
    image = _image((30, 40, 36)).astype(np.float32)
    image[8:25, 12:30, 5:33] = np.nan  # crosses every chunk border below
    image[0, 0, 0] = np.inf
    chunks = (10, 15, 12)
    ref = ng.segment(image, 3, random_state=0, smoothing=smoothing)
    seg = ng.segment(da.from_array(image, chunks=chunks), 3, random_state=0,
                     smoothing=smoothing)
    assert seg.method == ref.method == "all pixels"
    assert seg.n_valid == ref.n_valid
    labels = seg.labels.compute()
    assert (labels == ref.labels).mean() >= 0.999
    np.testing.assert_array_equal(labels == 0, ~np.isfinite(image))
    assert seg.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-6)


def test_float_sample_is_seeded_and_scheduler_independent():
    image = _image((40, 50), dtype="float32")
    arr = da.from_array(image, chunks=(13, 17))
    a = ng.segment(arr, 3, random_state=3, max_samples=500)
    b = ng.segment(arr, 3, random_state=3, max_samples=500)
    assert a.method == "subsample" and 300 < a.n_fit_samples < 700
    np.testing.assert_array_equal(a.model.means_, b.model.means_)
    with dask.config.set(scheduler="synchronous"):
        c = ng.segment(arr, 3, random_state=3, max_samples=500)
    np.testing.assert_array_equal(a.model.means_, c.model.means_)
    ref = ng.segment(image, 3, random_state=3)
    assert (a.labels.compute() == ref.labels).mean() > 0.95  # fitted on a quarter


def test_multichannel_integer_takes_the_sample_path():
    rgb = make_class_image((30, 40), n_classes=3, n_channels=3, seed=0, dtype="uint8")[0]
    ref = ng.segment(rgb, 3, channel_axis=-1, random_state=0)
    seg = ng.segment(da.from_array(rgb, chunks=(16, 16, 3)), 3, channel_axis=-1,
                     random_state=0)
    assert seg.labels.shape == rgb.shape[:2]
    assert (seg.labels.compute() == ref.labels).mean() > 0.99


def test_nothing_is_computed_before_compute():
    image = _image((32, 30))
    calls = []

    def counted(block):
        calls.append(block.shape)
        return block

    arr = da.from_array(image, chunks=(8, 10)).map_blocks(counted, dtype=image.dtype)
    seg = ng.segment(arr, 3, random_state=0, smoothing=1.0)
    fit_calls = len(calls)
    assert fit_calls > 0  # the fit reads the blocks (histogram and M-step statistics)
    labels, prob = seg.labels, seg.probability
    assert len(calls) == fit_calls  # building the lazy results reads nothing
    labels.compute()
    assert len(calls) > fit_calls
    ref = ng.segment(image, 3, random_state=0, smoothing=1.0)
    assert (labels.compute() == ref.labels).mean() >= 0.999
    assert prob.dtype == np.float32


def test_apply_model_lazy_equals_in_memory():
    image = _image((33, 41), dtype="uint16")
    model = ng.segment(_image((33, 41), dtype="uint16", seed=5), 3, random_state=0).model
    for smoothing in (0.0, 1.0):
        ref = ng.apply_model(model, image, smoothing=smoothing)
        seg = ng.apply_model(model, da.from_array(image, chunks=(10, 14)), smoothing=smoothing)
        assert seg.method == "applied model"
        assert (seg.labels.compute() == ref.labels).mean() >= (1.0 if smoothing == 0 else 0.999)
        assert seg.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-12)


def test_lazy_errors_are_clear():
    arr = da.zeros((4, 4), chunks=2, dtype=np.float32) * np.nan
    with pytest.raises(ValueError, match="non-finite"):
        ng.segment(arr, 2)
    with pytest.raises(ValueError, match="an int >= 1 or 'auto', got 'many'"):
        ng.segment(da.zeros((4, 4), chunks=2), "many")
    with pytest.raises(ValueError, match="only 1 distinct"):
        ng.segment(da.zeros((4, 4), chunks=2, dtype=np.uint8), 2)


def test_smoothing_m_step_uses_the_in_memory_subsample():
    image = make_class_image((30, 36, 34), n_classes=3, sigma=50, seed=6, dtype="uint16")[0]
    opts = {"random_state": 1, "smoothing": 1.0, "max_samples": 3000}
    ref = ng.segment(image, 3, **opts)
    seg = ng.segment(da.from_array(image, chunks=(11, 13, 17)), 3, **opts)
    np.testing.assert_allclose(seg.model.means_, ref.model.means_, rtol=1e-9)
    np.testing.assert_allclose(seg.model.covariances_, ref.model.covariances_, rtol=1e-7)
    assert (seg.labels.compute() == ref.labels).mean() >= 0.999


@pytest.mark.parametrize("kind", ["1 - max posterior", "margin", "entropy"])
def test_lazy_uncertainty_maps(kind):
    image = _image((30, 41))
    ref = ng.segment(image, 3, random_state=0, return_posteriors=True)
    seg = ng.segment(da.from_array(image, chunks=(9, 14)), 3, random_state=0,
                     return_posteriors=True)
    umap = seg.uncertainty(kind)
    assert isinstance(umap, da.Array) and umap.dtype == np.float32
    np.testing.assert_allclose(umap.compute(), ref.uncertainty(kind), atol=1e-7)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"smoothing": 1.0, "marginals": "gibbs"}, "marginals='gibbs'")],
)
def test_what_the_blockwise_path_lacks_is_refused(options, message):
    image = da.from_array(_image((20, 24)), chunks=(10, 12))
    with pytest.raises(ValueError, match=message):
        ng.segment(image, 3, **options)
    model = ng.segment(np.asarray(image), 3, random_state=0).model
    with pytest.raises(ValueError, match=message):
        ng.apply_model(model, image, **options)
