"""Synthetic fluorescence nuclei that touch, with their true instance labels, for benchmarks.

Nuclei are ellipsoids (ellipses in 2D) of random size, shape and orientation, placed in
physical units on an anisotropic voxel grid (e.g. a z step three times the xy pixel), most of
them touching a neighbour (slightly pressed into it: the shared voxels go to the nucleus
whose centre is nearer in the ellipsoids' own metric, as pressed nuclei share a flat face).
Two looks:

- ``'plain'``: flat nuclei of uneven brightness on a dark background, a brightness ramp
  across the field, a blur of one voxel and Gaussian noise;
- ``'realistic'``: also chromatin texture (smoothed noise inside each nucleus), a dimmer
  rim, nuclei of strongly varying brightness, clusters, an optical blur wider along z than
  in xy, an uneven background and shot (Poisson) noise, in uint16 as a camera gives.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

LOOKS = ("plain", "realistic")


def _rotation(rng, ndim: int) -> np.ndarray:
    """A random rotation matrix (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(ndim, ndim)))
    return q * np.sign(np.diag(r))


def _place(rng, extent, n, radius, touching):
    """Centres, semi-axes and rotations of `n` nuclei, in physical units."""
    ndim = len(extent)
    centres, radii, axes, rotations = [], [], [], []
    for _ in range(400 * n):
        if len(centres) == n:
            break
        r = rng.uniform(*radius)
        if centres and rng.random() < touching:  # press against a random placed nucleus
            j = rng.integers(len(centres))
            u = rng.normal(size=ndim)
            u /= np.linalg.norm(u)
            c = centres[j] + u * (r + radii[j]) * rng.uniform(0.85, 1.0)
            far = 0.9
        else:
            c = np.array([rng.uniform(0, e) for e in extent])
            far = 1.1
        if any(ci < r * 0.8 or ci > e - r * 0.8 for ci, e in zip(c, extent, strict=True)):
            continue
        if any(np.linalg.norm(c - o) < far * (r + ro) and not (far < 1 and o is centres[j])
               for o, ro in zip(centres, radii, strict=True)):
            continue
        centres.append(c)
        radii.append(r)
        axes.append(r * rng.uniform(0.8, 1.2, size=ndim))
        rotations.append(_rotation(rng, ndim))
    return centres, axes, rotations


def _raster(shape, scale, centres, axes, rotations):
    """Instance labels (nearest ellipsoid in its own metric) and that normalised radius."""
    truth = np.zeros(shape, dtype=np.int32)
    best = np.full(shape, np.inf)
    for i, (c, a, rot) in enumerate(zip(centres, axes, rotations, strict=True), start=1):
        reach = a.max()
        box = tuple(slice(max(int((ci - reach) / s), 0), min(int((ci + reach) / s) + 2, n))
                    for ci, s, n in zip(c, scale, shape, strict=True))
        grids = np.meshgrid(*[np.arange(b.start, b.stop) * s for b, s in
                              zip(box, scale, strict=True)], indexing="ij")
        offset = np.stack([g - ci for g, ci in zip(grids, c, strict=True)], axis=-1)
        q = np.sqrt((((offset @ rot) / a) ** 2).sum(axis=-1))
        win = (q < 1.0) & (q < best[box])
        truth[box][win] = i
        best[box][win] = q[win]
    return truth, np.where(truth > 0, best, 1.0)


def make_nuclei_image(shape=(256, 256), n_objects=40, *, scale=None, radius=(6.0, 11.0),
                      touching=0.7, look="plain", seed=None):
    """An image of touching nuclei and their true instance labels.

    Parameters
    ----------
    shape : tuple of int
        Spatial shape (2D or 3D).
    n_objects : int
        Number of nuclei asked for (fewer when they do not fit: see the truth's maximum).
    scale : tuple of float, optional
        Voxel size per axis (physical units; default 1). Radii are physical.
    radius : (float, float)
        Range of the nuclei's radii (physical units); each semi-axis varies by +-20 %.
    touching : float
        Fraction of the nuclei placed pressed against an earlier one.
    look : {'plain', 'realistic'}
        See the module's description.
    seed : int, optional

    Returns
    -------
    image : ndarray (float32 for 'plain', uint16 for 'realistic')
    truth : ndarray of int32
        Instance labels 1..n (0 background).
    """
    if look not in LOOKS:
        raise ValueError(f"look must be one of {LOOKS}; got {look!r}.")
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    scale = tuple(float(s) for s in (scale or (1.0,) * len(shape)))
    extent = [n * s for n, s in zip(shape, scale, strict=True)]
    centres, axes, rotations = _place(rng, extent, int(n_objects), radius, touching)
    truth, q = _raster(shape, scale, centres, axes, rotations)
    n = len(centres)
    ramp = np.meshgrid(*[np.linspace(0, 1, s) for s in shape], indexing="ij")[-1]
    if look == "plain":
        bright = np.concatenate([[0.0], rng.uniform(0.6, 1.0, n)])
        image = 0.1 + bright[truth] * (0.75 + 0.25 * ramp)
        image = ndimage.gaussian_filter(image, 1.0) + rng.normal(0, 0.06, shape)
        return image.astype(np.float32), truth
    return _realistic(rng, truth, q, shape, scale, ramp, n), truth


def _realistic(rng, truth, q, shape, scale, ramp, n):
    """Textured, rim-dimmed, blurred nuclei with shot noise, as uint16 counts."""
    bright = np.concatenate([[0.0], rng.lognormal(0.0, 0.35, n)])
    texture = ndimage.gaussian_filter(rng.normal(size=shape), [1.0 / s for s in scale])
    texture /= texture.std()
    nuclei = bright[truth] * np.clip(1.0 + 0.3 * texture, 0.2, None) * (1 - 0.35 * q**4)
    background = 0.15 * (1 + 0.5 * ramp)
    psf = [1.2 * min(scale) / s for s in scale]  # ~1.2 xy pixels wide, about one z step
    signal = ndimage.gaussian_filter(np.where(truth > 0, nuclei, 0.0) + background, psf)
    counts = rng.poisson(np.clip(signal, 0, None) * 120.0) + rng.normal(100, 3, shape)
    return np.clip(counts, 0, 65535).astype(np.uint16)
