"""Parallel label counts against np.bincount."""

import numpy as np
import pytest

from napari_gmm.core._backend import use_backend
from napari_gmm.core.fit._empty import empty_classes
from napari_gmm.core.fit._label_counts import label_counts


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_label_counts_equal_bincount(dtype):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, (7, 300, 301)).astype(dtype)  # several runs
    labels[labels == 3] = 0  # an empty class
    expected = np.bincount(labels.ravel(), minlength=6)
    for backend in ("numba", "numpy"):
        with use_backend(backend):
            np.testing.assert_array_equal(label_counts(labels, 6), expected)
            np.testing.assert_array_equal(label_counts(labels, 3), expected[:3])
            assert empty_classes(labels, 5) == [3, 5]
    assert label_counts(labels[:, ::2], 6).sum() == labels[:, ::2].size
