"""Anatomy benchmark: the smoothing strength on thin cortex-like structures, calibration,
partial volumes.

Phantoms (:mod:`napari_gmm.core.analysis._phantoms`): 3 tissue classes (CSF, grey, white),
a grey band 1-3 voxels thick around folded white matter (``shell``) or between wavy
layers with sulci (``sheet``), partial volumes from a 4x (2-D) / 3x (3-D) finer grid,
noise 5, 10, 15 % of the white-matter intensity, 128^2 (2-D) and 40^3 (3-D).

Table 1, per phantom: mean Dice (3 classes) of plain EM (smoothing 0), of the best
strength of a fixed grid, of ``smoothing='auto'`` (pseudo-likelihood) and of
``smoothing='held-out'`` (held-out likelihood of hidden pixels), the strengths chosen,
and the calibration of the default posteriors (mean-field) of both: ECE and the ROC AUC of
the uncertainty against the wrong voxels, and wall times (same run). Table 2: the mean
absolute error of ``partial_volume=True`` fractions against the true fractions, against
the posteriors as fractions, on the voxels with a true partial volume and on all voxels.

Run: ``PYTHONPATH=src python benchmarks/bench_anatomy.py [--quick] [--seed S]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import napari_gmm as ng
from napari_gmm.core.analysis._calibration import calibration
from napari_gmm.core.analysis._metrics import compare_labels
from napari_gmm.core.analysis._phantoms import make_phantom, phantom_cases
from napari_gmm.core.potts._partial_volume import fraction_error

#: The fixed strengths the automatic ones are compared with.
FIXED = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)


def timed(image, smoothing, **kw):
    start = time.perf_counter()
    with warnings.catch_warnings():
        if not isinstance(smoothing, str):  # the grid's strong strengths erase thin classes
            warnings.simplefilter("ignore", ng.EmptyClassWarning)
        seg = ng.segment(image, 3, smoothing=smoothing, random_state=0, **kw)
    return seg, time.perf_counter() - start


def row(case, seed=1):
    p = make_phantom(**case, seed=seed)

    def dice(seg):
        return compare_labels(p.truth, seg.labels).mean_dice

    fixed = {}
    times = {}
    for s in FIXED:
        seg, times[s] = timed(p.image, s)
        fixed[s] = dice(seg)
    best = max(fixed, key=fixed.get)
    auto, t_auto = timed(p.image, "auto")
    held, t_held = timed(p.image, "held-out", partial_volume=True, return_posteriors=True)
    ca = calibration(p.truth, auto.labels, auto.probability)
    ch = calibration(p.truth, held.labels, held.probability)
    pv = p.fractions.max(axis=0) < 0.99
    post = np.moveaxis(held.posteriors, -1, 0)
    return {
        "name": p.name, "auto": auto.smoothing, "held": held.smoothing, "best": best,
        "mixels": auto.mixels is not None,
        "plain": fixed[0.0], "d_best": fixed[best], "d_auto": dice(auto),
        "d_held": dice(held), "ece_a": ca.ece, "auc_a": ca.auc, "ece_h": ch.ece,
        "auc_h": ch.auc, "t_plain": times[0.0], "t_auto": t_auto, "t_held": t_held,
        "pv_post": fraction_error(post, p.fractions, pv),
        "pv_frac": fraction_error(held.fractions, p.fractions, pv),
        "all_post": fraction_error(post, p.fractions),
        "all_frac": fraction_error(held.fractions, p.fractions),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one noise level, fewer cases")
    parser.add_argument("--seed", type=int, default=1, help="noise seed of the phantoms")
    args = parser.parse_args(argv)
    rows = []
    print("\n## 1. Strength and calibration on anatomy phantoms (mean Dice of 3 classes)\n")
    print("| phantom | best fixed | Dice plain | Dice best | auto | Dice auto | held-out | "
          "Dice held-out | ECE auto | AUC auto | ECE held-out | AUC held-out | "
          "time plain / auto / held-out (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case in phantom_cases(args.quick):
        r = row(case, args.seed)
        rows.append(r)
        mark = "*" if r["mixels"] else ""
        print(f"| {r['name']} | {r['best']:.2f} | {r['plain']:.3f} | {r['d_best']:.3f} | "
              f"{r['auto']:.2f}{mark} | {r['d_auto']:.3f} | {r['held']:.2f} | {r['d_held']:.3f} | "
              f"{r['ece_a']:.3f} | {r['auc_a']:.3f} | {r['ece_h']:.3f} | {r['auc_h']:.3f} | "
              f"{r['t_plain']:.1f} / {r['t_auto']:.1f} / {r['t_held']:.1f} |",
              flush=True)
    print("\n\\* mixel-aware posteriors (a clean image with partial volumes, "
          "core/potts/_mixel_swap.py).")
    for key, label in (("d_auto", "auto"), ("d_held", "held-out")):
        gap = np.array([r[key] - r["d_best"] for r in rows])
        below = sum(r[key] < r["plain"] - 1e-9 for r in rows)
        print(f"\n{label}: within 0.01 of the best fixed strength in {int((gap >= -0.01).sum())}"
              f"/{len(rows)} cases (worst {gap.min():+.3f}, mean {gap.mean():+.3f}); below "
              f"plain EM in {below}.")
    for key, auc, label in (("ece_a", "auc_a", "auto"), ("ece_h", "auc_h", "held-out")):
        eces = np.array([r[key] for r in rows])
        aucs = np.array([r[auc] for r in rows])
        print(f"{label}: ECE <= 0.05 in {int((eces <= 0.05).sum())}/{len(rows)} (max "
              f"{eces.max():.3f}); AUC >= 0.8 in {int((aucs >= 0.8).sum())}/{len(rows)} "
              f"(min {np.nanmin(aucs):.3f}).")
    print("\n## 2. Partial volumes: mean absolute error of the fractions (held-out strength)\n")
    print("| phantom | PV voxels: posteriors | PV voxels: fractions | all: posteriors | "
          "all: fractions |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['pv_post']:.4f} | {r['pv_frac']:.4f} | {r['all_post']:.4f} "
              f"| {r['all_frac']:.4f} |")
    ratio = np.mean([r["pv_frac"] / r["pv_post"] for r in rows])
    print(f"\nfractions / posteriors error on partial-volume voxels: {ratio:.2f} (mean ratio)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
