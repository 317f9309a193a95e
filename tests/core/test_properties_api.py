"""Property tests of the rest of the public API (hypothesis): noise, model selection,
mixture density, label comparison, the noise sweep, pixel features and uncertainty maps.

Each call raises a ValueError / TypeError that says how to fix the input, or returns a
result with the documented shape, dtype and range; inputs are never modified; the same
seed gives the same output.
"""

import warnings

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from property_strategies import (
    bounded,
    images,
    outcome,
    shapes,
    snapshot,
    valid_pixels,
    values,
)
from scipy import stats

import napari_gmm as ng


def attempt(func, *args, **kwargs):
    """Call func: its result, or None after checking the error it raised."""
    return outcome(func, *args, quiet=(ng.GMMConvergenceWarning, ng.RegularizationWarning),
                   **kwargs)


SIGMAS = st.one_of(
    st.floats(0, 1e3, allow_nan=False),
    st.sampled_from((-1.0, float("nan"), float("inf"), "ten", None, [1.0, 2.0])),
)


@given(case=images(), sigma=SIGMAS, seed=st.integers(0, 2**32 - 1))
def test_add_gaussian_noise(case, sigma, seed):
    image, _ = case
    before = snapshot(image)
    noisy = attempt(ng.add_gaussian_noise, image, sigma, seed=seed)
    assert snapshot(image) == before
    if noisy is None:
        return
    assert noisy.shape == image.shape
    assert noisy.dtype.newbyteorder("=") == image.dtype.newbyteorder("=")
    assert noisy is not image and not np.shares_memory(noisy, image)
    np.testing.assert_array_equal(noisy, ng.add_gaussian_noise(image, sigma, seed=seed))
    kind = image.dtype.kind
    if kind in "iu":
        info = np.iinfo(image.dtype)
        assert noisy.min() >= info.min and noisy.max() <= info.max
    if kind == "f":
        # non-finite pixels stay non-finite, finite ones stay finite unless they overflow
        np.testing.assert_array_equal(np.isnan(noisy), np.isnan(image))
    if sigma == 0:
        np.testing.assert_array_equal(noisy, image)


@given(
    dtype=st.sampled_from(("uint8", "float32", ">f8")),
    shape=shapes(min_dims=1, max_dims=3, max_size=200),
    n_channels=st.integers(1, 3),
    sigma=st.lists(st.floats(0, 50), min_size=1, max_size=4),
    data=st.data(),
)
def test_add_gaussian_noise_per_channel(dtype, shape, n_channels, sigma, data):
    image = data.draw(values(dtype, (*shape, n_channels)))
    noisy = attempt(ng.add_gaussian_noise, image, sigma, seed=0, channel_axis=-1)
    if noisy is None:
        return
    assert len(sigma) in (1, n_channels)
    for c, s in enumerate(np.broadcast_to(sigma, n_channels)):
        if s == 0:
            np.testing.assert_array_equal(noisy[..., c], image[..., c])


@bounded(25)
@given(
    case=images(dtypes=("uint8", "int16", "float32", "float64", "bool", ">f4")),
    candidates=st.one_of(
        st.lists(st.integers(1, 5), min_size=1, max_size=3),
        st.lists(st.one_of(st.integers(-1, 6), st.just(2.5)), max_size=4),
    ),
    criterion=st.sampled_from(("bic", "aic", "icl", "best")),
)
def test_select_n_components(case, candidates, criterion):
    image, _ = case
    before = snapshot(image)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # candidates skipped for too few values
        sel = attempt(ng.select_n_components, image, candidates, criterion=criterion,
                      random_state=0)
    assert snapshot(image) == before
    if sel is None:
        return
    assert sel.best in set(candidates)
    records = sel.to_records()
    assert records and all(np.isfinite(r["bic"]) and np.isfinite(r["aic"]) for r in records)
    tried = [r["K"] for r in records]
    assert tried == sorted(set(tried))


@st.composite
def mixtures(draw, n_features):
    """(weights, means, covariances, covariance_type) of a valid mixture."""
    k = draw(st.integers(1, 3))
    covariance_type = draw(st.sampled_from(("full", "tied", "diag", "spherical")))
    raw = draw(hnp.arrays(float, k, elements=st.floats(0.05, 1.0)))
    weights = raw / raw.sum()
    means = draw(hnp.arrays(float, (k, n_features), elements=st.floats(-50, 50)))
    scales = draw(hnp.arrays(float, (k, n_features), elements=st.floats(0.5, 10)))
    if covariance_type == "spherical":
        cov = scales[:, 0] ** 2
    elif covariance_type == "diag":
        cov = scales**2
    else:
        mats = np.stack([np.diag(s**2) for s in scales])
        if n_features > 1:
            off = draw(st.floats(-0.4, 0.4))
            for m, s in zip(mats, scales, strict=True):
                m[0, 1] = m[1, 0] = off * s[0] * s[1]
        cov = mats if covariance_type == "full" else mats[0]
    return weights, means, cov, covariance_type


def _oracle(pixels, weights, means, cov, covariance_type):
    k, d = means.shape
    total = np.zeros(pixels.shape[0])
    for j in range(k):
        if covariance_type == "full":
            c = cov[j]
        elif covariance_type == "tied":
            c = cov
        elif covariance_type == "diag":
            c = np.diag(cov[j])
        else:
            c = np.eye(d) * cov[j]
        total += weights[j] * stats.multivariate_normal(means[j], c).pdf(pixels)
    return total


@given(n_features=st.integers(1, 3), data=st.data())
def test_mixture_density_matches_scipy(n_features, data):
    weights, means, cov, covariance_type = data.draw(mixtures(n_features))
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_size=100))
    dtype = data.draw(st.sampled_from(("float64", "float32", "int16", ">f8", "uint8")))
    image = data.draw(values(dtype, (*shape, n_features)))
    axis = -1 if n_features > 1 else None
    if axis is None:
        image = image[..., 0]
    before = snapshot(image)
    dens = attempt(ng.mixture_density, image, weights, means, cov, channel_axis=axis,
                   covariance_type=covariance_type)
    assert snapshot(image) == before
    if dens is None:
        return
    assert dens.shape == shape and dens.dtype == np.float64
    valid = valid_pixels(image, axis)
    assert np.isnan(dens[~valid]).all()
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, n_features)[valid.ravel()]
    expected = _oracle(pixels, weights, means, cov, covariance_type)
    np.testing.assert_allclose(dens[valid], expected, rtol=1e-7, atol=1e-300)
    logd = ng.mixture_log_density(image, weights, means, cov, channel_axis=axis,
                                  covariance_type=covariance_type)
    ok = valid & (dens > 1e-280)
    np.testing.assert_allclose(np.exp(logd[ok]), dens[ok], rtol=1e-9)


@given(
    weights=st.lists(st.one_of(st.floats(-1, 2), st.just(float("nan"))), max_size=3),
    mean=st.floats(allow_nan=True, allow_infinity=True),
    var=st.floats(allow_nan=True, allow_infinity=True),
    covariance_type=st.sampled_from(("full", "diag", "spherical", "tied", "round")),
)
def test_mixture_density_rejects_bad_parameters_clearly(weights, mean, var, covariance_type):
    image = np.linspace(-5, 5, 12).reshape(3, 4)
    k = len(weights)
    dens = attempt(ng.mixture_density, image, weights, [mean] * k, [var] * k,
                   covariance_type=covariance_type)
    if dens is not None:
        assert dens.shape == image.shape
        assert np.isfinite(dens).all() and (dens >= 0).all()


LABEL_DTYPES = ("uint8", "uint16", "int32", "int64", ">i4", "bool")


@given(
    dtype=st.sampled_from(LABEL_DTYPES),
    shape=shapes(max_size=300),
    data=st.data(),
)
def test_compare_labels(dtype, shape, data):
    ref = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 4))).astype(dtype)
    lab = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 4))).astype(dtype)
    ignore = data.draw(st.sampled_from((None, 0)))
    before = snapshot(ref), snapshot(lab)
    cmp = attempt(ng.compare_labels, ref, lab, ignore=ignore)
    assert (snapshot(ref), snapshot(lab)) == before
    if cmp is None:
        return
    assert -1.0 <= cmp.ari <= 1.0 + 1e-12
    assert 0.0 <= cmp.accuracy <= 1.0 and 0.0 <= cmp.mean_dice <= 1.0
    # identical partitions under a relabelling agree perfectly
    perm = np.array([3, 1, 4, 0, 2])
    same = attempt(ng.compare_labels, ref, perm[ref.astype(np.int64)], ignore=None)
    if same is not None:
        assert same.ari == 1.0 or len(np.unique(ref)) == 1
        assert same.accuracy == 1.0


@given(
    reference=st.sampled_from(("shape", "wrong-shape", "float", None)),
    sigmas=st.lists(st.floats(0, 40), min_size=0, max_size=3),
    k=st.integers(0, 3),
)
@bounded(20)
def test_noise_sweep(reference, sigmas, k):
    rng = np.random.default_rng(0)
    image = (rng.integers(0, 3, (12, 12)) * 60 + 40).astype(np.uint8)
    ref = {
        "shape": (image // 60).astype(np.uint8),
        "wrong-shape": np.ones((3, 3), np.uint8),
        "float": image.astype(float),
        None: None,
    }[reference]
    records = attempt(ng.noise_sweep, image, sigmas, n_components=k, seed=0, reference=ref)
    if records is None:
        return
    assert [r["sigma"] for r in records] == sigmas
    for r in records:
        assert -1 <= r["ari"] <= 1 and 0 <= r["accuracy"] <= 1
    again = ng.noise_sweep(image, sigmas, n_components=k, seed=0, reference=ref)
    assert [r["ari"] for r in again] == [r["ari"] for r in records]


@given(case=images(), axis=st.one_of(st.none(), st.integers(-6, 5)))
def test_pixel_features(case, axis):
    image, _ = case
    table = attempt(ng.pixel_features, image, axis)
    if table is None:
        return
    assert table.dtype == np.float64 and table.ndim == 2
    n_channels = 1 if axis is None else image.shape[axis]
    assert table.shape == (image.size // n_channels, n_channels)
    moved = image if axis is None else np.moveaxis(image, axis, -1)
    np.testing.assert_array_equal(table.ravel(), np.asarray(moved, dtype=np.float64).ravel())


@given(
    post=hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=4, max_side=5),
                    elements=st.floats(0, 1, width=32)),
    kind=st.sampled_from(("margin", "entropy", "1 - max posterior", "other")),
)
def test_uncertainty_maps(post, kind):
    total = post.sum(axis=-1, keepdims=True)
    post = np.where(total > 0, post / np.where(total > 0, total, 1), 1.0 / post.shape[-1])
    post = post.astype(np.float32)
    out = attempt(ng.uncertainty, post, kind)
    if out is None:
        return
    assert out.shape == post.shape[:-1]
    assert np.isfinite(out).all() and (out >= -1e-6).all() and (out <= 1 + 1e-6).all()

