"""Input checks shared by the public functions.

Every message says what was wrong, what is allowed, what was received and how to fix it.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: Most mixture components (classes) a segmentation or a model file may have.
MAX_COMPONENTS = 1024
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


def check_image(image, name: str = "image") -> np.ndarray:
    """Return `image` as a numeric ndarray (never a copy when it already is one).

    Raises
    ------
    TypeError
        For complex, object, string or other non-numeric dtypes.
    ValueError
        For an empty array or a 0-d scalar.
    """
    if hasattr(image, "compute") and hasattr(image, "chunks"):
        # dask and similar lazy arrays: materialise once, explicitly
        image = image.compute()
    arr = np.asarray(image)
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(
            f"{name} has complex dtype {arr.dtype}; only real-valued images (bool, integer or "
            f"float) can be segmented. Pass np.abs({name}) or {name}.real instead."
        )
    if kind not in "biuf":
        raise TypeError(
            f"{name} must be a numeric array (bool, integer or float), got dtype {arr.dtype}. "
            f"Convert it first, e.g. np.asarray({name}, dtype=float)."
        )
    if arr.ndim == 0:
        raise ValueError(
            f"{name} must be an array with at least one axis, got a scalar ({arr!r}). "
            "Pass an image such as a 2D (rows, columns) array."
        )
    if arr.size == 0:
        raise ValueError(
            f"{name} is empty (shape {arr.shape}); it needs at least one pixel. "
            "Check that the image was read correctly."
        )
    return arr


class ChannelAxisWarning(UserWarning):
    """The image looks multichannel (a last axis of 3 or 4: RGB/RGBA) but no `channel_axis`
    was given, so it is segmented as a gray volume. Pass ``channel_axis=-1`` to segment the
    colours jointly, or ``channel_axis=None`` to confirm the gray volume (no warning)."""


class _Unset:
    """Default of `channel_axis`: behaves as None, but tells "not given" from "None"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "None"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return "UNSET"


#: Default of the public functions' `channel_axis`: None, unless the image looks like RGB(A).
UNSET = _Unset()


def looks_multichannel(shape, time_axis=None) -> bool:
    """Whether an image of this shape looks like RGB(A): >= 3 axes (besides time), the last
    of length 3 or 4 and every other of length >= 8 (a volume of 3 or 4 planes along its
    last axis is rare; a colour image is common)."""
    shape = list(shape)
    if time_axis is not None:
        try:
            del shape[int(time_axis) % len(shape)]
        except (TypeError, ValueError, ZeroDivisionError):
            return False  # a bad time_axis is reported by its own check
    return len(shape) >= 3 and shape[-1] in (3, 4) and min(shape[:-1]) >= 8


def resolve_channel_axis(shape, channel_axis, time_axis=None, *, stacklevel: int = 3):
    """`channel_axis` as given; for the default (:data:`UNSET`) None, with a
    :class:`ChannelAxisWarning` when the image looks like RGB(A)."""
    if channel_axis is not UNSET:
        return channel_axis
    if looks_multichannel(shape, time_axis):
        warnings.warn(
            f"The image (shape {tuple(shape)}) looks like an RGB(A) image, but no "
            "channel_axis was given, so it is segmented as a gray volume whose last axis "
            "is spatial. Pass channel_axis=-1 to segment the colours jointly, or "
            "channel_axis=None to confirm the gray volume and silence this warning.",
            ChannelAxisWarning,
            stacklevel=stacklevel + 1,
        )
    return None


def check_channel_axis(ndim: int, channel_axis) -> int | None:
    """Normalise `channel_axis` to a non-negative int (or None) for an `ndim`-d image."""
    if channel_axis is None or channel_axis is UNSET:
        return None
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral):
        raise TypeError(
            f"channel_axis must be an int or None, got {type(channel_axis).__name__} "
            f"({channel_axis!r}). Use e.g. channel_axis=-1 for RGB images, None for gray ones."
        )
    axis = int(channel_axis)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"channel_axis={axis} is out of range for an image with {ndim} dimension(s); "
            f"allowed values are {-ndim}..{ndim - 1}, or None when every axis is spatial."
        )
    if ndim < 2:
        raise ValueError(
            f"channel_axis={axis} leaves no spatial axis in a {ndim}-d image; a multichannel "
            "image needs at least one spatial axis besides the channel axis. Use "
            "channel_axis=None to treat the array as a gray image."
        )
    return axis % ndim


def check_choice(name: str, value, allowed: Iterable[str]) -> str:
    """Check that `value` is one of `allowed`."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}."
        )
    return value


def check_int(name: str, value, *, minimum: int, hint: str = "", maximum=None) -> int:
    """Check that `value` is an integer >= `minimum` (and <= `maximum` when given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int >= {minimum}, got {type(value).__name__} ({value!r}).{hint}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}.{hint}")
    if maximum is not None and value > maximum:
        raise ValueError(
            f"{name} must be an int in [{minimum}, {maximum}], got {value}: such a run would "
            f"not finish in any useful time.{hint}"
        )
    return int(value)


def check_float(name: str, value, *, minimum: float = 0.0, strict: bool = False) -> float:
    """Check that `value` is a finite real number >= `minimum` (> if `strict`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} ({value!r}).")
    value = float(value)
    bad = value <= minimum if strict else value < minimum
    if not np.isfinite(value) or bad:
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {op} {minimum}, got {value}.")
    return value


def check_n_components(n_components, n_distinct: int | None = None, what: str = "values"):
    """Check the number of mixture components against the data."""
    n = check_int(
        "n_components",
        n_components,
        minimum=1,
        hint=" It is the number of classes (Gaussians) to segment into, e.g. 3.",
    )
    if n > MAX_COMPONENTS:
        raise ValueError(
            f"n_components={n} is more classes than napari-gmm fits (at most "
            f"{MAX_COMPONENTS}): EM's cost grows with K and such a fit would run for hours. "
            "Use fewer classes, e.g. n_components='auto' to choose among 2..8."
        )
    if n_distinct is not None and n > n_distinct:
        raise ValueError(
            f"The image has only {n_distinct} distinct valid {what}; it cannot be segmented "
            f"into n_components={n} classes. Use n_components <= {n_distinct}."
        )
    return n


def check_progress(progress, signature: str):
    """Return `progress` (a callable), or a no-op for None; `signature` is for the message."""
    if progress is None:
        return lambda *args: None
    if not callable(progress):
        raise TypeError(
            f"progress must be a callable {signature} or None, got {type(progress).__name__}."
        )
    return progress

# ----------------------------------------------------------------- upper bounds
# Without them max_iter=10**12 or n_init=10**9 run for days, smoothing a 32-D array
# builds a 3^32 neighbourhood (a bare MemoryError of 6.6 PiB), and a noise sweep over a
# million levels never returns.

#: Most EM iterations per run (a fit that has not converged in 100,000 never will).
MAX_ITER = 100_000
#: Most EM restarts.
MAX_N_INIT = 1_000
#: Most noise levels in one noise sweep (each is a full segmentation).
MAX_SWEEP_LEVELS = 1_000
#: Most spatial axes smoothing handles (a Potts neighbourhood in more dimensions is
#: rarely meaningful and its stencil work grows with the number of axes).
MAX_SMOOTH_NDIM = 8


def check_model_channels(gmm, n_features: int, shape, channel_axis) -> None:
    """Refuse an image whose channel count is not the one mixture `gmm` was fitted on."""
    fitted = gmm.means_.shape[1]
    if n_features != fitted:
        raise ValueError(
            f"The model was fitted on {fitted} channel(s) but the image has {n_features} "
            f"(shape {tuple(shape)}, channel_axis={channel_axis}). Pass the channel_axis the "
            "model was fitted with, or a model of this kind of image."
        )


def check_smoothing_ndim(smoothing, n_spatial: int) -> None:
    """ValueError when smoothing is asked for on more than :data:`MAX_SMOOTH_NDIM` axes."""
    if smoothing in (0, 0.0, None) or n_spatial <= MAX_SMOOTH_NDIM:
        return
    raise ValueError(
        f"smoothing needs at most {MAX_SMOOTH_NDIM} spatial axes, but the image has "
        f"{n_spatial}. Pass channel_axis / time_axis for axes that are not spatial, segment "
        "with smoothing=0, or reshape the array to its real spatial axes."
    )
