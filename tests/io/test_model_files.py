"""Model files are untrusted input: damaged, tampered, truncated, wrong-version or oversized
files fail with a clear ValueError; loading parses JSON only; saved files follow the schema.
"""

import json
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_strategies import check_error

import napari_gmm as ng
from napari_gmm.core import _model_file
from napari_gmm.core._model_file import SCHEMA, VERSION

RNG = np.random.default_rng(0)
RGB = np.clip(RNG.normal(120, 40, (24, 24, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module", params=["full", "tied", "diag", "spherical"])
def saved(request, tmp_path_factory):
    seg = ng.segment(RGB, 3, channel_axis=-1, covariance_type=request.param, random_state=0)
    path = ng.save_model(seg.model, tmp_path_factory.mktemp("m") / "model.json")
    return seg.model, json.loads(path.read_text())


def write(tmp_path, data, name="model.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_saved_file_has_format_version_and_follows_the_schema(saved, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    model, data = saved
    assert data["format"] == "napari-gmm model" and data["version"] == VERSION
    jsonschema.validate(data, SCHEMA)
    loaded = ng.load_model(write(tmp_path, data))
    X = ng.pixel_features(RGB, channel_axis=-1)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_shipped_schema_is_the_loaders_schema():
    from pathlib import Path

    shipped = Path(__file__).parents[2] / "docs" / "model.schema.json"
    assert json.loads(shipped.read_text()) == json.loads(json.dumps(SCHEMA))


def test_files_without_a_version_load_as_version_0(saved, tmp_path):
    model, data = saved
    legacy = {k: v for k, v in data.items() if k not in ("format", "version",
                                                         "napari_gmm_version")}
    loaded = ng.load_model(write(tmp_path, legacy))
    np.testing.assert_array_equal(loaded.means_, model.means_)


def tamper(data, **changes):
    out = json.loads(json.dumps(data))
    for key, value in changes.items():
        if value is KeyError:
            out.pop(key)
        else:
            out[key] = value(out[key]) if callable(value) else value
    return out


def _scale_first(rows, factor):
    arr = np.asarray(rows, dtype=float)
    arr.reshape(-1)[0] *= factor
    return arr.tolist()


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"version": VERSION + 1}, r"newer napari-gmm \(model format version 2\).*Upgrade"),
        ({"version": "1"}, r"version must be an integer"),
        ({"format": "something else"}, r"format must be 'napari-gmm model'"),
        ({"n_components": 0}, r"n_components must be an integer in \[1, 1024\]"),
        ({"n_components": 10**9}, r"n_components must be an integer in \[1, 1024\]"),
        ({"n_components": 2}, r"weights_ must have shape \(2,\)"),
        ({"covariance_type": "round"}, r"covariance_type must be one of"),
        ({"weights_": lambda w: [x * 2 for x in w]}, r"sum to 1"),
        ({"weights_": lambda w: [-w[0] + 1 - sum(w[1:]) - 1, *w[1:]]}, r">= 0 and sum to 1"),
        ({"means_": lambda m: m[:-1]}, r"means_ must have shape \(3, 3\)"),
        ({"means_": lambda m: [[*r[:-1], "x"] for r in m]}, r"means_ must be a \(nested\) list"),
        ({"covariances_": lambda c: _scale_first(c, -1.0)}, r"positive|symmetric"),
        ({"precisions_cholesky_": lambda p: _scale_first(p, 1.5)}, r"do not match"),
        ({"reg_covar": -1}, r"reg_covar must be a finite number >= 0"),
        ({"n_features_in_": 2}, r"means_ must have shape \(3, 2\)"),
        ({"means_": KeyError}, r"missing field 'means_'"),
        ({"tol": True}, r"tol must be a number"),
    ],
)
def test_tampered_fields_fail_clearly(saved, tmp_path, changes, match):
    _, data = saved
    with pytest.raises(ValueError, match=match) as info:
        ng.load_model(write(tmp_path, tamper(data, **changes)))
    check_error(info.value)
    assert "model.json" in str(info.value)


def test_non_positive_definite_covariances(saved, tmp_path):
    _, data = saved
    cov = np.asarray(data["covariances_"], dtype=float)
    if data["covariance_type"] in ("full", "tied"):
        mats = cov.reshape(-1, 3, 3)
        mats[0] = np.diag([1.0, -1.0, 1.0])  # symmetric, one negative eigenvalue
        match = "positive definite"
    else:
        cov.reshape(-1)[0] = 0.0  # a zero variance
        match = "must be positive"
    with pytest.raises(ValueError, match=match):
        ng.load_model(write(tmp_path, tamper(data, covariances_=cov.tolist())))


@pytest.mark.parametrize("cut", [1, 10, 100, 0.5, 0.99])
def test_truncated_files(saved, tmp_path, cut):
    _, data = saved
    text = json.dumps(data)
    n = int(len(text) * cut) if isinstance(cut, float) else cut
    with pytest.raises(ValueError, match=r"not a JSON model file.*truncated"):
        ng.load_model(write(tmp_path, text[:n]))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_constants(saved, tmp_path, constant):
    _, data = saved
    text = json.dumps(data).replace('"tol": 0.001', f'"tol": {constant}')
    with pytest.raises(ValueError, match=r"not a JSON model file"):
        ng.load_model(write(tmp_path, text))


def test_overflowing_numbers_are_non_finite(saved, tmp_path):
    _, data = saved
    text = json.dumps(tamper(data, means_=lambda m: [[1e999, *r[1:]] for r in m]))
    with pytest.raises(ValueError, match="means_ has non-finite values"):
        ng.load_model(write(tmp_path, text.replace("Infinity", "1e999")))


def test_oversized_files_are_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    path.write_text(" " * 2048)
    monkeypatch.setattr(_model_file, "MAX_FILE_BYTES", 1024)
    read = []
    monkeypatch.setattr(type(path), "read_bytes", lambda self: read.append(self) or b"")
    with pytest.raises(ValueError, match=r"larger than any napari-gmm model file"):
        ng.load_model(path)
    assert read == []


def test_other_files_and_paths(tmp_path):
    with pytest.raises(ValueError, match="Cannot read the model file"):
        ng.load_model(tmp_path / "missing.json")
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"n_components": 2}))
    with pytest.raises(ValueError, match="not a JSON model file"):
        ng.load_model(pickled)
    with pytest.raises(ValueError, match="expected a JSON object, got list"):
        ng.load_model(write(tmp_path, "[1, 2, 3]"))
    with pytest.raises(ValueError, match="not a JSON model file"):
        ng.load_model(write(tmp_path, "[" * 100_000))


def test_loading_never_unpickles(saved, tmp_path, monkeypatch):
    _, data = saved

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading a model file")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(np, "load", refuse)
    ng.load_model(write(tmp_path, data))


def test_apply_model_and_cli_report_a_bad_model_file(saved, tmp_path, capsys):
    from napari_gmm.cli import main

    _, data = saved
    path = write(tmp_path, tamper(data, weights_=lambda w: [x * 3 for x in w]))
    with pytest.raises(ValueError, match="sum to 1"):
        ng.apply_model(path, RGB, channel_axis=-1)
    image = tmp_path / "rgb.tif"
    import tifffile

    tifffile.imwrite(image, RGB)
    status = main(["apply", str(path), str(image), "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status != 0 and "sum to 1" in err and "Traceback" not in err


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(key=st.sampled_from(sorted(SCHEMA["properties"])), value=JSON_VALUES)
def test_any_field_replaced_by_any_json_fails_clearly_or_loads(tmp_path_factory, key, value):
    seg = ng.segment(RGB[..., 0], 2, random_state=0)
    data = _model_file.model_to_dict(seg.model)
    data[key] = value
    path = write(tmp_path_factory.mktemp("h"), data)
    try:
        model = ng.load_model(path)
    except ValueError as err:
        check_error(err)
        return
    # what loads is a usable mixture
    labels = ng.apply_model(model, RGB[..., 0]).labels
    assert labels.min() >= 1 and labels.max() <= model.n_components
