"""``smoothing='auto'`` and ``'held-out'`` of a dask image beyond the in-core budget.

In memory, both choose the strength on central blocks of the image, not on all of it: the
estimate (:func:`..potts._auto_smoothing.estimate_smoothing`) on at most
``_auto_smoothing.MAX_PIXELS`` pixels, the held-out runs of the guard and of
``'held-out'`` (:class:`..potts._beta_cv.HeldOut`) on at most ``_beta_cv.MAX_PIXELS``. A
dask image reads those same blocks into memory (:func:`..potts._auto_smoothing.central_box`)
and runs the same code on them with the mixture of its lazy fit, so it gets the strength
its numpy array gets whenever the two fits agree (integer images: both exact on the
histogram). The chosen strength then smooths the halo blocks as a fixed one.
"""

from __future__ import annotations

import numpy as np

from .._features import PixelData
from ..potts import _auto_smoothing, _beta_cv
from ..potts._mixel_swap import guard_with_mixels
from ._fit import LazyPixels, block_pixel_data


def central_pixels(pixels: LazyPixels, max_pixels: int) -> PixelData:
    """The central block of about `max_pixels` pixels of a dask image, in memory."""
    box = _auto_smoothing.central_box(pixels.spatial_shape, max_pixels)
    return block_pixel_data(np.asarray(pixels.array[box].compute()))


def lazy_smoothing(pixels: LazyPixels, gmm, smoothing: str, *, scale, random_state,
                   max_samples=200_000, reestimate=True):
    """The strength ``smoothing`` (``'auto'`` or ``'held-out'``) chooses for a dask image
    with the fitted mixture `gmm`, and the mixel model of its posteriors (or None), as
    :func:`..pipeline._image.iter_segment_image` does (`reestimate` False: as
    :func:`.._apply.iter_apply_image` does, the estimate with the mixture kept, no guard
    and no mixel model)."""
    if smoothing == "held-out":
        held = central_pixels(pixels, _beta_cv.MAX_PIXELS)
        strength = _beta_cv.held_out_smoothing(gmm, held, scale=scale,
                                               random_state=random_state)
        return strength, None
    estimate = _auto_smoothing.estimate_smoothing(
        gmm, central_pixels(pixels, _auto_smoothing.MAX_PIXELS), None, scale=scale,
        random_state=random_state, max_samples=max_samples, reestimate=reestimate,
    )[0]
    if not reestimate:  # no guard: its held-out block is not read
        return estimate, None
    held = central_pixels(pixels, _beta_cv.MAX_PIXELS)
    return guard_with_mixels(gmm, held, estimate, scale=scale, random_state=random_state)


def iter_lazy_smoothing(pixels: LazyPixels, gmm, smoothing: str, *, at=0.52, **options):
    """Generator form of :func:`lazy_smoothing` for the lazy pipelines (`options` as
    :func:`lazy_smoothing`): yields its stage at fraction `at`, returns the strength and
    the mixel model."""
    yield at, "estimating the smoothing strength"
    return lazy_smoothing(pixels, gmm, smoothing, **options)
