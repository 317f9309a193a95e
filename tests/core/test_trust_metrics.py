"""compare_labels on many label ids (sparse table), ignore lists, uncertainty of a scalar."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

import napari_gmm as ng
from napari_gmm.core.analysis import _contingency


def _dense_oracle(ref, lab):
    """The dense Hungarian matching as scipy computes it, and the accuracy it gives."""
    lab_ids, lab_inv = np.unique(lab, return_inverse=True)
    ref_ids, ref_inv = np.unique(ref, return_inverse=True)
    table = np.zeros((lab_ids.size, ref_ids.size), np.int64)
    np.add.at(table, (lab_inv, ref_inv), 1)
    r, c = linear_sum_assignment(table, maximize=True)
    return table[r, c].sum() / ref.size


def test_many_label_ids_do_not_allocate_a_dense_table(monkeypatch):
    # 50,000 x 40,000 ids: a dense int64 table would be 14.9 GiB
    rng = np.random.default_rng(0)
    ref = np.repeat(np.arange(40_000), 5)
    lab = np.repeat(rng.permutation(50_000)[:40_000], 5)
    lab[::5] = rng.integers(40_000, 50_000, size=40_000)  # one pixel of each elsewhere
    lab[-1], ref[0] = 49_999, 0
    allocated = []
    real_zeros = np.zeros
    monkeypatch.setattr(np, "zeros", lambda shape, *a, **k: allocated.append(
        int(np.prod(shape))) or real_zeros(shape, *a, **k))
    c = ng.compare_labels(ref, lab)
    assert max(allocated, default=0) < 10_000_000
    monkeypatch.undo()
    assert c.n_pixels == ref.size
    assert c.ari == pytest.approx(adjusted_rand_score(ref, lab))
    assert c.accuracy == pytest.approx(0.8, abs=1e-4)  # 4 of 5 pixels of every object are matched
    assert len(c.dice) == 40_000


def test_block_matching_equals_dense_hungarian(monkeypatch):
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 60, 5000)
    lab = (ref * 7 + rng.integers(0, 3, 5000)) % 97  # overlapping, permuted, split labels
    lab[rng.random(5000) < 0.1] = rng.integers(0, 97, 500)[:1]
    expected = _dense_oracle(ref, lab)
    monkeypatch.setattr(_contingency, "DENSE_CELLS", 0)  # force the block path
    assert ng.compare_labels(ref, lab).accuracy == pytest.approx(expected)


def test_ignore_accepts_several_labels():
    ref = np.array([1, 1, 2, 2, 3, 3, 4, 4])
    seg = np.array([5, 5, 6, 6, 7, 7, 8, 1])
    c = ng.compare_labels(ref, seg, ignore=[1, 2, 3])
    assert c.n_pixels == 1 and c.accuracy == 1.0
    assert ng.compare_labels(ref, seg, ignore=(1,)) == ng.compare_labels(ref, seg, ignore=1)
    with pytest.raises(TypeError, match="ignore must be a label value"):
        ng.compare_labels(ref, seg, ignore=[1.5])
    with pytest.raises(ValueError, match="the ignored label"):
        ng.compare_labels(ref, seg, ignore=[1, 2, 3, 4])


@pytest.mark.parametrize("value", [np.float32(1), 1.0, np.array(0.5)])
def test_uncertainty_of_a_scalar_is_a_clear_error(value):
    with pytest.raises(ValueError, match="class axis"):
        ng.uncertainty(value)
