"""A dim bleaching series with a bias field: frames='shared' against frames='each'.

Run ``python benchmarks/bench_shared_frames.py`` (a few minutes: the smoothed 'each' runs
are the slow ones) or ``--quick`` (no smoothing).

The series: scikit-image's cell (every second pixel) x 10, fading by 0.9 per frame over
20 frames, camera noise sigma 40 (the offset already subtracted, as the README advises);
the truth is ``segment(cell, K)`` of the clean cell. For K=2 and K=3 and each mode
(``bias_field='polynomial'``, with and without ``smoothing=1.0``) it prints the accuracy
(Hungarian matching) of the first and last frames, the worst and mean over the frames,
the seconds and their ratio to ``frames='each'`` of the same K and smoothing, measured in
the same run, and whether a ``SharedFrameWarning`` was raised.

Target: with ``frames='shared'``, no frame collapses: the worst frame >= 0.95 for K=2 and
>= 0.75 for K=3 (the exit status is 1 otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
from skimage import data

import napari_gmm as ng

T = 20
TARGET = {2: 0.95, 3: 0.75}


def bleaching_cell(decay=0.9, sigma=40.0, seed=0):
    cell = data.cell()[::2, ::2].astype(float)
    rng = np.random.default_rng(seed)
    gains = decay ** np.arange(T)
    series = gains[:, None, None] * cell * 10 + rng.normal(0, sigma, (T, *cell.shape))
    return series.astype(np.float32), cell


def run(series, k, frames, smoothing):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seg = ng.segment(series, k, time_axis=0, frames=frames, bias_field="polynomial",
                         smoothing=smoothing, random_state=0)
    warned = any(issubclass(w.category, ng.SharedFrameWarning) for w in caught)
    return seg, time.perf_counter() - start, warned


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="without smoothing only")
    args = parser.parse_args(argv)
    series, cell = bleaching_cell()
    ok = True
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("| K | smoothing | frames | t0 | t19 | worst | mean | s | ratio to each | warning |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in (2, 3):
        truth = ng.segment(cell, k, random_state=0).labels
        for smoothing in (0.0,) if args.quick else (0.0, 1.0):
            base = None
            for frames in ("each", "shared"):
                seg, seconds, warned = run(series, k, frames, smoothing)
                acc = [ng.compare_labels(truth, seg.labels[t]).accuracy for t in range(T)]
                base = seconds if base is None else base
                mark = ""
                if frames == "shared" and smoothing == 0.0:
                    good = min(acc) >= TARGET[k]
                    ok &= good
                    mark = " ✓" if good else " ✗"
                print(
                    f"| {k} | {smoothing:g} | {frames} | {acc[0]:.3f} | {acc[-1]:.3f} | "
                    f"{min(acc):.3f}{mark} | {np.mean(acc):.3f} | {seconds:.1f} | "
                    f"{seconds / base:.2f} | {'yes' if warned else 'no'} |",
                    flush=True,
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
