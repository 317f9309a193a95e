"""``napari-gmm segment --scribbles`` and ``apply`` of a guided model."""

import csv

import numpy as np
import pytest
import tifffile

import napari_gmm as ng
from napari_gmm.cli import main


def _scene(seed):
    rng = np.random.default_rng(seed)
    truth = np.ones((64, 64), np.uint8)
    truth[:, 22:44], truth[:, 44:] = 2, 3
    clean = np.choose(truth - 1, [50.0, 200.0, 120.0])
    return np.clip(clean + rng.normal(0, 15, truth.shape), 0, 255).astype(np.uint8), truth


def _scribbles():
    scr = np.zeros((64, 64), np.uint16)
    scr[5, 2:12], scr[5, 25:35], scr[5, 50:60] = 1, 2, 3
    return scr


def test_segment_with_scribbles_then_apply_keeps_ids(tmp_path, capsys):
    image, truth = _scene(0)
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "scr.tif", _scribbles())
    status = main([
        "segment", str(tmp_path / "img.tif"), "--scribbles", str(tmp_path / "scr.tif"),
        "--class-names", "dark,bright,mid", "--components-per-class", "2,1,1",
        "--seed", "0", "--model", str(tmp_path / "m.json"), "--out-dir", str(tmp_path / "o"),
    ])
    assert status == 0
    labels = tifffile.imread(tmp_path / "o" / "img_labels.tif")
    expected = ng.segment(image, scribbles=_scribbles(), class_names=["dark", "bright", "mid"],
                          components_per_class=[2, 1, 1], random_state=0)
    assert np.array_equal(labels, expected.labels)
    assert (labels == truth).mean() > 0.95
    model = ng.load_model(tmp_path / "m.json")
    assert model.class_names_ == ("dark", "bright", "mid")
    with open(tmp_path / "o" / "napari-gmm-summary.csv", newline="") as f:
        assert next(csv.DictReader(f))["class_names"] == "dark;bright;mid"

    other, _ = _scene(1)
    tifffile.imwrite(tmp_path / "other.tif", other)
    status = main(["apply", str(tmp_path / "m.json"), str(tmp_path / "other.tif"),
                   "--out-dir", str(tmp_path / "a")])
    assert status == 0
    applied = tifffile.imread(tmp_path / "a" / "other_labels.tif")
    assert np.array_equal(applied, ng.apply_model(model, other).labels)
    assert (applied == truth).mean() > 0.95


def test_k_or_scribbles_is_required(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "img.tif", _scene(0)[0])
    with pytest.raises(SystemExit) as exc:
        main(["segment", str(tmp_path / "img.tif")])
    assert exc.value.code == 2
    assert "--scribbles" in capsys.readouterr().err


def test_scribbles_of_the_wrong_shape_fail_that_input(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "img.tif", _scene(0)[0])
    tifffile.imwrite(tmp_path / "scr.tif", np.ones((8, 8), np.uint8))
    status = main(["segment", str(tmp_path / "img.tif"), "--scribbles",
                   str(tmp_path / "scr.tif"), "--out-dir", str(tmp_path / "o")])
    assert status == 1
    captured = capsys.readouterr()
    assert "spatial shape" in captured.out + captured.err
