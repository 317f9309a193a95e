"""TIFF metadata (axes, pixel sizes) in and out, and the reader/writer registries."""

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_gmm.cli import main
from napari_gmm.io import _formats
from napari_gmm.io._formats import LoadedImage, Reader, load_image, register_reader
from napari_gmm.io._tiff import write_tiff_like


def test_read_imagej_ome_and_plain_metadata(tmp_path):
    data = np.arange(2 * 3 * 4 * 5, dtype=np.uint16).reshape(2, 3, 4, 5)
    tifffile.imwrite(tmp_path / "ij.tif", data, imagej=True, resolution=(4.0, 2.0),
                     metadata={"axes": "TZYX", "spacing": 1.5, "unit": "micron",
                               "finterval": 3.0})
    ij = load_image(tmp_path / "ij.tif")
    assert (ij.kind, ij.axes, ij.unit) == ("imagej", "TZYX", "µm")
    assert ij.spacing == pytest.approx({"X": 0.25, "Y": 0.5, "Z": 1.5, "T": 3.0})
    np.testing.assert_array_equal(ij.data, data)

    tifffile.imwrite(tmp_path / "o.ome.tif", data[0], ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 200.0, "PhysicalSizeXUnit": "nm",
                               "PhysicalSizeY": 0.2, "PhysicalSizeZ": 1.0})
    ome = load_image(tmp_path / "o.ome.tif")
    assert (ome.kind, ome.axes, ome.unit) == ("ome", "ZYX", "µm")
    assert ome.spacing == pytest.approx({"X": 0.2, "Y": 0.2, "Z": 1.0})

    tifffile.imwrite(tmp_path / "p.tif", data[0, 0], resolution=(10_000.0, 5_000.0),
                     resolutionunit="CENTIMETER")
    plain = load_image(tmp_path / "p.tif")
    assert plain.kind == "tiff" and plain.spacing == pytest.approx({"X": 1.0, "Y": 2.0})


@pytest.mark.parametrize("kind", ["imagej", "ome", "tiff"])
def test_outputs_keep_axes_and_pixel_size_compressed(tmp_path, kind):
    like = LoadedImage(None, "TZCYX", {"X": 0.5, "Y": 0.5, "Z": 2.0, "T": 7.0}, "µm", kind)
    labels = np.random.default_rng(0).integers(0, 4, (2, 3, 8, 9), dtype=np.uint8)
    path = write_tiff_like(tmp_path / "out.tif", labels, "TZYX", like)
    back = load_image(path)
    np.testing.assert_array_equal(back.data, labels)
    assert back.axes == "TZYX"
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    assert back.spacing["X"] == pytest.approx(0.5)
    if kind in ("imagej", "ome"):
        assert back.spacing["Z"] == pytest.approx(2.0)
        assert back.spacing["T"] == pytest.approx(7.0)
        assert back.kind == kind


def test_short_leading_axis_is_not_rgb_and_non_tiff_inputs(tmp_path):
    labels = np.ones((3, 6, 7), np.uint8)
    back = load_image(write_tiff_like(tmp_path / "l.tif", labels, "TYX", LoadedImage(None, None)))
    assert back.axes == "TYX" and back.data.shape == (3, 6, 7)
    rgb = np.zeros((6, 7, 3), np.uint8)
    back = load_image(write_tiff_like(tmp_path / "n.tif", rgb, "YXS", LoadedImage(None, None)))
    assert back.axes == "YXS"


def test_imagej_input_with_a_dtype_imagej_cannot_hold(tmp_path):
    like = LoadedImage(None, "YX", {"X": 0.5, "Y": 0.5}, "µm", "imagej")
    data = np.arange(12, dtype=np.int32).reshape(3, 4)
    back = load_image(write_tiff_like(tmp_path / "i.tif", data, "YX", like))
    np.testing.assert_array_equal(back.data, data)
    assert back.axes == "YX"


def test_a_registered_reader_plugs_into_the_cli(tmp_path, monkeypatch):
    monkeypatch.setattr(_formats, "READERS", list(_formats.READERS))

    def read_npy(path: Path) -> LoadedImage:
        return LoadedImage(np.load(path), "YX", {"X": 1.0, "Y": 1.0}, "µm", "other", path)

    register_reader(Reader("npy", lambda p: p.suffix == ".npy", read_npy))
    image = np.zeros((10, 12), np.uint8)
    image[:, 6:] = 200
    np.save(tmp_path / "half.npy", image)
    assert main(["segment", str(tmp_path), "-k", "2", "-q"]) == 0
    labels = tifffile.imread(tmp_path / "half_labels.tif")
    np.testing.assert_array_equal(labels, np.where(image > 0, 2, 1))
