"""Lazy smoothing of a dask image that fits in memory runs the in-memory path (_incore.py)."""

import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.lazy._fit import lazy_pixels
from napari_gmm.core.lazy._incore import incore_budget, incore_bytes, runs_in_core

OPTS = {"smoothing": 1.0, "bias_field": None, "marginals": "mean-field", "channel_axis": None,
        "return_posteriors": False}


def _assert_same(seg, ref, chunks):
    for name in ("labels", "probability", "posteriors"):
        lazy, full = getattr(seg, name), getattr(ref, name)
        if full is None:
            assert lazy is None
            continue
        assert isinstance(lazy, da.Array)
        assert lazy.chunks[: len(chunks)] == chunks
        np.testing.assert_array_equal(lazy.compute(), full)
    assert seg.n_sweeps == ref.n_sweeps
    assert seg.log_likelihood == ref.log_likelihood
    np.testing.assert_array_equal(seg.model.means_, ref.model.means_)


def test_integer_volume_equals_in_memory_exactly():
    image = make_class_image((24, 40, 36), n_classes=3, sigma=45, seed=2, dtype="uint8")[0]
    lazy = da.from_array(image, chunks=(12, 20, 18))
    ref = ng.segment(image, 3, random_state=0, smoothing=1.0, return_posteriors=True)
    seg = ng.segment(lazy, 3, random_state=0, smoothing=1.0, return_posteriors=True)
    _assert_same(seg, ref, lazy.chunks)


def test_float_multichannel_with_nan_equals_in_memory_exactly():
    image = make_class_image((40, 44), n_classes=3, n_channels=2, seed=4)[0].astype(np.float32)
    image[5:9, 30:35] = np.nan
    lazy = da.from_array(image, chunks=(16, 20, 2))
    ref = ng.segment(image, 3, channel_axis=-1, random_state=1, smoothing=0.7)
    seg = ng.segment(lazy, 3, channel_axis=-1, random_state=1, smoothing=0.7)
    _assert_same(seg, ref, ((16, 16, 8), (20, 20, 4)))
    assert seg.labels.compute()[6, 31] == 0


def test_apply_model_equals_in_memory_exactly():
    image = make_class_image((33, 41), n_classes=3, seed=1, dtype="uint16")[0]
    model = ng.segment(make_class_image((33, 41), n_classes=3, seed=5, dtype="uint16")[0], 3,
                       random_state=0).model
    ref = ng.apply_model(model, image, smoothing=1.0, return_posteriors=True)
    seg = ng.apply_model(model, da.from_array(image, chunks=(10, 14)), smoothing=1.0,
                         return_posteriors=True)
    assert seg.method == "applied model"
    _assert_same(seg, ref, ((10, 10, 10, 3), (14, 14, 13)))


def test_the_image_is_read_once_and_progress_says_so():
    image = make_class_image((32, 30), n_classes=3, seed=0, dtype="uint8")[0]
    calls = []

    def counted(block):
        if block.size:  # not dask's call on an empty block (its meta)
            calls.append(block.shape)
        return block

    arr = da.from_array(image, chunks=(8, 10)).map_blocks(counted, dtype=image.dtype)
    steps = []
    seg = ng.segment(arr, 3, random_state=0, smoothing=1.0,
                     progress=lambda f, s: steps.append((f, s)))
    assert len(calls) == 12  # every block once
    assert steps[0][1] == "reading the image into memory"
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    seg.labels.compute()
    assert len(calls) == 12  # the outputs are computed already: nothing is read again


def test_the_budget_decides_the_route(monkeypatch):
    image = da.zeros((64, 64, 64), chunks=32, dtype=np.uint8)
    needed = incore_bytes(lazy_pixels(image), image.dtype, 3, posteriors=False)
    # the image (1 byte), labels and probability (5) and the planes (12 K + 1) per voxel
    assert needed == 64**3 * (1 + 5 + 37)
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", str(int(4 * needed) + 4))
    assert incore_budget() == needed + 1
    assert runs_in_core(image, 3, OPTS)
    assert not runs_in_core(image, 3, {**OPTS, "return_posteriors": True})  # 12 more bytes
    assert not runs_in_core(image, "auto", OPTS)  # counted as 8 classes


@pytest.mark.parametrize(
    "change", [{"smoothing": 0.0}, {"bias_field": "polynomial"}, {"marginals": "gibbs"}],
)
def test_other_options_keep_their_lazy_routes(change):
    image = da.zeros((16, 16), chunks=8, dtype=np.uint8)
    assert runs_in_core(image, 2, OPTS)
    assert not runs_in_core(image, 2, {**OPTS, **change})


@pytest.mark.parametrize("smoothing", ["auto", "held-out"])
def test_chosen_strengths_run_in_core_too(smoothing):
    image = da.zeros((16, 16), chunks=8, dtype=np.uint8)
    assert runs_in_core(image, 2, {**OPTS, "smoothing": smoothing})


def test_beyond_the_budget_the_halo_blocks_run(monkeypatch):
    image = make_class_image((40, 48), n_classes=3, seed=3, dtype="uint8")[0]
    lazy = da.from_array(image, chunks=(20, 24))
    ref = ng.segment(image, 3, random_state=0, smoothing=1.0)
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", "4000")
    seg = ng.segment(lazy, 3, random_state=0, smoothing=1.0)
    assert not runs_in_core(lazy, 3, OPTS)
    assert (seg.labels.compute() == ref.labels).mean() >= 0.999
