"""ICL model selection: the number of classes of non-Gaussian classes, independent of the seed."""

import numpy as np
import pytest
from scipy import ndimage
from skimage import data

import napari_gmm as ng
from napari_gmm.core._selection import select_n_components
from napari_gmm.core.analysis._synthetic import smooth_class_map
from napari_gmm.core.selection._init import classification_entropy, quantile_means


def _skewed(kind, k, seed, shape=(96, 96)):
    """Classes with skewed (gamma, lognormal) or textured intensities, known labels."""
    rng = np.random.default_rng(seed)
    truth = smooth_class_map(shape, k, feature_size=8, seed=rng)
    means = np.linspace(60.0, 190.0, k)[truth - 1]
    if kind == "gamma":
        values = 0.75 * means + rng.gamma(6.0, means / 24.0)
    elif kind == "lognormal":
        values = means * np.exp(rng.normal(0.0, 0.12, shape))
    else:
        texture = ndimage.gaussian_filter(rng.standard_normal(shape), 2.0)
        values = means + 10.0 * texture / texture.std() + rng.normal(0.0, 8.0, shape)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8), truth


@pytest.mark.parametrize("kind", ["gamma", "lognormal", "textured"])
@pytest.mark.parametrize("k", [2, 3])
def test_icl_finds_true_number_of_non_gaussian_classes(kind, k):
    image, _ = _skewed(kind, k, seed=k)
    chosen = {select_n_components(image, range(1, 9), criterion="icl", random_state=s).best
              for s in (0, 1)}
    assert chosen == {k}
    bic = select_n_components(image, range(1, 9), criterion="bic", random_state=0)
    assert bic.best >= k  # BIC never chooses fewer (it usually splits skewed classes)


def test_auto_uses_icl_and_is_seed_independent_on_real_images():
    image = data.camera()[::2, ::2]
    picks = {ng.segment(image, "auto", random_state=s).n_components for s in (0, 1, 2)}
    assert len(picks) == 1 and 2 <= picks.pop() <= 5
    seg = ng.segment(image, "auto", random_state=0)
    assert seg.selection.criterion == "icl" and seg.selection.candidates[0] == 2
    assert seg.selection.best == seg.selection.candidates[int(np.argmin(seg.selection.icl))]
    assert seg.selection.scores == seg.selection.icl


def test_icl_is_bic_plus_twice_the_entropy():
    image, _ = _skewed("gamma", 2, seed=5)
    sel = select_n_components(image, [2, 3], criterion="icl", random_state=0)
    values, counts = np.unique(image, return_counts=True)
    for gmm, bic, icl in zip(sel.models, sel.bic, sel.icl, strict=True):
        t = gmm.predict_proba(values[:, None].astype(float))
        entropy = -(counts[:, None] * np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0)).sum()
        assert icl == pytest.approx(bic + 2 * entropy, rel=1e-9)
        assert classification_entropy(gmm, values[:, None], counts) == pytest.approx(entropy)


def test_quantile_means_follow_the_principal_axis():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 1)) * np.array([[3.0, 1.0]])  # along (3, 1)
    means = quantile_means(X, None, 3)
    direction = (means[2] - means[0]) / np.linalg.norm(means[2] - means[0])
    assert abs(abs(direction @ np.array([3.0, 1.0]) / np.sqrt(10)) - 1) < 1e-9
    tied = quantile_means(np.zeros((10, 1)), None, 3)  # all ties: still distinct starts
    assert np.all(np.diff(tied[:, 0]) > 0)
