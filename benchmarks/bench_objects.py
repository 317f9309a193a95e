"""Benchmark objects: detection and measurement against ground truth, and speed.

Run ``python benchmarks/bench_objects.py`` (about a minute) or ``--quick`` (seconds).

**Quality.** 512x512 uint8 images of 60 separate disks (radius 4-12 px, class 2) on a
background (class 1), class means 60 apart, Gaussian noise sigma 10-40. Each is segmented
with ``segment(image, 2)`` without and with smoothing (``smoothing=1.0``), then
``label_objects(labels, 2)`` as it is (``plain``) and with ``min_size=20, fill_holes=True``
(``filtered``). A found object matches a true disk when their IoU is above 0.5 (one to one);
columns: objects found, precision, recall, F1, median relative area error and mean centroid
error (pixels) of the matched objects.

**Speed.** A 2048x2048 image of 2,000 disks, sigma 20, segmented with smoothing 1 (few
noise specks) and without (~10^5 one-pixel specks): seconds of ``segment``, of
``label_objects`` (label + measure: size, centroid, bbox, mean intensity), with the filters,
and of the usual hand-written equivalent, ``skimage.measure.label`` + ``regionprops_table``
with the same columns (whose table must equal ours).

**Touching nuclei** (``--split``: only this table): instance F1 at IoU 0.5-0.9 of
``split='watershed'`` against the classic Otsu + distance-transform watershed, on synthetic
touching nuclei in 2-D and anisotropic 3-D (see ``_touching_nuclei.py``).

The exit status is 1 when a check fails: F1 >= 0.95 with smoothing and the filters up to
sigma 30, and the table equal to regionprops'; for the touching nuclei, F1 at IoU 0.5 of
the watershed split >= 0.9 on the plain images and >= the classic pipeline's + 0.1 on the
realistic ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from skimage.measure import label, regionprops_table

import napari_gmm as ng
from napari_gmm.core.objects._synthetic import make_object_image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _touching_nuclei as nuclei

FILTERS = {"plain": {}, "filtered": {"min_size": 20, "fill_holes": True}}


def match(truth, found):
    """(true positives, matched truth ids, matched found ids) at IoU > 0.5."""
    both = (truth > 0) | (found > 0)
    pairs, overlap = np.unique(
        truth[both].astype(np.int64) * (int(found.max()) + 1) + found[both], return_counts=True
    )
    t, f = np.divmod(pairs, int(found.max()) + 1)
    area_t = np.bincount(truth.ravel())
    area_f = np.bincount(found.ravel())
    keep = (t > 0) & (f > 0)
    t, f, overlap = t[keep], f[keep], overlap[keep]
    iou = overlap / (area_t[t] + area_f[f] - overlap)
    good = iou > 0.5
    return int(good.sum()), t[good], f[good]


def quality_row(image, truth, sigma, smoothing, name, options):
    start = time.perf_counter()
    seg = ng.segment(image, 2, random_state=0, smoothing=smoothing)
    objects = seg.objects(2, **options)
    seconds = time.perf_counter() - start
    n_true, n_found = int(truth.max()), objects.n_objects
    tp, t_ids, f_ids = match(truth, objects.labels)
    precision = tp / max(n_found, 1)
    recall = tp / n_true
    f1 = 2 * tp / (n_true + n_found)
    ref = regionprops_table(truth, properties=("area", "centroid"))
    area, centroid = "-", "-"  # nothing matched
    if tp:
        true_area = ref["area"][t_ids - 1]
        error = np.abs(objects.table["area"][f_ids - 1] - true_area) / true_area
        area = f"{100 * np.median(error):.1f} %"
        dy = objects.table["centroid-0"][f_ids - 1] - ref["centroid-0"][t_ids - 1]
        dx = objects.table["centroid-1"][f_ids - 1] - ref["centroid-1"][t_ids - 1]
        centroid = f"{np.mean(np.hypot(dy, dx)):.2f}"
    print(f"| {sigma:g} | {smoothing:g} | {name} | {n_true} | {n_found} | {precision:.3f} | "
          f"{recall:.3f} | {f1:.3f} | {area} | {centroid} | {seconds:.2f} |")
    return f1


def best(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def skimage_objects(labels, image):
    """The hand-written equivalent: label the class mask, then regionprops_table."""
    instances = label(labels == 2)
    props = ("label", "area", "centroid", "bbox", "intensity_mean")
    return regionprops_table(instances, intensity_image=image, properties=props)


def speed(image, smoothing, repeat) -> bool:
    """Rows of the speed table for one segmentation of `image`; whether the tables agree."""
    seconds, seg = best(lambda: ng.segment(image, 2, random_state=0, smoothing=smoothing), 1)
    runs = {
        f"segment(image, 2, smoothing={smoothing:g})": (seconds, None),
        "label_objects (label + measure)": best(
            lambda: ng.label_objects(seg.labels, 2, image=image), repeat
        ),
        "label_objects, min_size=20, fill_holes": best(
            lambda: ng.label_objects(seg.labels, 2, image=image, min_size=20, fill_holes=True),
            repeat,
        ),
        "skimage label + regionprops_table (baseline)": best(
            lambda: skimage_objects(seg.labels, image), repeat
        ),
    }
    ours = runs["label_objects (label + measure)"][1]
    base = runs["skimage label + regionprops_table (baseline)"][0]
    case = f"smoothing {smoothing:g}: {ours.n_objects} objects"
    for step, (seconds, out) in runs.items():
        ratio = "-" if out is None else f"{base / seconds:.2f}x"  # segment: no baseline
        print(f"| {case} | {step} | {seconds:.3f} | {ratio} |")
    ref = runs["skimage label + regionprops_table (baseline)"][1]
    same = all(np.allclose(ours.table[key], ref[key]) for key in ref)
    if not same:
        print("CHECK FAILED: the table differs from regionprops_table", file=sys.stderr)
    return same


def split_table(seeds) -> bool:
    """The touching-nuclei table; whether its targets are met."""
    print(f"Touching nuclei, F1 pooled over seeds {seeds}\n")
    print(nuclei.HEADER)
    rows, f1 = nuclei.run(seeds)
    print("\n".join(rows))
    ok = True
    for dims in nuclei.CASES:
        ours = f1[("plain", dims, "ours, split='watershed'")]
        if ours < 0.9:
            print(f"CHECK FAILED: plain {dims} F1@0.5 {ours:.3f} < 0.9", file=sys.stderr)
            ok = False
        ours = f1[("realistic", dims, "ours, split='watershed'")]
        base = f1[("realistic", dims, "classic (Otsu + distance watershed)")]
        if ours < base + 0.1:
            print(f"CHECK FAILED: realistic {dims} F1@0.5 {ours:.3f} < classic {base:.3f} + 0.1",
                  file=sys.stderr)
            ok = False
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--split", action="store_true", help="only the touching-nuclei table")
    args = parser.parse_args(argv)
    print(f"load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)\n")
    ok = split_table(seeds=(11,) if args.quick else (11, 12, 13))
    if args.split:
        return 0 if ok else 1
    size, n_disks = (256, 15) if args.quick else (512, 60)
    print(f"\n{size}x{size} uint8, {n_disks} disks of radius 4-12, class means 60 apart\n")
    print("| noise σ | smoothing | objects | true | found | precision | recall | F1 | "
          "area error (median) | centroid error px | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for sigma in (10, 20, 30, 40):
        image, _, truth = make_object_image(
            (size, size), n_disks, radius=(4, 12), sigma=sigma, seed=sigma
        )
        for smoothing in (0.0, 1.0):
            for name, options in FILTERS.items():
                f1 = quality_row(image, truth, sigma, smoothing, name, options)
                if smoothing and name == "filtered" and sigma <= 30 and f1 < 0.95:
                    print(f"CHECK FAILED: F1 {f1:.3f} at sigma {sigma}", file=sys.stderr)
                    ok = False
    big, n_big = (512, 120) if args.quick else (2048, 2000)
    image, _, _ = make_object_image((big, big), n_big, radius=(4, 12), sigma=20, seed=1)
    print(f"\n{big}x{big} uint8, {n_big} disks, noise σ 20 (best of {args.repeat})\n")
    print("| case | step | s | baseline / step |")
    print("|---|---|---|---|")
    for smoothing in (1.0, 0.0):
        ok &= speed(image, smoothing, args.repeat)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
