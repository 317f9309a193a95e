"""Shared classes widened by a frame's noise (frames='shared' with a bias field)."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from napari_gmm.core._features import pixel_data
from napari_gmm.core.fit._frame_noise import full_covariances, widened_mixture
from napari_gmm.core.fit._shared_frames import frame_mixtures, series_noise


def _two_channel_gmm(kind):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal([0, 0], [1, 2], (300, 2)),
                        rng.normal([10, 5], [2, 1], (300, 2))])
    return GaussianMixture(2, covariance_type=kind, random_state=0).fit(x), x


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_widened_mixture_adds_the_variance_and_keeps_the_rest(kind):
    gmm, x = _two_channel_gmm(kind)
    before = np.copy(gmm.covariances_)
    wide = widened_mixture(gmm, [4.0, 9.0])
    np.testing.assert_array_equal(gmm.covariances_, before)  # not modified
    np.testing.assert_array_equal(wide.means_, gmm.means_)
    np.testing.assert_array_equal(wide.weights_, gmm.weights_)
    added = full_covariances(wide) - full_covariances(gmm)
    if kind == "spherical":  # one variance per class: the mean of the added ones
        np.testing.assert_allclose(added, 6.5 * np.eye(2)[None].repeat(2, 0), atol=1e-9)
    else:
        np.testing.assert_allclose(added, np.diag([4.0, 9.0])[None].repeat(2, 0), atol=1e-9)
    # its densities are those of the widened Gaussians (scipy as the oracle)
    covs = full_covariances(gmm) + np.diag([4.0, 9.0]) if kind != "spherical" else (
        full_covariances(gmm) + 6.5 * np.eye(2))
    dens = sum(w * multivariate_normal(m, c).pdf(x)
               for w, m, c in zip(gmm.weights_, gmm.means_, covs, strict=True))
    np.testing.assert_allclose(wide.score_samples(x), np.log(dens), rtol=1e-9)
    assert wide.score(x) < gmm.score(x)  # wider classes fit the clean pixels worse


def test_frame_mixtures_widen_by_the_excess_over_the_quietest_frame():
    rng = np.random.default_rng(1)
    clean = np.where(np.arange(128)[:, None] < 64, 100.0, 300.0) * np.ones((128, 128))
    frames = [clean + rng.normal(0, s, clean.shape) for s in (5.0, 20.0)]
    data = [pixel_data(f.astype(np.float32), None) for f in frames]
    gmm = GaussianMixture(2, random_state=0).fit(frames[0].reshape(-1, 1))
    quiet, noisy = frame_mixtures(gmm, series_noise(data, [None, None]))
    np.testing.assert_allclose(quiet.covariances_, gmm.covariances_)
    added = (noisy.covariances_ - gmm.covariances_).ravel()
    np.testing.assert_allclose(added, 20.0**2 - 5.0**2, rtol=0.1)
    # a field divides the frame: the noise is measured in corrected intensities
    half = np.full(clean.shape, 0.5, np.float32)
    _, scaled = frame_mixtures(gmm, series_noise(data, [None, half]))
    np.testing.assert_allclose((scaled.covariances_ - gmm.covariances_).ravel(),
                               40.0**2 - 5.0**2, rtol=0.1)
