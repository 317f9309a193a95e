"""Batches on the command line: folders, failures, summary, output names, overwrite."""

import csv

import numpy as np
import pytest
import tifffile

import napari_gmm as ng
from napari_gmm.cli import main
from napari_gmm.core.analysis._synthetic import make_class_image


def _gray(seed, shape=(32, 40)):
    return make_class_image(shape, 2, sigma=10.0, seed=seed)[0]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def folder(tmp_path):
    import imageio.v3 as iio

    src = tmp_path / "data"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _gray(0))
    iio.imwrite(src / "b.png", _gray(1))
    (src / "bad.tif").write_bytes(b"not a tiff at all")
    (src / "notes.txt").write_text("not an image")
    (src / ".hidden.tif").write_bytes(b"")
    return src


def test_folder_input_bad_file_is_reported_and_skipped(folder, tmp_path, capsys):
    out = tmp_path / "res"
    status = main(["segment", str(folder), "-k", "2", "--seed", "0", "--out-dir", str(out)])
    assert status == 1
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    # the skipped non-image file is named (item 19 of issue 20), the bad image reported
    assert err[0].startswith("napari-gmm: note: skipped 1 file(s)") and "notes.txt" in err[0]
    assert len(err) == 2 and err[1].startswith("napari-gmm: error: ") and "bad.tif" in err[1]
    assert "Traceback" not in captured.err
    assert "2 of 3 input(s) done, 1 failed" in captured.out
    assert sorted(p.name for p in out.iterdir()) == [
        "a_labels.tif", "a_probability.tif", "b_labels.tif", "b_probability.tif",
        "napari-gmm-summary.csv",
    ]
    expected = ng.segment(_gray(0), 2, random_state=0)
    np.testing.assert_array_equal(tifffile.imread(out / "a_labels.tif"), expected.labels)
    rows = _rows(out / "napari-gmm-summary.csv")
    assert [r["file"].rsplit("/", 1)[-1] for r in rows] == ["a.tif", "b.png", "bad.tif"]
    assert list(rows[0]) == ["file", "K", "converged", "n_iter", "BIC", "time_s", "error",
                             "labels", "n_objects", "class_names"]
    good, bad = rows[0], rows[2]
    assert good["K"] == "2" and good["converged"] == "True" and good["error"] == ""
    assert int(good["n_iter"]) == expected.n_iter
    assert float(good["BIC"]) == pytest.approx(expected.bic, rel=1e-5)
    assert float(good["time_s"]) >= 0
    assert bad["K"] == "" and "Cannot read" in bad["error"]


def test_empty_folder_and_missing_inputs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["segment", str(tmp_path / "empty"), "-k", "2"]) == 2
    assert "no image found" in capsys.readouterr().err
    tifffile.imwrite(tmp_path / "ok.tif", _gray(0))
    # a missing input is a typo in the command: refused before any work, nothing written
    status = main(["segment", str(tmp_path / "nope.tif"), str(tmp_path / "ok.tif"), "-k", "2",
                   "-q"])
    assert status == 2
    assert "no such input" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "ok.tif"]


def test_same_stems_get_distinct_names(tmp_path):
    import imageio.v3 as iio

    for sub in ("dir1", "dir2"):
        (tmp_path / sub).mkdir()
        tifffile.imwrite(tmp_path / sub / "a.tif", _gray(2))
    iio.imwrite(tmp_path / "dir1" / "a.png", _gray(3))
    out = tmp_path / "out"
    inputs = [str(tmp_path / "dir1"), str(tmp_path / "dir2" / "a.tif")]
    assert main(["segment", *inputs, "-k", "2", "--out-dir", str(out), "-q"]) == 0
    names = sorted(p.name for p in out.glob("*_labels.tif"))
    assert names == ["dir1_a_png_labels.tif", "dir1_a_tif_labels.tif", "dir2_a_tif_labels.tif"]
    # next to the inputs (no --out-dir) only a.tif and a.png of dir1 share a folder
    assert main(["segment", *inputs, "-k", "2", "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "dir1").glob("*_labels.tif")) == [
        "a_png_labels.tif", "a_tif_labels.tif"
    ]
    assert (tmp_path / "dir2" / "a_labels.tif").exists()


def test_no_silent_overwrite(tmp_path, capsys):
    path = tmp_path / "img.tif"
    tifffile.imwrite(path, _gray(4))
    assert main(["segment", str(path), "-k", "2", "-q"]) == 0
    labels = tmp_path / "img_labels.tif"
    before = labels.read_bytes()
    capsys.readouterr()
    assert main(["segment", str(path), "-k", "3", "-q"]) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert labels.read_bytes() == before
    # one summary per folder: the rerun appended its row (no napari-gmm-summary-2.csv)
    rows = _rows(tmp_path / "napari-gmm-summary.csv")
    assert [bool(r["error"]) for r in rows] == [False, True]
    assert not (tmp_path / "napari-gmm-summary-2.csv").exists()
    assert main(["segment", str(path), "-k", "3", "-q", "--overwrite"]) == 0
    assert tifffile.imread(labels).max() == 3
    # re-running on the folder does not take the earlier outputs as inputs; --overwrite
    # starts the summary afresh
    assert main(["segment", str(tmp_path), "-k", "2", "-q", "--overwrite"]) == 0
    assert len(_rows(tmp_path / "napari-gmm-summary.csv")) == 1
    # a file napari-gmm did not write is never replaced or appended to, --overwrite or not
    summary = tmp_path / "mine.csv"
    summary.write_text("keep")
    for extra in (["--overwrite"], []):
        assert main(["segment", str(path), "-k", "2", "--summary", str(summary), *extra]) == 2
        assert "the summary" in capsys.readouterr().err
    assert summary.read_text() == "keep"


def test_auto_components_and_output_next_to_input(tmp_path, capsys):
    image = make_class_image((48, 48), 3, gap=80.0, sigma=6.0, seed=5)[0]
    tifffile.imwrite(tmp_path / "three.tif", image)
    assert main(["segment", str(tmp_path / "three.tif"), "-k", "auto", "--seed", "0"]) == 0
    assert "K=3" in capsys.readouterr().out
    rows = _rows(tmp_path / "napari-gmm-summary.csv")
    assert rows[0]["K"] == "3"


def test_apply_a_model_to_a_folder(tmp_path, capsys):
    ref = tmp_path / "ref.tif"
    tifffile.imwrite(ref, _gray(6))
    model = tmp_path / "model.json"
    assert main(["segment", str(ref), "-k", "2", "--seed", "0", "--model", str(model),
                 "--out-dir", str(tmp_path / "fit"), "-q"]) == 0
    batch = tmp_path / "batch"
    batch.mkdir()
    for i in range(3):
        tifffile.imwrite(batch / f"img{i}.tif", _gray(10 + i) // (i + 1))
    tifffile.imwrite(batch / "rgb.tif", np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    out = tmp_path / "applied"
    status = main(["apply", str(model), str(batch), "--out-dir", str(out)])
    assert status == 1  # the RGB image does not fit a gray model
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "rgb.tif" in err[0] and "fitted on 1 channel" in err[0]
    gmm = ng.load_model(model)
    for i in range(3):
        image = tifffile.imread(batch / f"img{i}.tif")
        expected = ng.apply_model(gmm, image)
        np.testing.assert_array_equal(tifffile.imread(out / f"img{i}_labels.tif"), expected.labels)
    rows = _rows(out / "napari-gmm-summary.csv")
    assert [r["K"] for r in rows] == ["2", "2", "2", ""]
    assert main(["apply", str(tmp_path / "missing.json"), str(batch)]) == 2
    assert "No such model file" in capsys.readouterr().err


def test_auto_smoothing_and_gibbs_marginals_options(tmp_path, capsys):
    image = make_class_image((48, 48), 3, sigma=45, seed=3)[0].astype(np.float32)
    tifffile.imwrite(tmp_path / "noisy.tif", image)
    args = ["segment", str(tmp_path / "noisy.tif"), "-k", "3", "--seed", "0",
            "--smoothing", "auto", "--marginals", "gibbs"]
    assert main(args) == 0
    ref = ng.segment(image, 3, random_state=0, smoothing="auto", marginals="gibbs")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "noisy_labels.tif"), ref.labels)
    with pytest.raises(SystemExit):
        main(["segment", str(tmp_path / "noisy.tif"), "-k", "3", "--smoothing", "strong"])
    assert "must be a number >= 0 or 'auto'" in capsys.readouterr().err
