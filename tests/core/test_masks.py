"""The compiled finite-voxel mask against numpy."""

import numpy as np
import pytest

from napari_gmm.core._backend import use_backend
from napari_gmm.core.potts._masks import finite_mask


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_chan", [1, 3])
def test_finite_mask_equals_numpy(dtype, n_chan):
    rng = np.random.default_rng(0)
    features = rng.standard_normal((5, 70_001, n_chan)).astype(dtype)  # several runs
    flat = features.reshape(-1, n_chan)
    flat[rng.integers(0, flat.shape[0], 500), rng.integers(0, n_chan, 500)] = np.nan
    flat[rng.integers(0, flat.shape[0], 50), 0] = np.inf
    flat[rng.integers(0, flat.shape[0], 50), n_chan - 1] = -np.inf
    expected = np.isfinite(features).all(axis=-1)
    for backend in ("numba", "numpy"):
        with use_backend(backend):
            got = finite_mask(features)
            strided = finite_mask(features[:, ::2])  # not contiguous: numpy's route
        assert got.dtype == bool and got.shape == features.shape[:-1]
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(strided, expected[:, ::2])
    assert not expected.all()


def test_integer_features_are_always_finite():
    mask = finite_mask(np.zeros((4, 6, 1), dtype=np.uint16))
    assert mask.shape == (4, 6) and mask.all()
