"""Time series: segment(..., time_axis=, frames=), iter_segment and apply_model per frame."""

import json

import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core._segment import iter_segment
from napari_gmm.core.analysis._synthetic import make_class_image, smooth_class_map

N_FRAMES = 30


@pytest.fixture(scope="module")
def bleaching():
    """(T, Y, X) uint16 series: 25 % foreground, the whole signal decaying 10x over 30 frames."""
    truth = smooth_class_map((48, 48), 4, seed=0) == 4
    decay = 10.0 ** (-np.arange(N_FRAMES) / (N_FRAMES - 1))
    noise = np.random.default_rng(0).normal(0.0, 5.0, (N_FRAMES, 48, 48))
    series = decay[:, None, None] * np.where(truth, 1000.0, 200.0) + noise
    return np.clip(series, 0, None).astype(np.uint16), truth


def test_each_frame_follows_bleaching_where_one_global_fit_does_not(bleaching):
    series, truth = bleaching
    assert truth.mean() == pytest.approx(0.25, abs=0.01)
    each = ng.segment(series, 2, random_state=0, time_axis=0)
    assert each.labels.shape == series.shape
    for t in (0, N_FRAMES // 2, N_FRAMES - 1):
        assert np.mean(each.labels[t] == np.where(truth, 2, 1)) > 0.99
    # one fit over all frames (time taken as a spatial axis) loses the dim late foreground
    pooled = ng.segment(series, 2, random_state=0)
    assert np.mean(pooled.labels[-1] == 2) < 0.1
    shared = ng.segment(series, 2, random_state=0, time_axis=0, frames="shared")
    assert np.mean(shared.labels[-1] == 2) < 0.1
    # fitted on the last frame, the model finds its foreground
    last = ng.segment(series, 2, random_state=0, time_axis=0, frames=-1)
    assert np.mean(last.labels[-1] == np.where(truth, 2, 1)) > 0.99
    assert last.frame_mode == N_FRAMES - 1


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_each_frame_equals_segmenting_that_frame(dtype):
    frames = [make_class_image((32, 40), 3, sigma=15.0, seed=s)[0] for s in range(3)]
    series = np.stack(frames, axis=-1).astype(dtype)  # (Y, X, T)
    seg = ng.segment(series, 3, time_axis=-1, random_state=0, return_posteriors=True)
    assert seg.labels.shape == series.shape and seg.time_axis == 2
    assert seg.frame_mode == "each" and len(seg.frames) == 3
    assert seg.model is seg.frames[0].model
    assert seg.n_valid == series.size and seg.converged
    post = seg.posteriors
    np.testing.assert_array_equal(seg.labels, post.argmax(-1) + 1)
    np.testing.assert_allclose(seg.probability, post.max(-1))
    for t, frame in enumerate(frames):
        alone = ng.segment(frame.astype(dtype), 3, random_state=0)
        np.testing.assert_array_equal(seg.labels[..., t], alone.labels)
        np.testing.assert_array_equal(seg.frames[t].labels, alone.labels)
        np.testing.assert_allclose(seg.frames[t].model.means_, alone.model.means_)
        features = ng.pixel_features(frame.astype(dtype))
        np.testing.assert_array_equal(
            seg.frames[t].model.predict(features) + 1, seg.labels[..., t].ravel()
        )
        assert np.all(np.diff(seg.frames[t].model.means_[:, 0]) > 0)  # intensity order
    assert seg.log_likelihood == pytest.approx(np.mean([f.log_likelihood for f in seg.frames]))


def test_shared_model_is_applied_to_every_frame_and_smoothing_stays_in_frames():
    frames = [make_class_image((40, 40), 2, sigma=25.0, seed=s)[0] for s in range(3)]
    series = np.stack(frames)
    seg = ng.segment(series, 2, time_axis=0, frames="shared", random_state=0, smoothing=1.0)
    pooled = ng.segment(series.reshape(-1, 40), 2, random_state=0)
    np.testing.assert_allclose(seg.model.means_, pooled.model.means_)  # exact histogram fit
    assert seg.frame_mode == "shared" and "shared by 3 frames" in seg.method
    for t, frame in enumerate(frames):
        assert seg.frames[t].model is seg.model
        alone = ng.apply_model(seg.model, frame, smoothing=1.0)
        np.testing.assert_array_equal(seg.labels[t], alone.labels)
        np.testing.assert_allclose(seg.probability[t], alone.probability)


def test_reference_frame_model_and_channels_with_time():
    imgs = [make_class_image((24, 24), 2, sigma=10.0, n_channels=2, seed=s)[0] for s in range(4)]
    series = np.stack([np.moveaxis(i, -1, 0) for i in imgs])  # (T, C, Y, X)
    seg = ng.segment(series, 2, time_axis=0, channel_axis=1, frames=2, random_state=0)
    assert seg.labels.shape == (4, 24, 24)
    ref = ng.segment(series[2], 2, channel_axis=0, random_state=0)
    np.testing.assert_allclose(seg.model.means_, ref.model.means_)
    for t in range(4):
        applied = ng.apply_model(seg.model, series[t], channel_axis=0)
        np.testing.assert_array_equal(seg.labels[t], applied.labels)
    # channel axis before the time axis: (C, Y, X, T)
    moved = np.moveaxis(series, (0, 1), (3, 0))
    again = ng.segment(moved, 2, time_axis=3, channel_axis=0, frames=2, random_state=0)
    np.testing.assert_array_equal(np.moveaxis(again.labels, 2, 0), seg.labels)


def test_scale_may_include_the_time_step():
    series = np.stack([make_class_image((16, 16), 2, seed=s)[0] for s in range(2)])
    a = ng.segment(series, 2, time_axis=0, random_state=0, smoothing=1.0, scale=(60.0, 1, 2))
    b = ng.segment(series, 2, time_axis=0, random_state=0, smoothing=1.0, scale=(1, 2))
    np.testing.assert_array_equal(a.labels, b.labels)
    with pytest.raises(ValueError, match="one value per spatial axis of a frame"):
        ng.segment(series, 2, time_axis=0, scale=(1, 2, 3, 4))


def test_iter_segment_reports_frames_and_can_be_cancelled(bleaching):
    series = bleaching[0][:5]
    steps = iter_segment(series, 2, time_axis=0, random_state=0)
    stages = []
    with pytest.raises(StopIteration) as stop:
        while True:
            fraction, stage = next(steps)
            stages.append((fraction, stage))
    assert stop.value.value.labels.shape == series.shape
    assert any(stage.startswith("frame 3/5") for _, stage in stages)
    fractions = [f for f, _ in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    class Cancelled(Exception):
        pass

    seen = []

    def progress(fraction, stage):
        seen.append(stage)
        if stage.startswith("frame 2/"):
            raise Cancelled

    for frames in ("each", "shared", 0):
        seen.clear()
        with pytest.raises(Cancelled):
            ng.segment(series, 2, time_axis=0, frames=frames, progress=progress)
        assert not any(s.startswith("frame 3/") for s in seen)


def test_apply_model_per_frame(bleaching):
    series = bleaching[0][::10]
    model = ng.segment(series[0], 2, random_state=0).model
    seg = ng.apply_model(model, series, time_axis=0, return_posteriors=True)
    assert seg.frame_mode == "shared" and seg.method == "applied model"
    assert seg.posteriors.shape == (*series.shape, 2)
    for t in range(series.shape[0]):
        np.testing.assert_array_equal(seg.labels[t], ng.apply_model(model, series[t]).labels)
    summary = json.loads(json.dumps(seg.summary()))
    assert summary["time_axis"] == 0 and len(summary["frames"]) == series.shape[0]


def test_auto_components_per_frame_pads_posteriors():
    two = make_class_image((32, 32), 2, gap=80.0, sigma=5.0, seed=0)[0]
    three = make_class_image((32, 32), 3, gap=80.0, sigma=5.0, seed=1)[0]
    seg = ng.segment(
        np.stack([two, three]), "auto", time_axis=0, random_state=0, return_posteriors=True
    )
    assert [f.n_components for f in seg.frames] == [2, 3]
    assert seg.posteriors.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(seg.posteriors.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(seg.labels, seg.posteriors.argmax(-1) + 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"time_axis": 1, "channel_axis": 1}, ValueError, "same axis"),
        ({"time_axis": -2, "channel_axis": 1}, ValueError, "same axis"),
        ({"time_axis": 3}, ValueError, "out of range"),
        ({"time_axis": 1.0}, TypeError, "time_axis must be an int"),
        ({"time_axis": True}, TypeError, "time_axis must be an int"),
        ({"time_axis": 0, "frames": "all"}, ValueError, "frames must be 'each'"),
        ({"time_axis": 0, "frames": 4}, ValueError, "out of range for a series of 4"),
        ({"time_axis": 0, "frames": True}, ValueError, "frames must be 'each'"),
        ({"frames": "shared"}, ValueError, "needs a time axis"),
    ],
)
def test_time_axis_validation(kwargs, error, match):
    series = np.random.default_rng(0).random((4, 3, 5))
    with pytest.raises(error, match=match):
        ng.segment(series, 2, **kwargs)


def test_time_axis_must_leave_a_spatial_axis():
    with pytest.raises(ValueError, match="leaves no spatial axis"):
        ng.segment(np.arange(6.0), 2, time_axis=0)
    with pytest.raises(ValueError, match="leaves no spatial axis"):
        ng.segment(np.random.default_rng(0).random((4, 3)), 2, time_axis=0, channel_axis=1)
    with pytest.raises(ValueError, match="same axis"):
        ng.apply_model(ng.segment(np.arange(6.0), 2).model, np.ones((2, 3)), time_axis=0,
                       channel_axis=0)


def test_iter_apply_model_yields_frames_and_returns_the_result(bleaching):
    from napari_gmm.core._apply import iter_apply_model

    series = bleaching[0][:4]
    model = ng.segment(series[0], 2, random_state=0).model
    steps = iter_apply_model(model, series, time_axis=0, smoothing=1.0)
    stages = []
    while True:
        try:
            stages.append(next(steps)[1])
        except StopIteration as stop:
            seg = stop.value
            break
    assert any(stage.startswith("frame 4/4") for stage in stages)
    np.testing.assert_array_equal(
        seg.labels, ng.apply_model(model, series, time_axis=0, smoothing=1.0).labels
    )
    with pytest.raises(TypeError, match="Unknown"):
        next(iter_apply_model(model, series, colour=True))
