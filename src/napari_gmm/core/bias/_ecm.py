"""A smooth multiplicative bias field estimated jointly with the mixture (ECM).

Model: the observed pixel ``y_i`` (a vector of C channels) is a clean pixel ``x_i`` times a
smooth positive field ``b_i`` shared by the channels, ``y_i = b_i x_i``, and the clean
pixels follow the Gaussian mixture. The log-likelihood of the observed image is then

    sum_i [ log sum_k pi_k N(y_i / b_i | mu_k, Sigma_k) - C log b_i ],

the last term being the Jacobian of ``x = y / b``. It is maximised over the mixture and
the field by expectation / conditional maximisation (ECM, Meng & Rubin 1993), as FSL FAST
and ANTs Atropos estimate a bias field inside EM, on a seeded sample of pixels (the cost
per round does not grow with the image):

1. E-step: posteriors ``q_ik`` of the corrected sample ``z_i = y_i / b_i``;
2. CM-step of the mixture: the weighted M-step on ``z`` (:func:`._spatial.update_mixture`);
3. CM-step of the field: with ``u = 1 / b`` a polynomial (:mod:`._bias_basis`), the
   expected complete log-likelihood is ``-sum_i [a_i u_i^2 / 2 - m_i u_i - C log u_i]``
   with ``a_i = sum_k q_ik y_i' P_k y_i`` and ``m_i = sum_k q_ik y_i' P_k mu_k``
   (``P_k`` the precisions): concave in the coefficients, maximised by damped Newton
   steps; the log barrier keeps the field positive;
4. the field is normalised to mean 1 and the mixture rescaled with it (the likelihood does
   not change: a field and a mixture can trade a constant factor).

Rounds stop when the field changes by less than ``TOL`` at every sampled pixel. ECM only
finds a local maximum, and the start matters when the shading moves a class across the
intensity of another, so two starts run and the higher likelihood wins: the field 1 (the
plain fit) and the field of a few rounds of a ratio estimate (the weighted least-squares
fit of ``y_i sum_k q_ik mu_k' P_k / sum_k q_ik mu_k' P_k mu_k``, which weighs bright
classes most and pulls dark regions into place faster); multichannel images with full or
tied covariances get a third, from a diagonal-covariance mixture (see `estimate_bias`).
With a fixed mixture (``apply_model``) the starts are the field 1, the best constant gain,
and the shape of the field estimated with a mixture of the image's own, scaled to the
fixed mixture; the field is then not normalised.

Pixels that are <= 0 in every channel say nothing about a multiplicative gain and are left
out of the field fit (they are still corrected and segmented); the field is defined on
every pixel, non-finite ones included, and clipped to the range it takes on the fitted
pixels. The field must vary more slowly than the classes: when single regions are a
sizeable fraction of the image, a field of high order can explain part of the class layout.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from ..fit._fit import single_threaded_blas
from ..potts._mstep import update_mixture
from ._steps import (
    as_type,
    class_precisions,
    newton_inverse_field,
    posteriors,
    ratio_field,
    rescale,
)

#: Values of ``bias_field=`` (None: off).
BIAS_FIELDS = ("polynomial",)
#: Default and largest total degree of the polynomial.
DEFAULT_ORDER = 3
MAX_ORDER = 6
#: Largest number of pixels the field and the mixture are estimated on during the rounds.
BIAS_SAMPLES = 50_000
#: Stop when the field moves by less than this at every sampled pixel (it has mean 1).
TOL = 2e-4
#: Rounds of the ratio start and of the maximum-likelihood rounds.
RATIO_ROUNDS = 30
MAX_ROUNDS = 150
#: Starts of the rounds, in the order they are tried.
STARTS = ("plain", "ratio")


def check_bias_field(bias_field):
    """Validate ``bias_field`` (None or one of :data:`BIAS_FIELDS`)."""
    if bias_field is None or (isinstance(bias_field, str) and bias_field in BIAS_FIELDS):
        return bias_field
    raise ValueError(
        f"bias_field must be None (off) or {' or '.join(map(repr, BIAS_FIELDS))}, got "
        f"{bias_field!r}. Use bias_field='polynomial' to correct uneven illumination (a "
        "smooth multiplicative field estimated with the mixture)."
    )


def check_bias_order(order) -> int:
    """Validate ``bias_order``: the total degree of the polynomial field, 1..MAX_ORDER."""
    hint = f" It is the total degree of the polynomial field; {DEFAULT_ORDER} suits most shading."
    order = check_int("bias_order", order, minimum=1, hint=hint)
    if order > MAX_ORDER:
        raise ValueError(f"bias_order must be an int in 1..{MAX_ORDER}, got {order}.{hint}")
    return order


def n_terms(ndim: int, order: int) -> int:
    """Coefficients of a polynomial of total degree `order` in `ndim` variables."""
    return math.comb(order + ndim, ndim)


@dataclass(frozen=True, eq=False)
class BiasEstimate:
    """Result of :func:`estimate_bias`: the mixture and one inverse field per block."""

    gmm: object  # GaussianMixture of the corrected values
    coefs: tuple  # per block: coefficients of u = 1 / b in the basis
    u_ranges: tuple  # per block: (min, max) of u on the sampled pixels
    log_likelihood: float  # mean log-likelihood per sampled pixel, Jacobian included
    n_rounds: int
    start: str


def _rounds(gmm, blocks, fields, *, stage, fit_mixture, normalise, max_rounds):
    """ECM rounds from the sampled `fields`; returns ``(gmm, fields, coefs, n_rounds)``."""
    sizes = np.cumsum([len(b.values) for b in blocks])[:-1]
    coefs = [np.eye(1, b.design.shape[1])[0] / float(np.mean(f)) for b, f in zip(
        blocks, fields, strict=True)]
    n_rounds = 0
    for n_rounds in range(1, max_rounds + 1):
        z = np.concatenate([b.values / f[:, None] for b, f in zip(blocks, fields, strict=True)])
        q, _ = posteriors(gmm, z)
        if fit_mixture:
            update_mixture(gmm, z, q)
        prec = class_precisions(gmm)
        new_fields = []
        for j, (block, qb) in enumerate(zip(blocks, np.split(q, sizes), strict=True)):
            if stage == "ratio":
                new_fields.append(ratio_field(block, qb, gmm, prec))
            else:
                steps = 25 if n_rounds == 1 else 4
                coefs[j] = newton_inverse_field(block, qb, gmm, prec, coefs[j], steps)
                new_fields.append(1.0 / (block.design @ coefs[j]))
        if normalise:
            s = float(np.mean(np.concatenate(new_fields)))
            new_fields = [f / s for f in new_fields]
            coefs = [c * s for c in coefs]
            rescale(gmm, s)
        change = max(float(np.max(np.abs(n - o))) for n, o in zip(new_fields, fields, strict=True))
        fields = new_fields
        if change < TOL:
            break
    return gmm, fields, coefs, n_rounds


def _sample_log_likelihood(gmm, blocks, coefs) -> float:
    """Mean log-likelihood of the observed sampled pixels (Jacobian included)."""
    total, n = 0.0, 0
    for block, coef in zip(blocks, coefs, strict=True):
        u = block.design @ coef
        _, lse = posteriors(gmm, block.values * u[:, None])
        total += float(np.sum(lse + block.values.shape[1] * np.log(u)))
        n += len(u)
    return total / n


def estimate_bias(
    gmm, blocks, *, fit_mixture=True, normalise=True, diagonal=None, free=None
) -> BiasEstimate:
    """Estimate one field per block (and, with `fit_mixture`, the shared mixture).

    Parameters
    ----------
    gmm : GaussianMixture
        Starting mixture (fitted on the uncorrected pixels); not modified.
    blocks : list of Block
        The sampled pixels of each image (one block per frame for a shared series).
    fit_mixture : bool, default True
        Re-estimate the mixture between the field steps (False: the mixture is fixed, as
        in ``apply_model``; the field then also takes up a global gain).
    normalise : bool, default True
        Keep the fields at mean 1 over all sampled pixels (rescaling the mixture).
    diagonal : GaussianMixture, optional
        A diagonal-covariance mixture fitted on the same pixels, for one more start: its
        rounds run with diagonal covariances, then continue with `gmm`'s type. Used for
        multichannel images with full or tied covariances, which can follow the direction
        along which the shading moves every class (towards and away from the origin) and
        merge classes in the plain fit.
    free : GaussianMixture, optional
        With a fixed mixture: a mixture fitted on the uncorrected pixels, for one more
        start: the estimate with that mixture free (every start, as for a segmentation)
        gives the field's shape, the fixed mixture its scale (a grid search), then rounds
        run with the fixed mixture. The fixed mixture itself is a poor start when the
        shading moves classes across each other's intensities.

    Returns
    -------
    BiasEstimate
        Of the start with the highest likelihood (see the module docstring).
    """
    # a fixed mixture: the field 1, the best gain, and the field's shape from `free`
    runs = [(start, gmm, None) for start in (STARTS if fit_mixture else ("plain", "gain"))]
    if free is not None and not fit_mixture:
        # the field's shape with a mixture of its own (every start), its scale from `gmm`
        own = estimate_bias(free, blocks, diagonal=diagonal)
        shape = [1.0 / (b.design @ c) for b, c in zip(blocks, own.coefs, strict=True)]
        runs.append(("free", gmm, shape))
    if diagonal is not None and fit_mixture:
        runs.append(("diagonal", diagonal, None))
    best = None
    with single_threaded_blas():  # tall, thin products: one BLAS thread is fastest
        for start, first, fields in runs:
            est = _run(start, first, gmm, blocks, fields, fit_mixture=fit_mixture,
                       normalise=normalise)
            if best is None or est.log_likelihood > best.log_likelihood:
                best = est
    return best


def _run(start, first, like, blocks, fields, *, fit_mixture, normalise) -> BiasEstimate:
    """The rounds from one start: :data:`STARTS`, 'gain' and 'free' (a fixed mixture, from
    the field 1 or from `fields` times the best gain), 'diagonal' (from a diagonal model)."""
    opts = {"fit_mixture": fit_mixture, "normalise": normalise}
    model = copy.deepcopy(first)
    if fields is None:
        fields = [np.ones(len(b.values)) for b in blocks]
    n_rounds = 0
    if start in ("gain", "free"):
        gain = _best_gain(model, blocks, fields)
        fields = [f * gain for f in fields]
    if start == "ratio":
        model, fields, _, n_rounds = _rounds(
            model, blocks, fields, stage="ratio", max_rounds=RATIO_ROUNDS, **opts
        )
    model, fields, coefs, more = _rounds(
        model, blocks, fields, stage="ml", max_rounds=MAX_ROUNDS, **opts
    )
    n_rounds += more
    if start == "diagonal":  # continue with the covariance type asked for
        model, fields, coefs, more = _rounds(
            as_type(model, like), blocks, fields, stage="ml", max_rounds=MAX_ROUNDS, **opts
        )
        n_rounds += more
    ll = _sample_log_likelihood(model, blocks, coefs)
    ranges = tuple((float(np.min(1 / f)), float(np.max(1 / f))) for f in fields)
    return BiasEstimate(model, tuple(coefs), ranges, ll, n_rounds, start)


def _best_gain(gmm, blocks, fields) -> float:
    """The factor (1/4..4) of the fields under which the fixed mixture fits best."""
    z = np.concatenate([b.values / f[:, None] for b, f in zip(blocks, fields, strict=True)])
    gains = np.geomspace(0.25, 4.0, 49)
    scores = [float(np.mean(posteriors(gmm, z / g)[1])) - z.shape[1] * np.log(g) for g in gains]
    return float(gains[int(np.argmax(scores))])


def field_on_grid(basis, coef, u_range) -> np.ndarray:
    """The field ``1 / u`` on every pixel, float32 (u clipped to its range on the sample)."""
    u = basis.evaluate(coef)
    np.clip(u, u_range[0], u_range[1], out=u)
    return (1.0 / u).astype(np.float32)
