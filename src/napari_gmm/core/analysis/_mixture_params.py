"""The mixture parameters of a density map, checked and factorised once (inverse Cholesky)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest accepted ``|sum(weights) - 1|``.
WEIGHT_SUM_TOL = 1e-6
_SHAPES = {"full": "(K, d, d)", "tied": "(d, d)", "diag": "(K, d)", "spherical": "(K,)"}
_HINT = "Pass e.g. the weights_, means_ and covariances_ of a fitted GaussianMixture."


@dataclass(frozen=True, eq=False)
class Mixture:
    """Validated parameters of the components with a positive weight, ready to evaluate."""

    inv_chol: np.ndarray  # (K, d, d) inverse Cholesky factors L_k^-1 (lower triangular)
    shift: np.ndarray  # (K, d) L_k^-1 (mean_k - center)
    log_norm: np.ndarray  # (K,) log w_k - d/2 log(2 pi) - log det L_k
    center: np.ndarray  # (d,) weighted mean of the means
    tied: bool  # expanded features [y, |y|**2] instead of [z, z**2]
    coef: np.ndarray | None  # (K, n_features + 1) expansion, constant last; None: whitened


def _real(name: str, value) -> np.ndarray:
    """`value` as a new finite float64 array (TypeError for non-real dtypes)."""
    arr = np.asarray(value)
    if arr.dtype.kind == "c":
        raise TypeError(
            f"{name} has complex dtype {arr.dtype}; mixture parameters must be real numbers. "
            f"Pass np.real({name}) if the imaginary part is zero."
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}. {_HINT}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; every value must be finite. {_HINT}")
    return arr


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of (K, d, d) symmetric positive definite matrices."""
    for k, c in enumerate(cov):
        asym = np.abs(c - c.T).max()
        if asym > 1e-10 * np.abs(c).max():
            raise ValueError(
                f"Covariance {k} is not symmetric (max |C - C.T| = {asym:.3g}); covariances "
                "must be symmetric positive definite. Symmetrise it: (C + C.T) / 2."
            )
        try:
            np.linalg.cholesky(c)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"Covariance {k} is not positive definite (smallest eigenvalue "
                f"{np.linalg.eigvalsh(c)[0]:.3g}). Add a small ridge as GaussianMixture's "
                f"reg_covar does, e.g. covariances + 1e-6 * np.eye({c.shape[0]})."
            ) from None
    return np.linalg.cholesky(cov)


def check_mixture(weights, means, covariances, covariance_type: str, d: int) -> Mixture:
    """Validate the parameters against an image with `d` channels."""
    if not isinstance(covariance_type, str) or covariance_type not in _SHAPES:
        raise ValueError(
            f"covariance_type must be one of 'full', 'tied', 'diag', 'spherical'; got "
            f"{covariance_type!r}. Use the one the covariances were estimated with."
        )
    w = _real("weights", weights)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D array; got shape {w.shape}. {_HINT}")
    if w.min() < 0 or abs(w.sum() - 1.0) > WEIGHT_SUM_TOL:
        raise ValueError(
            f"weights must be non-negative and sum to 1 (within {WEIGHT_SUM_TOL:g}); got "
            f"minimum {w.min():.6g} and sum {w.sum():.9g}. Normalise them first, e.g. "
            "weights = np.clip(weights, 0, None); weights /= weights.sum()."
        )
    n, mu = w.size, _real("means", means)
    mu = mu[:, None] if mu.ndim == 1 and d == 1 else mu
    if mu.shape != (n, d):
        raise ValueError(
            f"means must have shape (n_components, n_channels) = ({n}, {d}) for {n} weights "
            f"and {d} channel(s); got shape {mu.shape}. Check channel_axis (None for gray "
            "images, e.g. -1 for RGB) and that the parameters belong together."
        )
    cov = _real("covariances", covariances)
    expected = {"full": (n, d, d), "tied": (d, d), "diag": (n, d), "spherical": (n,)}
    if d == 1 and cov.size == np.prod(expected[covariance_type]):  # gray: shape is free
        cov = cov.reshape(expected[covariance_type])
    if cov.shape != expected[covariance_type]:
        raise ValueError(
            f"covariances must have shape {_SHAPES[covariance_type]} = "
            f"{expected[covariance_type]} for covariance_type={covariance_type!r} (K = {n} "
            f"components, d = {d} channels); got {cov.shape}. Pass the covariances_ of a "
            "GaussianMixture fitted with the same covariance_type."
        )
    if covariance_type in ("diag", "spherical"):
        if cov.min() <= 0:
            raise ValueError(f"Variances must be > 0, got {cov.min():.6g}. Add e.g. 1e-6 to them.")
        var = np.broadcast_to(cov.reshape(n, -1), (n, d))
        chol_diag, inv = np.sqrt(var), (1.0 / np.sqrt(var))[:, :, None] * np.eye(d)
    else:
        chol = np.broadcast_to(_cholesky(cov.reshape(-1, d, d)), (n, d, d))
        chol_diag, inv = np.diagonal(chol, axis1=1, axis2=2), np.linalg.inv(chol)
    keep = w > 0  # components of weight 0 add nothing
    w, mu, inv = w[keep], mu[keep], inv[keep]
    log_norm = np.log(w) - 0.5 * d * np.log(2 * np.pi) - np.log(chol_diag[keep]).sum(axis=1)
    center = w @ mu / w.sum()
    shift = np.einsum("kij,kj->ki", inv, mu - center)
    if covariance_type == "full":
        return Mixture(inv, shift, log_norm, center, False, None)
    if tied := covariance_type == "tied":  # features [y, |y|**2, 1], y = L^-1 z
        const = log_norm - 0.5 * (shift**2).sum(axis=1)
        coef = np.column_stack([shift, np.full(w.size, -0.5), const])
    else:  # features [z, z**2, 1]
        prec = 1.0 / var[keep]
        const = log_norm - 0.5 * ((mu - center) ** 2 * prec).sum(axis=1)
        coef = np.column_stack([(mu - center) * prec, -0.5 * prec, const])
    return Mixture(inv, shift, log_norm, center, tied, coef)

