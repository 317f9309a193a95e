"""Frames of a shared series noisier than the shared classes: widened, and warned about.

``frames='shared'`` fits one mixture on every frame (with ``bias_field``: one gain field
per frame). On a bleaching series the signal fades while the camera noise stays: once
the field has scaled a dim frame up, its noise is larger than the spread of the classes
the shared mixture learned, and the frame collapsed into the widest class (a cell x 10
decaying 0.9^t over 20 frames with noise sigma 40: 0.19 of the last frame right). Every
frame is therefore labelled with the shared classes widened by its own noise in excess
of the quietest frame's (:func:`frame_mixtures`, :mod:`._frame_noise`). A frame whose
noise (a robust estimate from neighbour differences, in the corrected intensities)
exceeds the narrowest class's standard deviation of the shared mixture times
:data:`NOISE_RATIO`, and the series' median frame noise times :data:`SPREAD`, is still
less reliable than the others: a :class:`SharedFrameWarning` names those frames.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._frame_noise import widened_mixture

#: A frame is warned about when its noise exceeds the shared mixture's narrowest class
#: standard deviation times this (a stable series of the same cell measures 0.7).
NOISE_RATIO = 1.0


#: ... and its noise exceeds the median frame noise of the series times this.
SPREAD = 1.25


class SharedFrameWarning(UserWarning):
    """Some frames of a ``frames='shared'`` series are noisier than the classes of the
    shared mixture (e.g. a bleaching series): their classes were widened by their noise,
    and their labels are less reliable than the other frames'."""


def class_std(gmm) -> float:
    """The smallest per-channel standard deviation of any class of the mixture."""
    cov = np.asarray(gmm.covariances_, dtype=np.float64)
    kind = gmm.covariance_type
    if kind == "full":
        var = np.diagonal(cov, axis1=1, axis2=2)
    elif kind == "tied":
        var = np.diag(cov)
    else:
        var = cov
    return float(np.sqrt(np.min(var)))


def channel_noise(data, field=None) -> np.ndarray:
    """Robust noise standard deviation of a frame per channel, corrected by `field`: the
    MAD of differences of neighbours along the last spatial axis / sqrt(2)."""
    feats = data.features.astype(np.float64)
    if field is not None:
        feats = feats / np.asarray(field, dtype=np.float64).reshape(-1, 1)
    spatial = feats.reshape((*data.spatial_shape, data.n_features))
    if spatial.shape[-2] < 2:
        return np.zeros(data.n_features)
    diff = np.diff(spatial, axis=-2).reshape(-1, data.n_features)
    diff = diff[np.isfinite(diff).all(axis=1)]
    if diff.shape[0] == 0:
        return np.zeros(data.n_features)
    mad = np.median(np.abs(diff - np.median(diff, axis=0)), axis=0)
    return mad / 0.6745 / np.sqrt(2.0)


def frame_noise(data, field=None) -> float:
    """The largest :func:`channel_noise` of a frame."""
    return float(np.max(channel_noise(data, field)))


def series_noise(frames_data, fields) -> np.ndarray:
    """The :func:`channel_noise` of every frame, corrected by its field: (n_frames, C)."""
    return np.array([channel_noise(d, f) for d, f in zip(frames_data, fields, strict=True)])


def too_noisy_frames(gmm, noise) -> list[int]:
    """Indices of the frames whose noise (:func:`series_noise`) exceeds the shared
    mixture's classes and is well above the series' typical (median) frame noise: a
    series whose frames are all equally noisy is what the shared mixture was fitted to."""
    noise = np.asarray(noise, dtype=np.float64).max(axis=1)
    limit = max(NOISE_RATIO * class_std(gmm), SPREAD * float(np.median(noise)))
    return [int(i) for i in np.flatnonzero(noise > limit)]


def warn_noisy(indices, n_frames: int) -> None:
    """Warn (:class:`SharedFrameWarning`) that the frames `indices` are noisy."""
    names = ", ".join(str(i) for i in indices)
    many = len(indices) > 1
    warnings.warn(
        f"Frame{'s' if many else ''} {names} of {n_frames} {'are' if many else 'is'} noisier "
        "than the classes of the mixture shared by the series (e.g. a bleaching series): "
        "their classes were widened by their own noise so that they do not collapse into "
        "one class, but their labels are less reliable. Use smoothing (with frames='shared' "
        "or frames='each'), or denoise the series.",
        SharedFrameWarning,
        stacklevel=4,
    )


def frame_mixtures(gmm, noise) -> list:
    """One mixture per frame: the shared `gmm` with every class widened by the frame's
    noise (:func:`series_noise`) in excess of the quietest frame's (:mod:`._frame_noise`)."""
    noise = np.asarray(noise, dtype=np.float64)
    floor = noise.min(axis=0)
    return [widened_mixture(gmm, np.maximum(n**2 - floor**2, 0.0)) for n in noise]
