"""Mixel-aware posteriors of ``smoothing='auto'`` on clean images with partial volumes."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core._features import pixel_data
from napari_gmm.core.analysis._calibration import calibration
from napari_gmm.core.analysis._metrics import compare_labels
from napari_gmm.core.analysis._phantoms import MEANS, make_phantom
from napari_gmm.core.potts._auto_guard import CLEAN_CAP, guard_smoothing
from napari_gmm.core.potts._auto_smoothing import estimate_smoothing
from napari_gmm.core.potts._mixel_swap import MIXEL_CAP, guard_with_mixels, mixel_posteriors
from napari_gmm.core.potts._mixels import FLOOR, N_LEVELS, MixelModel, fit_mixels


@pytest.fixture(scope="module")
def clean_sheet():
    """1-voxel sulci at 5 % noise: partial volumes the plain fit labels with confidence."""
    return make_phantom("sheet", 2, thickness=1, noise=5, seed=1)


def _plain(p):
    return ng.segment(p.image, 3, random_state=0)


def test_mixel_model_finds_the_pure_classes_of_a_partial_volume_phantom(clean_sheet):
    plain = _plain(clean_sheet)
    model = fit_mixels(plain.model, pixel_data(clean_sheet.image, None))
    assert isinstance(model, MixelModel)
    assert model.weights.shape == (3 + 3 * N_LEVELS,)
    assert model.weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(model.means.ravel(), MEANS, atol=2.0)
    true_mixed = (clean_sheet.fractions.max(axis=0) < 0.99).mean()
    assert model.weights[3:].sum() > 0.3 * true_mixed  # mixed voxels are found
    # the plain fit widens CSF and white matter to cover the mixed values; the mixel model not
    assert model.covariances[0, 0, 0] < plain.model.covariances_[0].item()
    assert model.covariances[2, 0, 0] < plain.model.covariances_[2].item()


def test_no_mixel_model_without_partial_volumes():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, 6000), rng.normal(10, 1.5, 4000)].astype(np.float32)
    image = x.reshape(100, 100)
    gmm = GaussianMixture(2, random_state=0).fit(x[:, None])
    assert fit_mixels(gmm, pixel_data(image, None)) is None
    one = GaussianMixture(1, random_state=0).fit(x[:, None])
    assert fit_mixels(one, pixel_data(image, None)) is None


def test_majority_likelihood_sums_the_components_of_each_class():
    means = np.array([[0.0], [10.0]])
    covs = np.array([[[1.0]], [[4.0]]])
    a, b, f = np.array([0, 1, 0, 0]), np.array([0, 1, 1, 1]), np.array([0, 0, 0.25, 0.75])
    weights = np.array([0.4, 0.3, 0.2, 0.1])
    model = MixelModel(means, covs, weights, a, b, f)
    x = np.array([[-1.0], [2.5], [7.5], [11.0]])
    mu = (1 - f) * means[a, 0] + f * means[b, 0]
    var = (1 - f) * covs[a, 0, 0] + f * covs[b, 0, 0]
    dens = weights * norm.pdf(x, mu, np.sqrt(var))  # (4 rows, 4 components)
    expected = np.stack([dens[:, [0, 2]].sum(axis=1), dens[:, [1, 3]].sum(axis=1)], axis=1)
    np.testing.assert_allclose(np.exp(model.majority_log_lik(x)), expected, rtol=1e-10)


def test_a_model_without_mixed_voxels_leaves_the_posteriors_unchanged():
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(0, 1, 300), rng.normal(6, 2, 200)][:, None]
    gmm = GaussianMixture(2, random_state=0).fit(x)
    a, b, f = np.array([0, 1, 0]), np.array([0, 1, 1]), np.array([0.0, 0.0, 0.5])
    covs = gmm.covariances_.reshape(2, 1, 1)
    model = MixelModel(gmm.means_, covs, np.r_[gmm.weights_, 0.0], a, b, f, plain=gmm)
    q = rng.dirichlet([1, 1], size=x.shape[0]).astype(np.float32)
    q[5] = 0  # an invalid pixel
    out = mixel_posteriors(model, x, q)
    assert out.dtype == np.float32 and out.shape == q.shape
    plain = gmm.predict_proba(x)
    kept = plain.min(axis=1) >= FLOOR
    assert 0.5 < kept.mean() < 1
    np.testing.assert_allclose(out[kept], q[kept], atol=1e-6)
    # where the plain fit rules a class out (posterior < FLOOR) it is not revived
    ruled_out = plain < FLOOR
    assert (out[ruled_out] <= q[ruled_out] + 1e-7).all()
    # with mixed voxels, a value between the classes moves towards the nearer class's share
    mixed = MixelModel(gmm.means_, covs, np.r_[0.8 * gmm.weights_, 0.2], a, b, f, plain=gmm)
    assert not np.allclose(mixel_posteriors(mixed, x, q), q, atol=1e-3)
    assert mixel_posteriors(mixed, x, q)[5].tolist() == [0.0, 0.0]


def test_auto_on_a_clean_partial_volume_image_keeps_sulci_and_is_calibrated(clean_sheet):
    p = clean_sheet
    plain = _plain(p)
    auto = ng.segment(p.image, 3, smoothing="auto", random_state=0, return_posteriors=True)
    assert 0 < auto.smoothing <= MIXEL_CAP
    dice = {name: compare_labels(p.truth, s.labels).mean_dice
            for name, s in (("plain", plain), ("auto", auto))}
    assert dice["auto"] >= dice["plain"]  # before: 0.25 and 0.007 below plain EM
    cal = calibration(p.truth, auto.labels, auto.probability)
    assert cal.ece <= 0.05 and cal.auc >= 0.9  # before: AUC 0.80 (plain EM: 0.73)
    # the usual invariants hold for the swapped posteriors
    q = auto.posteriors
    np.testing.assert_array_equal(auto.labels, q.argmax(axis=-1) + 1)
    np.testing.assert_array_equal(auto.probability, q.max(axis=-1))
    np.testing.assert_allclose(q.sum(axis=-1), 1, atol=1e-5)
    again = ng.segment(p.image, 3, smoothing="auto", random_state=0)
    np.testing.assert_array_equal(again.labels, auto.labels)
    np.testing.assert_array_equal(again.probability, auto.probability)
    assert again.posteriors is None


def test_the_swap_is_what_changes_the_labels(clean_sheet):
    p = clean_sheet
    plain = _plain(p)
    data = pixel_data(p.image, None)
    estimate = estimate_smoothing(plain.model, data, None, random_state=0)[0]
    strength, model = guard_with_mixels(plain.model, data, estimate, random_state=0)
    assert model is not None and strength == min(estimate, MIXEL_CAP)
    fixed = ng.segment(p.image, 3, smoothing=strength, random_state=0, return_posteriors=True)
    auto = ng.segment(p.image, 3, smoothing="auto", random_state=0)
    assert fixed.mixels is None
    assert model.plain is plain.model and auto.mixels is not None
    q = mixel_posteriors(model, p.image.reshape(-1, 1), fixed.posteriors.reshape(-1, 3))
    np.testing.assert_array_equal(auto.labels.ravel(), q.argmax(axis=1) + 1)
    assert (auto.labels != fixed.labels).sum() > 50


@pytest.mark.parametrize("case", ["noisy", "sharp"])
def test_no_swap_on_noisy_or_sharp_images(case):
    if case == "noisy":  # not clean: the guard's strength, plain mean-field posteriors
        p = make_phantom("sheet", 2, thickness=2, noise=10, size=96, seed=1)
        image = p.image
    else:  # clean, but sharp boundaries (no partial volumes): BIC keeps the plain fit
        rng = np.random.default_rng(2)
        truth = np.zeros((96, 96), dtype=int)
        truth[20:70, 10:60] = 1
        truth[40:90, 50:90] = 2
        image = (np.array([30.0, 65.0, 100.0])[truth] + rng.normal(0, 4, truth.shape))
        image = image.astype(np.float32)
    plain = _plain(type("P", (), {"image": image}))
    data = pixel_data(image, None)
    estimate = estimate_smoothing(plain.model, data, None, random_state=0)[0]
    strength, model = guard_with_mixels(plain.model, data, estimate, random_state=0)
    assert model is None
    assert strength == guard_smoothing(plain.model, data, estimate, random_state=0)
    if case == "sharp":
        assert strength <= CLEAN_CAP
        assert fit_mixels(plain.model, data) is None
    auto = ng.segment(image, 3, smoothing="auto", random_state=0)
    fixed = ng.segment(image, 3, smoothing=strength, random_state=0)
    assert auto.mixels is None
    np.testing.assert_array_equal(auto.labels, fixed.labels)
    np.testing.assert_array_equal(auto.probability, fixed.probability)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_the_table_gives_the_exact_swap(clean_sheet, dtype):
    image = clean_sheet.image
    if dtype == np.uint8:
        image = np.clip(np.round(image * 2), 0, 255).astype(np.uint8)
    plain = ng.segment(image, 3, random_state=0)
    model = fit_mixels(plain.model, pixel_data(image, None))
    assert model.table is not None
    if dtype == np.uint8:  # every integer of the range: exact at the image's values
        np.testing.assert_array_equal(model.grid, np.round(model.grid))
    x = np.r_[image.ravel().astype(np.float64), -500.0, 900.0][:, None]  # two outside
    fast, exact = model.fast_correction(x), model.correction(x)
    fast -= fast.max(axis=1, keepdims=True)
    exact -= exact.max(axis=1, keepdims=True)
    np.testing.assert_allclose(fast, exact, atol=1e-9 if dtype == np.uint8 else 5e-5)


@pytest.mark.usefixtures("halo_blocks")
def test_a_dask_image_gets_the_in_memory_swap(clean_sheet):
    import dask.array as da

    image = clean_sheet.image
    memory = ng.segment(image, 3, smoothing="auto", random_state=0, return_posteriors=True)
    assert memory.mixels is not None
    lazy = ng.segment(da.from_array(image, chunks=(48, 64)), 3, smoothing="auto",
                      random_state=0, return_posteriors=True)
    assert lazy.mixels is not None and lazy.smoothing == memory.smoothing
    np.testing.assert_array_equal(lazy.labels.compute(), memory.labels)
    np.testing.assert_allclose(lazy.probability.compute(), memory.probability, atol=1e-5)
    np.testing.assert_allclose(lazy.posteriors.compute(), memory.posteriors, atol=1e-5)
    without = ng.segment(da.from_array(image, chunks=(48, 64)), 3, smoothing="auto",
                         random_state=0)
    np.testing.assert_array_equal(without.labels.compute(), memory.labels)


@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
def test_compiled_swap_equals_numpy(clean_sheet, dtype):
    from napari_gmm.core._backend import use_backend

    image = clean_sheet.image
    if dtype == np.uint16:
        image = np.round(image * 40).astype(np.uint16)
    plain = ng.segment(image, 3, random_state=0)
    model = fit_mixels(plain.model, pixel_data(image, None))
    rng = np.random.default_rng(4)
    q = rng.dirichlet([1, 1, 1], size=image.size).astype(np.float32)
    q[::5] = 0  # invalid pixels
    x = image.reshape(-1, 1).astype(np.float64)
    x[1, 0], x[2, 0] = model.grid[0] - 50, model.grid[-1] + 50  # outside the table
    x[3, 0], x[4, 0] = model.grid[0], model.grid[-1]  # its ends
    with use_backend("numba"):
        compiled = mixel_posteriors(model, x, q)
    with use_backend("numpy"):
        reference = mixel_posteriors(model, x, q)
    np.testing.assert_allclose(compiled, reference, atol=1e-6)
    np.testing.assert_array_equal(compiled.argmax(axis=1), reference.argmax(axis=1))
    assert (compiled[::5] == 0).all()
    np.testing.assert_allclose(compiled[1:5], _exact_rows(model, x[1:5], q[1:5]), atol=1e-6)


def _exact_rows(model, x, q):
    log_q = np.log(q.astype(np.float64)) + model.correction(x)
    new = np.exp(log_q - log_q.max(axis=1, keepdims=True))
    return new / new.sum(axis=1, keepdims=True)


def test_gibbs_marginals_keep_the_plain_posteriors(clean_sheet):
    p = clean_sheet
    gibbs = ng.segment(p.image, 3, smoothing="auto", marginals="gibbs", random_state=0)
    assert gibbs.mixels is None and 0 < gibbs.smoothing <= CLEAN_CAP


def test_no_room_for_the_posteriors_keeps_the_plain_ones(clean_sheet, monkeypatch):
    from napari_gmm.core._resources import features_copy_bytes, segmentation_bytes

    p = clean_sheet
    n = p.image.size
    base = features_copy_bytes(p.image, None)
    without = base + segmentation_bytes(n, 3, smoothing=MIXEL_CAP, posteriors=False,
                                        backend=ng.get_backend())
    with_post = base + segmentation_bytes(n, 3, smoothing=MIXEL_CAP, posteriors=True,
                                          backend=ng.get_backend())
    assert with_post > without
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", str(int((without + with_post) / 2)))
    with pytest.warns(UserWarning, match="partial volumes"):
        seg = ng.segment(p.image, 3, smoothing="auto", random_state=0)
    assert seg.mixels is None and seg.smoothing == MIXEL_CAP
    fixed = ng.segment(p.image, 3, smoothing=MIXEL_CAP, random_state=0)
    np.testing.assert_array_equal(seg.labels, fixed.labels)


def test_multiscale_levels_take_the_fitted_level_s_swap(clean_sheet):
    from napari_gmm.core.lazy._multiscale import iter_segment_multiscale
    from napari_gmm.core.progress._protocol import run

    p = clean_sheet
    levels = [p.image, p.image[::2, ::2]]
    seg = run(iter_segment_multiscale(levels, 3, random_state=0, smoothing="auto"),
              report=None)
    memory = ng.segment(p.image, 3, random_state=0, smoothing="auto")
    assert seg.mixels is not None and seg.smoothing == memory.smoothing == MIXEL_CAP
    # the levels' posteriors are not tempered (as without the swap), which may move a voxel
    level0 = np.asarray(seg.labels[0])
    assert (level0 != memory.labels).mean() < 1e-3
    plain = ng.segment(p.image, 3, random_state=0, smoothing=MIXEL_CAP)
    assert (level0 != plain.labels).sum() > 50  # the swap ran on the level
    assert np.asarray(seg.labels[1]).shape == levels[1].shape


@pytest.mark.parametrize("case", ["two channels", "tied"])
def test_no_mixel_model_where_it_is_not_measured(clean_sheet, case):
    image, options = clean_sheet.image, {}
    if case == "two channels":
        image = np.stack([image, 130 - image], axis=-1)
        options["channel_axis"] = -1
    else:
        options["covariance_type"] = "tied"
    plain = ng.segment(image, 3, random_state=0, **options)
    data = pixel_data(image, options.get("channel_axis"))
    assert fit_mixels(plain.model, data) is None
    auto = ng.segment(image, 3, smoothing="auto", random_state=0, **options)
    assert auto.mixels is None


@pytest.mark.usefixtures("halo_blocks")
def test_gpu_routes_take_the_swap(clean_sheet, gpu):
    import dask.array as da

    from napari_gmm.core._backend import use_backend

    image = clean_sheet.image
    cpu = ng.segment(image, 3, smoothing="auto", random_state=0)
    with use_backend("cupy"):
        memory = ng.segment(image, 3, smoothing="auto", random_state=0)
        lazy = ng.segment(da.from_array(image, chunks=(48, 64)), 3, smoothing="auto",
                          random_state=0)
        labels = lazy.labels.compute()
    assert memory.backend == lazy.backend == "cupy"
    assert memory.mixels is not None and lazy.mixels is not None
    np.testing.assert_array_equal(labels, memory.labels)
    # the device's sweeps (expf against the CPU's fast exp) may move a few tied voxels
    assert (memory.labels != cpu.labels).mean() < 1e-3


def test_mixed_densities_are_the_gaussians_of_the_interpolated_components():
    from scipy.stats import multivariate_normal

    from napari_gmm.core.potts._mixels import mixed_log_densities

    rng = np.random.default_rng(5)
    means = np.array([[0.0, 1.0], [4.0, -2.0], [9.0, 3.0]])
    covs = np.array([[[1.0, 0.3], [0.3, 2.0]], [[2.0, -0.5], [-0.5, 1.0]], np.eye(2) * 3])
    a, b, f = np.array([0, 0, 1, 2]), np.array([0, 1, 2, 2]), np.array([0.0, 0.3, 0.8, 0.0])
    x = rng.normal(3.0, 3.0, size=(50, 2))
    got = mixed_log_densities(x, means, covs, a, b, f)
    for c in range(a.size):
        mu = (1 - f[c]) * means[a[c]] + f[c] * means[b[c]]
        cov = (1 - f[c]) * covs[a[c]] + f[c] * covs[b[c]]
        np.testing.assert_allclose(got[:, c], multivariate_normal(mu, cov).logpdf(x), rtol=1e-10)
    one = mixed_log_densities(x[:, :1], means[:, :1], covs[:, :1, :1], a, b, f)  # 1 channel
    for c in range(a.size):
        mu = (1 - f[c]) * means[a[c], 0] + f[c] * means[b[c], 0]
        var = (1 - f[c]) * covs[a[c], 0, 0] + f[c] * covs[b[c], 0, 0]
        np.testing.assert_allclose(one[:, c], norm(mu, np.sqrt(var)).logpdf(x[:, 0]), rtol=1e-10)
