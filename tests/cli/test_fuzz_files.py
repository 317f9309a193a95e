"""Issue 20 items 6 and 15: a batch survives any bad file.

Each case puts one damaged or hostile file (corrupt, truncated, zero-byte, symlink loop,
malformed OME-Zarr, odd dtypes, headers promising huge images) before a good image in one
``segment`` batch: the bad file must be one ``napari-gmm: error:`` line and a summary row
with its error, never a traceback, and the good file must still be segmented.
"""

import csv
import io
import json
import os
import struct
import time
import zlib
from pathlib import Path
from xml.etree.ElementTree import ParseError

import numpy as np
import pytest
import tifffile
import zarr

from napari_gmm.cli import main
from napari_gmm.core import make_class_image
from napari_gmm.io._zarr import write_ome_zarr


def _good():
    return make_class_image((24, 32), 2, sigma=10.0, seed=0)[0]


def _tiff_bytes(array=None, **kwargs) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, _good() if array is None else array, **kwargs)
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zero_denominator(folder):
    data = bytearray(_tiff_bytes(resolution=((1, 1), (1, 1)), resolutionunit="CENTIMETER"))
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
        offset = tif.pages[0].tags["XResolution"].valueoffset
    data[offset + 4 : offset + 8] = (0).to_bytes(4, "little")
    return _write(folder / "zero_denominator.tif", bytes(data))


def _broken_ome(folder):
    data = _tiff_bytes(ome=True, metadata={"axes": "YX"})
    start = data.index(b"<?xml")
    return _write(folder / "broken.ome.tif", data[:start] + b"<OME><Image" + data[start + 11 :])


def _symlink_loop(folder):
    os.symlink(folder / "loop_b.tif", folder / "loop_a.tif")
    os.symlink(folder / "loop_a.tif", folder / "loop_b.tif")
    return folder / "loop_a.tif"


def _ome_zarr(folder, name, edit):
    path = folder / name
    write_ome_zarr(path, make_class_image((8, 16, 16), 2, seed=1, dtype="uint8")[0], zarr_format=3)
    meta_file = path / "zarr.json"
    meta = json.loads(meta_file.read_text())
    edit(meta["attributes"]["ome"]["multiscales"])
    if "replace" in meta["attributes"]["ome"]["multiscales"][0]:
        meta["attributes"]["ome"]["multiscales"] = {"datasets": []}
    meta_file.write_text(json.dumps(meta))
    return path


def _corrupt_chunk(folder):
    path = folder / "corrupt_chunk.zarr"
    arr = zarr.open_array(str(path), mode="w", shape=(16, 16), chunks=(8, 8), dtype="f4")
    arr[:] = _good()[:16, :16]
    chunk = next(p for p in (path / "c").rglob("*") if p.is_file())
    chunk.write_bytes(b"\x00garbage" * 3)
    return path


def _zero_chunks(folder):
    path = folder / "zero_chunks.zarr"
    zarr.open_array(str(path), mode="w", shape=(16, 16), chunks=(8, 8), dtype="u1")
    meta = json.loads((path / "zarr.json").read_text())
    meta["chunk_grid"]["configuration"]["chunk_shape"] = [0, 8]
    (path / "zarr.json").write_text(json.dumps(meta))
    return path


def _set(key, value):
    def edit(entries):
        entries[0][key] = value

    return edit


def _dataset(key, value):
    def edit(entries):
        entries[0]["datasets"][0][key] = value

    return edit


BAD_FILES = {
    "zero-byte tif": lambda d: _write(d / "empty.tif", b""),
    "zero-byte png": lambda d: _write(d / "empty.png", b""),
    "six-byte tif": lambda d: _write(d / "six.tif", b"II*\0\x08\0"),
    "truncated compressed tif": lambda d: _write(
        d / "truncated.tif", _tiff_bytes(compression="zlib")[:-200]
    ),
    "garbage png": lambda d: _write(d / "garbage.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
    "broken OME-XML": _broken_ome,
    "symlink loop": _symlink_loop,
    "complex dtype": lambda d: _write(
        d / "complex.tif", _tiff_bytes(_good().astype(np.complex64))
    ),
    "multiscales dict": lambda d: _ome_zarr(d, "dict.zarr", _set("replace", True)),
    "datasets missing": lambda d: _ome_zarr(d, "nodata.zarr", lambda e: e[0].pop("datasets")),
    "datasets empty": lambda d: _ome_zarr(d, "empty.zarr", _set("datasets", [])),
    "dataset bad path": lambda d: _ome_zarr(d, "badpath.zarr", _dataset("path", "nope")),
    "bad transforms": lambda d: _ome_zarr(
        d, "badscale.zarr", _dataset("coordinateTransformations", [{"type": "scale"}])
    ),
    "short scale": lambda d: _ome_zarr(
        d,
        "short.zarr",
        _dataset("coordinateTransformations", [{"type": "scale", "scale": [1.0]}]),
    ),
    "corrupt zarr chunk": _corrupt_chunk,
    "zarr chunk size 0": _zero_chunks,
    "not a zarr": lambda d: (d / "plain.zarr").mkdir() or d / "plain.zarr",
}

#: Odd but valid dtypes: segmented, or refused with one line (never a traceback).
ODD_DTYPES = ["bool", ">f4", ">u2", "<f2", "int64", "uint32", "float64"]


def _run(paths, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["segment", *map(str, paths), "-k", "2", "--seed", "0", "--out-dir", str(out)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    with open(out / "napari-gmm-summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return status, captured.err.splitlines(), rows


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_one_line_and_the_batch_carries_on(case, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    bad = BAD_FILES[case](folder)
    good = folder / "zz_good.tif"
    tifffile.imwrite(good, _good())
    status, err, rows = _run([bad, good], tmp_path, capsys)
    assert status == 1
    errors = [line for line in err if line.startswith("napari-gmm: error:")]
    assert len(errors) == 1 and bad.name in errors[0], err
    assert [bool(r["error"]) for r in rows] == [True, False]
    assert rows[1]["K"] == "2" and (tmp_path / "out" / "zz_good_labels.tif").exists()


@pytest.mark.parametrize("dtype", ODD_DTYPES)
def test_odd_dtypes_never_crash_the_batch(dtype, tmp_path, capsys):
    image = _good()
    image = (image > image.mean()) if dtype == "bool" else image.astype(dtype)
    path = tmp_path / "odd.tif"
    tifffile.imwrite(path, image)
    tifffile.imwrite(tmp_path / "zz_good.tif", _good())
    status, err, rows = _run([path, tmp_path / "zz_good.tif"], tmp_path, capsys)
    assert status in (0, 1)
    assert len([line for line in err if line.startswith("napari-gmm: error:")]) == status
    assert len(rows) == 2 and not rows[1]["error"]


def test_small_tiff_that_decodes_huge_is_refused_before_decoding(tmp_path, capsys,
                                                                 monkeypatch):
    path = tmp_path / "bomb.tif"
    tifffile.imwrite(path, np.zeros((4096, 4096), np.uint8), compression="zlib")
    assert path.stat().st_size < 100_000
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", str(8 * 2**20))

    def never(*args, **kwargs):
        raise AssertionError("decoded before the size check")

    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", never)
    assert main(["segment", str(path), "-k", "2"]) == 1
    err = capsys.readouterr().err
    assert "needs at least 16.0 MB of memory" in err and "4096x4096" in err


def test_zarr_header_of_an_impossible_volume_is_refused_at_once(tmp_path, capsys):
    path = tmp_path / "huge.zarr"
    zarr.open_array(str(path), mode="w", shape=(10**6,) * 3, chunks=(100,) * 3, dtype="u1")
    start = time.perf_counter()
    assert main(["segment", str(path), "-k", "2"]) == 1
    assert time.perf_counter() - start < 10
    assert "1e+12 chunks" in capsys.readouterr().err


def test_resolution_with_a_zero_denominator_is_read_without_a_pixel_size(tmp_path):
    path = _zero_denominator(tmp_path)
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].tags["XResolution"].value == (1, 0)  # x / 0: no pixel size
    assert main(["segment", str(path), "-k", "2", "-q"]) == 0
    assert tifffile.imread(tmp_path / "zero_denominator_labels.tif").shape == _good().shape


def _raise(error):
    def process(job):
        if job.path.name.startswith("bad"):
            raise error
        return {"K": 2}

    return process


@pytest.mark.parametrize(
    "error",
    [
        zlib.error("incorrect header check"),
        struct.error("unpack requires a buffer of 8 bytes"),
        ZeroDivisionError("division by zero"),
        ParseError("bad xml"),
        RuntimeError("Symlink loop"),
        KeyError("datasets"),
        IndexError("list index out of range"),
        AttributeError("'dict' object has no attribute 'get'"),
        OverflowError("int too large to convert to float"),
        AssertionError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_run_batch_reports_any_exception_and_carries_on(error, tmp_path, capsys):
    from argparse import Namespace

    from napari_gmm.cli._batch import run_batch

    for name in ("bad.tif", "good.tif"):
        tifffile.imwrite(tmp_path / name, _good())
    args = Namespace(inputs=[str(tmp_path / "bad.tif"), str(tmp_path / "good.tif")],
                     out_dir=None, summary=None, overwrite=False, quiet=True)
    assert run_batch(args, _raise(error)) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "bad.tif" in err[0] and type(error).__name__ in err[0]
    with open(tmp_path / "napari-gmm-summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [bool(r["error"]) for r in rows] == [True, False] and rows[1]["K"] == "2"


def test_run_batch_stops_on_keyboard_interrupt(tmp_path):
    from argparse import Namespace

    from napari_gmm.cli._batch import run_batch

    tifffile.imwrite(tmp_path / "bad.tif", _good())
    args = Namespace(inputs=[str(tmp_path / "bad.tif")], out_dir=None, summary=None,
                     overwrite=False, quiet=True)
    with pytest.raises(KeyboardInterrupt):
        run_batch(args, _raise(KeyboardInterrupt()))
