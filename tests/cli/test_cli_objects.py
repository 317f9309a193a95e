"""``--objects``: instance labels and per-object CSV beside the outputs of segment and apply."""

import csv

import numpy as np
import pytest
import tifffile

import napari_gmm as ng
from napari_gmm.cli import main
from napari_gmm.core.objects._synthetic import make_object_image


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def disks(tmp_path):
    image, _, truth = make_object_image((96, 112), 9, radius=(4, 8), sigma=12, seed=7)
    path = tmp_path / "cells.tif"
    tifffile.imwrite(path, image)
    return path, image, truth


def test_segment_writes_objects_tif_csv_and_summary_count(disks, tmp_path, capsys):
    path, image, truth = disks
    argv = ["segment", str(path), "-k", "2", "--seed", "0", "--objects", "2", "--min-size", "8"]
    assert main(argv) == 0
    expected = ng.segment(image, 2, random_state=0).objects(2, image=image, min_size=8)
    assert expected.n_objects == truth.max() == 9
    labels = tifffile.imread(tmp_path / "cells_objects.tif")
    assert labels.dtype == np.uint16
    np.testing.assert_array_equal(labels, expected.labels)
    rows = _rows(tmp_path / "cells_objects.csv")
    assert len(rows) == 9 and list(rows[0]) == list(expected.table)
    assert [int(r["area"]) for r in rows] == expected.table["area"].tolist()
    assert [float(r["intensity_mean"]) for r in rows] == expected.table["intensity_mean"].tolist()
    summary = _rows(tmp_path / "napari-gmm-summary.csv")
    assert summary[0]["n_objects"] == "9"
    assert "9 objects ->" in capsys.readouterr().out
    # the outputs are never replaced without --overwrite, the objects' included
    (tmp_path / "cells_labels.tif").unlink()
    (tmp_path / "cells_probability.tif").unlink()
    assert main(argv) == 1
    assert "cells_objects" in capsys.readouterr().err
    assert not (tmp_path / "cells_labels.tif").exists()  # refused before any work
    assert main([*argv, "--overwrite", "--fill-holes"]) == 0


def test_without_objects_nothing_more_is_written(disks, tmp_path):
    path, _, _ = disks
    assert main(["segment", str(path), "-k", "2", "-q"]) == 0
    assert not (tmp_path / "cells_objects.tif").exists()
    assert _rows(tmp_path / "napari-gmm-summary.csv")[0]["n_objects"] == ""


def test_folder_batch_distinct_names_and_own_outputs_skipped(tmp_path):
    import imageio.v3 as iio

    src, out = tmp_path / "data", tmp_path / "out"
    src.mkdir()
    image, _, _ = make_object_image((64, 64), 4, radius=(4, 6), sigma=4, seed=1)
    tifffile.imwrite(src / "a.tif", image)
    iio.imwrite(src / "a.png", image)
    argv = ["segment", str(src), "-k", "2", "--objects", "foreground", "--out-dir", str(out),
            "-q"]  # fmt: skip
    assert main(argv) == 0
    assert {"a_tif_objects.tif", "a_tif_objects.csv", "a_png_objects.csv"} <= {
        p.name for p in out.iterdir()
    }
    assert [r["n_objects"] for r in _rows(out / "napari-gmm-summary.csv")] == ["4", "4"]
    # outputs written into the input folder are not taken as inputs on the next run
    assert main(["segment", str(src), "-k", "2", "--objects", "2", "-q"]) == 0
    assert main(["segment", str(src), "-k", "2", "--objects", "2", "-q", "--overwrite"]) == 0
    assert len(_rows(src / "napari-gmm-summary.csv")) == 2


def test_apply_with_objects_and_imagej_time_series_scale(tmp_path):
    frames = [make_object_image((48, 56), n, radius=(3, 6), sigma=5, seed=n)[0] for n in (2, 3)]
    movie = np.stack(frames)
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, movie, imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "TYX", "unit": "um"})  # fmt: skip
    model = tmp_path / "model.json"
    assert main(["segment", str(path), "-k", "2", "--seed", "0", "--model", str(model),
                 "-q"]) == 0  # fmt: skip
    out = tmp_path / "applied"
    argv = ["apply", str(model), str(path), "--out-dir", str(out), "--objects", "2", "-q"]
    assert main(argv) == 0
    rows = _rows(out / "movie_objects.csv")
    assert [int(r["frame"]) for r in rows] == [0, 0, 1, 1, 1]
    assert [int(r["label"]) for r in rows] == [1, 2, 3, 4, 5]
    for r in rows:  # 0.5 um pixels
        assert float(r["area_scaled"]) == pytest.approx(int(r["area"]) * 0.25)
    with tifffile.TiffFile(out / "movie_objects.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == "TYX"
        assert tif.asarray().max() == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--min-size", "5"], "--min-size and --fill-holes need --objects"),
        (["--fill-holes"], "need --objects CLASSES"),
        (["--objects", "two"], "must be class numbers such as 2 or 2,3"),
        (["--objects", "2", "--min-size", "-3"], "must be an integer >= 0"),
    ],
)
def test_option_mistakes_exit_2(disks, capsys, extra, message):
    path, _, _ = disks
    try:
        status = main(["segment", str(path), "-k", "2", *extra])
    except SystemExit as exit_:  # argparse: a bad value of an option
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1


def test_a_class_the_model_lacks_fails_that_input_before_writing(disks, tmp_path, capsys):
    path, _, _ = disks
    assert main(["segment", str(path), "-k", "2", "--objects", "3"]) == 1
    err = capsys.readouterr().err
    assert "[3] are not classes of the labels: allowed are 1..2" in err
    assert not (tmp_path / "cells_labels.tif").exists()


@pytest.mark.parametrize("command", ["segment", "apply"])
def test_help_documents_the_objects_options(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--objects CLASSES", "--min-size N", "--fill-holes", "_objects.csv"):
        assert option in out
