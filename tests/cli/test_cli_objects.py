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
            "-q"]
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
                     metadata={"axes": "TYX", "unit": "um"})
    model = tmp_path / "model.json"
    assert main(["segment", str(path), "-k", "2", "--seed", "0", "--model", str(model),
                 "-q"]) == 0
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
        (["--min-size", "5"], "--split, --measure and the property filters need"),
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


@pytest.fixture
def nuclei(tmp_path):
    from napari_gmm.core.objects._synthetic_nuclei import make_nuclei_image

    image, truth = make_nuclei_image((128, 128), 14, radius=(6, 9), seed=3)
    path = tmp_path / "nuclei.tif"
    tifffile.imwrite(path, image)
    return path, image, truth


def test_split_watershed_and_diameter_cut_touching_nuclei(nuclei, tmp_path):
    path, image, _ = nuclei
    argv = ["segment", str(path), "-k", "2", "--seed", "0", "--objects", "2", "-q"]
    assert main([*argv, "--split", "watershed"]) == 0
    seg = ng.segment(image, 2, random_state=0)
    expected = seg.objects(2, image=image, split="watershed")
    plain = seg.objects(2)
    assert expected.n_objects > plain.n_objects
    labels = tifffile.imread(tmp_path / "nuclei_objects.tif")
    np.testing.assert_array_equal(labels, expected.labels)
    assert len(_rows(tmp_path / "nuclei_objects.csv")) == expected.n_objects
    assert main([*argv, "--split", "watershed", "--diameter", "40", "--overwrite"]) == 0
    coarse = seg.objects(2, split="watershed", diameter=40.0)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "nuclei_objects.tif"),
                                  coarse.labels)
    assert coarse.n_objects < expected.n_objects


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        (["--diameter", "10"], 2, "--diameter"),
        (["--split", "watershed", "--diameter", "-3"], 2, "must be a number > 0"),
        (["--split", "cut"], 2, "invalid choice"),
        (["--split", "watershed", "--diameter", "5000"], 1, "larger than the image"),
    ],
)
def test_split_option_mistakes(nuclei, capsys, extra, status, message):
    path, _, _ = nuclei
    argv = ["segment", str(path), "-k", "2", "--objects", "2", "-q", *extra]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse: a bad value of an option
        code = exit_.code
    assert code == status
    assert message in capsys.readouterr().err


def test_split_without_objects_is_an_option_mistake(nuclei, capsys):
    path, _, _ = nuclei
    assert main(["segment", str(path), "-k", "2", "--split", "watershed"]) == 2
    assert "--objects" in capsys.readouterr().err


def test_mask_file_restricts_segment_apply_and_objects(disks, tmp_path):
    path, image, _ = disks
    mask = np.zeros(image.shape, np.uint8)
    mask[10:70, 15:90] = 255
    mask_path = tmp_path / "roi.tif"
    tifffile.imwrite(mask_path, mask)
    out = tmp_path / "out"
    argv = ["segment", str(path), "-k", "2", "--seed", "0", "--mask", str(mask_path),
            "--objects", "2", "--out-dir", str(out), "-q", "--model",
            str(tmp_path / "model.json")]
    assert main(argv) == 0
    inside = mask > 0
    seg = ng.segment(image, 2, random_state=0, mask=inside)
    labels = tifffile.imread(out / "cells_labels.tif")
    np.testing.assert_array_equal(labels, seg.labels)
    assert not labels[~inside].any()
    expected = seg.objects(2, image=image, mask=inside)
    rows = _rows(out / "cells_objects.csv")
    assert [r["touches_mask_border"] for r in rows] == [
        str(v) for v in expected.table["touches_mask_border"]
    ]
    assert "True" in {r["touches_mask_border"] for r in rows}
    applied = tmp_path / "applied"
    assert main(["apply", str(tmp_path / "model.json"), str(path), "--mask", str(mask_path),
                 "--out-dir", str(applied), "-q"]) == 0
    assert not tifffile.imread(applied / "cells_labels.tif")[~inside].any()


def test_mask_of_the_wrong_shape_or_missing(disks, tmp_path, capsys):
    path, _, _ = disks
    tifffile.imwrite(tmp_path / "small.tif", np.ones((10, 12), np.uint8))
    assert main(["segment", str(path), "-k", "2", "--mask", str(tmp_path / "small.tif")]) == 1
    err = capsys.readouterr().err
    assert "mask has shape (10, 12)" in err and "(96, 112)" in err
    assert main(["segment", str(path), "-k", "2", "--mask", str(tmp_path / "none.tif")]) == 1
    assert "No such mask file" in capsys.readouterr().err


def test_measure_and_property_filters_in_the_csv(disks, tmp_path):
    path, image, _ = disks
    argv = ["segment", str(path), "-k", "2", "--seed", "0", "--objects", "2", "-q",
            "--measure", "--scale", "0.5,0.5"]
    assert main(argv) == 0
    seg = ng.segment(image, 2, random_state=0, scale=(0.5, 0.5))
    every = seg.objects(2, image=image, scale=(0.5, 0.5), properties="all")
    rows = _rows(tmp_path / "cells_objects.csv")
    assert list(rows[0]) == list(every.table)
    assert [float(r["solidity"]) for r in rows] == every.table["solidity"].tolist()
    low = float(np.unique(every.table["equivalent_diameter"])[-5])  # the 5 largest sizes
    assert main([*argv, "--overwrite", "--min-diameter", str(low), "--min-solidity", "0.5"]) == 0
    kept = _rows(tmp_path / "cells_objects.csv")
    expected = (every.table["equivalent_diameter"] >= low) & (every.table["solidity"] >= 0.5)
    assert len(kept) == expected.sum() < len(rows)
    assert all(float(r["equivalent_diameter"]) >= low for r in kept)
