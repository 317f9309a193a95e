"""The steps of the bias-field rounds (:mod:`._bias`): sampled pixels, E-step, field steps.

Every function works on a :class:`Block`, the sampled pixels of one image and the field's
basis there, so that the cost of a round depends on the sample, not on the image.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .._features import PixelData
from ..fit._sklearn_private import compute_precision_cholesky, set_parameters, weighted_log_prob
from ._ridge import ridge_matrix, ridge_weights

#: Lowest value of the ratio start's field (its polynomial is not positive by construction).
RATIO_FLOOR = 0.05


@dataclass(eq=False)
class Block:
    """The sampled pixels of one image (a frame of a series) and the field basis there."""

    values: np.ndarray  # (n, C) float64 observed values
    design: np.ndarray  # (n, n_terms) basis at those pixels
    keep: np.ndarray  # (n,) bool: used by the field fit (not <= 0 in every channel)
    penalty: np.ndarray | None = None  # (n_terms,) ridge weights (see ._ridge)


def make_block(features: np.ndarray, rows: np.ndarray, basis) -> Block:
    """A :class:`Block` of the pixels `rows` (flat indices) of a (n_pixels, C) table."""
    values = np.asarray(features[rows], dtype=np.float64)
    keep = (values > 0).any(axis=1)
    n_keep = int(keep.sum())
    if n_keep < 2 * basis.n_terms:
        raise ValueError(
            f"A bias field of order {basis.order} has {basis.n_terms} coefficients, but only "
            f"{n_keep} of the {len(rows)} sampled valid pixels are > 0 (it needs at least "
            f"{2 * basis.n_terms}). Lower bias_order, pass a larger image, or use "
            "bias_field=None."
        )
    return Block(values, basis.design(rows), keep, ridge_weights(basis))


def class_precisions(gmm) -> np.ndarray:
    """The precision matrices of every component, (K, C, C), whatever the covariance type."""
    k, c = gmm.means_.shape
    prec = np.asarray(gmm.precisions_)
    kind = gmm.covariance_type
    if kind == "full":
        return prec
    if kind == "tied":
        return np.broadcast_to(prec, (k, c, c))
    if kind == "diag":
        return prec[:, :, None] * np.eye(c)
    return prec[:, None, None] * np.eye(c)


def posteriors(gmm, z: np.ndarray):
    """Posteriors (n, K) and log-likelihoods (n,) of the rows `z`."""
    wlp = weighted_log_prob(gmm, z)
    top = wlp.max(axis=1, keepdims=True)
    q = np.exp(wlp - top)
    total = q.sum(axis=1, keepdims=True)
    q /= total
    return q, (top + np.log(total))[:, 0]


def rescale(gmm, s: float) -> None:
    """The mixture of values multiplied by `s` (means x s, covariances x s^2), in place."""
    set_parameters(gmm, (gmm.weights_, gmm.means_ * s, gmm.covariances_ * (s * s),
                         gmm.precisions_cholesky_ / s))


def ratio_field(block: Block, q, gmm, prec) -> np.ndarray:
    """Ratio start: weighted least squares of ``y mu'P / mu'P mu`` on the basis (> 0)."""
    pm = np.stack([p @ mu for p, mu in zip(prec, gmm.means_, strict=True)])  # P_k mu_k
    a = q @ np.einsum("kc,kc->k", pm, gmm.means_)  # sum_k q mu'P mu
    b = np.sum(q * (block.values @ pm.T), axis=1)  # sum_k q mu'P y
    w = np.where(block.keep, a, 0.0)
    target = np.divide(b, a, out=np.ones_like(a), where=a > 0)
    g = gram(block.design, w)
    coef = solve(g + ridge_matrix(block.penalty, g), block.design.T @ (w * target))
    return np.maximum(block.design @ coef, RATIO_FLOOR)


def gram(design: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``D' diag(w) D``, with a tiny ridge so that a rank-deficient basis still solves."""
    gram = (design * w[:, None]).T @ design
    gram[np.diag_indices_from(gram)] += 1e-12 * np.trace(gram) + 1e-300
    return gram


def solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def newton_inverse_field(block: Block, q, gmm, prec, coef, steps: int) -> np.ndarray:
    """CM-step of the field: damped Newton on ``u = D c`` (concave objective, log barrier)."""
    y = block.values
    a = np.zeros(len(y))
    m = np.zeros(len(y))
    for k, (p, mu) in enumerate(zip(prec, gmm.means_, strict=True)):
        py = y @ p  # P_k y (P_k symmetric)
        a += q[:, k] * np.sum(py * y, axis=1)
        m += q[:, k] * (py @ mu)
    a *= block.keep
    m *= block.keep
    d, c_weight = block.design, y.shape[1] * block.keep
    # ridge on the higher-order coefficients, in units of the data term's curvature
    ridge = np.diag(ridge_matrix(block.penalty, gram(d, a + c_weight / np.maximum(
        d @ coef, 1e-12) ** 2)))

    def objective(u, c):
        return float(np.sum(0.5 * a * u * u - m * u - c_weight * np.log(u))
                     + 0.5 * np.sum(ridge * c * c))

    u = d @ coef
    value = objective(u, coef)
    for _ in range(steps):
        grad = d.T @ (a * u - m - c_weight / u) + ridge * coef
        step = solve(gram(d, a + c_weight / (u * u)) + np.diag(ridge), grad)
        decrement = float(grad @ step)
        if decrement < 1e-12 * max(abs(value), 1.0):
            break
        t = 1.0
        while t > 1e-8:  # backtracking: stay positive and go uphill in likelihood
            new = coef - t * step
            u_new = d @ new
            if np.all(u_new > 0):
                new_value = objective(u_new, new)
                if new_value <= value - 0.25 * t * decrement:
                    break
            t *= 0.5
        else:
            break
        coef, u, value = new, u_new, new_value
    return coef


def as_type(diag, like):
    """A copy of mixture `like` with the parameters of the diagonal mixture `diag`."""
    kind = like.covariance_type
    var = diag.covariances_  # (K, C)
    if kind == "full":
        covs = np.stack([np.diag(v) for v in var])
    elif kind == "tied":
        covs = np.diag(np.average(var, axis=0, weights=diag.weights_))
    elif kind == "diag":
        covs = var.copy()
    else:
        covs = var.mean(axis=1)
    new = copy.deepcopy(like)
    prec = compute_precision_cholesky(covs, kind)
    set_parameters(new, (diag.weights_.copy(), diag.means_.copy(), covs, prec))
    return new


def corrected_data(data: PixelData, field: np.ndarray) -> PixelData:
    """The pixels divided by the field (float32; non-finite pixels stay invalid)."""
    flat = field.reshape(-1, 1).astype(np.float64)
    features = (data.features / flat).astype(np.float32)
    return PixelData(features, data.spatial_shape, data.valid, data.n_valid)


def valid_mean(values: np.ndarray, data: PixelData) -> float:
    """Mean of a per-pixel array over the valid pixels of `data` (float64)."""
    flat = values.reshape(-1)
    return float(np.mean(flat if data.valid is None else flat[data.valid], dtype=np.float64))
