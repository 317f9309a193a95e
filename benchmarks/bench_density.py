"""Benchmark :func:`napari_gmm.mixture_density` against straightforward baselines.

Run ``python benchmarks/bench_density.py`` (about 2 Mpixel RGB image, a few tens of seconds)
or ``python benchmarks/bench_density.py --quick`` (smaller image, for smoke tests).

Rows:

* ``diag``: the common numpy answer ``compute_probabilities_faster`` (float64 broadcasting
  of pixels against kernels as an (n_pixels, 3, n_kernels) array, determinant
  normalisation) against ``mixture_density(..., covariance_type="diag")``, for the image
  as uint8 and as float64.
* ``full``: a per-component ``scipy.stats.multivariate_normal`` loop against
  ``mixture_density(..., covariance_type="full")``.

Timings are the best of ``--repeat`` interleaved runs; peak memory is the largest traced allocation
(``tracemalloc``) during one extra run. The exit status is 1 when a pair disagrees by more
than 1e-6 relative.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc

import numpy as np
from scipy import stats
from skimage import data, transform
from sklearn.mixture import GaussianMixture

from napari_gmm.core.analysis._density import mixture_density

RTOL = 1e-6
TARGET_SPEEDUP = 5.0


def compute_probabilities_faster(image, weights, means, variances):
    """Mixture density of diagonal Gaussian kernels by (n_pixels, 3, n_kernels) broadcasting."""
    pixels = image.reshape(-1, 3).astype(np.float64)  # (n, 3)
    diff = pixels[:, :, np.newaxis] - means.T[np.newaxis, :, :]  # (n, 3, K)
    exponent = -0.5 * np.sum(diff**2 / variances.T[np.newaxis, :, :], axis=1)  # (n, K)
    norm = weights / np.sqrt((2 * np.pi) ** 3 * np.prod(variances, axis=1))  # (K,)
    return (np.exp(exponent) * norm).sum(axis=1).reshape(image.shape[:-1])


def scipy_full_density(image, weights, means, covariances):
    """Mixture density by a loop over ``scipy.stats.multivariate_normal`` components."""
    pixels = image.reshape(-1, image.shape[-1]).astype(np.float64)
    total = np.zeros(pixels.shape[0])
    for w, m, c in zip(weights, means, covariances, strict=True):
        total += w * stats.multivariate_normal(m, c).pdf(pixels)
    return total.reshape(image.shape[:-1])


def make_image(size: int) -> np.ndarray:
    """The astronaut RGB image resized to (size, size, 3) uint8."""
    rgb = transform.resize(data.astronaut(), (size, size), order=1, preserve_range=True)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def fit(image: np.ndarray, covariance_type: str, n_components: int = 8):
    """A mixture fitted on a random subsample of the pixels (not timed)."""
    pixels = image.reshape(-1, 3).astype(np.float64)
    sample = np.random.default_rng(0).choice(pixels.shape[0], 20_000, replace=False)
    gmm = GaussianMixture(n_components, covariance_type=covariance_type, random_state=0)
    return gmm.fit(pixels[sample])


def best_times(funcs, repeat: int) -> tuple[list[float], list[np.ndarray]]:
    """Best wall time of `repeat` calls of each function (interleaved, so that changes in
    the machine's load hit all of them alike), and the last results."""
    best, results = [np.inf] * len(funcs), [None] * len(funcs)
    for _ in range(repeat):
        for i, func in enumerate(funcs):
            start = time.perf_counter()
            results[i] = func()
            best[i] = min(best[i], time.perf_counter() - start)
    return best, results


def peak_mb(func) -> float:
    """Peak traced memory (MB) of one call, on top of what was allocated before."""
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| / |b| over the pixels where the reference b is positive."""
    pos = b > 0
    return float(np.max(np.abs(a[pos] - b[pos]) / b[pos]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="362x362 image instead of 1448")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (best of)")
    args = parser.parse_args(argv)
    size = 362 if args.quick else 1448
    image8 = make_image(size)
    image64 = image8.astype(np.float64)
    diag, full = fit(image8, "diag"), fit(image8, "full")
    print(
        f"image {image8.shape}, {image8.shape[0] * image8.shape[1] / 1e6:.2f} Mpixel, "
        f"{diag.n_components} kernels, best of {args.repeat}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )

    def diag_pair(img):
        params = (diag.weights_, diag.means_, diag.covariances_)
        return (
            lambda: compute_probabilities_faster(img, *params),
            lambda: mixture_density(img, *params, channel_axis=-1, covariance_type="diag"),
        )

    def full_pair(img):
        params = (full.weights_, full.means_, full.covariances_)
        return (
            lambda: scipy_full_density(img, *params),
            lambda: mixture_density(img, *params, channel_axis=-1, covariance_type="full"),
        )

    cases = [
        ("diag uint8 vs broadcast", *diag_pair(image8)),
        ("diag float64 vs broadcast", *diag_pair(image64)),
        ("full uint8 vs scipy loop", *full_pair(image8)),
        ("full float64 vs scipy loop", *full_pair(image64)),
    ]
    header = (
        f"{'case':<28}{'base s':>9}{'ours s':>9}{'speed-up':>10}"
        f"{'base MB':>10}{'ours MB':>10}{'max rel diff':>14}"
    )
    print(header)
    print("-" * len(header))
    ok, diag_speedups = True, []
    for name, base, ours in cases:
        (t_base, t_ours), (ref, got) = best_times([base, ours], args.repeat)
        diff = max_rel_diff(got, ref)
        ok &= diff <= RTOL
        if name.startswith("diag"):
            diag_speedups.append(t_base / t_ours)
        print(
            f"{name:<28}{t_base:>9.3f}{t_ours:>9.3f}{t_base / t_ours:>9.1f}x"
            f"{peak_mb(base):>10.1f}{peak_mb(ours):>10.1f}{diff:>14.2e}"
        )
    met = "met" if min(diag_speedups) >= TARGET_SPEEDUP else "NOT met"
    print(
        f"agreement within rtol {RTOL:g}: {'yes' if ok else 'NO'}; "
        f"speed-up target >= {TARGET_SPEEDUP:g}x on the 'diag' rows: {met}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
