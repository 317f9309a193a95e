"""The number of classes of ``n_components='auto'``: chosen by ICL before the fit."""

from __future__ import annotations

from .._selection import AUTO_CANDIDATES, AUTO_CRITERION, select_n_components
from ..progress import rescale


def choose_components(image, n_components, options: dict, opts: dict, segment_steps):
    """`n_components`, or for 'auto' the K chosen by ICL (generator: yields progress).

    Returns ``(K, selection)`` (selection None when K was given). `options` are the
    caller's keyword arguments, `opts` every option checked; `segment_steps` is
    :func:`~napari_gmm.core.iter_segment` (passed in: it imports this module).
    """
    if not isinstance(n_components, str):
        return n_components, None
    selection = yield from _auto_components(image, n_components, opts)
    if opts["bias_field"] is not None:
        # shading blurs the classes: choose again on the image corrected with this K
        first = yield from rescale(
            segment_steps(image, selection.best, **{**options, "smoothing": 0.0}), 0.0, 0.3
        )
        selection = yield from _auto_components(first.corrected, "auto", opts)
    return selection.best, selection


def _auto_components(image, choice: str, opts: dict):
    """Choose the number of components by ICL (generator: yields progress, returns it)."""
    if choice != "auto":
        raise ValueError(
            f"n_components must be an int >= 1 or 'auto', got {choice!r}. Use e.g. "
            "n_components=3, or 'auto' to choose it by ICL."
        )
    yield 0.01, "choosing the number of classes"
    keys = ("channel_axis", "covariance_type", "random_state", "n_init", "tol", "max_iter",
            "reg_covar", "max_samples", "max_distinct")
    options = {key: opts[key] for key in keys}
    return select_n_components(image, AUTO_CANDIDATES, criterion=AUTO_CRITERION, **options)
