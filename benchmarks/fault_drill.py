"""Fault drill of the command line: kill -9 mid-write, full disk, concurrent runs, collisions.

Every scenario runs the real ``napari-gmm`` command line in child processes and then checks
that nothing was lost: the inputs are byte for byte unchanged, every output under its final
name is complete (it equals a reference run), nothing of the user's was replaced, and a
rerun after a crash works without ``--overwrite``. It prints one row per scenario:

* tried: attempts;
* refused: attempts the command line refused or failed with a message (exit status != 0);
* lost: attempts after which an input changed, a file that napari-gmm did not write was
  replaced or removed, an output under its final name was incomplete or corrupt, a summary
  row was missing, or the rerun failed. Must be 0.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/fault_drill.py [--quick]

The full-disk scenario mounts a 2 MB tmpfs (needs root); without it, the output file size
is limited with RLIMIT_FSIZE instead (writes then fail with EFBIG), and the table says so.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

from napari_gmm.io import read_zarr, write_ome_zarr  # noqa: E402
from napari_gmm.io._atomic import PARTIAL  # noqa: E402

CLI = [sys.executable, "-c", "import sys; from napari_gmm.cli import main; sys.exit(main())"]
ENV = {**os.environ, "PYTHONPATH": str(SRC)}


def run(args, cwd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, env=ENV, capture_output=True,
                          text=True, **kwargs)


def run_here(args, cwd) -> int:
    """The command line in this process (the collision checks come before any work, so a
    child process would only add its start-up time)."""
    from napari_gmm.cli import main as cli

    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            return cli(list(map(str, args)))
    finally:
        os.chdir(here)


def digest(folder: Path) -> dict:
    """sha256 of every file under `folder`, plus the set of names (hidden ones excluded)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[path.relative_to(folder)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def read_output(path: Path):
    """The array of an output (TIFF or OME-Zarr), or None when it cannot be read whole."""
    try:
        if path.suffix == ".zarr":
            return np.asarray(read_zarr(path).data)
        return tifffile.imread(path)
    except Exception:  # noqa: BLE001 - any failure to read means an incomplete output
        return None


def outputs_intact(out: Path, reference: dict) -> bool:
    """Every output present under its final name equals the reference run's."""
    for name, expected in reference.items():
        path = out / name
        if path.exists():
            got = read_output(path)
            if got is None or got.shape != expected.shape or not np.array_equal(got, expected):
                return False
    return True


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if PARTIAL in p.name] if folder.exists() else []


def kill_mid_write(work: Path, source: str, names: list[str], delays) -> tuple[int, int, int]:
    """Start a run, kill -9 it while it writes (a temporary exists), check, rerun."""
    ref = work / "ref"
    assert run(["segment", source, "-k", "2", "--seed", "0", "--out-dir", ref, "-q"],
               work).returncode == 0
    reference = {name: read_output(ref / name) for name in names}
    before = digest(work / "inputs")
    tried = refused = lost = 0
    for i, delay in enumerate(delays):
        out = work / f"kill{i}"
        child = subprocess.Popen([*CLI, "segment", source, "-k", "2", "--seed", "0",
                                  "--out-dir", str(out), "-q"], cwd=work, env=ENV)
        deadline = time.monotonic() + 300
        while not partials(out) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        tried += 1
        refused += child.returncode != 0
        damaged = not outputs_intact(out, reference) or digest(work / "inputs") != before
        # the rerun, without --overwrite, must leave every output complete: it writes them
        # (a crash left none), or refuses because the crashed run had committed them all
        run(["segment", source, "-k", "2", "--seed", "0", "--out-dir", out, "-q"], work)
        complete = all((out / name).exists() for name in names)
        if damaged or not complete or partials(out) or not outputs_intact(out, reference):
            lost += 1
    return tried, refused, lost


def full_disk(work: Path, source: str) -> tuple[int, int, int, str]:
    """Outputs onto a 2 MB file system (tmpfs; else RLIMIT_FSIZE): fail, leave nothing."""
    disk = work / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True).returncode == 0
    how = "2 MB tmpfs" if mounted else "RLIMIT_FSIZE 2 MB (no tmpfs)"
    before = digest(work / "inputs")
    (disk / "keep.txt").write_text("a file of the user's on that disk")
    tried = refused = lost = 0
    try:
        for sub in ("a", "b")[: 1 if source.endswith(".zarr") else 2]:
            limit = None if mounted else (lambda: resource.setrlimit(
                resource.RLIMIT_FSIZE, (2 * 2**20, 2 * 2**20)))
            result = subprocess.run([*CLI, "segment", source, "-k", "2", "--seed", "0",
                                     "--out-dir", str(disk / "out"), "-q"], cwd=work, env=ENV,
                                    capture_output=True, text=True, preexec_fn=limit)
            tried += 1
            refused += result.returncode != 0
            written = [p for p in (disk / "out").glob("*_*") if not p.name.startswith(".")]
            complete = all(read_output(p) is not None for p in written if p.suffix != ".csv")
            if (digest(work / "inputs") != before or partials(disk) or not complete
                    or (disk / "keep.txt").read_text()[:6] != "a file"):
                lost += 1
            del sub
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=False)
    return tried, refused, lost, how


def concurrent(work: Path, n_tries: int) -> tuple[int, int, int]:
    """Two runs (K=2 and K=3) into one folder at once: never a corrupt file, every row."""
    rng = np.random.default_rng(0)
    image = (rng.normal(size=(2048, 2048)) * 20).astype(np.float32)
    image[:, 1024:] += 100
    image[1024:, :512] += 200
    tried = refused = lost = 0
    for i in range(n_tries):
        folder = work / f"conc{i}"
        folder.mkdir()
        tifffile.imwrite(folder / "in.tif", image)
        runs = [subprocess.Popen([*CLI, "segment", "in.tif", "-k", k, "-q"], cwd=folder, env=ENV,
                                 stderr=subprocess.DEVNULL) for k in ("2", "3")]
        codes = [r.wait() for r in runs]
        tried += 2
        refused += sum(c != 0 for c in codes)
        labels = read_output(folder / "in_labels.tif")
        probability = read_output(folder / "in_probability.tif")
        rows = (folder / "napari-gmm-summary.csv").read_text().strip().splitlines()[1:]
        ok = (labels is not None and probability is not None and labels.shape == image.shape
              and probability.shape == image.shape and int(labels.max()) in (2, 3)
              and len(rows) == 2 and 0 in codes)
        lost += not ok
    return tried, refused, lost


def collisions(work: Path) -> tuple[int, int, int]:
    """The path collisions of issue 20 (items 1 and 4), with and without --overwrite."""
    folder = work / "coll"
    folder.mkdir()
    rng = np.random.default_rng(1)
    small = (rng.normal(size=(64, 64)) * 10 + np.repeat([0, 80], 32)[None]).astype(np.float32)
    tifffile.imwrite(folder / "in.tif", small)
    tifffile.imwrite(folder / "a.tif", small)
    tifffile.imwrite(folder / "theirs.tif", small)
    tifffile.imwrite(folder / "in_labels.tif", small)  # the user's own file of that name
    write_ome_zarr(folder / "vol.zarr", (small[None] > 40).astype(np.uint8).repeat(4, 0))
    (folder / "notes.txt").write_text("the user's notes")
    (folder / "other.zarr").mkdir()
    (folder / "other.zarr" / "data.bin").write_bytes(b"someone else's store")
    os.link(folder / "in.tif", folder / "link.tif")
    cases = [
        ["in.tif", "--labels", "x.tif", "--probability", "x.tif"],
        ["in.tif", "--model", "x.tif", "--labels", "x.tif"],
        ["in.tif", "--summary", "in_labels.tif"],
        ["in.tif", "--summary", "in.tif"],
        ["in.tif", "--labels", "link.tif"],
        ["in.tif", "--labels", "in.tif"],
        ["a.tif", "in.tif", "--labels", "a_labels.tif"],
        ["a.tif", "a_labels.tif"],
        ["vol.zarr", "--labels", "."],
        ["vol.zarr", "--labels", str(folder)],
        ["vol.zarr", "--probability", "vol.zarr/s0"],
        ["vol.zarr", "--labels", "other.zarr"],
        ["in.tif", "--labels", "theirs.tif"],
        ["in.tif", "--labels", "/dev/null"],
    ]
    (folder / "a_labels.tif").write_bytes((folder / "a.tif").read_bytes())
    before = digest(folder)
    tried = refused = lost = 0
    for case in cases:
        for extra in ([], ["--overwrite"]):
            status = run_here(["segment", *case, "-k", "2", "-q", *extra], folder)
            tried += 1
            refused += status != 0
            after = digest(folder)
            changed = {k for k in before if after.get(k) != before[k]}
            if changed or not Path("/dev/null").is_char_device():
                lost += 1
            for name in set(after) - set(before):  # outputs of a case that was not refused
                (folder / name).unlink()
    return tried, refused, lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two kills per format, not three")
    args = parser.parse_args()
    delays = (0.0, 0.3) if args.quick else (0.0, 0.2, 0.8)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = work / "inputs"
        inputs.mkdir()
        rng = np.random.default_rng(0)
        volume = rng.integers(0, 60, size=(256, 256, 256), dtype=np.uint8)
        volume[:, :, 128:] += 120
        write_ome_zarr(inputs / "vol.zarr", volume, chunks=(64, 64, 64))
        big = (rng.normal(size=(2048, 2048)) * 20).astype(np.float32)
        big[:, 1024:] += 100
        tifffile.imwrite(inputs / "big.tif", big)
        start = time.perf_counter()
        clock = [start]

        def took():
            clock.append(time.perf_counter())
            return clock[-1] - clock[-2]

        zarr_names = ["vol_labels.zarr", "vol_probability.zarr"]
        r = kill_mid_write(work, "inputs/vol.zarr", zarr_names, delays)
        rows.append(("kill -9 while writing 256^3 OME-Zarr outputs", *r, took()))
        tiff_names = ["big_labels.tif", "big_probability.tif"]
        r = kill_mid_write(work, "inputs/big.tif", tiff_names, delays)
        rows.append(("kill -9 while writing 2048^2 TIFF outputs", *r, took()))
        for source in ("inputs/big.tif", "inputs/vol.zarr"):
            *r, how = full_disk(work, source)
            rows.append((f"full disk ({how}), {Path(source).name} outputs", *r, took()))
            shutil.rmtree(work / "disk", ignore_errors=True)
        r = concurrent(work, 1 if args.quick else 2)
        rows.append(("two concurrent runs (K=2, K=3) into one folder, 2048^2", *r, took()))
        r = collisions(work)
        rows.append(
            ("output collisions and foreign paths (14 cases x +/- --overwrite)", *r, took())
        )
        elapsed = time.perf_counter() - start
    print("| scenario | tried | refused | lost | time (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, tried, refused, lost, seconds in rows:
        print(f"| {name} | {tried} | {refused} | {lost} | {seconds:.0f} |")
    print(f"\n{elapsed:.0f} s on {os.cpu_count()} CPU cores (shared machine)")
    return 1 if any(row[3] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
