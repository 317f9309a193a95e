"""Issue 20 items 7, 12, 13 and 19: colour axes, --component, output formats keep the pixel
size, and the command line's option errors, summaries and messages."""

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from skimage import data

from napari_gmm.cli import main
from napari_gmm.core import make_class_image
from napari_gmm.io import load_image, read_zarr, write_ome_zarr


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _coins():
    return data.coins()[::2, ::2]


# item 7: colour axes are never spatial
def test_gray_alpha_png_is_gray_with_alpha_dropped(tmp_path):
    coins = _coins()
    alpha = np.full_like(coins, 255)
    alpha[:10] = 0
    iio.imwrite(tmp_path / "la.png", np.stack([coins, alpha], axis=-1))
    loaded = load_image(tmp_path / "la.png")
    assert loaded.axes == "YX" and np.array_equal(loaded.data, coins)
    assert main(["segment", str(tmp_path / "la.png"), "-k", "2", "-q", "--seed", "0"]) == 0
    labels = tifffile.imread(tmp_path / "la_labels.tif")
    assert labels.shape == coins.shape and set(np.unique(labels)) == {1, 2}


def test_one_frame_rgb_gif_is_an_rgb_picture(tmp_path):
    rgb = np.stack([_coins()] * 3, axis=-1)
    iio.imwrite(tmp_path / "one.gif", rgb[None])
    assert iio.imread(tmp_path / "one.gif").shape[0] == 1  # what imageio gives: (1, H, W, 3)
    loaded = load_image(tmp_path / "one.gif")
    assert loaded.axes == "YXS" and loaded.data.shape == rgb.shape
    assert main(["segment", str(tmp_path / "one.gif"), "-k", "2", "-q"]) == 0
    assert tifffile.imread(tmp_path / "one_labels.tif").shape == rgb.shape[:2]


# item 12: --component for TIFF, output extensions honoured or refused
def test_component_selects_a_tiff_series(tmp_path, capsys):
    path = tmp_path / "two.tif"
    first = make_class_image((20, 24), 2, seed=0)[0].astype(np.float32)
    second = make_class_image((30, 16), 2, seed=1)[0].astype(np.float32)
    with tifffile.TiffWriter(path) as tif:
        tif.write(first)
        tif.write(second)
    assert main(["segment", str(path), "-k", "2", "-q", "--component", "1"]) == 0
    assert tifffile.imread(tmp_path / "two_labels.tif").shape == second.shape
    assert main(["segment", str(path), "-k", "2", "-q", "--component", "5",
                 "--overwrite"]) == 1
    assert "has 2 series, numbered 0..1" in capsys.readouterr().err


def test_component_is_refused_for_single_image_formats(tmp_path, capsys):
    iio.imwrite(tmp_path / "a.png", _coins())
    assert main(["segment", str(tmp_path / "a.png"), "-k", "2", "--component", "1"]) == 1
    assert "holds one image" in capsys.readouterr().err


def test_output_extension_is_honoured_or_refused(tmp_path, capsys):
    image = make_class_image((3, 20, 24), 2, seed=0)[0].astype(np.float32)
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, image, imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "ZYX", "spacing": 3.0, "unit": "micron"})
    assert main(["segment", str(path), "-k", "2", "-q", "--labels", str(tmp_path / "l.zarr"),
                 "--probability", str(tmp_path / "p.tiff")]) == 0
    image_zarr = read_zarr(tmp_path / "l.zarr")
    assert image_zarr.data.shape == image.shape
    assert image_zarr.scales[0] == (3.0, 0.5, 0.5)
    assert [a.get("unit") for a in image_zarr.axes] == ["micrometer"] * 3
    assert tifffile.TiffFile(tmp_path / "p.tiff").is_imagej
    for bad in ("x.png", "x.jpg", "x.npy"):
        assert main(["segment", str(path), "-k", "2", "--labels", str(tmp_path / bad)]) == 2
        err = capsys.readouterr().err
        assert "outputs are TIFF (.tif, .tiff), OME-Zarr (.zarr) or NIfTI" in err
        assert not (tmp_path / bad).exists()


# item 13: every output format keeps the voxel size and units
def test_ome_zarr_in_tiff_out_keeps_voxel_size_and_units(tmp_path):
    volume = make_class_image((6, 16, 20), 2, seed=2, dtype="uint8")[0]
    axes = [{"name": n, "type": "space", "unit": "nanometer"} for n in "zyx"]
    write_ome_zarr(tmp_path / "v.zarr", volume, axes=axes, scale=(2000, 500, 250))
    out = tmp_path / "v_labels.tif"
    assert main(["segment", str(tmp_path / "v.zarr"), "-k", "2", "-q", "--labels", str(out)]) == 0
    with tifffile.TiffFile(out) as tif:
        assert tif.series[0].axes == "ZYX"
        pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]
    assert (pixels["PhysicalSizeZ"], pixels["PhysicalSizeY"], pixels["PhysicalSizeX"]) == (
        2.0, 0.5, 0.25,
    )
    assert pixels["PhysicalSizeXUnit"] == "µm"


def test_tiff_in_zarr_format_out_keeps_scale_and_units(tmp_path):
    image = make_class_image((20, 24), 2, seed=0)[0].astype(np.float32)
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, image, resolution=(10_000 / 0.25, 10_000 / 0.25),
                     resolutionunit="CENTIMETER")
    assert main(["segment", str(path), "-k", "2", "-q", "--output-format", "zarr"]) == 0
    for role in ("labels", "probability"):
        out = read_zarr(tmp_path / f"in_{role}.zarr")
        assert out.scales[0] == pytest.approx((0.25, 0.25))
        assert [a["unit"] for a in out.axes] == ["micrometer", "micrometer"]


# item 19: option errors once, no summary for a typo, skipped files named, apply's messages
def test_too_many_classes_is_one_option_error(tmp_path, capsys):
    for i in range(3):
        tifffile.imwrite(tmp_path / f"{i}.tif", _coins())
    assert main(["segment", str(tmp_path), "-k", "5000"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if "error" in line]) == 1 and "at most 1024" in err[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.tif", "1.tif", "2.tif"]


def test_skipped_files_are_named(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "a.tif", _coins())
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "table.csv").write_text("x")
    assert main(["segment", str(tmp_path), "-k", "2"]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 file(s)" in err and "notes.txt, table.csv" in err


def test_apply_does_not_report_the_training_convergence(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "a.tif", _coins())
    model = tmp_path / "m.json"
    assert main(["segment", str(tmp_path / "a.tif"), "-k", "2", "-q", "--model", str(model)]) == 0
    assert json.loads(model.read_text())["format"] == "napari-gmm model"
    tifffile.imwrite(tmp_path / "b.tif", _coins())
    capsys.readouterr()
    assert main(["apply", str(model), str(tmp_path / "b.tif")]) == 0
    out = capsys.readouterr().out
    assert "applied K=2" in out and "converged" not in out and "iterations" not in out
    row = _rows(tmp_path / "napari-gmm-summary.csv")[-1]
    assert row["file"].endswith("b.tif") and row["converged"] == row["n_iter"] == ""


def test_readme_big_data_names_are_public():
    import napari_gmm.io as nio

    assert {"read_zarr", "write_ome_zarr", "zarr_spacing"} <= set(nio.__all__)


def test_readme_big_data_example_keeps_units(tmp_path):
    from napari_gmm import segment

    volume = make_class_image((32, 32, 32), 2, seed=3, dtype="uint8")[0]
    axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]
    write_ome_zarr(tmp_path / "volume.zarr", volume, axes=axes, scale=(2.0, 0.5, 0.5),
                   chunks=(16, 16, 16))
    # the README's lines, as written there
    volume = read_zarr(tmp_path / "volume.zarr")
    seg = segment(volume.data, 3, random_state=0, smoothing=1.0, scale=volume.scales[0])
    write_ome_zarr(tmp_path / "labels.zarr", seg.labels, scale=volume.scales[0],
                   axes=volume.axes)
    labels = read_zarr(tmp_path / "labels.zarr")
    assert labels.scales[0] == (2.0, 0.5, 0.5)
    assert [a["unit"] for a in labels.axes] == ["micrometer"] * 3


def test_readme_smoothing_snippet_uses_a_gray_image():
    import warnings
    from pathlib import Path

    import napari_gmm as ng

    text = (Path(__file__).parents[2] / "README.md").read_text()
    assert "napari_gmm.io._" not in text
    snippet = "noisy = ng.add_gaussian_noise(image, 40, seed=0)"
    assert snippet in text
    image = data.camera()[::4, ::4]
    noisy = ng.add_gaussian_noise(image, 40, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ng.ChannelAxisWarning)
        assert ng.segment(noisy, 3, smoothing=1.0).labels.shape == image.shape
