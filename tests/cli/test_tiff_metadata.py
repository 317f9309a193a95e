"""TIFF axes and voxel size on the command line: channel/time axes, smoothing scale, outputs."""

import numpy as np
import pytest
import tifffile

import napari_gmm as ng
from napari_gmm.cli import main
from napari_gmm.core.analysis._synthetic import make_class_image


@pytest.fixture(scope="module")
def zcyx():
    """(Z, C, Y, X) uint8 volume of 2 classes in 2 noisy channels."""
    image, _ = make_class_image((6, 24, 24), 2, gap=40.0, sigma=22.0, n_channels=2, seed=3)
    return np.ascontiguousarray(np.moveaxis(image, -1, 1))


def _imagej(path, data, axes, z=2.0, xy=0.5):
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / xy, 1 / xy),
                     metadata={"axes": axes, "spacing": z, "unit": "um"})


def test_imagej_czyx_channels_voxel_size_and_outputs(zcyx, tmp_path):
    path = tmp_path / "stack.tif"
    _imagej(path, zcyx, "ZCYX")
    argv = ["segment", str(path), "-k", "2", "--seed", "0", "--smoothing", "1", "-q"]
    assert main(argv) == 0
    out = tmp_path / "stack_labels.tif"
    expected = ng.segment(zcyx, 2, channel_axis=1, smoothing=1.0, scale=(2.0, 0.5, 0.5),
                          random_state=0)
    isotropic = ng.segment(zcyx, 2, channel_axis=1, smoothing=1.0, random_state=0)
    assert not np.array_equal(expected.labels, isotropic.labels)  # the voxel size matters
    with tifffile.TiffFile(out) as tif:
        assert tif.is_imagej and tif.series[0].axes == "ZYX"
        np.testing.assert_array_equal(tif.asarray(), expected.labels)
        assert tif.imagej_metadata["spacing"] == pytest.approx(2.0)
        assert tif.imagej_metadata["unit"] in ("um", "µm", "micron")
        x_res = tif.pages[0].tags["XResolution"].value
        assert x_res[0] / x_res[1] == pytest.approx(2.0)
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    with tifffile.TiffFile(tmp_path / "stack_probability.tif") as tif:
        assert tif.series[0].axes == "ZYX" and tif.pages[0].dtype == np.float32
    # --scale overrides the metadata
    argv += ["--scale", "1,1,1", "--overwrite"]
    assert main(argv) == 0
    np.testing.assert_array_equal(tifffile.imread(out), isotropic.labels)
    # --channel-axis none: a 4-D gray volume
    assert main([*argv, "--channel-axis", "none", "--scale", "1,1,1,1"]) == 0
    assert tifffile.imread(out).shape == zcyx.shape


def test_ome_time_series_each_frame_and_shared(tmp_path):
    frames = [make_class_image((20, 24), 2, sigma=5.0, n_channels=2, seed=s)[0] for s in range(3)]
    series = np.stack([np.moveaxis(f, -1, 0) // (t + 1) for t, f in enumerate(frames)])
    path = tmp_path / "movie.ome.tif"
    metadata = {"axes": "TCYX", "PhysicalSizeX": 0.3, "PhysicalSizeY": 0.3,
                "TimeIncrement": 10.0}
    tifffile.imwrite(path, series, ome=True, metadata=metadata)
    assert main(["segment", str(path), "-k", "2", "--seed", "0", "-q"]) == 0
    expected = ng.segment(series, 2, channel_axis=1, time_axis=0, random_state=0)
    with tifffile.TiffFile(tmp_path / "movie_labels.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "TYX"
        np.testing.assert_array_equal(tif.asarray(), expected.labels)
        pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]
        assert pixels["PhysicalSizeX"] == pytest.approx(0.3)
        assert pixels["TimeIncrement"] == pytest.approx(10.0)
    argv = ["segment", str(path), "-k", "2", "--seed", "0", "-q", "--overwrite"]
    assert main([*argv, "--frames", "shared"]) == 0
    shared = ng.segment(series, 2, channel_axis=1, time_axis=0, frames="shared", random_state=0)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "movie_labels.tif"), shared.labels)
    assert main([*argv, "--frames", "1"]) == 0


def test_bad_frames_and_time_options(tmp_path, capsys):
    path = tmp_path / "img.tif"
    tifffile.imwrite(path, make_class_image((16, 16), 2, seed=0)[0])
    with pytest.raises(SystemExit) as exc:
        main(["segment", str(path), "-k", "2", "--frames", "sometimes"])
    assert exc.value.code == 2 and "'each', 'shared' or a frame index" in capsys.readouterr().err
    assert main(["segment", str(path), "-k", "2", "--frames", "shared", "-q"]) == 1
    assert "needs a time axis" in capsys.readouterr().err
    assert main(["segment", str(path), "-k", "2", "--time-axis", "5", "-q"]) == 1
    assert "--time-axis 5 is out of range" in capsys.readouterr().err


def test_time_axis_option_on_a_plain_stack(tmp_path):
    series = np.stack([make_class_image((16, 16), 2, seed=s)[0] // (s + 1) for s in range(4)])
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, series, photometric="minisblack")  # a 3-D gray volume by default
    assert main(["segment", str(path), "-k", "2", "--seed", "0", "-q",
                 "--time-axis", "0"]) == 0
    expected = ng.segment(series, 2, time_axis=0, random_state=0)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "plain_labels.tif"),
                                  expected.labels)


def test_rgba_tiff_drops_alpha_and_apply_time_series(tmp_path):
    rgb = make_class_image((16, 20), 2, n_channels=3, seed=1)[0]
    rgba = np.concatenate([rgb, np.full((16, 20, 1), 255, np.uint8)], axis=-1)
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    model = tmp_path / "m.json"
    argv = ["segment", str(tmp_path / "rgba.tif"), "-k", "2", "--seed", "0", "-q"]
    assert main([*argv, "--model", str(model)]) == 0
    expected = ng.segment(rgb, 2, channel_axis=-1, random_state=0)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "rgba_labels.tif"), expected.labels)
    movie = np.stack([rgb, rgb // 2])
    tifffile.imwrite(tmp_path / "movie.tif", movie, imagej=True, metadata={"axes": "TYXS"})
    assert main(["apply", str(model), str(tmp_path / "movie.tif"), "-q"]) == 0
    applied = ng.apply_model(ng.load_model(model), movie, channel_axis=-1, time_axis=0)
    with tifffile.TiffFile(tmp_path / "movie_labels.tif") as tif:
        assert tif.series[0].axes == "TYX"
        np.testing.assert_array_equal(tif.asarray(), applied.labels)
