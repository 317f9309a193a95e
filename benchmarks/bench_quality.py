"""Quality benchmark: automatic smoothing, calibrated uncertainty, automatic K.

Run ``python benchmarks/bench_quality.py`` (a few minutes) or with ``--quick`` (fewer cases).
Prints three markdown tables:

1. ``smoothing='auto'`` against the best fixed strength of a grid, on synthetic 2D images
   of several region sizes (``feature_size``: the "resolution") and noise levels, 3D blobs
   and thin lines; target: auto accuracy >= best fixed - 0.01.
2. Calibration of the probability map against ground truth: plain EM, mean-field
   smoothing (strength 1 and auto) and Gibbs marginals (strength 1 and auto): expected
   calibration error (target <= 0.03) and ROC AUC of ``1 - probability`` against the
   wrong pixels (target >= 0.8), plus the share of pixels with probability < 0.9.
3. The number of classes chosen per seed by BIC (candidates 1..8) and by ICL (the default
   of ``n_components='auto'``, candidates 2..8) on scikit-image's camera, coins, cell and
   moon and on synthetic images with skewed / textured classes of known count.

The exit status is 1 when a target fails.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from scipy import ndimage
from skimage import data

import napari_gmm as ng
from napari_gmm.core._selection import select_n_components
from napari_gmm.core.analysis._calibration import calibration
from napari_gmm.core.analysis._metrics import compare_labels
from napari_gmm.core.analysis._synthetic import make_class_image, make_line_image, smooth_class_map

GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def smoothing_cases(quick):
    cases = []
    for fs in (1, 2, 4) if quick else (1, 2, 4, 8):
        for sigma in (25, 40):
            cases.append((f"2D 128^2 K=3 fs={fs} sigma={sigma}",
                          lambda fs=fs, s=sigma: make_class_image(
                              (128, 128), 3, sigma=s, feature_size=fs, seed=1)))
    for fs, sigma in ((1.5, 30), (3, 35)) if not quick else ((1.5, 30),):
        cases.append((f"3D 32x48x48 K=2 fs={fs} sigma={sigma}",
                      lambda fs=fs, s=sigma: make_class_image(
                          (32, 48, 48), 2, sigma=s, feature_size=fs, seed=2)))
    for sigma in (20, 35):
        cases.append((f"lines w=1,1,2 sigma={sigma}",
                      lambda s=sigma: make_line_image(
                          (128, 128), widths=(1, 1, 2), sigma=s, seed=3)))
    return cases


def accuracy(truth, seg):
    return compare_labels(truth, seg.labels).accuracy


def table_smoothing(quick):
    print("\n## 1. smoothing='auto' vs the best fixed strength (accuracy)\n")
    print("| case | best fixed | acc best | acc @1.0 | auto | acc auto | auto - best | ok |")
    print("|---|---|---|---|---|---|---|---|")
    fails = 0
    for name, make in smoothing_cases(quick):
        image, truth = make()
        k = int(truth.max())
        accs = [accuracy(truth, ng.segment(image, k, smoothing=s, random_state=0)) for s in GRID]
        seg = ng.segment(image, k, smoothing="auto", random_state=0)
        auto = accuracy(truth, seg)
        best = int(np.argmax(accs))
        ok = auto >= accs[best] - 0.01
        fails += not ok
        print(f"| {name} | {GRID[best]:g} | {accs[best]:.3f} | {accs[GRID.index(1.0)]:.3f} | "
              f"{seg.smoothing:.2f} | {auto:.3f} | {auto - accs[best]:+.3f} | "
              f"{'yes' if ok else 'NO'} |")
    return fails


def table_calibration(quick):
    print("\n## 2. Calibration of the probability map (ECE / AUC / share p<0.9)\n")
    conds = (("plain", 0.0, "mean-field"), ("mean-field 1.0", 1.0, "mean-field"),
             ("mean-field auto", "auto", "mean-field"), ("gibbs 1.0", 1.0, "gibbs"),
             ("gibbs auto", "auto", "gibbs"))
    print("| case | " + " | ".join(c[0] for c in conds) + " |")
    print("|---|" + "---|" * len(conds))
    fails = 0
    for name, make in smoothing_cases(quick):
        image, truth = make()
        k = int(truth.max())
        cells = []
        for label, smoothing, marginals in conds:
            seg = ng.segment(image, k, smoothing=smoothing, marginals=marginals, random_state=0)
            cal = calibration(truth, seg.labels, seg.probability)
            low = float(np.mean(seg.probability < 0.9))
            acc = 1 - cal.error_rate
            cells.append(f"{cal.ece:.3f} / {cal.auc:.2f} / {low:.2f} (acc {acc:.3f})")
            if label == "gibbs auto":
                fails += not (cal.ece <= 0.03 and cal.auc >= 0.8)
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\ncells: ECE / ROC AUC of 1-probability vs wrong pixels / share of pixels with "
          "probability < 0.9 (accuracy of the labels)")
    return fails


def skewed_image(kind, k, seed, shape=(192, 192)):
    rng = np.random.default_rng(seed)
    truth = smooth_class_map(shape, k, feature_size=12, seed=rng)
    means = np.linspace(60.0, 190.0, k)[truth - 1]
    if kind == "gamma":
        values = 0.75 * means + rng.gamma(6.0, means / 24.0)
    elif kind == "lognormal":
        values = means * np.exp(rng.normal(0.0, 0.12, shape))
    else:
        texture = ndimage.gaussian_filter(rng.standard_normal(shape), 2.0)
        values = means + 10.0 * texture / texture.std() + rng.normal(0.0, 8.0, shape)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def table_k(quick):
    seeds = range(3) if quick else range(5)
    print("\n## 3. Chosen K per seed: BIC (1..8) vs ICL ('auto', 2..8)\n")
    print("| image | true K | BIC per seed | ICL per seed | ICL seconds |")
    print("|---|---|---|---|---|")
    images = [(n, getattr(data, n)(), "2-5") for n in ("camera", "coins", "cell", "moon")]
    for kind in ("gamma", "lognormal", "textured"):
        for k in (2, 3, 4):
            images.append((f"{kind} K={k}", skewed_image(kind, k, seed=k), k))
    fails = 0
    for name, image, true_k in images:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bic = [select_n_components(image, range(1, 9), random_state=s).best for s in seeds]
            start = time.perf_counter()
            icl = [ng.segment(image, "auto", random_state=s).n_components for s in seeds]
            seconds = (time.perf_counter() - start) / len(icl)
        ok = len(set(icl)) == 1 and (
            icl[0] == true_k if isinstance(true_k, int) else 2 <= icl[0] <= 5
        )
        fails += not ok
        print(f"| {name} {image.shape} | {true_k} | {bic} | {icl}{'' if ok else ' FAIL'} | "
              f"{seconds:.2f} |")
    return fails


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases")
    parser.add_argument("--only", choices=("smoothing", "calibration", "k"), default=None)
    args = parser.parse_args(argv)
    fails = 0
    if args.only in (None, "smoothing"):
        fails += table_smoothing(args.quick)
    if args.only in (None, "calibration"):
        fails += table_calibration(args.quick)
    if args.only in (None, "k"):
        fails += table_k(args.quick)
    print(f"\n{fails} target(s) failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
