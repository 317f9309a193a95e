"""Touching nuclei: instance F1 of ``label_objects(split='watershed')`` against a classic pipeline.

Used by ``bench_objects.py`` (``--split``). Images from
:func:`napari_gmm.core.objects._synthetic_nuclei.make_nuclei_image`, with seeds other than
those the splitting constants were chosen on (seeds 1 to 5):

- ``plain`` 2-D: 256x256, about 45 nuclei of radius 6-11 px, 70 % pressed against another;
  3-D: 30x128x128 voxels of 1.5 x 0.5 x 0.5 (z three times coarser), radius 3-5 units;
- ``realistic``: the same geometry, with chromatin texture, dimmer rims, log-normal
  brightness, blur wider along z, uneven background and shot noise, uint16.

Ours: ``seg = segment(image, 2, smoothing=1.0, scale=scale)``, then ``seg.objects(2,
image=image, scale=scale, fill_holes=True, split=...)`` (diameter estimated; the image
guides the second pass of the split). The baseline is the usual
ten-line scikit-image pipeline: Gaussian blur (sigma 1 px), Otsu threshold, Euclidean
distance transform (in voxels, as usually written), ``peak_local_max`` with ``min_distance``
the true mean radius in xy pixels (the baseline is told the size), watershed of the
negated distance. F1 at IoU t: a found object matches a true one (one to one for
t >= 0.5) when their IoU exceeds t; F1 = 2 TP / (true + found), pooled over the seeds.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import ndimage
from skimage import feature, filters, measure, segmentation

import napari_gmm as ng
from napari_gmm.core.objects._synthetic_nuclei import make_nuclei_image

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
CASES = {
    "2-D": {"shape": (256, 256), "n_objects": 45, "scale": (1.0, 1.0), "radius": (6, 11)},
    "3-D": {"shape": (30, 128, 128), "n_objects": 35, "scale": (1.5, 0.5, 0.5), "radius": (3, 5)},
}


def true_positives(truth, found, thresholds=THRESHOLDS) -> list[int]:
    """Matches at each IoU threshold (>= 0.5: every object matches at most one)."""
    n_found = int(found.max())
    both = (truth > 0) & (found > 0)
    pairs, overlap = np.unique(
        truth[both].astype(np.int64) * (n_found + 1) + found[both], return_counts=True
    )
    t, f = np.divmod(pairs, n_found + 1)
    area_t = np.bincount(truth.ravel())
    area_f = np.bincount(found.ravel(), minlength=n_found + 1)
    iou = overlap / (area_t[t] + area_f[f] - overlap)
    return [int((iou > th).sum()) for th in thresholds]


def classic(image, radius_px):
    """Blur, Otsu, distance transform, peaks at the radius, watershed (the baseline)."""
    smooth = filters.gaussian(image.astype(np.float64), 1.0)
    mask = smooth > filters.threshold_otsu(smooth)
    distance = ndimage.distance_transform_edt(mask)
    peaks = feature.peak_local_max(distance, min_distance=max(int(radius_px), 1),
                                   labels=measure.label(mask), exclude_border=False)
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-distance, markers, mask=mask)


def methods(case):
    scale = case["scale"]
    radius_px = np.mean(case["radius"]) / scale[-1]

    def ours(split):
        def run(image):
            seg = ng.segment(image, 2, random_state=0, smoothing=1.0, scale=scale)
            return seg.objects(2, image=image, scale=scale, fill_holes=True, split=split).labels

        return run

    return {
        "classic (Otsu + distance watershed)": lambda image: classic(image, radius_px),
        "ours, split='none'": ours("none"),
        "ours, split='watershed'": ours("watershed"),
    }


def run(seeds=(11, 12, 13)) -> tuple[list[str], dict]:
    """Markdown rows and {(look, dims, method): F1 at IoU 0.5}."""
    rows, f1_at_half = [], {}
    for look in ("plain", "realistic"):
        for dims, case in CASES.items():
            images = [make_nuclei_image(case["shape"], case["n_objects"], scale=case["scale"],
                                        radius=case["radius"], look=look, seed=seed)
                      for seed in seeds]
            n_true = sum(int(truth.max()) for _, truth in images)
            base_seconds = None
            for name, method in methods(case).items():
                tp, n_found, seconds = np.zeros(len(THRESHOLDS)), 0, 0.0
                for image, truth in images:
                    start = time.perf_counter()
                    found = method(image)
                    seconds += time.perf_counter() - start
                    tp += true_positives(truth, found)
                    n_found += int(found.max())
                f1 = 2 * tp / (n_true + n_found)
                base_seconds = base_seconds or seconds
                f1_at_half[(look, dims, name)] = f1[0]
                cells = " | ".join(f"{v:.3f}" for v in f1)
                timing = f"{seconds / len(seeds):.2f} | {seconds / base_seconds:.1f}x"
                counts = f"{n_true} | {n_found}"
                rows.append(f"| {look} {dims} | {name} | {counts} | {cells} | {timing} |")
    return rows, f1_at_half


HEADER = (
    "| images | method | true | found | "
    + " | ".join(f"F1@{t:g}" for t in THRESHOLDS)
    + " | s per image | time / classic |\n|---|---|---|---|"
    + "---|" * len(THRESHOLDS)
    + "---|---|"
)
