"""Benchmark :func:`napari_gmm.segment` against scikit-learn's GaussianMixture on all pixels.

Run ``python benchmarks/bench_segment.py`` (a few minutes: the scikit-learn fits on every
pixel are slow) or ``python benchmarks/bench_segment.py --quick`` (small images, under a
minute, for smoke tests).

For each case, in one process and side by side:

* scikit-learn: ``GaussianMixture(K, random_state=0).fit(X)`` followed by
  ``predict_proba(X)``, with ``X`` every pixel as float64 (best of ``--sklearn-repeat``);
* ours: ``napari_gmm.segment(image, K, random_state=0)`` (best of ``--repeat``), and its
  peak traced memory (``tracemalloc``: numpy registers its buffers) above the input image,
  in one extra run;
* dLL: mean log-likelihood per pixel of our model minus scikit-learn's, both computed with
  ``model.score(X)`` on every pixel (positive: our fit is better).

The ``floor`` row times one ``np.bincount`` of the 8-bit image and one ``table[image]``
float32 lookup, the least work any histogram-based method needs; ours should stay within
10x of it. The last row checks memory on a larger 8-bit image (ours only).

Every case also checks that ``labels == model.predict(X) + 1`` and that
``log_likelihood == model.score(X)``. The exit status is 1 when a target or check fails.
Timings on a shared machine are noisy: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tracemalloc
from dataclasses import dataclass

import numpy as np
from _timing import best_time
from skimage import data
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

import napari_gmm as ng
from napari_gmm import pixel_features

#: Largest acceptable mean log-likelihood deficit against scikit-learn's all-pixel fit.
MAX_DLL = 0.01
#: Largest acceptable peak memory of ours above the input, in bytes per pixel.
MAX_BYTES_PER_PIXEL = 16.0
#: Largest acceptable ratio of our time to the histogram + lookup floor.
MAX_FLOOR_RATIO = 10.0


@dataclass
class Case:
    name: str
    image: np.ndarray
    n_components: int
    channel_axis: int | None
    target: float  # smallest acceptable scikit-learn time / our time; 0: no comparison


def tile(image: np.ndarray, size: int) -> np.ndarray:
    """Tile (and crop) an image to size x size spatial pixels."""
    reps = (-(-size // image.shape[0]), -(-size // image.shape[1])) + (1,) * (image.ndim - 2)
    return np.ascontiguousarray(np.tile(image, reps)[:size, :size])


def make_cases(quick: bool) -> list[Case]:
    rng = np.random.default_rng(0)
    camera = data.camera()
    big, rgb_size, float_size, mem_size = (
        (512, 256, 256, 1024) if quick else (2048, 1024, 1024, 4096)
    )

    gray8 = tile(camera, big)
    rgb = tile(data.immunohistochemistry(), rgb_size)
    # 16-bit: the camera scaled to the full range plus a little sensor noise (~6000 values).
    gray16 = gray8.astype(np.float64) * 257 + rng.normal(0.0, 4.0, gray8.shape)
    gray16 = np.clip(np.rint(gray16), 0, 65535).astype(np.uint16)
    # float: tiny noise so that no two pixels share a value (nothing could be compressed).
    gray32 = tile(camera, float_size).astype(np.float32)
    gray32 += rng.normal(0.0, 0.01, gray32.shape).astype(np.float32)
    return [
        Case(f"{big}x{big} uint8 gray, K=3", gray8, 3, None, 100.0),
        Case(f"{rgb_size}x{rgb_size} uint8 RGB, K=4", rgb, 4, -1, 25.0),
        Case(f"{big}x{big} uint16 gray, K=3", gray16, 3, None, 40.0),
        Case(f"{float_size}x{float_size} float32 gray, K=3", gray32, 3, None, 5.0),
        Case(
            f"{mem_size}x{mem_size} uint8 gray, K=3 (memory)", tile(camera, mem_size), 3, None, 0.0
        ),
    ]


def peak_bytes(func) -> int:
    """Peak traced memory allocated while `func` runs (its inputs excluded)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = func()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del result
    return peak


def run_ours(case: Case):
    return ng.segment(
        case.image, case.n_components, channel_axis=case.channel_axis, random_state=0
    )


def run_sklearn(X: np.ndarray, n_components: int):
    gmm = GaussianMixture(n_components, random_state=0).fit(X)
    gmm.predict_proba(X)
    return gmm


def check_consistency(seg, X: np.ndarray) -> list[str]:
    """The documented invariants of a segmentation on every pixel."""
    problems = []
    if not np.array_equal(seg.labels.ravel(), seg.model.predict(X) + 1):
        problems.append("labels != model.predict(X) + 1")
    score = seg.model.score(X)
    if not np.isclose(seg.log_likelihood, score, rtol=1e-9, atol=1e-9):
        problems.append(f"log_likelihood {seg.log_likelihood!r} != score {score!r}")
    return problems


def floor_time(image: np.ndarray, repeat: int) -> float:
    """One histogram of an 8-bit image and one float32 table lookup."""
    table = np.linspace(0, 1, 256, dtype=np.float32)

    def work():
        np.bincount(image.ravel(), minlength=256)
        return table[image]

    return best_time(work, repeat)[0]


HEADER = (
    "case",
    "sklearn s",
    "ours s",
    "ratio",
    "target",
    "ours peak MB (bytes/pixel)",
    "dLL (nats)",
    "pass/fail",
)


def measure(case: Case, args) -> tuple[list[str], bool, list[str]]:
    """One table row for a case, whether it meets its target, and broken invariants."""
    n = int(np.prod(case.image.shape[:2]))
    t_ours, seg = best_time(lambda: run_ours(case), args.repeat)
    peak = peak_bytes(lambda: run_ours(case))
    X = pixel_features(case.image, case.channel_axis)
    problems = [f"{case.name}: {p}" for p in check_consistency(seg, X)]
    mem = f"{peak / 2**20:.0f} ({peak / n:.1f} B/px)"
    if case.target == 0:  # memory only
        ok = peak / n < MAX_BYTES_PER_PIXEL
        target = f"< {MAX_BYTES_PER_PIXEL:g} B/px"
        row = [case.name, "-", f"{t_ours:.3f}", "-", target, mem, "-"]
    else:
        with threadpool_limits(limits=args.sklearn_threads, user_api="blas"):
            t_sk, gmm = best_time(lambda: run_sklearn(X, case.n_components), args.sklearn_repeat)
        dll = seg.model.score(X) - gmm.score(X)
        ratio = t_sk / t_ours
        ok = ratio >= case.target and dll >= -MAX_DLL
        target = f">= {case.target:g}x"
        row = [case.name, f"{t_sk:.2f}", f"{t_ours:.3f}", f"{ratio:.1f}x", target, mem]
        row.append(f"{dll:+.5f}")
    row.append("pass" if ok else "FAIL")
    return row, ok, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small images, smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (best is kept)")
    parser.add_argument("--sklearn-repeat", type=int, default=1, help="runs of scikit-learn")
    parser.add_argument(
        "--sklearn-threads",
        type=int,
        default=None,
        help="limit scikit-learn's BLAS threads (default: no limit, as users run it)",
    )
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load_before:.2f}", flush=True)
    rows, problems, missed = [], [], []
    cases = make_cases(args.quick)
    for case in cases:
        row, ok, broken = measure(case, args)
        rows.append(row)
        problems += broken
        if not ok:
            missed.append(f"{case.name}: target missed")
        print(" | ".join(row), flush=True)

    # the floor, next to the 8-bit gray case (the first one)
    image = cases[0].image
    t_floor = floor_time(image, 5)
    floor_ratio = float(rows[0][2]) / t_floor
    ok = floor_ratio <= MAX_FLOOR_RATIO
    if not ok:
        missed.append("uint8 gray: more than 10x the histogram + lookup floor")
    name = f"floor: bincount + table[image], {image.shape[0]}x{image.shape[1]} uint8"
    target = f"ours <= {MAX_FLOOR_RATIO:g}x floor"
    ratio = f"ours = {floor_ratio:.1f}x floor"
    rows.insert(1, [name, "-", f"{t_floor:.3f}", ratio, target, "-", "-"])
    rows[1].append("pass" if ok else "FAIL")

    print()
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    threads = "no limit" if args.sklearn_threads is None else args.sklearn_threads
    print(
        f"\nscikit-learn BLAS threads: {threads}; best of {args.repeat} runs for ours, "
        f"{args.sklearn_repeat} for scikit-learn; {os.cpu_count()} cores, load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    if args.quick:
        # the targets are for the full sizes; a smoke run only fails on broken invariants
        print("quick run: the targets apply to the full sizes and are not enforced")
    else:
        problems += missed
    for problem in problems:
        print("FAILED:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
