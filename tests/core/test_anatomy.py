"""Anatomy phantoms, the held-out smoothing strength, calibration and partial volumes."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core._features import pixel_data
from napari_gmm.core.analysis._calibration import calibration
from napari_gmm.core.analysis._metrics import compare_labels
from napari_gmm.core.analysis._phantoms import MEANS, make_phantom
from napari_gmm.core.potts._auto_guard import (
    CLEAN,
    CLEAN_CAP,
    KEEP_AUTO,
    LOW_NOISE,
    RISE,
    RISE_MIN,
    expected_error,
    guard_smoothing,
    isolated_share,
    score_trend,
    stable_classes,
)
from napari_gmm.core.potts._auto_smoothing import estimate_smoothing
from napari_gmm.core.potts._beta_cv import (
    GRID,
    KEEP,
    HeldOut,
    fit_message_scale,
    held_out_score,
    neighbour_messages,
)
from napari_gmm.core.potts._partial_volume import boundary_mask, fraction_error


@pytest.mark.parametrize(("kind", "ndim", "size"), [("shell", 2, 48), ("sheet", 2, 48),
                                                    ("shell", 3, 20), ("sheet", 3, 20)])
def test_phantom_fractions_truth_and_noise(kind, ndim, size):
    p = make_phantom(kind, ndim, thickness=2, noise=10, size=size, seed=3)
    assert p.image.shape == p.truth.shape == (size,) * ndim
    assert p.fractions.shape == (3, *p.truth.shape) and p.fractions.dtype == np.float32
    np.testing.assert_allclose(p.fractions.sum(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(p.truth, p.fractions.argmax(axis=0) + 1)
    pure = p.fractions.max(axis=0) == 1
    residual = p.image[pure] - np.asarray(MEANS)[p.truth[pure] - 1]
    assert abs(residual.std() - 10) < 1.0 and abs(residual.mean()) < 1.0
    assert 0.05 < (pure == 0).mean() < 0.6  # partial volumes at the boundaries
    again = make_phantom(kind, ndim, thickness=2, noise=10, size=size, seed=3)
    np.testing.assert_array_equal(p.image, again.image)


def test_phantom_band_thickness():
    shares = [(make_phantom("shell", 2, thickness=t, noise=0, size=64).truth == 2).mean()
              for t in (1, 2, 3)]
    assert shares[0] < shares[1] < shares[2]
    assert 2.5 < shares[2] / shares[0] < 4.5  # the band's area grows with its thickness


def test_phantom_rejects_bad_input():
    with pytest.raises(ValueError, match="kind must be one of"):
        make_phantom("blob")
    with pytest.raises(ValueError, match="ndim must be 2 or 3"):
        make_phantom("shell", 4)
    with pytest.raises(ValueError, match="thickness must be > 0"):
        make_phantom("shell", 2, thickness=0)


def test_held_out_score_without_neighbours_is_the_mixture_likelihood():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, 300), rng.normal(5, 1, 200)][:, None]
    gmm = GaussianMixture(2, random_state=0).fit(x)
    lw = np.log(gmm.weights_)
    q = np.tile(gmm.weights_, (x.shape[0], 1))  # what beta = 0 predicts: the weights
    score = held_out_score(q, gmm._estimate_weighted_log_prob(x), lw)
    assert score == pytest.approx(gmm.score_samples(x).mean(), rel=1e-10)
    weighted = held_out_score(q, gmm._estimate_weighted_log_prob(x), lw, np.r_[1.0, 0 * x[1:, 0]])
    assert weighted == pytest.approx(gmm.score_samples(x[:1])[0], rel=1e-10)


def test_neighbour_messages_average_the_valid_face_neighbours():
    rng = np.random.default_rng(1)
    q = softmax(rng.normal(size=(5, 6, 3)), axis=-1).astype(np.float32)
    valid = rng.random((5, 6)) > 0.3
    got = neighbour_messages(q, valid)
    for i, j in np.ndindex(5, 6):
        nbs = [(i + a, j + b) for a, b in ((-1, 0), (1, 0), (0, -1), (0, 1))
               if 0 <= i + a < 5 and 0 <= j + b < 6 and valid[i + a, j + b]]
        want = np.mean([q[n] for n in nbs], axis=0) if nbs else np.zeros(3)
        np.testing.assert_allclose(got[i, j], want, atol=1e-6)


def test_message_scale_recovers_the_generating_coupling():
    # labels drawn from softmax(g * m) with known g; their values tell the class exactly
    rng = np.random.default_rng(2)
    m = rng.dirichlet([1, 1], size=20000)
    z = (rng.random(20000) < softmax(6.0 * m, axis=1)[:, 1]).astype(int)
    lp = np.where(np.eye(2)[z] > 0, np.log(0.5), np.log(0.5) - 40.0)
    g = fit_message_scale(m, lp, np.log([0.5, 0.5]))
    assert g == pytest.approx(6.0, rel=0.1)


@pytest.fixture(scope="module")
def thin_band():
    return make_phantom("shell", 2, thickness=1, noise=10, size=96, seed=1)


def test_held_out_and_auto_keep_the_thin_band(thin_band):
    p = thin_band
    grey = {}
    for smoothing in (1.0, "auto", "held-out"):
        seg = ng.segment(p.image, 3, smoothing=smoothing, random_state=0)
        grey[smoothing] = compare_labels(p.truth, seg.labels).dice[2]
        if smoothing == "held-out":
            assert seg.smoothing in GRID
    assert grey["auto"] > grey[1.0] + 0.1 and grey["held-out"] > grey[1.0] + 0.1


def test_guard_backs_off_only_when_a_class_drains(thin_band):
    thick = make_phantom("shell", 2, thickness=3, noise=10, size=96, seed=1)
    chosen, dice = {}, {}
    for name, p in (("thin", thin_band), ("thick", thick)):
        plain = ng.segment(p.image, 3, random_state=0)
        chosen[name] = guard_smoothing(plain.model, pixel_data(p.image, None), 1.0,
                                       random_state=0)
        seg = ng.segment(p.image, 3, smoothing=chosen[name], random_state=0)
        dice[name] = (compare_labels(p.truth, seg.labels).mean_dice,
                      compare_labels(p.truth, plain.labels).mean_dice)
    assert chosen["thin"] <= 0.25 and chosen["thick"] == 1.0
    assert dice["thin"][0] > dice["thin"][1] - 0.01  # the band is kept: about plain EM
    assert dice["thick"][0] > dice["thick"][1] + 0.02  # smoothing helps the thick band


def test_guard_keeps_a_stable_drop_of_the_middle_class():
    # thick bands at 15 % noise: the plain fit over-counts grey, the prior lowers its
    # weight once (below KEEP_AUTO) and a stronger prior barely lowers it further
    p = make_phantom("sheet", 2, thickness=3, noise=15, size=96, seed=1)
    plain = ng.segment(p.image, 3, random_state=0)
    data = pixel_data(p.image, None)
    held = HeldOut(plain.model, data, random_state=5)
    held.score(1.0)
    assert held.kept[1.0] < KEEP_AUTO and stable_classes(held, 1.0)
    thin = make_phantom("shell", 2, thickness=1, noise=15, size=96, seed=1)
    thin_plain = ng.segment(thin.image, 3, random_state=0)
    thin_held = HeldOut(thin_plain.model, pixel_data(thin.image, None), random_state=5)
    assert not stable_classes(thin_held, 0.5)  # an eroded band keeps draining
    strong = ng.segment(p.image, 3, smoothing=1.0, random_state=0)
    weak = ng.segment(p.image, 3, smoothing=0.25, random_state=0)
    assert (compare_labels(p.truth, strong.labels).mean_dice
            > compare_labels(p.truth, weak.labels).mean_dice + 0.02)


@pytest.mark.parametrize(("thickness", "rises"), [(3, True), (2, False)])
def test_a_rising_held_out_score_takes_a_stronger_prior(thickness, rises):
    # sheets at 15 % noise, where a class drains at the estimate (~0.8): on the 3-voxel
    # sheet the held-out score rises from half the estimate to it and beyond (noise being
    # removed; best fixed strength 1.5) and 'auto' takes 1.5x the estimate; on the 2-voxel
    # one it falls (the band is being erased; best 0.2) and 'auto' stays at or below it
    p = make_phantom("sheet", 2, thickness=thickness, noise=15, seed=1)
    plain = ng.segment(p.image, 3, random_state=0)
    data = pixel_data(p.image, None)
    estimate = estimate_smoothing(plain.model, data, None, random_state=0)[0]
    held = HeldOut(plain.model, data, random_state=209652396)  # the guard's, for seed 0
    held.score(estimate)
    assert held.kept[round(float(estimate), 4)] < KEEP_AUTO  # a class drains
    rise, further = score_trend(held, estimate)
    auto = ng.segment(p.image, 3, smoothing="auto", random_state=0)

    def dice(smoothing):
        seg = ng.segment(p.image, 3, smoothing=smoothing, random_state=0)
        return compare_labels(p.truth, seg.labels).mean_dice

    if rises:
        assert rise > RISE_MIN and further > 0
        assert auto.smoothing == pytest.approx(RISE[-1] * estimate)
        assert dice(auto.smoothing) > dice(estimate) + 0.01
    else:
        assert rise < 0 and auto.smoothing <= estimate
        assert dice(auto.smoothing) > dice(RISE[-1] * estimate) + 0.02


@pytest.mark.parametrize(("noise", "dropped"), [(10, True), (15, False)])
def test_a_backed_off_strength_is_dropped_on_a_mildly_noisy_image(noise, dropped):
    p = make_phantom("sheet", 2, thickness=1, noise=noise, size=128, seed=1)
    plain = ng.segment(p.image, 3, random_state=0)
    held = HeldOut(plain.model, pixel_data(p.image, None), random_state=0)
    assert (expected_error(held) < LOW_NOISE) == dropped
    auto = ng.segment(p.image, 3, smoothing="auto", random_state=0)
    weak = ng.segment(p.image, 3, smoothing=0.15, random_state=0)  # what the ladder gave

    def dice(seg):
        return compare_labels(p.truth, seg.labels).mean_dice

    if dropped:  # the weak prior still relabels 1-voxel sulci: below plain EM
        assert auto.smoothing == 0.0 and dice(weak) < dice(plain) == dice(auto)
    else:  # noisier: the weak prior pays
        assert 0 < auto.smoothing <= 0.25 and dice(auto) > dice(plain) + 0.005


def test_an_erased_band_does_not_pass_for_stable_classes():
    # the 1-voxel sheet at 10 % noise (seed 4): at the estimate (0.97) the band is already
    # erased, so doubling the strength drains nothing more; the classes look "stable"
    p = make_phantom("sheet", 2, thickness=1, noise=10, seed=4)
    plain = ng.segment(p.image, 3, random_state=0)
    held = HeldOut(plain.model, pixel_data(p.image, None), random_state=209652396)
    assert stable_classes(held, 0.97) and held.kept[0.97] < KEEP_AUTO
    assert expected_error(held) < LOW_NOISE
    strong = ng.segment(p.image, 3, smoothing=0.97, random_state=0)
    auto = ng.segment(p.image, 3, smoothing="auto", random_state=0)
    dice = [compare_labels(p.truth, s.labels).mean_dice for s in (plain, strong, auto)]
    assert auto.smoothing == 0.0 and dice[1] < dice[0] - 0.05 and dice[2] == dice[0]


def test_expected_error_grows_with_noise():
    errors = []
    for noise in (5, 10, 15):
        p = make_phantom("shell", 2, thickness=2, noise=noise, size=64, seed=1)
        held = HeldOut(ng.segment(p.image, 3, random_state=0).model, pixel_data(p.image, None))
        errors.append(expected_error(held))
    assert 0 < errors[0] < errors[1] < errors[2] < 0.5


def test_isolated_share_counts_pixels_without_a_like_neighbour():
    checker = np.indices((6, 7)).sum(axis=0) % 2
    assert isolated_share(checker) == 1.0 and isolated_share(np.zeros((5, 5, 4))) == 0.0
    labels = np.ones((10, 10), dtype=int)
    labels[4, 4] = 2  # one speck
    labels[0, :] = 3  # a line: its pixels have neighbours along it
    assert isolated_share(labels) == pytest.approx(1 / 100)
    valid = np.ones_like(labels, dtype=bool)
    valid[4, 5] = False  # an invalid neighbour does not count as a like one
    labels[4, 5] = 2
    assert isolated_share(labels, valid) == pytest.approx(1 / 99)


@pytest.mark.parametrize(("noise", "capped"), [(5, True), (10, False)])
def test_a_clean_image_gets_a_gentle_prior(noise, capped):
    p = make_phantom("sheet", 2, thickness=1 if capped else 3, noise=noise, size=96, seed=1)
    plain = ng.segment(p.image, 3, random_state=0)
    assert (isolated_share(plain.labels) < CLEAN) == capped
    auto = ng.segment(p.image, 3, smoothing="auto", random_state=0)
    assert (auto.smoothing <= CLEAN_CAP) == capped
    if capped:  # the 1-voxel sulci of a clean image: a strong prior erases them
        strong = ng.segment(p.image, 3, smoothing=1.0, random_state=0)
        dice = [compare_labels(p.truth, s.labels).mean_dice for s in (plain, auto, strong)]
        assert dice[1] > dice[2] + 0.02 and dice[1] > dice[0] - 0.01


def test_held_out_scores_prefer_some_smoothing_to_none(thin_band):
    plain = ng.segment(thin_band.image, 3, random_state=0)
    held = HeldOut(plain.model, pixel_data(thin_band.image, None), random_state=0)
    assert held.score(0.3) > held.score(0.0)  # neighbours predict better than the weights
    assert held.score(0.3) > held.score(2.0)  # and a too strong prior predicts worse


def test_held_out_refuses_strengths_that_empty_a_class(thin_band):
    plain = ng.segment(thin_band.image, 3, random_state=0)
    held = HeldOut(plain.model, pixel_data(thin_band.image, None), random_state=0)
    held.score(0.1), held.score(1.5)
    assert held.kept[0.1] >= KEEP > held.kept[1.5]  # the strong prior drains the grey band
    seg = ng.segment(thin_band.image, 3, smoothing=1.5, random_state=0)
    grey = (seg.labels == 2).mean() / (plain.labels == 2).mean()
    assert grey < KEEP  # ... as it does in the full segmentation
    held.scores[1.5] = held.scores[0.1] + 1.0  # even when it would score best
    assert held.best([0.1, 1.5]) == 0.1


def test_held_out_is_reproducible_recorded_and_applies():
    p = make_phantom("sheet", 2, thickness=2, noise=10, size=48, seed=2)
    a = ng.segment(p.image, 3, smoothing="held-out", random_state=4)
    b = ng.segment(p.image, 3, smoothing="held-out", random_state=4)
    assert a.smoothing == b.smoothing and np.array_equal(a.labels, b.labels)
    assert a.summary()["smoothing"] == a.smoothing
    applied = ng.apply_model(a.model, p.image, smoothing="held-out")
    assert applied.smoothing in GRID
    with pytest.raises(TypeError, match="'held-out'"):
        ng.segment(p.image, 3, smoothing="cv")


def test_default_posteriors_are_calibrated_under_smoothing():
    p = make_phantom("shell", 2, thickness=2, noise=10, size=96, seed=1)
    seg = ng.segment(p.image, 3, smoothing=1.0, random_state=0)
    cal = calibration(p.truth, seg.labels, seg.probability)
    assert cal.ece <= 0.05 and cal.auc >= 0.8


def test_partial_volume_fractions():
    p = make_phantom("shell", 2, thickness=2, noise=5, size=64, seed=1)
    seg = ng.segment(p.image, 3, smoothing=0.5, random_state=0, partial_volume=True,
                     return_posteriors=True)
    f = seg.fractions
    assert f.shape == (3, 64, 64) and f.dtype == np.float32
    np.testing.assert_allclose(f.sum(axis=0), 1, atol=1e-5)
    assert f.min() >= 0
    inside = ~boundary_mask(seg.labels)
    np.testing.assert_array_equal(f[:, inside], np.moveaxis(seg.posteriors, -1, 0)[:, inside])
    pv = p.fractions.max(axis=0) < 0.99
    post = np.moveaxis(seg.posteriors, -1, 0)
    assert fraction_error(f, p.fractions, pv) < 0.8 * fraction_error(post, p.fractions, pv)
    alone = ng.segment(p.image, 3, smoothing=0.5, random_state=0, partial_volume=True)
    assert alone.posteriors is None and np.array_equal(alone.fractions, f)
    assert ng.segment(p.image, 3, random_state=0).fractions is None


def test_partial_volume_needs_a_single_image():
    with pytest.raises(ValueError, match="partial_volume=True needs a single"):
        ng.segment(np.zeros((2, 8, 8)), 2, time_axis=0, partial_volume=True)
