"""Benchmark the compiled kernels (numba backend) against one scikit-learn pass.

Run ``python benchmarks/bench_kernels.py`` (full sizes, several minutes) or with
``--quick`` (small sizes, a smoke run). In one process, for each case:

* baseline: ``gmm.predict_proba(X)`` of scikit-learn on every voxel (``X`` the image's
  pixel table as given, BLAS on one thread), for a mixture fitted beforehand;
* ``segment`` (fit on a subsample + apply on every voxel) and ``segment(smoothing=1)``
  (HMRF-EM: two rounds of 6 mean-field sweeps) with the numba backend on 1 and 2 threads,
  and with the numpy backend (the reference implementation) on 1 thread;
* ratio: baseline time / our time (higher is faster); ``2 thr`` rows also give the speed-up
  over 1 thread.

Then, each in a fresh subprocess: the peak resident memory of ``segment(smoothing=1)`` per
voxel above the process before the image existed (the image itself counts: it is 4 of the
bytes for float32), for both backends, against the target ``12 + 8 K`` bytes per voxel;
and the first-call cost of the kernels (compilation) with an empty and a filled on-disk
cache. Last, unless ``--no-spatial``, the spatial model's tables of
``benchmarks/bench_spatial.py`` (ns per voxel per sweep, memory passes, smoothing / plain,
lazy / in-memory, thread scaling, GPU rows or "no GPU"). Timings on a shared machine are
noisy: the load average is printed; rerun when it is high.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from _timing import best_time
from scipy import ndimage
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

HERE = os.path.dirname(os.path.abspath(__file__))


def class_volume(shape, n_classes, *, sigma, n_channels=None, dtype="float32", seed=0):
    """Blocky classes (a zoomed random field) + Gaussian noise; classes 1 apart per channel."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, n_classes, tuple(max(2, s // 16) for s in shape), dtype=np.uint8)
    truth = ndimage.zoom(
        coarse, [s / c for s, c in zip(shape, coarse.shape, strict=True)], order=0
    )
    shape_c = shape if n_channels is None else (*shape, n_channels)
    image = rng.standard_normal(shape_c, dtype=np.float32)
    image *= sigma
    if n_channels is None:
        image += truth
    else:
        image += truth[..., None] * np.linspace(1.0, 0.5, n_channels, dtype=np.float32)
    if np.dtype(dtype).kind == "u":
        info = np.iinfo(dtype)
        image = np.clip(np.rint(image * 60 + 40), info.min, info.max).astype(dtype)
    return image


def run_case(name, image, k, channel_axis, args, rows):
    import numba

    import napari_gmm as ng

    X = image.reshape(-1, image.shape[-1] if channel_axis is not None else 1)
    fit_rows = np.random.default_rng(0).choice(X.shape[0], min(100_000, X.shape[0]), replace=False)
    gmm = GaussianMixture(k, random_state=0).fit(X[fit_rows].astype(np.float64))
    with threadpool_limits(limits=1, user_api="blas"):
        t_base, _ = best_time(lambda: gmm.predict_proba(X), 1)
    rows.append((name, "scikit-learn predict_proba, all voxels (baseline)", "1", t_base, 1.0))

    def seg(smoothing):
        return ng.segment(image, k, channel_axis=channel_axis, smoothing=smoothing,
                          random_state=0)

    for smoothing in (0.0, 1.0):
        what = "segment" if smoothing == 0 else "segment(smoothing=1)"
        times = {}
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            with ng.use_backend("numba"):
                seg(smoothing)  # compile / load the kernels for this dtype first
                times[threads], result = best_time(lambda s=smoothing: seg(s), args.repeat)
            label = f"{what}, numba"
            note = "" if threads == 1 else f" ({times[1] / times[2]:.2f}x 1 thread)"
            t = times[threads]
            rows.append((name, label + note, str(threads), t, t_base / t))
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        if not args.skip_numpy:
            with ng.use_backend("numpy"):
                t_np, reference = best_time(lambda s=smoothing: seg(s), 1)
            agree = float(np.mean(reference.labels == result.labels))
            dp = float(np.abs(reference.probability - result.probability).max())
            rows.append((name, f"{what}, numpy (labels agree {agree:.6f}, max dp {dp:.1e})", "1",
                         t_np, t_base / t_np))


def child_rss(args) -> None:
    """Subprocess: peak RSS of segment(smoothing=1) per voxel above the start."""
    import numba

    import napari_gmm as ng

    numba.set_num_threads(1)
    shape = tuple(args.shape)
    with ng.use_backend(args.backend):
        warm = class_volume((4, 16, 16), args.k, sigma=0.6)
        ng.segment(warm, args.k, smoothing=1.0, random_state=0)
        del warm
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to now
            f.write("5")
        base = _status("VmHWM")
        image = class_volume(shape, args.k, sigma=0.6)
        ng.segment(image, args.k, smoothing=1.0, random_state=0)
        peak = _status("VmHWM")
    print(json.dumps({"bytes_per_voxel": (peak - base) / image.size}))


def _status(key) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(key)


def child_compile(args) -> None:
    """Subprocess: first-call minus second-call time of segment, plain and smoothed."""
    start = time.perf_counter()
    import napari_gmm as ng

    t_import = time.perf_counter() - start
    image = class_volume((8, 64, 64), 2, sigma=0.6)
    out = {"import": t_import}
    for smoothing in (0.0, 1.0):
        t1, _ = best_time(lambda s=smoothing: ng.segment(image, 2, smoothing=s, random_state=0), 1)
        t2, _ = best_time(lambda s=smoothing: ng.segment(image, 2, smoothing=s, random_state=0), 1)
        out["smoothing" if smoothing else "plain"] = t1 - t2
    print(json.dumps(out))


def subprocess_json(extra, env=None) -> dict:
    cmd = [sys.executable, os.path.join(HERE, "bench_kernels.py"), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke run")
    parser.add_argument("--repeat", type=int, default=1, help="runs of ours (best kept)")
    parser.add_argument("--skip-numpy", action="store_true", help="skip the numpy backend")
    parser.add_argument("--no-spatial", action="store_true",
                        help="skip the spatial model's tables (bench_spatial.py)")
    parser.add_argument("--child", choices=["rss", "compile"], help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="numba", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--shape", type=int, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "rss":
        child_rss(args)
        return 0
    if args.child == "compile":
        child_compile(args)
        return 0

    vol, rgb, big = ((16, 256, 256), 256, 512) if args.quick else ((128, 512, 512), 1024, 2048)
    rows = []
    cases = [
        (f"{'x'.join(map(str, vol))} float32, K=2", lambda: class_volume(vol, 2, sigma=0.6), 2,
         None),
        (f"{rgb}^2 RGB float32, K=4", lambda: class_volume((rgb, rgb), 4, sigma=0.35,
                                                           n_channels=3), 4, -1),
        (f"{big}^2 uint8, K=3", lambda: class_volume((big, big), 3, sigma=0.5, dtype="uint8"),
         3, None),
    ]
    for name, make, k, axis in cases:
        image = make()
        run_case(name, image, k, axis, args, rows)
        del image
        gc.collect()

    print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (2 cores)\n")
    print("| case | run | threads | s | baseline / run |")
    print("|---|---|---|---|---|")
    for name, run, threads, t, ratio in rows:
        print(f"| {name} | {run} | {threads} | {t:.3f} | {ratio:.2f}x |")

    rss_shape = (16, 256, 256) if args.quick else (64, 512, 512)
    print(f"\nPeak RSS of segment(smoothing=1), float32 {'x'.join(map(str, rss_shape))}, "
          "above the process before the image (image included):\n")
    print("| backend | K | bytes/voxel | target 12 + 8K |")
    print("|---|---|---|---|")
    for backend in ("numba", "numpy"):
        for k in (2, 3):
            res = subprocess_json(["--child", "rss", "--backend", backend, "--k", str(k),
                                   "--shape", *map(str, rss_shape)])
            print(f"| {backend} | {k} | {res['bytes_per_voxel']:.1f} | {12 + 8 * k} |")

    print("\nFirst call of segment (8x64x64 float32, K=2) minus the second, fresh process:\n")
    print("| on-disk cache | import s | plain s | smoothing=1 s |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("empty (compiles)", "filled (loads)"):
            res = subprocess_json(["--child", "compile"], env=env)
            print(f"| {label} | {res['import']:.2f} | {res['plain']:.2f} | "
                  f"{res['smoothing']:.2f} |")
    if not args.no_spatial:
        sys.stdout.flush()
        sys.path.insert(0, HERE)
        import bench_spatial

        print("\nSpatial model (benchmarks/bench_spatial.py):")
        bench_spatial.main(["--quick"] if args.quick else [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
