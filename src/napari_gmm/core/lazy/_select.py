"""``n_components='auto'`` and :func:`select_n_components` on dask arrays.

The in-memory selection fits every candidate K on one data set: the exact histogram of an
integer image, else a seeded subsample of at most ``max_samples`` valid pixels. On a dask
image the same two data sets are built block by block (:mod:`._fit`: the summed
per-block histograms, or a block-drawn seeded sample), never the image in memory, and the
candidates are then fitted and scored exactly as in memory. Integer images therefore get
the same K (and the same scores) as in memory; float images a K chosen on a sample of the
same size drawn differently.
"""

from __future__ import annotations

from ..progress import rescale
from ._fit import lazy_pixels, lazy_sample


def lazy_selection_data(image, channel_axis, max_samples, max_distinct, random_state):
    """:func:`~._selection._selection_data` of a dask image (one pass over the blocks)."""
    import dask

    from ._segment import _seed, lazy_compressed

    pixels = lazy_pixels(image, channel_axis)
    compressed = lazy_compressed(pixels, max_distinct)
    if compressed is not None:
        return pixels.is_integer, pixels.n_features, compressed, None, False
    ((values, n_valid),) = dask.compute(lazy_sample(pixels, max_samples, _seed(random_state)))
    if values.shape[0] == 0:
        raise ValueError(
            "No valid pixel was found in the image: all pixels are non-finite (NaN or inf). "
            "Check the image or replace invalid values first."
        )
    return pixels.is_integer, pixels.n_features, None, values, max_samples < n_valid


def iter_lazy_auto(image, opts: dict, *, bias_field):
    """Choose K for a dask image as ``segment(..., n_components='auto')`` does in memory.

    Generator yielding ``(fraction, stage)``; returns the :class:`~._selection.Selection`.
    With a bias field, K is chosen again on the image corrected with the first choice's
    field (shading blurs the classes), as in memory.
    """
    from .._selection import AUTO_CANDIDATES, AUTO_CRITERION, select_n_components

    yield 0.01, "choosing the number of classes"
    keys = ("channel_axis", "covariance_type", "random_state", "n_init", "tol", "max_iter",
            "reg_covar", "max_samples", "max_distinct")  # fmt: skip
    options = {key: opts[key] for key in keys}
    selection = select_n_components(image, AUTO_CANDIDATES, criterion=AUTO_CRITERION,
                                    **options)  # fmt: skip
    if bias_field is None:
        return selection
    from ._segment import iter_segment_lazy

    first_opts = {key: value for key, value in opts.items() if key != "n_components"}
    first_opts["smoothing"] = 0.0
    steps = iter_segment_lazy(image, selection.best, **first_opts)
    first = yield from rescale(steps, 0.01, 0.2, "choosing the number of classes")
    return select_n_components(first.corrected, AUTO_CANDIDATES, criterion=AUTO_CRITERION,
                               **options)  # fmt: skip
