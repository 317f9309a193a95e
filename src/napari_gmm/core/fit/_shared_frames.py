"""Frames a shared mixture cannot describe: detected, warned about, segmented on their own.

``frames='shared'`` fits one mixture on every frame (with ``bias_field``: one gain field
per frame). On a bleaching series the signal fades while the camera noise stays: once
the field has scaled a dim frame up, its noise is larger than the spread of the classes
the shared mixture learned on the bright frames, and the frame collapses into the widest
class (a cell x 10 decaying 0.9^t over 20 frames with noise sigma 40: 0.19 of the last
frame right). A frame whose noise (a robust estimate from neighbour differences, in the
corrected intensities) exceeds the narrowest class's standard deviation of the shared
mixture times :data:`NOISE_RATIO`, and the series' median frame noise times
:data:`SPREAD`, is segmented on its own (as ``frames='each'`` does,
same options), and a :class:`SharedFrameWarning` names those frames.
"""

from __future__ import annotations

import warnings

import numpy as np

#: A frame is refitted when its noise exceeds the shared mixture's narrowest class
#: standard deviation times this (a stable series of the same cell measures 0.7).
NOISE_RATIO = 1.0


#: ... and its noise exceeds the median frame noise of the series times this.
SPREAD = 1.25


class SharedFrameWarning(UserWarning):
    """Some frames of a ``frames='shared'`` series are noisier than the classes of the
    shared mixture (e.g. a bleaching series): they were segmented each on its own."""


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


def frame_noise(data, field=None) -> float:
    """Robust noise standard deviation of a frame (largest over channels), corrected by
    `field`: the MAD of differences of neighbours along the last spatial axis / sqrt(2)."""
    feats = data.features.astype(np.float64)
    if field is not None:
        feats = feats / np.asarray(field, dtype=np.float64).reshape(-1, 1)
    spatial = feats.reshape((*data.spatial_shape, data.n_features))
    if spatial.shape[-2] < 2:
        return 0.0
    diff = np.diff(spatial, axis=-2).reshape(-1, data.n_features)
    diff = diff[np.isfinite(diff).all(axis=1)]
    if diff.shape[0] == 0:
        return 0.0
    mad = np.median(np.abs(diff - np.median(diff, axis=0)), axis=0)
    return float(np.max(mad) / 0.6745 / np.sqrt(2.0))


def too_noisy_frames(gmm, frames_data, fields) -> list[int]:
    """Indices of the frames whose noise exceeds the shared mixture's classes and is well
    above the series' typical (median) frame noise: a series whose frames are all equally
    noisy is what the shared mixture was fitted to, and is left shared."""
    noise = np.array([frame_noise(d, f) for d, f in zip(frames_data, fields, strict=True)])
    limit = max(NOISE_RATIO * class_std(gmm), SPREAD * float(np.median(noise)))
    return [int(i) for i in np.flatnonzero(noise > limit)]


def warn_refitted(indices, n_frames: int) -> None:
    names = ", ".join(str(i) for i in indices)
    many = len(indices) > 1
    warnings.warn(
        f"Frame{'s' if many else ''} {names} of {n_frames} {'are' if many else 'is'} noisier "
        "than the classes of the mixture shared by the series (e.g. a bleaching series): "
        "segmented each on its own so that they do not collapse into one class. Use "
        "frames='each' with smoothing for the whole series, or denoise it.",
        SharedFrameWarning,
        stacklevel=4,
    )
