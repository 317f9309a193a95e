"""mixture_density / mixture_log_density: exact against scipy and scikit-learn, stable on the
log scale, all covariance types, gray and multichannel, integer routes, bad inputs."""

import tracemalloc
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture

from napari_gmm.core.analysis import _density
from napari_gmm.core.analysis._density import mixture_density, mixture_log_density

TYPES = ("full", "tied", "diag", "spherical")


def random_params(rng, k, d, covariance_type):
    """Well-conditioned random parameters: (weights, means, covariances, dense (k, d, d))."""
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(0.0, 5.0, (k, d))
    if covariance_type == "full":
        a = rng.normal(size=(k, d, d))
        cov = a @ a.transpose(0, 2, 1) / d + rng.uniform(0.5, 2.0) * np.eye(d)
        dense = cov
    elif covariance_type == "tied":
        a = rng.normal(size=(d, d))
        cov = a @ a.T / d + np.eye(d)
        dense = np.broadcast_to(cov, (k, d, d))
    elif covariance_type == "diag":
        cov = rng.uniform(0.5, 4.0, (k, d))
        dense = np.stack([np.diag(v) for v in cov])
    else:
        cov = rng.uniform(0.5, 4.0, k)
        dense = cov[:, None, None] * np.eye(d)
    return weights, means, cov, dense


def scipy_log_density(x, weights, means, dense):
    """Reference log density of the rows of x (n, d) with scipy.stats, per component."""
    if x.shape[1] == 1:
        logs = [
            stats.norm(m[0], np.sqrt(c[0, 0])).logpdf(x[:, 0])
            for m, c in zip(means, dense, strict=True)
        ]
    else:
        logs = [
            stats.multivariate_normal(m, c).logpdf(x) for m, c in zip(means, dense, strict=True)
        ]
    return logsumexp(np.array(logs), b=weights[:, None], axis=0)


def pixels(image, channel_axis):
    if channel_axis is None:
        return image.reshape(-1, 1)
    moved = np.moveaxis(image, channel_axis, -1)
    return moved.reshape(-1, moved.shape[-1])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize(
    ("shape", "channel_axis"),
    [((12, 15), None), ((4, 6, 5), None), ((12, 15, 3), -1), ((4, 6, 5, 3), -1), ((2, 9, 7), 0)],
)
def test_matches_scipy(seed, covariance_type, shape, channel_axis):
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, 6.0, shape)
    d = 1 if channel_axis is None else shape[channel_axis]
    weights, means, cov, dense = random_params(rng, 4, d, covariance_type)
    kwargs = {"channel_axis": channel_axis, "covariance_type": covariance_type}
    density = mixture_density(image, weights, means, cov, **kwargs)
    log_density = mixture_log_density(image, weights, means, cov, **kwargs)
    ref = scipy_log_density(pixels(image, channel_axis), weights, means, dense)
    spatial = image.shape if channel_axis is None else np.delete(shape, channel_axis)
    assert density.shape == log_density.shape == tuple(spatial)
    assert density.dtype == log_density.dtype == np.float64
    np.testing.assert_allclose(density.ravel(), np.exp(ref), rtol=1e-6)
    np.testing.assert_allclose(log_density.ravel(), ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_matches_fitted_gaussian_mixture(covariance_type):
    rng = np.random.default_rng(3)
    centers = np.array([[40.0, 60.0, 200.0], [180.0, 90.0, 30.0], [120.0, 200.0, 120.0]])
    image = centers[rng.integers(0, 3, (60, 50))] + rng.normal(0.0, 12.0, (60, 50, 3))
    features = image.reshape(-1, 3)
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(features)
    params = (gmm.weights_, gmm.means_, gmm.covariances_)
    got = mixture_log_density(image, *params, channel_axis=-1, covariance_type=covariance_type)
    np.testing.assert_allclose(got.ravel(), gmm.score_samples(features), rtol=1e-9, atol=1e-8)
    uint8 = np.clip(image, 0, 255).astype(np.uint8)
    got8 = mixture_density(uint8, *params, channel_axis=-1, covariance_type=covariance_type)
    ref8 = np.exp(gmm.score_samples(uint8.reshape(-1, 3).astype(float)))
    np.testing.assert_allclose(got8.ravel(), ref8, rtol=1e-6)


def test_determinant_normalization_not_matrix_norm():
    """An anisotropic covariance whose determinant (1) differs from its norms (~100)."""
    variances = np.array([[100.0, 1.0, 0.01]])
    image = np.array([[[0.0, 0.0, 0.0], [5.0, -1.0, 0.1], [-12.0, 0.5, -0.05]]])
    got = mixture_density(
        image, [1.0], np.zeros((1, 3)), variances, channel_axis=-1, covariance_type="diag"
    )
    ref = stats.multivariate_normal(np.zeros(3), np.diag(variances[0])).pdf(image[0])
    np.testing.assert_allclose(got[0], ref, rtol=1e-12)
    assert got[0, 0] == pytest.approx((2 * np.pi) ** -1.5, rel=1e-12)
    for norm in ("fro", 2, 1):  # what a matrix norm in place of det(Sigma) would give
        wrong = ref * np.sqrt(np.prod(variances) / np.linalg.norm(np.diag(variances[0]), norm))
        assert not np.allclose(got[0], wrong, rtol=1e-2)
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    cov = rotation @ np.diag(variances[0]) @ rotation.T  # full, det 1, norms ~100
    got = mixture_density(image, [1.0], np.zeros((1, 3)), cov[None], channel_axis=-1)
    ref = stats.multivariate_normal(np.zeros(3), cov).pdf(image[0])
    np.testing.assert_allclose(got[0], ref, rtol=1e-10)


def test_gray_accepts_flat_parameters():
    x, w, mu = np.linspace(-5.0, 5.0, 11), [0.5, 0.5], [0.0, 1.0]
    ref = mixture_density(x, w, [[0.0], [1.0]], [[[2.0]], [[3.0]]])
    for covariance_type in ("full", "diag", "spherical"):
        got = mixture_density(x, w, mu, [2.0, 3.0], covariance_type=covariance_type)
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    tied = mixture_density(x, w, mu, 2.0, covariance_type="tied")
    ref = mixture_density(x, w, mu, [2.0, 2.0], covariance_type="spherical")
    np.testing.assert_allclose(tied, ref, rtol=1e-12)


def test_log_density_finite_where_density_underflows():
    x = np.array([0.0, 3.0, 50.0, 1e3, -1e4])
    weights, means, variances = [0.25, 0.75], [[0.0], [1.0]], [1.0, 4.0]
    density = mixture_density(x, weights, means, variances, covariance_type="spherical")
    log_density = mixture_log_density(x, weights, means, variances, covariance_type="spherical")
    assert np.all(np.isfinite(log_density))
    assert density[-1] == 0.0 and density[-2] == 0.0
    ref = scipy_log_density(
        x[:, None], np.array(weights), np.array(means), np.array(variances)[:, None, None]
    )
    np.testing.assert_allclose(log_density, ref, rtol=1e-12)
    np.testing.assert_allclose(log_density[:3], np.log(density[:3]), rtol=1e-12)
    assert log_density[-1] == pytest.approx(-0.5 * (1e4 + 1) ** 2 / 4, rel=1e-6)
    with warnings.catch_warnings():  # squared distance overflows: -inf, quietly
        warnings.simplefilter("error")
        huge = mixture_log_density([1e200, 0.0], weights, means, variances, covariance_type="diag")
    assert huge[0] == -np.inf and np.isfinite(huge[1])


def test_integrates_to_one_gray():
    x = np.linspace(-60.0, 80.0, 280_001)
    weights, means, variances = [0.2, 0.5, 0.3], [-10.0, 3.0, 25.0], [0.25, 4.0, 49.0]
    density = mixture_density(x, weights, means, variances, covariance_type="spherical")
    assert np.trapezoid(density, x) == pytest.approx(1.0, abs=1e-8)


def test_integrates_to_one_two_channels():
    grid = np.linspace(-15.0, 15.0, 601)
    image = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1)
    cov = np.array([[[4.0, 1.5], [1.5, 1.0]], [[1.0, -0.3], [-0.3, 2.0]]])
    density = mixture_density(image, [0.4, 0.6], [[-2.0, 1.0], [3.0, -1.0]], cov, channel_axis=-1)
    integral = np.trapezoid(np.trapezoid(density, grid, axis=1), grid)
    assert integral == pytest.approx(1.0, abs=1e-6)


def test_tiny_variance_far_from_center_stays_exact(monkeypatch):
    """A saturated class (variance 1e-6 at 255) makes the expanded form lose digits; the
    affected component is recomputed on the whitened route."""
    rng = np.random.default_rng(5)
    image = np.concatenate([rng.normal(30.0, 5.0, 500), 255 + rng.normal(0, 1e-3, 20)])
    weights, means, variances = np.array([0.9, 0.1]), np.array([[30.0], [255.0]]), [25.0, 1e-6]
    ref = scipy_log_density(image[:, None], weights, means, np.reshape(variances, (2, 1, 1)))
    for covariance_type, cov in [
        ("spherical", variances),
        ("full", np.reshape(variances, (2, 1, 1))),
    ]:
        got = mixture_log_density(image, weights, means, cov, covariance_type=covariance_type)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-10)
    monkeypatch.setattr(_density, "EXPANSION_ATOL", np.inf)  # no fallback: visibly worse
    rough = mixture_log_density(image, weights, means, variances, covariance_type="spherical")
    assert np.abs(rough - ref).max() > 1e-8


def test_many_chunks_and_non_finite_pixels(monkeypatch):
    monkeypatch.setattr(_density, "CHUNK_ROWS", 1024)
    rng = np.random.default_rng(6)
    image = rng.normal(0.0, 6.0, (70, 61, 3))  # 4270 pixels: 5 chunks, the last one partial
    image[3, 4, 1] = np.nan
    image[50, 0, 0] = np.inf
    image[69, 60, 2] = -np.inf
    for covariance_type in TYPES:
        weights, means, cov, dense = random_params(rng, 3, 3, covariance_type)
        got = mixture_log_density(
            image, weights, means, cov, channel_axis=-1, covariance_type=covariance_type
        )
        bad = ~np.isfinite(image).all(axis=-1)
        assert np.isnan(got[bad]).all() and np.count_nonzero(bad) == 3
        ref = scipy_log_density(image[~bad], weights, means, dense)
        np.testing.assert_allclose(got[~bad], ref, rtol=1e-9, atol=1e-9)


def test_all_nan_image_gives_nan():
    got = mixture_density(np.full((3, 4), np.nan), [1.0], [0.0], [1.0], covariance_type="diag")
    assert got.shape == (3, 4) and np.isnan(got).all()


@pytest.mark.parametrize(
    "image",
    [
        np.arange(256, dtype=np.uint8).reshape(16, 16),
        np.arange(-300, 300, dtype=np.int16).reshape(20, 30),
        np.array([[0, 70_000], [-5, 123]], dtype=np.int32),  # range too long for a table
        np.array([[True, False], [False, False]]),
    ],
)
def test_integer_images_match_float(image):
    params = ([0.3, 0.7], [10.0, 120.0], [400.0, 2500.0])
    got = mixture_density(image, *params, covariance_type="spherical")
    ref = mixture_density(image.astype(np.float64), *params, covariance_type="spherical")
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_channel_axis_position_and_zero_weight():
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    weights, means, cov, _ = random_params(rng, 3, 3, "full")
    means = means * 10 + 128
    cov = cov * 300
    last = mixture_density(rgb, weights, means, cov, channel_axis=-1)
    first = mixture_density(np.moveaxis(rgb, -1, 0), weights, means, cov, channel_axis=-3)
    np.testing.assert_allclose(first, last, rtol=1e-12)
    padded = mixture_density(
        rgb,
        np.append(weights, 0.0),
        np.vstack([means, np.ones(3)]),
        np.concatenate([cov, np.eye(3)[None]]),
        channel_axis=2,
    )
    np.testing.assert_allclose(padded, last, rtol=1e-12)


def test_inputs_not_modified():
    rng = np.random.default_rng(8)
    image = rng.normal(0.0, 5.0, (20, 10, 3))
    image[0, 0, 0] = np.nan
    weights, means, cov, _ = random_params(rng, 3, 3, "diag")
    copies = [a.copy() for a in (image, weights, means, cov)]
    mixture_density(image, weights, means, cov, channel_axis=-1, covariance_type="diag")
    for before, after in zip(copies, (image, weights, means, cov), strict=True):
        np.testing.assert_array_equal(before, after)
    gray = np.arange(100, dtype=np.uint8).reshape(10, 10)
    gray.flags.writeable = False  # read-only input works and stays untouched
    mixture_log_density(gray, [1.0], [50.0], [100.0], covariance_type="spherical")
    np.testing.assert_array_equal(gray, np.arange(100, dtype=np.uint8).reshape(10, 10))


def test_memory_is_bounded():
    rng = np.random.default_rng(9)
    image = rng.normal(0.0, 6.0, (512, 512, 3))
    weights, means, cov, _ = random_params(rng, 8, 3, "full")
    tracemalloc.start()
    try:
        out = mixture_density(image, weights, means, cov, channel_axis=-1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # (n, 3, 8) float64 broadcasting would need 50 MB per temporary
    assert peak < out.nbytes + 24 * 2**20


RGB = np.zeros((4, 5, 3))
W2, M2, C2 = np.array([0.5, 0.5]), np.zeros((2, 3)), np.stack([np.eye(3)] * 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"weights": [[0.5, 0.5]]}, ValueError, r"weights must be a non-empty 1-D array"),
        ({"weights": [1.5, -0.5]}, ValueError, r"non-negative and sum to 1.*minimum -0\.5"),
        ({"weights": [0.5, 0.4]}, ValueError, r"sum to 1 \(within 1e-06\).*sum 0\.9.*Normalise"),
        ({"weights": [0.5 + 0j, 0.5]}, TypeError, r"weights has complex dtype"),
        ({"weights": ["a", "b"]}, TypeError, r"weights must be a real numeric array"),
        ({"means": np.zeros((2, 2))}, ValueError, r"means must have shape .* = \(2, 3\)"),
        ({"means": [[np.nan] * 3] * 2}, ValueError, r"means contains NaN or inf"),
        ({"covariances": np.eye(3)}, ValueError, r"covariances must have shape \(K, d, d\)"),
        (
            {"covariances": np.stack([np.eye(3), np.diag([1.0, -1.0, 1.0])])},
            ValueError,
            r"Covariance 1 is not positive definite.*reg_covar",
        ),
        (
            {"covariances": np.stack([np.eye(3), np.triu(np.ones((3, 3)))])},
            ValueError,
            r"Covariance 1 is not symmetric",
        ),
        (
            {"covariances": [[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]], "covariance_type": "diag"},
            ValueError,
            r"Variances must be > 0",
        ),
        ({"covariances": [1.0, 2.0], "covariance_type": "tied"}, ValueError, r"\(d, d\)"),
        ({"covariance_type": "round"}, ValueError, r"covariance_type must be one of 'full'"),
        ({"covariance_type": ["full"]}, ValueError, r"covariance_type must be one of"),
        ({"channel_axis": 3}, ValueError, r"channel_axis=3 is out of range.*-3\.\.2"),
        ({"channel_axis": 1.0}, TypeError, r"channel_axis must be an int or None"),
        ({"channel_axis": None}, ValueError, r"means must have shape.*Check channel_axis"),
        ({"image": RGB + 1j}, TypeError, r"image has complex dtype"),
        ({"image": np.array([["a"]])}, TypeError, r"image must be a numeric array"),
        ({"image": np.zeros((4, 0, 3))}, ValueError, r"image is empty"),
    ],
)
def test_bad_inputs(kwargs, error, match):
    args = {"image": RGB, "weights": W2, "means": M2, "covariances": C2, "channel_axis": -1}
    args |= kwargs
    positional = [args.pop(k) for k in ("image", "weights", "means", "covariances")]
    with pytest.raises(error, match=match):
        mixture_density(*positional, **args)
