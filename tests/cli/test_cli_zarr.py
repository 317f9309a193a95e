"""The CLI on zarr / OME-Zarr volumes: out of core, OME-Zarr outputs, dask clusters."""

import dask.array as da
import numpy as np
import pytest
import tifffile

import napari_gmm as ng
from napari_gmm.cli import main
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.io._zarr import read_zarr, write_ome_zarr


@pytest.fixture
def volume(tmp_path):
    image = make_class_image((20, 30, 26), n_classes=3, sigma=30, seed=3, dtype="uint8")[0]
    path = tmp_path / "vol.zarr"
    write_ome_zarr(path, da.from_array(image, chunks=(8, 16, 13)), scale=(2.0, 0.5, 0.5),
                   translation=(4.0, 0.0, 0.0))
    return path, image


def test_zarr_round_trip(volume, capsys):
    path, image = volume
    assert main(["segment", str(path), "-k", "3", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "exact (distinct values)" in out
    labels = read_zarr(path.parent / "vol_labels.zarr")
    prob = read_zarr(path.parent / "vol_probability.zarr")
    assert labels.scales == [(2.0, 0.5, 0.5)] and labels.translations == [(4.0, 0.0, 0.0)]
    assert labels.data.chunksize == (8, 16, 13)
    ref = ng.segment(image, 3, random_state=0)
    np.testing.assert_array_equal(labels.data.compute(), ref.labels)
    np.testing.assert_array_equal(prob.data.compute(), ref.probability)


def test_zarr_to_tiff_with_smoothing_on_a_scheduler(volume, tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    path, image = volume
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        argv = ["segment", str(path), "-k", "3", "--seed", "0", "--smoothing", "1", "-q",
                "--labels", str(tmp_path / "l.tif"), "--probability", str(tmp_path / "p.zarr"),
                "--scheduler", cluster.scheduler_address]
        assert main(argv) == 0
    assert capsys.readouterr().out == ""
    assert read_zarr(tmp_path / "p.zarr").data.dtype == np.float32
    ref = ng.segment(image, 3, random_state=0, smoothing=1.0, scale=(2.0, 0.5, 0.5))
    assert (tifffile.imread(tmp_path / "l.tif") == ref.labels).mean() >= 0.999


def test_zarr_errors(volume, capsys):
    path, _ = volume
    assert main(["segment", str(path), "-k", "3", "--noise", "5"]) == 1  # reported, skipped
    assert "--noise is not available for zarr" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["segment", str(path), "-k", "3", "--workers", "0"])
    assert "--workers: must be an integer >= 1" in capsys.readouterr().err
    assert main(["segment", str(path.parent / "nope.zarr"), "-k", "3"]) == 2
    assert "no such input" in capsys.readouterr().err


def test_zarr_time_series_is_refused_not_smoothed_across_frames(tmp_path, capsys):
    frames = make_class_image((3, 24, 24), n_classes=2, sigma=20, seed=1, dtype="uint8")[0]
    path = tmp_path / "movie.zarr"
    write_ome_zarr(path, da.from_array(frames, chunks=(1, 24, 24)), axes="tyx")
    assert main(["segment", str(path), "-k", "2"]) == 1
    err = capsys.readouterr().err
    assert "time series" in err and "time_axis" in err
    assert not (tmp_path / "movie_labels.zarr").exists()
    volume = tmp_path / "vol.zarr"
    write_ome_zarr(volume, da.from_array(frames, chunks=(1, 24, 24)))  # zyx: a volume
    assert main(["segment", str(volume), "-k", "2", "--time-axis", "0"]) == 1
    assert "time series" in capsys.readouterr().err


def test_zarr_objects_out_of_core(volume, tmp_path):
    import csv

    path, image = volume
    argv = ["segment", str(path), "-k", "3", "--seed", "0", "-q", "--objects", "foreground",
            "--min-size", "2"]
    assert main(argv) == 0
    objects = read_zarr(tmp_path / "vol_objects.zarr")
    assert objects.scales == [(2.0, 0.5, 0.5)] and objects.data.chunksize == (8, 16, 13)
    ref = ng.label_objects(ng.segment(image, 3, random_state=0).labels, "foreground",
                           image=image, min_size=2, scale=(2.0, 0.5, 0.5))
    np.testing.assert_array_equal(objects.data.compute(), ref.labels)
    with (tmp_path / "vol_objects.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == ref.n_objects > 3
    assert [float(r["centroid_scaled-0"]) for r in rows] == ref.table["centroid_scaled-0"].tolist()
    summary = (tmp_path / "napari-gmm-summary.csv").read_text()
    assert f",{ref.n_objects}" in summary.splitlines()[1]


@pytest.mark.parametrize(("fmt", "marker", "version"), [(None, ".zattrs", "0.4"),
                                                        ("3", "zarr.json", "0.5")])
def test_zarr_format_of_the_outputs(volume, tmp_path, fmt, marker, version):
    import json

    path, image = volume
    argv = ["segment", str(path), "-k", "3", "--seed", "0", "-q", "--objects", "3"]
    assert main(argv + (["--zarr-format", fmt] if fmt else [])) == 0
    for role in ("labels", "probability", "objects"):
        store = tmp_path / f"vol_{role}.zarr"
        assert (store / marker).is_file()
        meta = json.loads((store / marker).read_text())
        multiscales = meta["attributes"]["ome"] if fmt else meta
        assert multiscales["multiscales"][0].get("version", multiscales.get("version")) \
            == version
    labels = read_zarr(tmp_path / "vol_labels.zarr")
    assert labels.scales == [(2.0, 0.5, 0.5)] and labels.translations == [(4.0, 0.0, 0.0)]
    np.testing.assert_array_equal(labels.data.compute(), ng.segment(image, 3, random_state=0)
                                  .labels)
