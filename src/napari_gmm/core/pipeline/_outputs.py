"""The prediction of a fitted mixture on pixels, and the Segmentation assembled from it."""

from __future__ import annotations

from .._backend import cpu_backend
from .._features import PixelData
from .._predict import Prediction, iter_predict_chunked, mean_log_likelihood, predict_distinct
from .._result import Segmentation, fit_fields
from ..fit._fit import FitInfo
from ..fit._sklearn_private import n_parameters
from ..guided._apply import iter_apply_classes
from ..guided._classes import class_names, is_grouped
from ..potts._hmrf import iter_regularize
from ..progress import rescale


def iter_apply(
    gmm, data: PixelData, compressed, *, smoothing, scale, max_samples, random_state,
    posteriors, reestimate, marginals="mean-field",
):
    """Generator: yields the fraction done in [0, 1]; returns ``(gmm, Prediction)``.

    With ``smoothing > 0`` the posteriors are mean-field Potts posteriors; `reestimate`
    then also re-estimates the mixture once from them (HMRF-EM) and orders the new
    components by intensity. Without it the given model and its class order are kept.
    """
    if is_grouped(gmm):  # classes of several Gaussians (core/guided/_apply.py)
        pred = yield from iter_apply_classes(
            gmm, data, compressed, smoothing=smoothing, scale=scale, posteriors=posteriors,
            random_state=random_state,
        )
        return gmm, pred
    if smoothing > 0:
        yield 0.0
        sweeps, stats = [], {}
        steps = iter_regularize(
            gmm, data, compressed, smoothing=smoothing, scale=scale, max_samples=max_samples,
            random_state=random_state, reestimate=reestimate, marginals=marginals,
            sweeps=sweeps, posteriors=posteriors, stats=stats,
            calibrate=True,  # calibrated probabilities (potts/_calibrate.py)
        )
        gmm, labels, prob, q = yield from rescale(steps, 0.0, 0.9)
        yield 0.9
        ll = stats.get("log_likelihood") if compressed is None else None  # integers: table
        if ll is None:
            ll = mean_log_likelihood(gmm, data, compressed)
        return gmm, Prediction(labels, prob, ll, q if posteriors else None, tuple(sweeps),
                               backend=stats.get("backend", ""))
    if compressed is not None:
        return gmm, predict_distinct(gmm, data, compressed, posteriors=posteriors)
    pred = yield from iter_predict_chunked(gmm, data, posteriors=posteriors)
    return gmm, pred


def make_result(
    gmm, data: PixelData, pred: Prediction, info: FitInfo, *, start, bias=None, **extra
):
    """Assemble the :class:`Segmentation` of one image (criteria over every valid pixel).

    With a bias field (`bias`, a :class:`~._bias_fit.BiasResult`; `data` is then the
    corrected pixels), the log-likelihood is that of the observed image (the Jacobian
    ``-C log b`` added) and the field's coefficients count as parameters, so that BIC and
    AIC compare segmentations with and without a field.
    """
    extra.setdefault("class_names", class_names(gmm))
    n = data.n_valid
    ll = pred.log_likelihood
    n_params = n_parameters(gmm)
    if bias is not None:
        ll += bias.log_jacobian
        n_params += bias.n_params
        extra.update(bias_field=bias.field, corrected=bias.corrected)
    return Segmentation(
        labels=data.to_spatial(pred.labels),
        probability=data.to_spatial(pred.probability),
        **fit_fields(gmm, ll, n, n_params, info, start),
        n_sweeps=pred.n_sweeps,
        backend=pred.backend or cpu_backend(),  # the route that ran, not only the setting
        posteriors=None if pred.posteriors is None else data.to_spatial(pred.posteriors),
        **extra,
    )

