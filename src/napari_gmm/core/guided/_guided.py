"""Guided segmentation: scribbles (a few painted pixels) name and anchor the classes.

``segment(image, scribbles=labels)`` with ``labels`` an integer array of the image's spatial
shape (0 = not scribbled, k = class k) fits the mixture by semi-supervised EM
(:mod:`._em`): scribbled pixels only count for their class, so the classes are the
ones the user means and class ``k`` is the scribbles' ``k`` (not an intensity rank). Classes
above every scribbled id are fitted unsupervised. A class may be made of several Gaussians
(``components_per_class``), e.g. a skewed background. The fitted model carries its classes
(:mod:`._classes`), so :func:`~napari_gmm.apply_model` and model files keep them.

Integer images keep the exact fast path: EM runs on the distinct (value, scribble) pairs
weighted by their pixel counts. Float images: a seeded subsample of the unscribbled pixels
(weighted up to stand for all of them) plus the scribbled pixels.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .._features import pixel_data
from .._options import check_params, compress_if_integer
from .._validation import check_int
from ..fit._fit import (
    FitInfo,
    run_em,
    single_threaded_blas,
    subsample_rows,
    warn_if_reg_covar_dominates,
)
from ..fit._sklearn_private import n_parameters
from ..potts._hmrf import check_scale, check_smoothing
from ..progress import rescale
from ._classes import (
    AUTO_MAX_PER_CLASS,
    check_class_names,
    check_components_per_class,
    groups_from_counts,
)
from ._em import fit_guided_gmm


class ScribbleWarning(UserWarning):
    """Scribbles that cannot count as given: on non-finite pixels, or a class that ends
    up with no pixel."""


def check_scribbles(scribbles, spatial_shape, n_components=None):
    """Validate scribbles; return (flat indices of the scribbled pixels, their class ids
    1..n, number of classes n).

    Raises
    ------
    TypeError
        For a non-integer array.
    ValueError
        For a wrong shape, negative ids, no scribbled pixel, or ids above `n_components`.
    """
    arr = np.asarray(scribbles)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"scribbles must be an integer array (0 = not scribbled, k = class k), got "
            f"dtype {arr.dtype}. Paint them in a napari Labels layer, or convert with "
            "scribbles.astype(int) if the values are whole numbers."
        )
    if arr.shape != tuple(spatial_shape):
        raise ValueError(
            f"scribbles must have the image's spatial shape {tuple(spatial_shape)} (without "
            f"the channel axis), got {arr.shape}."
        )
    if arr.size and arr.min() < 0:
        raise ValueError(
            f"scribbles must be >= 0 (0 = not scribbled, k = class k), got {int(arr.min())}."
        )
    top = int(arr.max()) if arr.size else 0
    if top == 0:
        raise ValueError(
            "scribbles has no scribbled pixel (all 0): paint at least one class, or pass "
            "scribbles=None for an unsupervised segmentation."
        )
    if n_components is None:
        n_components = top
    n = check_int("n_components", n_components, minimum=1)
    if top > n:
        raise ValueError(
            f"scribbles use class ids up to {top}, above n_components={n}: pass "
            f"n_components >= {top} (or leave it out: it defaults to the largest id)."
        )
    flat = arr.reshape(-1)
    rows = np.flatnonzero(flat)
    return rows, flat[rows].astype(np.int64), n


def guided_sample(data, compressed, rows, ids, max_samples, random_state):
    """Weighted rows (X, w, y) for the semi-supervised EM; y = class index or -1.

    `rows` and `ids` are the scribbled pixels (flat indices) and their class ids.
    """
    if compressed is not None:
        n_values = compressed.values.shape[0]
        index = compressed.value_rows(rows)
        top = int(ids.max()) + 1
        pairs, pair_counts = np.unique(index * top + (ids - 1), return_counts=True)
        pair_value, pair_class = np.divmod(pairs, top)
        free = compressed.counts - np.bincount(index, minlength=n_values)
        keep = free > 0
        X = np.concatenate([compressed.values[keep], compressed.values[pair_value]])
        w = np.concatenate([free[keep], pair_counts]).astype(np.float64)
        y = np.concatenate([np.full(int(keep.sum()), -1), pair_class])
        return X, w, y
    free = np.ones(data.n_pixels, dtype=bool) if data.valid is None else data.valid.copy()
    free[rows] = False
    parts = []
    for chosen_from, labels in ((np.flatnonzero(free), None), (rows, ids)):
        pick = subsample_rows(chosen_from.size, max_samples, random_state)
        chosen = chosen_from if pick is None else chosen_from[pick]
        y = np.full(chosen.size, -1) if labels is None else (
            (labels if pick is None else labels[pick]) - 1)
        parts.append((chosen, np.full(chosen.size, chosen_from.size / max(chosen.size, 1)), y))
    chosen = np.concatenate([p[0] for p in parts])
    X = np.asarray(data.features[chosen], dtype=np.float64)
    return X, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def fit_guided(X, w, y, n_classes, per_class, params, class_names=None):
    """Semi-supervised fit; `per_class` a tuple of ints or 'auto' (:func:`auto_per_class`)."""
    if per_class == "auto":
        per_class = auto_per_class(X, w, y, n_classes, params)
    return _fit_counts(X, w, y, per_class, params, class_names)


def auto_per_class(X, w, y, n_classes, params):
    """Gaussians per class, 1..AUTO_MAX_PER_CLASS, by the BIC of a mixture fitted to the
    class's scribbled pixels alone (the only pixels known to belong to it); classes
    without scribbles get one. A class needs 10 scribbled pixels per Gaussian tried.

    (A BIC over the whole image rewards a class for taking over the tail of another:
    a bright-spot class would grow Gaussians that explain the background's tail.)
    """
    from ..fit._em import fit_weighted_gmm

    counts = []
    for c in range(n_classes):
        rows = y == c
        Xc, wc = X[rows], w[rows]
        best, best_bic = 1, np.inf
        n = float(wc.sum())
        for m in range(1, AUTO_MAX_PER_CLASS + 1):
            if Xc.shape[0] < m or n < 10 * m:
                break
            opts = {**params, "n_components": m, "random_state": 0}
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    gmm = fit_weighted_gmm(Xc, wc, **opts)
            except ValueError:
                break
            bic = -2.0 * gmm.lower_bound_ * n + n_parameters(gmm) * np.log(n)
            if bic < best_bic:
                best, best_bic = m, bic
        counts.append(best)
    return tuple(counts)


def _fit_counts(X, w, y, counts, params, class_names):
    groups = groups_from_counts(counts)
    options = {**params, "n_components": groups.size}
    with single_threaded_blas(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return run_em(
            lambda: fit_guided_gmm(X, w, y, groups, class_names=class_names, **options),
            groups.size,
        )


def iter_segment_guided(image, n_components, scribbles, class_names, per_class, opts):
    """Generator: the guided counterpart of ``iter_segment`` for one image in memory."""
    from ..pipeline._outputs import make_result
    from ._apply import iter_apply_classes

    start = time.perf_counter()
    _refuse_unsupported(image, n_components, opts)
    data = pixel_data(image, opts["channel_axis"])
    rows, ids, n = check_scribbles(scribbles, data.spatial_shape, n_components)
    params = check_params(n, opts["covariance_type"], opts["tol"], opts["max_iter"],
                          opts["n_init"], opts["init_params"], opts["reg_covar"],
                          opts["random_state"])
    per_class = check_components_per_class(per_class, n)
    names = None if class_names is None else check_class_names(class_names, n)
    smoothing = check_smoothing(opts["smoothing"])
    scale = check_scale(opts["scale"], len(data.spatial_shape))
    rows, ids = _drop_invalid(rows, ids, data.valid)
    yield 0.05, "reading pixels"
    compressed = compress_if_integer(data, check_int("max_distinct", opts["max_distinct"],
                                                     minimum=0))
    X, w, y = guided_sample(data, compressed, rows, ids, opts["max_samples"],
                            params["random_state"])
    warn_if_reg_covar_dominates(X, params["reg_covar"], integer=data.is_integer)
    yield 0.15, "fitting mixture (guided by scribbles)"
    gmm = fit_guided(X, w, y, n, per_class, params, names)
    method = "exact (distinct values)" if compressed is not None else (
        "all pixels" if w.max() == 1 else "subsample")
    info = FitInfo(method, X.shape[0])
    yield 0.5, "predicting pixels"
    steps = iter_apply_classes(gmm, data, compressed, smoothing=smoothing, scale=scale,
                               posteriors=bool(opts["return_posteriors"]),
                               scribbles=(rows, ids), random_state=opts["random_state"])
    stage = "spatial regularisation" if smoothing else "predicting"
    pred = yield from rescale(steps, 0.5, 0.49, stage)
    warn_empty_classes(pred.labels, n, names)
    result = make_result(gmm, data, pred, info, start=start, smoothing=smoothing,
                         class_names=names)
    yield 1.0, "done"
    return result


def _refuse_unsupported(image, n_components, opts):
    """Clear errors for the options scribbles do not work with (yet)."""
    if isinstance(n_components, str):
        raise ValueError(
            f"n_components={n_components!r} cannot be combined with scribbles: the scribbles "
            "name the classes. Leave n_components out (it defaults to the largest scribble id) "
            "or give a number; use components_per_class='auto' to choose Gaussians per class."
        )
    if opts.get("bias_field") is not None:
        raise NotImplementedError(
            "bias_field with scribbles is not supported yet: segment with scribbles on an "
            "image corrected first (segment(image, bias_field='polynomial').corrected)."
        )
    if opts.get("smoothing") == "auto":
        raise NotImplementedError(
            "smoothing='auto' with scribbles is not supported yet: give a strength, e.g. 1.0."
        )
    if opts.get("marginals", "mean-field") != "mean-field":
        raise NotImplementedError(
            "marginals='gibbs' with scribbles is not supported yet: use 'mean-field'."
        )


def _drop_invalid(rows, ids, valid):
    """Scribbles on non-finite pixels do not count (warned)."""
    if valid is None:
        return rows, ids
    lost = ~valid[rows]
    if not lost.any():
        return rows, ids
    gone = sorted(set(ids.tolist()) - set(ids[~lost].tolist()))
    warnings.warn(
        f"{int(lost.sum())} scribbled pixel(s) are not finite (NaN/inf) and do not count"
        + (f"; class(es) {gone} are left with no scribble" if gone else "") + ".",
        ScribbleWarning,
        stacklevel=4,
    )
    if lost.all():
        raise ValueError("Every scribbled pixel is non-finite: scribble on valid pixels.")
    return rows[~lost], ids[~lost]


def warn_empty_classes(labels, n, names=None):
    """Warn (:class:`ScribbleWarning`) about classes 1..n that no pixel has."""
    flat = np.asarray(labels).reshape(-1)
    present = np.zeros(n + 1, dtype=bool)
    present[np.unique(flat[:: max(1, flat.size // 65536)])] = True  # cheap: usually enough
    if not present[1:].all():
        present[np.unique(flat)] = True
    empty = [k for k in range(1, n + 1) if not present[k]]
    if empty:
        what = [f"{k} ({names[k - 1]})" if names else str(k) for k in empty]
        warnings.warn(
            f"Class(es) {', '.join(what)} ended with no pixel: the image may hold fewer "
            "distinct classes than n_components. Scribble them, or use fewer classes.",
            ScribbleWarning,
            stacklevel=4,
        )
