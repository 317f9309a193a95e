"""Benchmark time-series segmentation: frames='each' / 'shared' / reference against baselines.

Run ``python benchmarks/bench_frames.py`` (30 frames of 512x512, about a minute) or
``--quick`` (small frames, seconds).

A bleaching series (the whole signal decays 10x over the frames, 25 % foreground, Gaussian
noise) in uint16 and float32. In one process and side by side:

* ``pooled``: one ``segment`` of the whole stack with time taken as a spatial axis (the
  behaviour without ``time_axis``): the time baseline;
* ``loop``: a Python loop of ``segment(frame)`` over the frames, stacked with ``np.stack``,
  what a user writes by hand: ``each`` must cost about the same;
* ``each``, ``shared`` and ``frame 0`` (fit on frame 0, apply to all) through
  ``segment(..., time_axis=0, frames=...)``.

Columns: best-of-``--repeat`` seconds, ratio to ``pooled``, and the foreground fraction
found in the last frame (truth: 0.25). The exit status is 1 when ``each`` differs from the
loop or finds a last-frame foreground off by more than 0.02.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import smooth_class_map


def bleaching(n_frames, size, dtype, seed=0):
    truth = smooth_class_map((size, size), 4, seed=seed) == 4
    decay = 10.0 ** (-np.arange(n_frames) / max(n_frames - 1, 1))
    rng = np.random.default_rng(seed)
    series = decay[:, None, None] * np.where(truth, 1000.0, 200.0)
    series += rng.normal(0.0, 5.0, series.shape)
    return np.clip(series, 0, None).astype(dtype), truth


def best(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n_frames, size = (10, 96) if args.quick else (30, 512)
    ok = True
    print(f"load average: {os.getloadavg()[0]:.2f}")
    print("| series | method | s | ratio to pooled | last-frame foreground |")
    print("|---|---|---|---|---|")
    for dtype in (np.uint16, np.float32):
        series, truth = bleaching(n_frames, size, dtype)
        name = f"{n_frames}x{size}x{size} {np.dtype(dtype).name}"
        runs = {
            "pooled (one fit, time as space)": lambda s=series: ng.segment(s, 2, random_state=0),
            "loop of segment(frame)": lambda s=series: np.stack(
                [ng.segment(f, 2, random_state=0).labels for f in s]
            ),
            "each": lambda s=series: ng.segment(s, 2, random_state=0, time_axis=0),
            "shared": lambda s=series: ng.segment(
                s, 2, random_state=0, time_axis=0, frames="shared"
            ),
            "frame 0": lambda s=series: ng.segment(s, 2, random_state=0, time_axis=0, frames=0),
        }
        base = None
        results = {}
        for method, fn in runs.items():
            seconds, out = best(fn, args.repeat)
            base = base or seconds
            labels = out if isinstance(out, np.ndarray) else out.labels
            results[method] = labels
            fg = float(np.mean(labels[-1] == 2))
            print(f"| {name} | {method} | {seconds:.3f} | {seconds / base:.2f} | {fg:.3f} |")
        if not np.array_equal(results["each"], results["loop of segment(frame)"]):
            print("CHECK FAILED: each != loop", file=sys.stderr)
            ok = False
        if abs(np.mean(results["each"][-1] == 2) - truth.mean()) > 0.02:
            print("CHECK FAILED: each misses the last frame's foreground", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
