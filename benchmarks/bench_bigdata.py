"""Out-of-core segmentation of on-disk zarr volumes: wall time per voxel and peak memory.

Run ``python benchmarks/bench_bigdata.py --sizes 256 512 1024`` (1024^3 takes many minutes
on two cores; the volumes are generated once in ``--workdir`` and reused).

For every size and dtype a 3-class volume (smooth regions plus Gaussian noise, chunks of
``--chunks`` voxels per axis) is written to zarr block by block. Each case then runs in a
fresh subprocess, whose peak resident memory (``ru_maxrss``) is measured, not estimated:

* ``lazy``: ``segment(da.from_zarr(volume), 3)`` (exact histogram fit, one pass) and the
  labels written to OME-Zarr block by block (``io._zarr.write_ome_zarr``), with and without
  smoothing (the Potts prior: a halo pass for the M-step statistics, a halo pass for the
  labels);
* ``in-memory``: the volume read into a numpy array, ``segment`` on it and the labels
  written to zarr: the baseline, on the sizes up to ``--memory-max`` (it needs several
  times the volume in memory).

The table gives the wall time per voxel, its ratio to the in-memory baseline of the same
dtype and smoothing measured in this run (at the largest size both ran), the peak RSS and
the peak RSS over the input size (target: < 0.5 at 10^9 voxels). Labels of the lazy and
in-memory runs are compared where both ran. Timings on a shared machine are noisy. Each
case fixes glibc's mmap threshold first, as ``napari-gmm segment`` does for zarr inputs
(``cli._zarr.return_memory_to_the_os``), so that freed block buffers go back to the OS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def _block(_template, block_info=None, *, kind, seed):
    """One block of the synthetic volume: 3 classes from smooth waves, plus noise."""
    info = block_info[None]
    (z0, z1), (y0, y1), (x0, x1) = info["array-location"]
    z, y, x = np.ogrid[z0:z1, y0:y1, x0:x1]
    field = np.sin(z / 23.0) + np.sin(y / 31.0 + 1.0) + np.sin(x / 17.0 + 2.0)
    classes = np.digitize(field, [-0.7, 0.7]).astype(np.float32)  # 0, 1, 2
    rng = np.random.default_rng([seed, *info["chunk-location"]])
    span = 60.0 if kind == "uint8" else 15000.0
    values = 67.5 + span * classes if kind == "uint8" else 10000.0 + span * classes
    values = values + rng.normal(0.0, 0.4 * span, size=classes.shape).astype(np.float32)
    top = np.iinfo(kind).max
    return np.clip(np.rint(values), 0, top).astype(kind)


def make_volume(path: Path, size: int, dtype: str, chunks: int) -> None:
    import dask.array as da

    if path.exists():
        return
    shape = (size,) * 3
    template = da.empty(shape, chunks=chunks, dtype=dtype)
    arr = template.map_blocks(_block, dtype=dtype, kind=dtype, seed=0)
    partial = path.with_suffix(".partial")
    arr.to_zarr(str(partial), overwrite=True)
    partial.rename(path)


def run_case(args) -> dict:
    """One measured case (in this process, called from a subprocess)."""
    import dask.array as da
    import zarr

    import napari_gmm as ng
    from napari_gmm.cli._zarr import return_memory_to_the_os
    from napari_gmm.io._zarr import write_ome_zarr

    return_memory_to_the_os()  # as the command line does for zarr inputs
    start = time.perf_counter()
    out = Path(args.out)
    if args.case == "lazy":
        image = da.from_zarr(str(args.volume))
    else:
        image = zarr.open_array(str(args.volume), mode="r")[...]
    seg = ng.segment(image, 3, random_state=0, smoothing=args.smoothing)
    fit_s = time.perf_counter() - start
    chunks = (args.chunks,) * 3
    write_ome_zarr(out, seg.labels, chunks=chunks, name="labels")
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"wall": wall, "fit": fit_s, "rss": rss, "method": seg.method}


def _subprocess(case, volume, out, smoothing, chunks) -> dict:
    cmd = [sys.executable, str(HERE), "--run-case", case, "--volume", str(volume),
           "--out", str(out), "--smoothing", str(smoothing), "--chunks", str(chunks)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"case failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _agreement(a: Path, b: Path) -> float:
    """Fraction of equal labels of two OME-Zarr outputs (a lazy, blockwise reduction)."""
    from napari_gmm.io._zarr import read_zarr

    return float((read_zarr(a).data == read_zarr(b).data).mean().compute())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--dtypes", nargs="+", default=["uint8", "uint16"])
    parser.add_argument("--chunks", type=int, default=128)
    parser.add_argument("--memory-max", type=int, default=256,
                        help="largest size also run in memory (baseline)")
    parser.add_argument("--smoothing-max", type=int, default=512,
                        help="largest size also run with smoothing")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/napari-gmm-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the generated volumes")
    parser.add_argument("--run-case", dest="case", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--volume", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--smoothing", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case is not None:
        print(json.dumps(run_case(args)))
        return 0

    args.workdir.mkdir(parents=True, exist_ok=True)
    rows, baseline = [], {}
    for dtype in args.dtypes:
        for size in sorted(args.sizes):
            volume = args.workdir / f"vol{size}_{dtype}.zarr"
            t = time.perf_counter()
            make_volume(volume, size, dtype, args.chunks)
            print(f"# {volume}: ready ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
            n = size**3
            nbytes = n * np.dtype(dtype).itemsize
            for smoothing in (0.0, 1.0):
                if smoothing and size > args.smoothing_max:
                    continue
                cases = ["lazy"] + (["in-memory"] if size <= args.memory_max else [])
                outs = {}
                for case in cases:
                    out = args.workdir / f"labels_{case}_{size}_{dtype}_{smoothing}.zarr"
                    r = _subprocess(case, volume, out, smoothing, args.chunks)
                    outs[case] = out
                    per = r["wall"] / n * 1e9
                    if case == "in-memory":
                        baseline[(dtype, smoothing)] = per
                    rows.append({"size": size, "dtype": dtype, "smoothing": smoothing,
                                 "case": case, "wall": r["wall"], "fit": r["fit"], "per": per,
                                 "rss": r["rss"], "ratio_in": r["rss"] / nbytes})
                    print(f"# {rows[-1]}", file=sys.stderr)
                if len(outs) == 2:
                    agree = _agreement(outs["lazy"], outs["in-memory"])
                    rows[-2]["agree"] = agree
                for out in outs.values():
                    shutil.rmtree(out, ignore_errors=True)
            if not args.keep and size > args.memory_max:
                shutil.rmtree(volume, ignore_errors=True)

    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; chunks "
          f"{args.chunks}^3; 3 classes; labels written to OME-Zarr\n")
    print("| volume | dtype | smoothing | path | wall s (fit s) | ns / voxel | vs in-memory "
          "| peak RSS MB | RSS / input | labels = in-memory |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        base = baseline.get((r["dtype"], r["smoothing"]))
        ratio = f"{r['per'] / base:.2f}x" if base else "-"
        agree = f"{r['agree']:.5f}" if "agree" in r else "-"
        print(f"| {r['size']}^3 | {r['dtype']} | {r['smoothing']:g} | {r['case']} | "
              f"{r['wall']:.1f} ({r['fit']:.1f}) | {r['per']:.1f} | {ratio} | "
              f"{r['rss'] / 2**20:.0f} | {r['ratio_in']:.2f} | {agree} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
