"""segment / apply_model for dask arrays: eager fit by reductions, lazy per-voxel results.

Reached through :func:`napari_gmm.segment` and :func:`napari_gmm.apply_model` when the
image is a dask array. What is read when:

- fit (eager, inside the call): one pass over the blocks (the summed histogram of an
  integer image, or a seeded sample of a float image), never the whole image in memory;
- smoothing adds one pass computing the HMRF M-step statistics (``sum q``, ``sum q x``,
  ``sum q x x^T`` per class over every voxel: the in-memory path uses a random subsample
  of at most ``max_samples`` voxels, so on large images the re-estimated mixture is the
  all-voxel one and results agree with the in-memory ones to round-off on small images);
- ``log_likelihood`` / ``bic`` / ``aic``: free for integer images (from the histogram),
  one more reduction pass for float images;
- ``labels``, ``probability`` (and ``posteriors``): lazy dask arrays with the input's spatial
  chunks; nothing is computed until they are (``.compute()``, ``dask.compute``, ``to_zarr``).
"""

from __future__ import annotations

import copy
import time

import numpy as np

from .._backend import cpu_backend
from .._result import Segmentation, fit_fields
from .._validation import check_smoothing_ndim
from ..fit._fit import (
    FitInfo,
    component_order,
    fit_on_distinct,
    fit_on_pixels,
    order_components,
    subsample_rows,
)
from ..fit._sklearn_private import compute_precision_cholesky, n_parameters, set_parameters
from ..progress import rescale
from ._apply import lazy_outputs, lazy_stats
from ._bias import lazy_fit_with_bias, with_bias
from ._blockwise import sum_in_groups
from ._cache import PosteriorCache
from ._calibrate import lazy_temperature
from ._fit import (
    _sum_parts,
    lazy_pixels,
    lazy_sample,
    lazy_score,
    sample_pixel_data,
)
from ._incore import iter_segment_in_core, runs_in_core
from ._pilot import pilot_sweeps
from ._select import _seed, lazy_compressed
from ._strength import iter_lazy_smoothing


def _compute(*delayed_values):
    import dask

    return dask.compute(*delayed_values)


def lazy_fit(pixels, params: dict, *, max_samples: int, max_distinct: int):
    """Fit the mixture of a dask image: ``(gmm, FitInfo, Compressed or None, n_valid)``."""
    compressed = lazy_compressed(pixels, max_distinct)
    if compressed is not None:
        gmm, info = fit_on_distinct(compressed, params)
        return gmm, info, compressed, compressed.n_pixels
    seed = _seed(params.get("random_state"))
    ((sample, n_valid),) = _compute(lazy_sample(pixels, max_samples, seed))
    gmm, info = fit_on_pixels(sample_pixel_data(sample), params, max_samples=max_samples)
    method = "all pixels" if max_samples >= pixels.n_pixels else "subsample"
    return gmm, FitInfo(method, info.n_fit_samples), None, n_valid


def mstep_rows(pixels, n_valid: int, max_samples: int, random_state):
    """Flat indices of the voxels of the HMRF M-step: the in-memory path's subsample.

    In memory the M-step runs on a seeded subsample of at most `max_samples` valid voxels
    (:func:`~._spatial.hmrf_em`). When every voxel is valid the same indices are drawn here,
    so the re-estimated mixture is the in-memory one; with non-finite voxels (whose ranks
    among the valid ones would need one more pass) every valid voxel is used (None).
    """
    if n_valid <= max_samples or n_valid != pixels.n_pixels:
        return None
    seed = _seed(random_state)
    return subsample_rows(n_valid, max_samples, seed)


def score(pixels, gmm, compressed) -> tuple[float, int]:
    """Mean log-likelihood per valid voxel and the number of valid voxels."""
    if compressed is not None:
        from .._features import PixelData
        from .._predict import mean_log_likelihood

        stub = PixelData(np.empty((0, 1)), (0,), None, compressed.n_pixels)
        return mean_log_likelihood(gmm, stub, compressed), compressed.n_pixels
    (total,) = _compute(lazy_score(pixels, gmm))
    n_valid = int(total[1])
    if n_valid == 0:
        raise ValueError(
            f"All {pixels.n_pixels} pixels of the image are non-finite (NaN or inf), so "
            "there is nothing to segment. Check the image or replace invalid values first."
        )
    return float(total[0] / n_valid), n_valid


def m_step_from_stats(gmm, stats, n_valid: int):
    """Re-estimated copy of `gmm` from summed ``(nk, S1, S2)`` (see ``_stats_block``).

    The same estimates as scikit-learn's M-step on every voxel with the Potts posteriors as
    responsibilities; a class the prior has emptied keeps its shape with ~zero weight, as in
    :func:`~._spatial.hmrf_em`.
    """
    nk_raw, s1, s2 = stats
    eps = 10 * np.finfo(np.float64).eps
    nk = nk_raw + eps
    safe = np.where(nk_raw > 0, nk_raw, 1.0)
    means = gmm.means_ + s1 / nk[:, None]
    scatter = s2 - np.einsum("kc,kd->kcd", s1, s1) / safe[:, None, None]  # sum q (x-mu)(x-mu)^T
    reg = gmm.reg_covar
    n_features = means.shape[1]
    full = scatter / nk[:, None, None]
    kind = gmm.covariance_type
    if kind == "full":
        covs = full + reg * np.eye(n_features)
    elif kind == "tied":
        covs = scatter.sum(axis=0) / nk.sum() + reg * np.eye(n_features)
    elif kind == "diag":
        covs = np.einsum("kcc->kc", full) + reg
    else:
        covs = (np.einsum("kcc->kc", full) + reg).mean(axis=1)
    weights = nk / nk.sum()
    new = copy.deepcopy(gmm)
    prec = compute_precision_cholesky(covs, kind)
    empty = weights * n_valid < 1.0
    if empty.any():
        means[empty] = gmm.means_[empty]
        if kind != "tied":
            covs[empty] = gmm.covariances_[empty]
            prec[empty] = gmm.precisions_cholesky_[empty]
    set_parameters(new, (weights, means, covs, prec))
    return new


def make_lazy_result(gmm, pixels, outputs, ll, n_valid, info, *, start, **extra):
    """The :class:`Segmentation` of a dask image (lazy arrays, eager scalars)."""
    labels, probability, posteriors = outputs
    return Segmentation(
        labels=labels,
        probability=probability,
        **fit_fields(gmm, ll, n_valid, n_parameters(gmm), info, start),
        posteriors=posteriors,
        backend=block_backend(gmm, pixels.spatial_shape, extra.get("smoothing", 0.0)),
        **extra,
    )


def block_backend(gmm, spatial_shape, smoothing) -> str:
    """Where the blocks of a dask image run: smoothing's halo blocks on the GPU under the
    'cupy' backend (:func:`._fused_blocks.gpu_blocks`), everything else on the CPU kernels."""
    from ._fused_blocks import gpu_blocks

    if smoothing > 0 and gpu_blocks(spatial_shape, *gmm.means_.shape):
        return "cupy"
    return cpu_backend()


def check_lazy_smoothing(smoothing, marginals) -> None:
    """Refuse what the blockwise path does not do (rather than silently do something else)."""
    if marginals != "mean-field":
        raise ValueError(
            f"marginals={marginals!r} is not available for dask arrays yet (Gibbs sampling "
            "across blocks); use marginals='mean-field', or segment a numpy array."
        )


def check_lazy_bias(bias_field) -> None:
    """Refuse a bias field on dask arrays, saying what to do instead."""
    if bias_field is not None:
        raise ValueError(
            f"bias_field={bias_field!r} is not available for dask arrays: the field is fitted "
            "jointly with the mixture on the whole image. Segment a numpy array (e.g. a "
            "downsampled level, np.asarray(image[::4, ::4])) with bias_field, then divide "
            "the dask image by its seg.bias_field brought to full size (scipy.ndimage.zoom, "
            "it is smooth) and segment the corrected dask image without bias_field."
        )


def lazy_hmrf(pixels, gmm, n_valid, *, smoothing, scale, max_samples, max_distinct,
              random_state):
    """HMRF-EM of a dask image: ``(re-estimated mixture in label order, models of the
    output pass, class order or None, posterior cache or None, sweeps per round)``.

    Each round runs the sweeps the in-memory path runs (:mod:`._pilot`); the first round's
    halo blocks give the M-step statistics (and fill the cache).
    """
    # on the GPU, as in memory there, the M-step sums every valid voxel
    on_gpu = block_backend(gmm, pixels.spatial_shape, smoothing) == "cupy"
    rows = None if on_gpu else mstep_rows(pixels, n_valid, max_samples, random_state)
    cache = PosteriorCache.allocate(pixels.spatial_shape, gmm.n_components, pixels.array)
    opts = {"smoothing": smoothing, "scale": scale, "max_distinct": max_distinct}
    kept = []  # the counted boxes' labels after the first round, for the second's pilot
    first = pilot_sweeps(pixels, [gmm], keep=kept, **opts)
    stats = lazy_stats(pixels, gmm, sweeps=first, rows=rows, cache=cache, **opts)
    new = m_step_from_stats(gmm, sum_in_groups(stats, _sum_parts),
                            n_valid if rows is None else rows.size)
    order = component_order(new)
    models = [gmm, copy.deepcopy(new)]
    second = pilot_sweeps(pixels, models, [first], cache=cache, labels=kept, **opts)
    order = None if np.array_equal(order, np.arange(order.size)) else order
    return order_components(new), models, order, cache, [first, second]


def iter_segment_lazy(image, n_components, **options):
    """:func:`~._segment.iter_segment` for a dask image (same options, same steps)."""
    from .._options import Options
    from ..potts._hmrf import check_scale

    start = time.perf_counter()
    checked = Options.from_kwargs(**options).checked()  # every option, checked once
    opts = checked.as_dict()
    if runs_in_core(image, n_components, opts):  # smoothing that fits in memory (_incore.py)
        return (yield from iter_segment_in_core(image, n_components, options, checked, start))
    selection = None
    if isinstance(n_components, str) and n_components == "auto":  # core/lazy/_select.py
        from ._auto import iter_lazy_auto

        selection = yield from iter_lazy_auto(image, opts, bias_field=checked.bias_field,
                                              segment_lazy=iter_segment_lazy)
        n_components = selection.best
    elif isinstance(n_components, str):
        raise ValueError(
            f"n_components must be an int >= 1 or 'auto', got {n_components!r}. Use e.g. "
            "n_components=3, or 'auto' to choose it by ICL."
        )
    params = checked.gmm_params(n_components)
    max_samples, max_distinct = checked.max_samples, checked.max_distinct
    smoothing = checked.smoothing
    check_lazy_smoothing(smoothing, checked.marginals)
    bias_field, bias_order = checked.bias_field, checked.bias_order
    pixels = lazy_pixels(image, opts["channel_axis"])
    scale = check_scale(opts["scale"], len(pixels.spatial_shape))
    check_smoothing_ndim(smoothing, len(pixels.spatial_shape))
    want_post = checked.return_posteriors
    yield 0.05, "reading pixels"
    gmm, info, compressed, n_valid = lazy_fit(
        pixels, params, max_samples=max_samples, max_distinct=max_distinct
    )
    yield 0.5, "fitting mixture"
    bias = None
    if bias_field is not None:  # fitted on a sample, applied lazily (core/lazy/_bias.py)
        gmm, info, bias = yield from rescale(lazy_fit_with_bias(
            gmm, image, pixels, params, order=bias_order, max_samples=max_samples,
            channel_axis=opts["channel_axis"]), 0.2, 0.3, "estimating the bias field")
        pixels, compressed, n_valid = bias.pixels, None, bias.n_valid
    mixels = None
    if isinstance(smoothing, str):  # 'auto' or 'held-out': on central blocks (_strength.py)
        smoothing, mixels = yield from iter_lazy_smoothing(
            pixels, gmm, smoothing, scale=scale, max_samples=max_samples,
            random_state=params["random_state"])
    models, order, cache, sweeps = [gmm], None, None, []
    if smoothing > 0:
        yield 0.55, "spatial regularisation"
        gmm, models, order, cache, sweeps = lazy_hmrf(
            pixels, gmm, n_valid, smoothing=smoothing, scale=scale, max_samples=max_samples,
            max_distinct=max_distinct, random_state=params["random_state"])
    yield 0.8, "scoring"
    ll, n_valid = score(pixels, gmm, compressed)
    temperature = 1.0 if smoothing <= 0 else lazy_temperature(
        pixels, models, order, gmm, smoothing=smoothing, scale=scale, sweeps=sweeps,
        max_distinct=max_distinct, random_state=params["random_state"],
    )
    outputs = lazy_outputs(
        pixels, models, order=order, smoothing=smoothing, scale=scale, sweeps=sweeps,
        max_distinct=max_distinct, want_post=want_post, cache=cache, temperature=temperature,
        mixels=mixels,
    )
    result = make_lazy_result(
        gmm, pixels, outputs, ll, n_valid, info, start=start, smoothing=smoothing,
        selection=selection, n_sweeps=tuple(sweeps), mixels=mixels,
    )
    if bias is not None:
        result = with_bias(result, bias)
    yield 1.0, "done"
    return result
