"""zarr / OME-Zarr reading and writing (lazy)."""

import dask.array as da
import numpy as np
import pytest
import zarr

from napari_gmm.io._zarr import is_zarr_path, read_zarr, write_ome_zarr


def test_plain_zarr_array_is_read_lazily(tmp_path):
    data = np.arange(6 * 7 * 8, dtype=np.uint16).reshape(6, 7, 8)
    store = zarr.create_array(str(tmp_path / "v.zarr"), shape=data.shape, chunks=(3, 4, 5),
                              dtype=data.dtype)
    store[...] = data
    image = read_zarr(tmp_path / "v.zarr")
    assert isinstance(image.data, da.Array) and image.data.chunksize == (3, 4, 5)
    assert image.axes is None and image.scales == [(1.0, 1.0, 1.0)]
    np.testing.assert_array_equal(image.data.compute(), data)
    assert is_zarr_path(tmp_path / "v.zarr")


def test_ome_zarr_round_trip_keeps_axes_scale_and_translation(tmp_path):
    data = da.from_array(np.arange(4 * 6 * 10, dtype=np.uint8).reshape(4, 6, 10), chunks=(2, 3, 5))
    write_ome_zarr(tmp_path / "l.zarr", data, scale=(2.0, 0.5, 0.25), translation=(1.0, 0.0, 3.0),
                   name="labels")
    image = read_zarr(tmp_path / "l.zarr")
    assert [a["name"] for a in image.axes] == ["z", "y", "x"]
    assert image.scales == [(2.0, 0.5, 0.25)] and image.translations == [(1.0, 0.0, 3.0)]
    assert image.data.chunksize == (2, 3, 5)
    np.testing.assert_array_equal(image.data.compute(), data.compute())


def test_ome_zarr_v04_multiscale_with_channels(tmp_path):
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_multiscale

    rgb = np.random.default_rng(0).integers(0, 255, (3, 8, 12), dtype=np.uint8)
    group = zarr.open_group(str(tmp_path / "c.zarr"), mode="w", zarr_format=2)
    pyramid = [rgb, rgb[:, ::2, ::2]]
    transforms = [[{"type": "scale", "scale": [1.0, 0.5, 0.5]}],
                  [{"type": "scale", "scale": [1.0, 1.0, 1.0]}]]
    with pytest.warns(DeprecationWarning):
        write_multiscale(pyramid, group, fmt=FormatV04(), axes=["c", "y", "x"],
                         coordinate_transformations=transforms)
    image = read_zarr(tmp_path / "c.zarr")
    assert len(image.levels) == 2 and image.channel_axis == 0
    assert image.scales[1] == (1.0, 1.0, 1.0)
    np.testing.assert_array_equal(image.levels[1].compute(), rgb[:, ::2, ::2])


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such zarr store"):
        read_zarr(tmp_path / "missing.zarr")
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("raw", shape=(2, 2), dtype="u1")
    with pytest.raises(ValueError, match=r"without OME-Zarr 'multiscales'.*raw"):
        read_zarr(tmp_path / "g.zarr")
    assert read_zarr(tmp_path / "g.zarr", "raw").data.shape == (2, 2)
