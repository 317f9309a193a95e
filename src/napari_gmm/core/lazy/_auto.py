"""``n_components='auto'`` on a dask image: ICL on the histogram or a block-drawn sample
(:mod:`._select`), chosen again on the bias-corrected image with a bias field."""

from __future__ import annotations

from ..progress import rescale


def iter_lazy_auto(image, opts: dict, *, bias_field, segment_lazy):
    """Choose K for a dask image as ``segment(..., n_components='auto')`` does in memory.

    Generator yielding ``(fraction, stage)``; returns the :class:`~._selection.Selection`.
    With a bias field, K is chosen again on the image corrected with the first choice's
    field (shading blurs the classes), as in memory. `segment_lazy` is
    :func:`~._segment.iter_segment_lazy` (passed in: it calls this function).
    """
    from .._selection import AUTO_CANDIDATES, AUTO_CRITERION, select_n_components

    yield 0.01, "choosing the number of classes"
    keys = ("channel_axis", "covariance_type", "random_state", "n_init", "tol", "max_iter",
            "reg_covar", "max_samples", "max_distinct")
    options = {key: opts[key] for key in keys}
    selection = select_n_components(image, AUTO_CANDIDATES, criterion=AUTO_CRITERION,
                                    **options)
    if bias_field is None:
        return selection
    first_opts = {key: value for key, value in opts.items() if key != "n_components"}
    first_opts["smoothing"] = 0.0
    steps = segment_lazy(image, selection.best, **first_opts)
    first = yield from rescale(steps, 0.01, 0.2, "choosing the number of classes")
    return select_n_components(first.corrected, AUTO_CANDIDATES, criterion=AUTO_CRITERION,
                               **options)
