"""ng.segment(..., smoothing=...): accuracy targets on held-out synthetic images, invariants."""

import time

import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image, make_line_image

# seeds and shapes differ from the ones the prior strength and sweep count were chosen on


def _accuracy(seg, truth):
    return float(np.mean(seg.labels == truth))


@pytest.mark.parametrize("seed", [3101, 3102])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_2d_three_classes(seed, dtype):
    image, truth = make_class_image((200, 232), 3, gap=60, sigma=20, seed=seed, dtype=dtype)
    assert _accuracy(ng.segment(image, 3, random_state=0, smoothing=1.0), truth) >= 0.99
    image, truth = make_class_image((200, 232), 3, gap=60, sigma=40, seed=seed, dtype=dtype)
    plain = _accuracy(ng.segment(image, 3, random_state=0), truth)
    smooth = _accuracy(ng.segment(image, 3, random_state=0, smoothing=1.0), truth)
    assert plain < 0.75  # per-pixel EM cannot do much better at this noise level
    assert smooth >= 0.95


@pytest.mark.parametrize("seed", [3201, 3202])
def test_3d_two_classes(seed):
    gap = 60
    image, truth = make_class_image((40, 56, 60), 2, gap=gap, sigma=0.65 * gap, seed=seed)
    plain = _accuracy(ng.segment(image, 2, random_state=0), truth)
    smooth = _accuracy(ng.segment(image, 2, random_state=0, smoothing=1.0), truth)
    assert plain < 0.85
    assert smooth >= 0.96


def test_clean_image_and_thin_lines_kept():
    image, truth = make_class_image((160, 160), 3, gap=60, sigma=4, seed=3301)
    assert _accuracy(ng.segment(image, 3, random_state=0, smoothing=1.0), truth) >= 0.995
    lines, line_truth = make_line_image(shape=(128, 128), sigma=4, seed=3302)
    seg = ng.segment(lines, int(line_truth.max()), random_state=0, smoothing=1.0)
    thin = line_truth > 1
    # a clean 1-2 px structure has half its neighbours in class: the prior must not erase it
    assert np.mean(seg.labels[thin] == line_truth[thin]) >= 0.98


def test_multichannel_and_invariants():
    image, truth = make_class_image((96, 112), 3, gap=60, sigma=40, seed=3401, n_channels=3)
    seg = ng.segment(
        image, 3, channel_axis=-1, random_state=0, smoothing=1.0, return_posteriors=True
    )
    assert _accuracy(seg, truth) >= 0.95
    assert seg.smoothing == 1.0
    assert np.array_equal(seg.posteriors.argmax(axis=-1) + 1, seg.labels)
    assert np.array_equal(seg.posteriors.max(axis=-1), seg.probability)
    assert np.allclose(seg.posteriors.sum(axis=-1), 1.0, atol=1e-5)
    assert np.all(np.diff(seg.model.means_.mean(axis=1)) >= 0)  # still ordered by intensity
    X = ng.pixel_features(image, channel_axis=-1)
    assert seg.log_likelihood == pytest.approx(seg.model.score(X), abs=1e-9)


def test_non_finite_pixels_with_smoothing():
    image, truth = make_class_image((64, 64), 2, gap=60, sigma=30, seed=3501, dtype="float64")
    image[10:14, 10:40] = np.nan
    seg = ng.segment(image, 2, random_state=0, smoothing=1.0)
    bad = np.isnan(image)
    assert np.all(seg.labels[bad] == 0) and np.all(seg.probability[bad] == 0)
    assert np.mean(seg.labels[~bad] == truth[~bad]) >= 0.95


def test_anisotropic_scale_changes_the_prior():
    image, truth = make_class_image((24, 48, 48), 2, gap=60, sigma=39, seed=3601)
    iso = ng.segment(image, 2, random_state=0, smoothing=1.0)
    aniso = ng.segment(image, 2, random_state=0, smoothing=1.0, scale=(4.0, 1.0, 1.0))
    assert _accuracy(aniso, truth) >= 0.9
    assert not np.array_equal(iso.probability, aniso.probability)


def test_cost_is_bounded_on_float_images():
    image, _ = make_class_image((384, 384), 3, gap=60, sigma=40, seed=3701, dtype="float32")
    ng.segment(image, 3, random_state=0, smoothing=1.0)  # warm up
    best = {}
    for smoothing in (0.0, 1.0):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            ng.segment(image, 3, random_state=0, smoothing=smoothing)
            times.append(time.perf_counter() - t)
        best[smoothing] = min(times)
    # the documented target is <= 5x; a loose bound keeps this robust on a loaded machine
    assert best[1.0] <= 8 * best[0.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"smoothing": -1.0}, ValueError, r"smoothing must be a finite number >= 0"),
        ({"smoothing": "strong"}, TypeError, r"smoothing must be a number >= 0"),
        ({"smoothing": 1.0, "scale": (1.0,)}, ValueError, r"one value per spatial axis \(2\)"),
        ({"smoothing": 1.0, "scale": (1.0, 0.0)}, ValueError, r"finite and > 0"),
    ],
)
def test_bad_smoothing_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        ng.segment(np.arange(64.0).reshape(8, 8), 2, **kwargs)


def test_noise_sweep_with_reference():
    image, truth = make_class_image((96, 96), 3, gap=60, sigma=4, seed=3801)
    records = ng.noise_sweep(image, [0, 20, 40], n_components=3, seed=1, reference=truth)
    assert [r["sigma"] for r in records] == [0, 20, 40]
    acc = [r["accuracy"] for r in records]
    assert acc[0] > 0.99 and acc[0] > acc[1] > acc[2]
    assert all(r["against"] == "reference" for r in records)
    assert all(0 <= r["dice"] <= 1 and -1 <= r["ari"] <= 1 for r in records)
    again = ng.noise_sweep(image, [0, 20, 40], n_components=3, seed=1, reference=truth)
    assert [r["ari"] for r in again] == [r["ari"] for r in records]


def test_noise_sweep_smoothing_helps_and_without_reference():
    image, _ = make_class_image((96, 96), 3, gap=60, sigma=4, seed=3802, n_channels=3)
    kwargs = {"n_components": 3, "seed": 2, "channel_axis": -1}
    plain = ng.noise_sweep(image, [40], **kwargs)
    smooth = ng.noise_sweep(image, [40], smoothing=1.0, **kwargs)
    assert plain[0]["against"] == "clean segmentation"
    assert smooth[0]["ari"] > plain[0]["ari"] + 0.2
    per_channel = ng.noise_sweep(image, [[0, 0, 0], [10, 20, 30]], **kwargs)
    assert per_channel[0]["ari"] == pytest.approx(1.0)


def test_noise_sweep_rejects_empty():
    with pytest.raises(ValueError, match="sigmas is empty"):
        ng.noise_sweep(np.zeros((4, 4)), [], n_components=1)
