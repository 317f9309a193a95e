"""Anatomy-like phantoms: thin cortex-like shells and sheets with partial volumes.

Three tissue-like classes ordered by intensity as in a T1-weighted brain image: 1 = CSF
(dark, the large background class), 2 = grey matter (a band 1-3 voxels thick: the thin,
small class), 3 = white matter (bright). The geometry is drawn on a grid `supersample`
times finer than the output, so every output voxel gets the true *fraction* of each class
it contains (the partial-volume effect of a real scanner at its resolution); its intensity
is the fraction-weighted mean of the class intensities plus Gaussian noise. The true label
is the class of the largest fraction.

Two geometries, each in 2-D and 3-D:

- ``'shell'``: folded white matter (a random smooth field above a threshold: gyri a few
  voxels wide) wrapped in a grey band of exact thickness, in CSF;
- ``'sheet'``: wavy layers stacked along the first axis, white matter | grey | CSF sulcus
  | grey | white matter ..., with CSF gaps as thin as the grey bands (banks of sulci).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Class intensities (CSF, grey, white), white matter = 100 as in BrainWeb's noise levels.
MEANS = (30.0, 65.0, 100.0)
#: Noise standard deviations of the benchmark, in % of the white-matter intensity.
NOISE_LEVELS = (5.0, 10.0, 15.0)
#: Geometries.
KINDS = ("shell", "sheet")


@dataclass(frozen=True)
class Phantom:
    """A phantom image with its ground truth.

    Attributes
    ----------
    image : ndarray of float32, shape `shape`
        Noisy intensities.
    truth : ndarray of uint8, shape `shape`
        Label of the largest class fraction (1 = CSF, 2 = grey, 3 = white).
    fractions : ndarray of float32, shape (3, *shape)
        True fraction of each class in every voxel (summing to 1).
    name : str
        Short description, e.g. ``'shell 2D t=1 n=10%'``.
    """

    image: np.ndarray
    truth: np.ndarray
    fractions: np.ndarray
    name: str


def _grid(shape, supersample):
    """Coordinates (in output voxels) of the centres of the fine grid's cells."""
    axes = [(np.arange(n * supersample) + 0.5) / supersample for n in shape]
    return np.meshgrid(*axes, indexing="ij", sparse=True)


def _shell_labels(shape, thickness, supersample, rng):
    """Fine-grid labels: folded white matter wrapped in a grey band of exact thickness.

    The white matter is a random smooth field above its 65th percentile (folds a few
    voxels wide, gyri and sulci); the grey band is every fine cell within `thickness`
    voxels of it (Euclidean distance transform), the rest CSF.
    """
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=2.5, mode="wrap")
    fine = ndimage.zoom(field, supersample, order=1, mode="grid-wrap", grid_mode=True)
    white = fine > np.quantile(fine, 0.65)
    distance = ndimage.distance_transform_edt(~white) / supersample
    labels = np.ones(fine.shape, dtype=np.uint8)
    labels[distance <= thickness] = 2
    labels[white] = 3
    return labels


def _sheet_labels(shape, thickness, supersample, rng=None):
    """Fine-grid labels of wavy stacked layers: white | grey | CSF | grey | white ..."""
    coords = _grid(shape, supersample)
    wave = 1.5 * np.sin(2 * np.pi * coords[1] / 23.0)
    if len(shape) == 3:
        wave = wave + 1.0 * np.sin(2 * np.pi * coords[2] / 17.0)
    csf = max(1.0, float(thickness))  # sulci as thin as the grey bands
    white = 3.0 * thickness + 4.0
    period = white + 2 * thickness + csf
    depth = np.mod(coords[0] + wave, period)
    labels = np.full(depth.shape, 3, dtype=np.uint8)
    labels[(depth >= white) & (depth < white + thickness)] = 2
    labels[(depth >= white + thickness) & (depth < white + thickness + csf)] = 1
    labels[depth >= white + thickness + csf] = 2
    # CSF outside the brain: the last third of the first axis (the large class)
    labels[np.broadcast_to(coords[0] >= shape[0] * 0.62, labels.shape)] = 1
    return labels


def _fractions(fine, shape, supersample):
    """Per-voxel class fractions (3, *shape) of a fine-grid label image."""
    blocks = []
    for n in shape:
        blocks += [n, supersample]
    out = np.empty((3, *shape), dtype=np.float32)
    axes = tuple(range(1, 2 * len(shape), 2))
    for k in range(3):
        out[k] = (fine == k + 1).reshape(blocks).mean(axis=axes)
    return out


def make_phantom(
    kind="shell", ndim=2, *, thickness=2.0, noise=10.0, size=None, supersample=None, seed=0
) -> Phantom:
    """A cortex-like phantom with partial volumes (see the module docstring).

    Parameters
    ----------
    kind : {'shell', 'sheet'}, default 'shell'
    ndim : {2, 3}, default 2
    thickness : float, default 2.0
        Thickness of the grey band in voxels (1 ~ a 2-3 mm scan of cortex, 3 ~ 1 mm).
    noise : float, default 10.0
        Noise standard deviation in % of the white-matter intensity (BrainWeb's convention).
    size : int, optional
        Edge length in voxels; default 128 in 2-D, 40 in 3-D.
    supersample : int, optional
        Fine-grid cells per voxel along each axis (partial-volume resolution); default 4
        in 2-D, 3 in 3-D.
    seed : int or numpy.random.Generator, optional
        Seed of the noise.

    Returns
    -------
    Phantom

    Examples
    --------
    >>> p = make_phantom("shell", 2, thickness=1, noise=5, size=32, seed=0)
    >>> p.image.shape, p.fractions.shape, sorted(np.unique(p.truth).tolist())
    ((32, 32), (3, 32, 32), [1, 2, 3])
    >>> bool(np.allclose(p.fractions.sum(axis=0), 1))
    True
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3, got {ndim!r}.")
    if not thickness > 0 or not noise >= 0:
        raise ValueError(f"thickness must be > 0 and noise >= 0, got {thickness}, {noise}.")
    size = int(size or (128 if ndim == 2 else 40))
    supersample = int(supersample or (4 if ndim == 2 else 3))
    shape = (size,) * ndim
    rng = np.random.default_rng(seed)
    builder = _shell_labels if kind == "shell" else _sheet_labels
    fine = builder(shape, float(thickness), int(supersample), rng)
    fractions = _fractions(fine, shape, int(supersample))
    del fine
    clean = np.tensordot(np.asarray(MEANS, dtype=np.float32), fractions, axes=1)
    image = (clean + rng.normal(0.0, noise, shape)).astype(np.float32)
    truth = (fractions.argmax(axis=0) + 1).astype(np.uint8)
    name = f"{kind} {ndim}D t={thickness:g} n={noise:g}%"
    return Phantom(image, truth, fractions, name)


def phantom_cases(quick=False):
    """The benchmark's phantom parameters: dicts of :func:`make_phantom` keyword arguments.

    2-D: both geometries x thickness 1, 2, 3 x the three noise levels; 3-D: the shell at
    thickness 1 and 2 x the three noise levels (``quick``: one noise level, fewer cases).
    """
    noises = (NOISE_LEVELS[1],) if quick else NOISE_LEVELS
    cases = []
    for kind in KINDS:
        for t in (1, 2) if quick else (1, 2, 3):
            cases += [{"kind": kind, "ndim": 2, "thickness": t, "noise": n} for n in noises]
    for t in (1,) if quick else (1, 2):
        cases += [{"kind": "shell", "ndim": 3, "thickness": t, "noise": n} for n in noises]
    return cases
