"""bioio inputs: scenes, axes and pixel sizes from metadata, channel names, lazy big files.

The files are OME-TIFF and OME-Zarr written here; CZI, LIF and ND2 go through the same code
(``io/_bioio.py``) with their bioio readers. Skipped without bioio (the ``formats`` extra).
"""

import sys

import numpy as np
import pytest
import tifffile

import napari_gmm as ng
from napari_gmm.cli import main
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.io import load_image

pytest.importorskip("bioio")
pytest.importorskip("bioio_ome_tiff")


@pytest.fixture(scope="module")
def czyx():
    """(C, Z, Y, X) uint8: 2 classes in 2 noisy channels."""
    image, _ = make_class_image((6, 24, 26), 2, gap=40.0, sigma=22.0, n_channels=2, seed=4)
    return np.ascontiguousarray(np.moveaxis(image, -1, 0))


@pytest.fixture
def two_scenes(tmp_path, czyx):
    """An OME-TIFF with two images: CZYX (named channels) and a 2-D one."""
    path = tmp_path / "multi.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(czyx, metadata={"axes": "CZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
                                  "PhysicalSizeZ": 2.0, "Name": "stack",
                                  "Channel": {"Name": ["dapi", "gfp"]}})
        tif.write(czyx[1, 3], metadata={"axes": "YX", "PhysicalSizeX": 0.25,
                                        "PhysicalSizeY": 0.25, "Name": "plane"})
    return path


def test_scenes_axes_sizes_and_channel_names(two_scenes, czyx):
    first = load_image(two_scenes, scene=0)
    assert first.axes == "CZYX" and first.kind == "ome" and first.unit == "µm"
    np.testing.assert_array_equal(first.data, czyx)
    assert first.spacing == pytest.approx({"X": 0.5, "Y": 0.5, "Z": 2.0})
    assert first.extra["channel_names"] == ["dapi", "gfp"]
    second = load_image(two_scenes, scene="Image:1")
    assert second.axes == "YX" and second.spacing == pytest.approx({"X": 0.25, "Y": 0.25})
    np.testing.assert_array_equal(second.data, czyx[1, 3])
    assert load_image(two_scenes, scene=-1).extra["scene"] == "Image:1"


def test_scene_out_of_range_names_the_scenes(two_scenes):
    with pytest.raises(ValueError, match=r"2 scene\(s\): 0: 'Image:0', 1: 'Image:1'"):
        load_image(two_scenes, scene=2)
    with pytest.raises(ValueError, match="no scene 'nope'"):
        load_image(two_scenes, scene="nope")


def test_cli_scene_channels_and_voxel_size_from_metadata(two_scenes, czyx, tmp_path):
    argv = ["segment", str(two_scenes), "--scene", "0", "-k", "2", "--seed", "0", "-q",
            "--smoothing", "1", "--objects", "2", "--out-dir", str(tmp_path / "out")]
    assert main(argv) == 0
    expected = ng.segment(czyx, 2, channel_axis=0, smoothing=1.0, scale=(2.0, 0.5, 0.5),
                          random_state=0)
    with tifffile.TiffFile(tmp_path / "out" / "multi_labels.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "ZYX"
        np.testing.assert_array_equal(tif.asarray(), expected.labels)
        pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]
        assert float(pixels["PhysicalSizeZ"]) == pytest.approx(2.0)
        assert float(pixels["PhysicalSizeX"]) == pytest.approx(0.5)
    header = (tmp_path / "out" / "multi_objects.csv").read_text().splitlines()[0]
    assert "intensity_mean-dapi" in header and "intensity_mean-gfp" in header
    argv = ["segment", str(two_scenes), "--scene", "5", "-k", "2", "-q", "--out-dir",
            str(tmp_path / "o2")]
    assert main(argv) == 1
    summary = (tmp_path / "o2" / "napari-gmm-summary.csv").read_text()
    assert "no scene 5" in summary and "'Image:1'" in summary


def test_corrected_ome_output_keeps_channel_names(two_scenes, tmp_path):
    argv = ["segment", str(two_scenes), "--scene", "0", "-k", "2", "--seed", "0", "-q",
            "--bias-field", "polynomial", "--bias-order", "1", "--bias-output"]
    assert main(argv) == 0
    with tifffile.TiffFile(tmp_path / "multi_corrected.tif") as tif:
        assert tif.series[0].axes == "CZYX"
        channels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]["Channel"]
        assert [c["Name"] for c in channels] == ["dapi", "gfp"]


@pytest.fixture
def ome_zarr(tmp_path):
    import dask.array as da

    from napari_gmm.io._zarr import write_ome_zarr

    image = make_class_image((10, 30, 28), n_classes=3, sigma=30, seed=3, dtype="uint8")[0]
    path = tmp_path / "vol.ome.zarr"
    write_ome_zarr(path, da.from_array(image, chunks=(5, 16, 14)), scale=(2.0, 0.5, 0.5))
    return path, image


def test_ome_zarr_through_bioio_in_memory(ome_zarr, tmp_path):
    pytest.importorskip("bioio_ome_zarr")
    path, image = ome_zarr
    loaded = load_image(path, scene=0)
    assert loaded.axes == "ZYX" and loaded.spacing == pytest.approx({"X": 0.5, "Y": 0.5, "Z": 2})
    assert isinstance(loaded.data, np.ndarray)
    argv = ["segment", str(path), "--scene", "0", "-k", "3", "--seed", "0", "-q",
            "--smoothing", "1"]
    assert main(argv) == 0
    expected = ng.segment(image, 3, smoothing=1.0, scale=(2.0, 0.5, 0.5), random_state=0)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "vol_labels.tif"), expected.labels)


def test_big_bioio_image_goes_lazily_out_of_core(ome_zarr, tmp_path, monkeypatch):
    pytest.importorskip("bioio_ome_zarr")
    from napari_gmm.io import _bioio
    from napari_gmm.io._zarr import read_zarr

    monkeypatch.setattr(_bioio, "LAZY_BYTES", 0)  # every image counts as big
    path, image = ome_zarr
    assert main(["segment", str(path), "--scene", "0", "-k", "3", "--seed", "0", "-q"]) == 0
    labels = read_zarr(tmp_path / "vol_labels.zarr")
    assert labels.scales == [(2.0, 0.5, 0.5)]
    np.testing.assert_array_equal(labels.data.compute(), ng.segment(image, 3, random_state=0)
                                  .labels)


def test_without_bioio_an_unknown_format_names_the_extra(tmp_path, monkeypatch, capsys):
    path = tmp_path / "scan.czi"
    path.write_bytes(b"\x00" * 64)
    monkeypatch.setitem(sys.modules, "bioio", None)  # as if not installed
    assert main(["segment", str(tmp_path), "-k", "2", "-q"]) == 1  # .czi listed from the folder
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "napari-gmm[formats]"' in err[0]
    (tmp_path / "data.xyz").write_bytes(b"\x01" * 64)
    with pytest.raises(ValueError, match=r"napari-gmm\[formats\]"):
        load_image(tmp_path / "data.xyz")


def test_a_file_bioio_cannot_read_is_one_line(tmp_path, capsys):
    (tmp_path / "broken.czi").write_bytes(b"junk")
    (tmp_path / "good.png").write_bytes(b"")  # also unreadable, by imageio
    img = make_class_image((20, 20), 2, seed=1, dtype="uint8")[0]
    tifffile.imwrite(tmp_path / "fine.tif", img)
    assert main(["segment", str(tmp_path), "-k", "2", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and any("broken.czi" in line for line in err)
    assert (tmp_path / "fine_labels.tif").exists()


def test_time_axis_from_metadata_segments_frames(tmp_path):
    frames = np.stack([make_class_image((20, 22), 2, seed=s, dtype="uint8")[0] for s in (1, 2)])
    path = tmp_path / "movie.ome.tif"
    tifffile.imwrite(path, frames, ome=True, metadata={"axes": "TYX", "PhysicalSizeX": 0.5,
                                                       "PhysicalSizeY": 0.5})
    assert load_image(path, scene=0).axes == "TYX"
    assert main(["segment", str(path), "--scene", "0", "-k", "2", "--seed", "0", "-q"]) == 0
    expected = ng.segment(frames, 2, time_axis=0, random_state=0)
    with tifffile.TiffFile(tmp_path / "movie_labels.tif") as tif:
        assert tif.series[0].axes == "TYX"
        np.testing.assert_array_equal(tif.asarray(), expected.labels)
