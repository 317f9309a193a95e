"""bias_field=: a smooth multiplicative field estimated with the mixture, against ground truth."""

import dask.array as da
import numpy as np
import pytest
from skimage import data

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image, make_shading
from napari_gmm.core.bias._basis import PolynomialBasis
from napari_gmm.core.bias._ecm import n_terms
from napari_gmm.core.bias._steps import Block, class_precisions, newton_inverse_field, posteriors

BIAS = "polynomial"


def shaded_image(shape, kind="vignette", seed=0, sigma=15.0, n_channels=None, dtype="float32"):
    """3 classes (means 100, 200, 300, small regions) times a 0.6-1.4 shading."""
    image, truth = make_class_image(
        shape, 3, gap=100, base=100, sigma=sigma, dtype="float32", seed=seed,
        feature_size=min(shape) / 20, n_channels=n_channels,
    )
    field = make_shading(shape, 0.6, 1.4, kind=kind, seed=seed)
    shaded = image * (field if n_channels is None else field[..., None])
    return shaded.astype(dtype), truth, field


def accuracy(truth, labels):
    return ng.compare_labels(truth, labels).accuracy


def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.mark.parametrize("kind", ["ramp", "vignette"])
@pytest.mark.parametrize("seed", [0, 1])
def test_shaded_2d_accuracy_and_field(kind, seed):
    image, truth, field = shaded_image((128, 128), kind, seed)
    plain = ng.segment(image, 3, random_state=0)
    seg = ng.segment(image, 3, random_state=0, bias_field=BIAS)
    assert accuracy(truth, plain.labels) < 0.9
    assert accuracy(truth, seg.labels) >= 0.95
    # up to a constant factor: the estimate has mean 1, the truth need not
    assert correlation(seg.bias_field, field) > 0.95
    assert seg.bias_field.dtype == np.float32
    assert seg.bias_field.shape == image.shape
    assert float(seg.bias_field.mean(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["ramp", "vignette"])
def test_shaded_3d_volume(kind):
    image, truth, field = shaded_image((24, 48, 48), kind, seed=0)
    plain = ng.segment(image, 3, random_state=0)
    seg = ng.segment(image, 3, random_state=0, bias_field=BIAS)
    assert accuracy(truth, plain.labels) < 0.9
    assert accuracy(truth, seg.labels) >= 0.95
    assert correlation(seg.bias_field, field) > 0.95


def test_coins_background_is_one_class():
    """K=3 on coins: plain EM splits the background into a top and a bottom class."""
    coins = data.coins()

    def majority(rows):
        counts = np.bincount(rows.ravel(), minlength=4)
        return int(np.argmax(counts)), counts.max() / rows.size

    plain = ng.segment(coins, 3, random_state=0)
    assert majority(plain.labels[:10])[0] != majority(plain.labels[-10:])[0]
    seg = ng.segment(coins, 3, random_state=0, bias_field=BIAS)
    (top, top_share), (bottom, bottom_share) = (
        majority(seg.labels[:10]), majority(seg.labels[-10:])
    )
    assert top == bottom
    assert min(top_share, bottom_share) > 0.9
    # the field is brighter at the top, where the background is
    assert seg.bias_field[:30].mean() > seg.bias_field[-30:].mean()


def test_invariants_on_the_corrected_image():
    image, _, _ = shaded_image((96, 96), "vignette", seed=2)
    seg = ng.segment(image, 3, random_state=0, bias_field=BIAS, return_posteriors=True)
    np.testing.assert_array_equal(seg.labels, seg.posteriors.argmax(axis=-1) + 1)
    np.testing.assert_array_equal(seg.probability, seg.posteriors.max(axis=-1))
    predicted = seg.model.predict(ng.pixel_features(seg.corrected)) + 1
    np.testing.assert_array_equal(predicted, seg.labels.ravel())
    assert seg.corrected.dtype == np.float32
    np.testing.assert_allclose(seg.corrected, image / seg.bias_field, rtol=1e-6)
    means = seg.model.means_.mean(axis=1)
    assert np.all(np.diff(means) > 0)  # label 1 is still the darkest class


def test_without_bias_field_nothing_is_added():
    image, _, _ = shaded_image((64, 64))
    seg = ng.segment(image, 3, random_state=0)
    assert seg.bias_field is None and seg.corrected is None
    assert "bias_field" not in seg.summary()


def test_summary_reports_the_field_range():
    image, _, _ = shaded_image((64, 64))
    seg = ng.segment(image, 3, random_state=0, bias_field=BIAS)
    info = seg.summary()["bias_field"]
    assert info["min"] == pytest.approx(float(seg.bias_field.min()))
    assert info["max"] == pytest.approx(float(seg.bias_field.max()))


@pytest.mark.parametrize("dtype", ["float32", "uint16"])
def test_input_never_modified_and_deterministic(dtype):
    image, truth, _ = shaded_image((96, 96), "ramp", seed=3, dtype=dtype)
    before = image.copy()
    first = ng.segment(image, 3, random_state=5, bias_field=BIAS)
    second = ng.segment(image, 3, random_state=5, bias_field=BIAS)
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(first.bias_field, second.bias_field)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert accuracy(truth, first.labels) >= 0.95
    other = ng.segment(image, 3, random_state=6, bias_field=BIAS)
    assert accuracy(truth, other.labels) >= 0.95


def test_nan_pixels():
    image, truth, field = shaded_image((96, 96), "vignette", seed=4)
    image[10:30, 40:70] = np.nan
    image[0, 0] = np.inf
    seg = ng.segment(image, 3, random_state=0, bias_field=BIAS)
    invalid = ~np.isfinite(image)
    np.testing.assert_array_equal(seg.labels == 0, invalid)
    assert np.all(np.isfinite(seg.bias_field))  # defined on every pixel
    assert np.all(np.isnan(seg.corrected[10:30, 40:70]))
    assert np.mean(seg.bias_field[~invalid], dtype=np.float64) == pytest.approx(1.0, abs=1e-5)
    assert np.mean(seg.labels[~invalid] == truth[~invalid]) >= 0.95
    assert correlation(seg.bias_field[~invalid], field[~invalid]) > 0.95


def test_zero_and_negative_intensities():
    """A dark class at 0: its pixels (many <= 0) do not inform the field but are labelled."""
    image, truth = make_class_image(
        (128, 128), 3, gap=100, base=0, sigma=15, dtype="float32", seed=0, feature_size=6.4
    )
    field = make_shading((128, 128), seed=0)
    shaded = image * field
    assert (shaded <= 0).mean() > 0.1
    seg = ng.segment(shaded, 3, random_state=0, bias_field=BIAS)
    assert accuracy(truth, seg.labels) >= 0.95
    assert correlation(seg.bias_field, field) > 0.95
    assert np.all(seg.bias_field > 0)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_multichannel_shares_one_field(covariance_type):
    image, truth, field = shaded_image((96, 96), "vignette", seed=3, n_channels=3)
    seg = ng.segment(
        image, 3, channel_axis=-1, covariance_type=covariance_type, random_state=0,
        bias_field=BIAS,
    )
    assert seg.bias_field.shape == (96, 96)
    assert seg.corrected.shape == image.shape
    np.testing.assert_allclose(seg.corrected, image / seg.bias_field[..., None], rtol=1e-6)
    assert accuracy(truth, seg.labels) >= 0.95
    assert correlation(seg.bias_field, field) > 0.95


def test_channel_axis_first_keeps_the_layout():
    image, truth, _ = shaded_image((64, 64), "ramp", seed=1, n_channels=2)
    moved = np.moveaxis(image, -1, 0)
    seg = ng.segment(moved, 3, channel_axis=0, random_state=0, bias_field=BIAS)
    assert seg.corrected.shape == moved.shape
    np.testing.assert_allclose(seg.corrected, moved / seg.bias_field[None], rtol=1e-6)
    assert accuracy(truth, seg.labels) >= 0.95


def test_bic_prefers_a_field_only_on_shaded_images():
    shaded, _, _ = shaded_image((96, 96), "vignette", seed=0)
    clean, _ = make_class_image(
        (96, 96), 3, gap=100, base=100, sigma=15, dtype="float32", seed=0, feature_size=4.8
    )
    for image, shading_present in ((shaded, True), (clean, False)):
        plain = ng.segment(image, 3, random_state=0)
        seg = ng.segment(image, 3, random_state=0, bias_field=BIAS)
        assert (seg.bic < plain.bic) == shading_present


@pytest.mark.parametrize(("smoothing", "seed"), [(1.0, 0), (1.0, 4), ("auto", 1)])
def test_smoothing_with_a_field_on_noisy_images(smoothing, seed):
    """Noise 0.3 x the class spacing: the field is fitted under the Potts prior."""
    image, truth, _ = shaded_image((128, 128), "vignette", seed=seed, sigma=30)
    field_only = ng.segment(image, 3, random_state=0, bias_field=BIAS)
    seg = ng.segment(image, 3, random_state=0, bias_field=BIAS, smoothing=smoothing)
    assert accuracy(truth, seg.labels) >= 0.95
    assert accuracy(truth, seg.labels) > accuracy(truth, field_only.labels) + 0.03


def test_anisotropic_scale_and_smoothing_in_3d():
    image, truth, _ = shaded_image((24, 48, 48), "ramp", seed=1, sigma=25)
    seg = ng.segment(
        image, 3, random_state=0, bias_field=BIAS, smoothing=1.0, scale=(3.0, 1.0, 1.0)
    )
    assert accuracy(truth, seg.labels) >= 0.95


def shaded_series(n=3):
    frames, truths, fields = [], [], []
    for t in range(n):
        image, truth, field = shaded_image((80, 80), ("vignette", "ramp")[t % 2], seed=t)
        gain = 1.0 - 0.15 * t  # bleaching
        frames.append(image * gain)
        truths.append(truth)
        fields.append(field * gain)
    return np.stack(frames), np.stack(truths), np.stack(fields)


@pytest.mark.parametrize("frames", ["each", "shared", 0])
def test_time_series(frames):
    movie, truth, fields = shaded_series()
    seg = ng.segment(movie, 3, time_axis=0, frames=frames, random_state=0, bias_field=BIAS)
    assert seg.bias_field.shape == movie.shape
    assert seg.corrected.shape == movie.shape
    for t in range(movie.shape[0]):
        assert accuracy(truth[t], seg.labels[t]) >= 0.95, t
        assert correlation(seg.bias_field[t], fields[t]) > 0.95, t
        np.testing.assert_array_equal(seg.frames[t].bias_field, seg.bias_field[t])
    means = seg.bias_field.mean(axis=(1, 2), dtype=np.float64)
    if frames == "each":  # every frame its own mean-1 field
        np.testing.assert_allclose(means, 1.0, atol=1e-5)
    elif frames == "shared":  # one mixture: the fields also take up the bleaching
        assert means.mean() == pytest.approx(1.0, abs=1e-5)
        assert means[0] > means[1] > means[2]
    if frames != "each":  # one model for all frames: no matching needed
        assert np.mean(seg.labels == truth) >= 0.95


def test_apply_model_estimates_a_field_for_the_fixed_model():
    reference, _, _ = shaded_image((96, 96), "ramp", seed=1)
    model = ng.segment(reference, 3, random_state=0, bias_field=BIAS).model
    image, truth, field = shaded_image((96, 96), "vignette", seed=5)
    image = image * 0.7  # and darker
    plain = ng.apply_model(model, image)
    seg = ng.apply_model(model, image, bias_field=BIAS)
    # the model's classes: label k is the model's component k - 1, no matching
    assert np.mean(seg.labels == truth) >= 0.95
    assert np.mean(plain.labels == truth) < 0.8
    assert correlation(seg.bias_field, field) > 0.95
    # not normalised: the field takes up the gain as well
    assert float(seg.bias_field.mean()) < 0.85
    np.testing.assert_allclose(seg.corrected, image / seg.bias_field, rtol=1e-6)
    np.testing.assert_array_equal(
        seg.model.predict(ng.pixel_features(seg.corrected)) + 1, seg.labels.ravel()
    )


def test_apply_model_to_a_series_with_fields():
    movie, truth, _ = shaded_series()
    model = ng.segment(movie[0], 3, random_state=0, bias_field=BIAS).model
    seg = ng.apply_model(model, movie, time_axis=0, bias_field=BIAS)
    assert seg.bias_field.shape == movie.shape
    assert np.mean(seg.labels == truth) >= 0.95


def test_dask_input_segments_and_apply_model_refuses_with_advice():
    image, _, _ = shaded_image((64, 64))
    lazy = da.from_array(image, chunks=32)
    seg = ng.segment(lazy, 3, bias_field=BIAS, random_state=0)  # tests/core/test_lazy_bias.py
    assert isinstance(seg.bias_field, da.Array)
    model = ng.segment(image, 3, random_state=0).model
    with pytest.raises(ValueError, match="not available for dask arrays"):
        ng.apply_model(model, lazy, bias_field=BIAS)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"bias_field": "poly"}, ValueError, "bias_field must be None .* 'polynomial'"),
        ({"bias_field": True}, ValueError, "bias_field must be None"),
        ({"bias_field": BIAS, "bias_order": 0}, ValueError, "bias_order must be an int >= 1"),
        ({"bias_field": BIAS, "bias_order": 7}, ValueError, r"must be an int in 1\.\.6"),
        ({"bias_field": BIAS, "bias_order": 2.5}, TypeError, "bias_order must be an int"),
    ],
)
def test_bad_options(options, error, match):
    image, _, _ = shaded_image((64, 64))
    with pytest.raises(error, match=match):
        ng.segment(image, 3, **options)
    model = ng.segment(image, 3, random_state=0).model
    with pytest.raises(error, match=match):
        ng.apply_model(model, image, **options)


def test_too_few_pixels_for_the_order():
    image = np.arange(16, dtype=float).reshape(4, 4) + 1.0
    with pytest.raises(ValueError, match=r"has 10 coefficients.*Lower bias_order"):
        ng.segment(image, 2, bias_field=BIAS)
    seg = ng.segment(image, 2, bias_field=BIAS, bias_order=1, random_state=0)
    assert seg.bias_field.shape == (4, 4)


@pytest.mark.parametrize("order", [1, 2, 4])
def test_order_sets_the_basis(order):
    image, truth, _ = shaded_image((96, 96), "ramp", seed=2)
    seg = ng.segment(image, 3, random_state=0, bias_field=BIAS, bias_order=order)
    # a ramp is a polynomial of degree 1: every order represents it
    assert accuracy(truth, seg.labels) >= 0.95
    assert PolynomialBasis((96, 96), order).n_terms == n_terms(2, order)


def test_basis_design_matches_grid():
    basis = PolynomialBasis((5, 6, 7), 3)
    coef = np.random.default_rng(0).normal(size=basis.n_terms)
    grid = basis.evaluate(coef)
    flat = basis.design(np.arange(grid.size)) @ coef
    np.testing.assert_allclose(grid.ravel(), flat, atol=1e-12)
    assert basis.terms[0] == (0, 0, 0)
    assert [sum(t) for t in basis.terms] == sorted(sum(t) for t in basis.terms)


def test_polynomial_field_recovered_exactly():
    """A field in the basis (1 / u polynomial) is found up to noise."""
    image, truth = make_class_image(
        (128, 128), 3, gap=100, base=100, sigma=5, dtype="float32", seed=2, feature_size=6
    )
    basis = PolynomialBasis((128, 128), 2)
    u = basis.evaluate(np.array([1.0, 0.2, -0.15, 0.05, 0.08, -0.04]))
    field = 1.0 / u
    seg = ng.segment(image * field, 3, random_state=0, bias_field=BIAS, bias_order=2)
    ratio = seg.bias_field / field
    assert ratio.std() / ratio.mean() < 0.005
    assert accuracy(truth, seg.labels) > 0.999


def test_field_step_is_the_conditional_maximum():
    """The Newton step of the field ends where the expected log-likelihood is stationary."""
    image, _, _ = shaded_image((64, 64), "vignette", seed=1)
    gmm = ng.segment(image, 3, random_state=0).model
    basis = PolynomialBasis((64, 64), 3)
    rows = np.arange(image.size)
    values = image.reshape(-1, 1).astype(np.float64)
    block = Block(values, basis.design(rows), np.ones(rows.size, bool))
    q, _ = posteriors(gmm, values)
    prec = class_precisions(gmm)
    coef = newton_inverse_field(block, q, gmm, prec, np.eye(1, basis.n_terms)[0], 50)
    u = block.design @ coef
    a = (q * (values**2 * prec[:, 0, 0])).sum(axis=1)
    m = (q * (values * (prec[:, 0, 0] * gmm.means_[:, 0]))).sum(axis=1)
    gradient = block.design.T @ (a * u - m - 1.0 / u)
    scale = block.design.T @ np.abs(a * u)
    assert np.all(np.abs(gradient) <= 1e-6 * np.abs(scale))
    assert np.all(u > 0)


def test_auto_k_is_chosen_on_the_corrected_image():
    image, truth, _ = shaded_image((96, 96), "vignette", seed=0)
    assert ng.segment(image, "auto", random_state=0).n_components == 2  # shading blurs K
    seg = ng.segment(image, "auto", random_state=0, bias_field=BIAS)
    assert seg.n_components == 3
    assert seg.selection is not None and seg.selection.best == 3
    assert accuracy(truth, seg.labels) >= 0.95
