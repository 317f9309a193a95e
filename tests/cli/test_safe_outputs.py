"""Issue 20 items 1-5: outputs never destroy what napari-gmm did not write.

--overwrite replaces only earlier outputs (recognised by their mark), outputs are written
under temporary names and renamed when complete, concurrent runs into one folder never
corrupt each other, colliding outputs are refused, and the summary escapes formula cells.
"""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr

from napari_gmm.cli import main
from napari_gmm.core import make_class_image
from napari_gmm.io._atomic import PARTIAL, clean_stale, is_own_output
from napari_gmm.io._zarr import write_ome_zarr


def _gray(seed=0, shape=(32, 40)):
    return make_class_image(shape, 2, sigma=10.0, seed=seed)[0]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _snapshot(folder: Path) -> dict:
    """Every file under `folder` with its bytes (to prove nothing was touched)."""
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working folder with an input, a notes file and a zarr volume; cwd is there."""
    monkeypatch.chdir(tmp_path)
    tifffile.imwrite(tmp_path / "in.tif", _gray())
    (tmp_path / "notes.txt").write_text("my notes")
    tifffile.imwrite(tmp_path / "theirs.tif", _gray(2))
    volume = make_class_image((12, 16, 16), 2, sigma=10.0, seed=1, dtype="uint8")[0]
    write_ome_zarr(tmp_path / "vol.zarr", volume, chunks=(6, 8, 8))
    return tmp_path


# item 1: --overwrite never deletes what napari-gmm did not write
@pytest.mark.parametrize(
    "args",
    [
        ["vol.zarr", "--labels", "."],  # the working folder, input included
        ["vol.zarr", "--labels", "{tmp}"],  # the folder holding the input, by absolute path
        ["vol.zarr", "--probability", "vol.zarr/s0"],  # inside the input
        ["in.tif", "--labels", "."],
        ["in.tif", "--labels", "theirs.tif"],  # another program's TIFF
    ],
)
def test_overwrite_refuses_inputs_and_foreign_paths(work, capsys, args):
    before = _snapshot(work)
    args = [a.replace("{tmp}", str(work)) for a in args]
    assert main(["segment", *args, "-k", "2", "--overwrite", "-q"]) == 2
    err = capsys.readouterr().err
    assert "napari-gmm: error:" in err and ("input" in err or "did not write" in err)
    assert _snapshot(work) == before


def test_overwrite_refuses_a_folder_of_other_files(work, capsys):
    (work / "res.zarr").mkdir()
    (work / "res.zarr" / "thesis.docx").write_text("years of work")
    before = _snapshot(work)
    status = main(["segment", "vol.zarr", "-k", "2", "--labels", "res.zarr", "--overwrite"])
    assert status == 2
    assert "did not write" in capsys.readouterr().err
    assert _snapshot(work) == before


def test_overwrite_replaces_our_own_outputs(work, capsys):
    assert main(["segment", "vol.zarr", "-k", "2", "-q", "--labels", "v.zarr"]) == 0
    assert is_own_output(work / "v.zarr") and is_own_output(work / "vol_probability.zarr")
    assert main(["segment", "vol.zarr", "-k", "3", "-q", "--labels", "v.zarr",
                 "--overwrite"]) == 0
    assert int(np.asarray(zarr.open(str(work / "v.zarr"))["s0"]).max()) == 3
    assert main(["segment", "in.tif", "-k", "2", "-q"]) == 0
    assert is_own_output(work / "in_labels.tif")
    assert main(["segment", "in.tif", "-k", "3", "-q", "--overwrite"]) == 0
    assert tifffile.imread(work / "in_labels.tif").max() == 3
    assert not [p for p in work.iterdir() if PARTIAL in p.name]


def test_dev_null_is_not_an_output(work, capsys):
    assert main(["segment", "in.tif", "-k", "2", "--labels", "/dev/null", "--overwrite"]) == 2
    assert "did not write" in capsys.readouterr().err


# item 2: atomic writes
def test_failed_write_leaves_no_output(work, capsys, monkeypatch):
    from napari_gmm.io import _tiff

    calls = []

    def failing(path, array, axes, like=None):
        calls.append(path)
        Path(path).write_bytes(b"II*\0 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_tiff, "write_tiff_like", failing)
    from napari_gmm.io import _formats

    monkeypatch.setitem(_formats.WRITERS, "tiff", _formats.Writer("tiff", ".tif", failing))
    assert main(["segment", "in.tif", "-k", "2", "-q"]) == 1
    assert "No space left" in capsys.readouterr().err
    assert calls and not any(Path(p).exists() for p in calls)
    assert sorted(p.name for p in work.iterdir()) == [
        "in.tif", "napari-gmm-summary.csv", "notes.txt", "theirs.tif", "vol.zarr"
    ]


#: A run whose first output write hangs after writing its bytes (killed there by the test).
HANGING_RUN = """
import pathlib, time
from napari_gmm.cli import main
from napari_gmm.io import _formats
real = _formats.WRITERS["tiff"].write
def slow(path, array, axes, like=None):
    real(path, array, axes, like)
    pathlib.Path("started").write_text("")
    time.sleep(120)
_formats.WRITERS["tiff"] = _formats.Writer("tiff", ".tif", slow)
main(["segment", "in.tif", "-k", "2", "-q"])
"""


def _env():
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}


def test_kill_during_write_then_rerun_without_overwrite(work):
    child = subprocess.Popen([sys.executable, "-c", HANGING_RUN], cwd=work, env=_env())
    deadline = time.monotonic() + 120
    while not (work / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = [p.name for p in work.iterdir() if PARTIAL in p.name]
    assert left and all(name.startswith(".") for name in left)  # hidden, not an output
    assert not (work / "in_labels.tif").exists()
    assert main(["segment", "in.tif", "-k", "2", "-q"]) == 0  # no --overwrite needed
    assert not [p for p in work.iterdir() if PARTIAL in p.name]  # stale temporaries gone
    assert tifffile.imread(work / "in_labels.tif").shape == _gray().shape


def test_clean_stale_keeps_live_runs_and_other_files(tmp_path):
    mine = tmp_path / f".a.tif{PARTIAL}{os.getpid()}-abcd"
    mine.write_text("")
    dead = tmp_path / f".a.tif{PARTIAL}999999999-abcd"
    dead.write_text("")
    user = tmp_path / ".a.tif.napari-gmm-partial-notes"
    user.write_text("")
    assert clean_stale(tmp_path) == [dead]
    assert mine.exists() and user.exists()


# item 3: concurrent runs into one folder
def test_concurrent_runs_never_corrupt_and_keep_every_summary_row(tmp_path):
    big = (np.random.default_rng(0).normal(size=(600, 600)) * 20).astype(np.float32)
    big[:, 300:] += 100
    tifffile.imwrite(tmp_path / "in.tif", big)
    run = "import sys; from napari_gmm.cli import main; sys.exit(main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", run, "segment", "in.tif", "-q"]
    runs = [subprocess.Popen([*cmd, "-k", k], cwd=tmp_path, env=_env(), stderr=subprocess.PIPE)
            for k in ("2", "3")]
    codes = sorted(r.wait(timeout=300) for r in runs)
    assert codes == [0, 1]  # the later one refuses: its outputs exist (or appeared meanwhile)
    labels = tifffile.imread(tmp_path / "in_labels.tif")
    probability = tifffile.imread(tmp_path / "in_probability.tif")
    assert labels.shape == probability.shape == big.shape
    assert len(_rows(tmp_path / "napari-gmm-summary.csv")) == 2


# item 4: collisions, with or without --overwrite
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
@pytest.mark.parametrize(
    "args, reason",
    [
        (["in.tif", "--labels", "x.tif", "--probability", "x.tif"], "two outputs on one path"),
        (["in.tif", "--model", "x.tif", "--labels", "x.tif"], "two outputs on one path"),
        (["in.tif", "--summary", "in_labels.tif"], "two outputs on one path"),
        (["in.tif", "--summary", "in.tif"], "summary"),
        (["in.tif", "--labels", "link.tif"], "is the input"),
        (["in.tif", "in_labels.tif"], "is the input"),
    ],
)
def test_collisions_are_refused(work, capsys, args, reason, overwrite):
    os.link(work / "in.tif", work / "link.tif")
    tifffile.imwrite(work / "in_labels.tif", _gray(3))
    before = _snapshot(work)
    assert main(["segment", *args, "-k", "2", "-q", *overwrite]) == 2
    assert reason in capsys.readouterr().err
    assert _snapshot(work) == before


# item 5: formula injection
def test_summary_escapes_formula_cells(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tifffile.imwrite('=HYPERLINK("x.example","y").tif', _gray())
    Path("+bad.tif").write_bytes(b"II*\0")
    assert main(["segment", "=HYPERLINK(\"x.example\",\"y\").tif", "+bad.tif", "-k", "2",
                 "-q", "--out-dir", "o"]) == 1
    text = (tmp_path / "o" / "napari-gmm-summary.csv").read_text()
    cells = [cell for row in csv.reader(text.splitlines()) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _number(c))]
    assert any(c.startswith("'=HYPERLINK") for c in cells)


def _number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_summary_appends_and_zarr_outputs_keep_a_mark(work):
    for k in ("2", "3"):
        assert main(["segment", "in.tif", "-k", k, "-q", "--out-dir", "o", "--overwrite"]) == 0
    assert len(_rows(work / "o" / "napari-gmm-summary.csv")) == 1  # --overwrite: afresh
    assert main(["segment", "in.tif", "-k", "2", "-q", "--out-dir", "o", "--summary",
                 "o/napari-gmm-summary.csv"]) == 1
    assert len(_rows(work / "o" / "napari-gmm-summary.csv")) == 2  # appended
    assert not list((work / "o").glob("napari-gmm-summary-*.csv"))


def test_dask_writer_marks_plain_arrays(tmp_path):
    write_ome_zarr(tmp_path / "p.zarr", da.zeros((2, 3, 4, 5), chunks=2), name="x")
    assert is_own_output(tmp_path / "p.zarr")
    zarr.open_array(str(tmp_path / "q.zarr"), mode="w", shape=(4,), dtype="u1")
    assert not is_own_output(tmp_path / "q.zarr")


def test_outputs_of_one_input_appear_together_or_not_at_all(work, capsys, monkeypatch):
    from napari_gmm.io import _formats

    real = _formats.WRITERS["tiff"].write

    def second_fails(path, array, axes, like=None):
        if array.dtype.kind == "f":  # the probability, written after the labels
            raise OSError(28, "No space left on device")
        return real(path, array, axes, like)

    monkeypatch.setitem(_formats.WRITERS, "tiff", _formats.Writer("tiff", ".tif", second_fails))
    assert main(["segment", "in.tif", "-k", "2", "-q"]) == 1
    assert "No space left" in capsys.readouterr().err
    assert not (work / "in_labels.tif").exists()  # written whole, but not committed alone
    assert not [p for p in work.iterdir() if PARTIAL in p.name]
    monkeypatch.setitem(_formats.WRITERS, "tiff", _formats.Writer("tiff", ".tif", real))
    assert main(["segment", "in.tif", "-k", "2", "-q"]) == 0  # the rerun needs no --overwrite
    assert (work / "in_labels.tif").exists() and (work / "in_probability.tif").exists()
