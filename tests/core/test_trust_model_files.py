"""Model files: numerical sanity, strict types, non-regular files, unfitted models (issue 20)."""

import json
import os

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core import _model_file


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(10, 2, 300), rng.normal(50, 3, 300)])
    img = x.reshape(20, 30)
    seg = ng.segment(img, 2, random_state=0)
    return img, _model_file.model_to_dict(seg.model)


def _write(tmp_path, d):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(d))
    return path


def test_absurd_but_finite_means_are_refused(data, tmp_path):
    img, d = data
    bad = dict(d, means_=[[m * 1e305 for m in row] for row in d["means_"]])
    with pytest.raises(ValueError, match="numerically absurd"):
        ng.load_model(_write(tmp_path, bad))
    # the untampered model loads and applies with finite probabilities
    seg = ng.apply_model(ng.load_model(_write(tmp_path, d)), img)
    assert np.isfinite(seg.probability).all()


def test_tiny_covariances_far_from_zero_are_refused(tmp_path):
    gmm = GaussianMixture(2, covariance_type="diag")
    gmm.fit(np.array([[1e150], [1.1e150], [3e150], [3.1e150]]) / 1e150)
    bad = _model_file.model_to_dict(gmm)
    bad["means_"] = [[v * 1e200] for (v,) in bad["means_"]]
    with pytest.raises(ValueError, match="numerically absurd"):
        ng.load_model(_write(tmp_path, bad))


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None])
def test_converged_must_be_a_boolean(data, tmp_path, value):
    _, d = data
    with pytest.raises(ValueError, match="converged_ must be true or false"):
        ng.load_model(_write(tmp_path, dict(d, converged_=value)))
    assert ng.load_model(_write(tmp_path, dict(d, converged_=False))).converged_ is False


def test_non_regular_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a regular file"):
        ng.load_model("/dev/zero")
    with pytest.raises(ValueError, match="not a regular file"):
        ng.load_model(tmp_path)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):  # would block on open
        ng.load_model(fifo)


def test_read_is_capped_even_when_the_size_lies(tmp_path, monkeypatch):
    path = tmp_path / "grown.json"
    path.write_bytes(b" " * 4096)
    monkeypatch.setattr(_model_file, "MAX_FILE_BYTES", 1024)
    with pytest.raises(ValueError, match="larger than any napari-gmm model file"):
        ng.load_model(path)


def test_save_model_of_an_unfitted_mixture(tmp_path):
    with pytest.raises(ValueError, match="has not been fitted"):
        ng.save_model(GaussianMixture(2), tmp_path / "m.json")
    with pytest.raises(TypeError, match="fitted sklearn GaussianMixture"):
        ng.save_model({"means_": [1]}, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()
