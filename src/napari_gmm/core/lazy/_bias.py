"""The bias field on dask arrays: fitted on a block-drawn sample, applied lazily.

The in-memory fit stage (:mod:`..bias._fit`) estimates the field and the mixture on a seeded
sample of at most :data:`~..bias._ecm.BIAS_SAMPLES` pixels, evaluates the field on the whole
grid, normalises it to mean 1 and refits the mixture on the corrected pixels. On a dask
image the same steps run without the image in memory:

1. the sample is drawn block by block (each valid pixel kept with probability
   ``BIAS_SAMPLES / n_pixels``, seeded by the block's position: any scheduler draws the
   same sample) with its flat indices, where the polynomial basis is evaluated;
2. the ECM rounds of :func:`~._bias.estimate_bias` run on that sample, as in memory;
3. the field is a lazy array, each block evaluating the polynomial on its own box of the
   grid (:func:`field_on_box`: the full grid's values, never the full grid);
4. one reduction gives its mean over the valid pixels (normalisation) and the mean log
   field (the Jacobian term of the log-likelihood);
5. the mixture is refitted on a block-drawn sample of the corrected pixels, warm-started
   from the rounds' mixture (:func:`~._bias_fit.refit`), and the corrected image, a lazy
   array, goes through the rest of the lazy pipeline (smoothing, scoring, outputs).

With smoothing, the field is the per-pixel rounds' one (the in-memory path refines it under
the Potts prior on the whole image, which the blockwise path does not do) and the Potts
prior then acts on the corrected image. Memory: the sample, one block per worker thread,
and the lazy results, as for the other lazy paths.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._features import PixelData
from ..bias._basis import PolynomialBasis
from ..bias._ecm import BIAS_SAMPLES, estimate_bias
from ..bias._fit import _diagonal_start, _seed, refit
from ..bias._ridge import ridge_weights
from ..bias._steps import Block
from ._fit import LazyPixels, lazy_sample, sample_parts, sample_pixel_data


@dataclass(frozen=True, eq=False)
class LazyBias:
    """The field of a dask image: lazy arrays and the scalars the result reports."""

    field: object  # dask, float32, spatial shape, mean 1 over valid pixels
    corrected: object  # dask, float32, the input's shape and axis order
    pixels: LazyPixels  # the corrected pixels, for the rest of the pipeline
    log_jacobian: float  # mean of -C log b over valid pixels
    n_params: int  # free parameters of the field
    n_valid: int


def field_on_box(basis: PolynomialBasis, coef, u_range, box) -> np.ndarray:
    """The field ``1 / u`` (float32) on a box of the grid, `box` one slice per axis.

    The values :func:`~._bias.field_on_grid` gives there: the same Legendre tables, cut to
    the box, contracted in the same order.
    """
    ndim = len(basis.spatial_shape)
    tensor = np.zeros((basis.order + 1,) * ndim)
    for c, term in zip(np.asarray(coef, np.float64), basis.terms, strict=True):
        tensor[term] = c
    tables = [v[s] for v, s in zip(basis._vander, box, strict=True)]
    rest = tensor
    for axis in range(ndim - 1, 0, -1):
        rest = np.moveaxis(np.tensordot(rest, tables[axis], axes=([axis], [1])), -1, axis)
    u = np.tensordot(tables[0], rest, axes=([1], [0]))
    np.clip(u, u_range[0], u_range[1], out=u)
    return (1.0 / u).astype(np.float32)


def _box(block_info) -> tuple:
    return tuple(slice(a, b) for a, b in block_info[None]["array-location"])


def _block_field(basis, coef, u_range, scale, block_info=None):
    return field_on_box(basis, coef, u_range, _box(block_info)) / np.float32(scale)


def _block_corrected(block, basis, coef, u_range, scale, block_info=None):
    """A ``(*spatial, C)`` block divided by the field (float32, as in memory)."""
    box = _box(block_info)[:-1]
    field = field_on_box(basis, coef, u_range, box) / np.float32(scale)
    return (block / field[..., None].astype(np.float64)).astype(np.float32)


def _concat_flat(parts):
    values = np.concatenate([p[0] for p in parts])
    flat = np.concatenate([p[1] for p in parts])
    order = np.argsort(flat, kind="stable")
    return values[order], flat[order], sum(p[2] for p in parts)


def lazy_bias_sample(pixels: LazyPixels, n_samples: int, seed: int):
    """``(values, flat indices, n_valid)``: a seeded sample of valid pixels, block by block."""
    import dask
    from dask import delayed

    parts = sample_parts(pixels, n_samples, seed)
    (result,) = dask.compute(delayed(_concat_flat)(parts))
    return result


def _sample_block(values, flat, basis) -> Block:
    keep = (values > 0).any(axis=1)
    if int(keep.sum()) < 2 * basis.n_terms:
        raise ValueError(
            f"A bias field of order {basis.order} has {basis.n_terms} coefficients, but only "
            f"{int(keep.sum())} of the {len(flat)} sampled valid pixels are > 0 (it needs at "
            f"least {2 * basis.n_terms}). Lower bias_order, or use bias_field=None."
        )
    return Block(values, basis.design(flat), keep, ridge_weights(basis))  # as in memory


def _normalisation(pixels: LazyPixels, field):
    """Mean field and mean log field over the valid pixels, and their number (one pass)."""
    import dask
    import dask.array as da

    if pixels.is_integer:  # every pixel valid: the field alone, no reading
        valid = da.ones(field.shape, dtype=bool, chunks=field.chunks)
    else:
        valid = da.isfinite(pixels.array).all(axis=-1)
    weights = valid.astype(np.float64)
    f64 = field.astype(np.float64)
    total, logs, count = dask.compute(
        (f64 * weights).sum(), (da.log(f64) * weights).sum(), weights.sum()
    )
    count = float(count)
    if count == 0:
        raise ValueError("Every pixel of the image is non-finite: there is nothing to segment.")
    return float(total) / count, float(logs) / count, int(count)


def _corrected_layout(image, corrected_pixels: LazyPixels, channel_axis):
    import dask.array as da

    arr = corrected_pixels.array
    if channel_axis is None:
        return arr[..., 0]
    return da.moveaxis(arr, -1, int(channel_axis) % image.ndim)


def lazy_fit_with_bias(gmm, image, pixels: LazyPixels, params: dict, *, order, max_samples,
                       channel_axis):
    """Fit stage with a bias field on a dask image (generator: yields fractions done).

    Returns ``(gmm, FitInfo, LazyBias)``: the mixture of the corrected pixels (refitted),
    how it was fitted, and the lazy field and corrected image.
    """
    import dask.array as da

    yield 0.0
    seed = _seed(params.get("random_state"))
    basis = PolynomialBasis(pixels.spatial_shape, order)
    values, flat, _ = lazy_bias_sample(pixels, min(max_samples, BIAS_SAMPLES), seed)
    sample = PixelData(values, (len(values),), None, len(values))
    diagonal = _diagonal_start(sample, params, max_samples)
    est = estimate_bias(gmm, [_sample_block(values, flat, basis)], diagonal=diagonal)
    yield 0.5
    coef, u_range = est.coefs[0], est.u_ranges[0]
    chunks = pixels.spatial_chunks
    raw = da.map_blocks(_block_field, basis, coef, u_range, 1.0, chunks=chunks,
                        dtype=np.float32)
    s, mean_log, n_valid = _normalisation(pixels, raw)
    yield 0.7
    field = da.map_blocks(_block_field, basis, coef, u_range, s, chunks=chunks,
                          dtype=np.float32)
    arr = da.map_blocks(_block_corrected, pixels.array, basis, coef, u_range, s,
                        dtype=np.float32)
    corrected = LazyPixels(arr, pixels.spatial_shape)
    values, _ = _compute_sample(corrected, max_samples, seed)
    final, info = refit(est.gmm, sample_pixel_data(values), params, s, max_samples=max_samples,
                        seed=seed)
    jacobian = -pixels.n_features * (mean_log - np.log(s))
    bias = LazyBias(field, _corrected_layout(image, corrected, channel_axis), corrected,
                    float(jacobian), basis.n_terms - 1, n_valid)
    yield 1.0
    return final, info, bias


def _compute_sample(pixels: LazyPixels, max_samples: int, seed: int):
    import dask

    (result,) = dask.compute(lazy_sample(pixels, max_samples, seed))
    return result


def with_bias(result, bias: LazyBias):
    """The lazy :class:`Segmentation` with the field: its Jacobian in the log-likelihood,
    its coefficients in BIC / AIC, and the field and corrected image (lazy)."""
    ll = result.log_likelihood + bias.log_jacobian
    n = result.n_valid
    bic = result.bic - 2.0 * bias.log_jacobian * n + bias.n_params * np.log(n)
    aic = result.aic - 2.0 * bias.log_jacobian * n + 2.0 * bias.n_params
    return dataclasses.replace(result, log_likelihood=float(ll), bic=float(bic), aic=float(aic),
                               bias_field=bias.field, corrected=bias.corrected)
