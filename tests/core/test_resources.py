"""Requests too big for memory fail at once with advice (a dask array), not a MemoryError
deep inside the work or the OOM killer; warnings where a silent guess could be wrong."""

import warnings

import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core import _resources
from napari_gmm.core._resources import available_memory

NotEnoughMemoryError = ng.NotEnoughMemoryError

# 4e10 voxels that take no memory: any attempt to materialise them would fail or swap
HUGE = np.broadcast_to(np.uint8(7), (200_000, 200_000))
MODEL = ng.segment(np.arange(16, dtype=np.uint8).reshape(4, 4), 2, random_state=0).model


@pytest.mark.parametrize(
    "call",
    [
        lambda: ng.segment(HUGE, 3),
        lambda: ng.segment(HUGE, 3, smoothing=1.0),
        lambda: ng.segment(HUGE, "auto"),
        lambda: ng.segment(HUGE[None], 2, time_axis=0),
        lambda: ng.apply_model(MODEL, HUGE),
        lambda: ng.select_n_components(np.broadcast_to(np.float16(1), (200_000, 200_000))),
        lambda: ng.add_gaussian_noise(HUGE, 3.0),
    ],
    ids=["segment", "smoothing", "auto-k", "series", "apply", "selection", "noise"],
)
def test_huge_requests_fail_before_allocating(call):
    with pytest.raises(NotEnoughMemoryError, match=r"needs at least .* GB.*dask array") as info:
        call()
    assert isinstance(info.value, MemoryError) and isinstance(info.value, ValueError)
    assert "200000, 200000)" in str(info.value)


def test_the_limit_follows_the_available_memory(monkeypatch):
    image = np.zeros((1000, 1000), np.float32)
    image[:500] = 1.0
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", str(4_000_000))  # < 5 bytes/pixel
    with pytest.raises(NotEnoughMemoryError, match=r"4 ?\.?\d* MB|3\.\d MB"):
        ng.segment(image, 2)
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", str(10_000_000))
    assert ng.segment(image, 2, random_state=0).labels.shape == image.shape
    with pytest.raises(NotEnoughMemoryError, match="with smoothing"):
        ng.segment(image, 2, smoothing=1.0)  # two K-buffers more
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", str(10**12))
    assert ng.segment(image, 2, smoothing=1.0).labels.shape == image.shape


def test_available_memory_is_read_from_the_system(monkeypatch):
    monkeypatch.delenv("NAPARI_GMM_AVAILABLE_MEMORY", raising=False)
    value = available_memory()
    assert value is None or 0 < value < 2**60
    monkeypatch.setattr(_resources, "_meminfo_available", lambda: None)
    monkeypatch.setattr(_resources, "_cgroup_available", lambda: 12345)
    assert available_memory() == 12345


def test_dask_input_is_the_way_out():
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(np.broadcast_to(np.uint8(7), (40_000, 40_000)), chunks=8000)
    lazy = da.where(da.arange(40_000)[:, None] % 2 == 0, lazy, lazy + 100)
    seg = ng.segment(lazy, 2, random_state=0)  # 1.6e9 voxels, fitted from block histograms
    assert seg.labels.shape == lazy.shape
    np.testing.assert_array_equal(seg.labels[:4, :3].compute(), [[1] * 3, [2] * 3] * 2)


def test_rgb_looking_image_without_channel_axis_warns():
    rgb = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    with pytest.warns(ng.ChannelAxisWarning, match=r"channel_axis=-1.*channel_axis=None"):
        seg = ng.segment(rgb, 2, random_state=0)
    assert seg.labels.shape == rgb.shape  # still segmented as gray, as documented
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ng.segment(rgb, 2, channel_axis=None, random_state=0).labels.shape == rgb.shape
        assert ng.segment(rgb, 2, channel_axis=-1, random_state=0).labels.shape == (16, 16)
        ng.segment(np.zeros((3, 16, 16)) + np.arange(16), 2)  # z-stack of 3 planes: fine
        ng.segment(np.zeros((4, 4, 3)) + np.arange(3), 2)  # too small to look like colour


@pytest.mark.parametrize(
    "call",
    [
        lambda rgb: ng.apply_model(MODEL, rgb),
        lambda rgb: ng.select_n_components(rgb, [1, 2]),
        lambda rgb: ng.noise_sweep(rgb, [0], n_components=2, seed=0),
        lambda rgb: ng.segment(np.stack([rgb, rgb]), 2, time_axis=0),
    ],
    ids=["apply", "selection", "sweep", "series"],
)
def test_every_entry_point_warns_once_where_the_user_called(call):
    rgb = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call(rgb)
    ours = [w for w in caught if w.category is ng.ChannelAxisWarning]
    assert len(ours) == 1
    assert ours[0].filename == __file__


def test_tiny_values_warn_that_reg_covar_merges_classes():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, (64, 64))
    image = (truth + rng.normal(0, 0.1, truth.shape)) * 1e-4
    with pytest.warns(ng.RegularizationWarning, match=r"reg_covar=1e-06.*Rescale"):
        merged = ng.segment(image, 3, random_state=0)
    assert np.unique(merged.labels).size < 3  # what the warning is about
    with warnings.catch_warnings():
        warnings.simplefilter("error", ng.RegularizationWarning)
        fixed = ng.segment(image, 3, random_state=0, reg_covar=1e-16)
        ng.segment(image * 1e4, 3, random_state=0)
        ng.segment(truth.astype(bool), 2, random_state=0)  # 0/1 image: classes 1 apart
    assert ng.compare_labels(truth + 1, fixed.labels).accuracy > 0.99


def test_float64_values_that_would_overflow_are_refused():
    image = np.array([[0.0, 1e150], [1e150, 1e150]])
    with pytest.raises(ValueError, match=r"values up to 1e\+150.*Rescale"):
        ng.segment(image, 2)
    seg = ng.segment(image / 1e150, 2, random_state=0)
    assert seg.labels.tolist() == [[1, 2], [2, 2]]
