"""Choose the number of classes by fitting mixtures of several sizes and comparing BIC/AIC."""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.mixture import GaussianMixture

from ._options import MAX_DISTINCT, Options, check_options
from ._validation import MAX_COMPONENTS, UNSET, check_choice, check_int, check_progress
from .fit._fit import MAX_SAMPLES
from .progress import run
from .selection._candidates import Prepared, iter_fits, prepare_candidates
from .selection._init import classification_entropy, quantile_means  # noqa: F401 (re-exported)

CRITERIA = ("bic", "aic", "icl")

#: The numbers of classes tried by default everywhere (``n_components='auto'``,
#: :func:`select_n_components`, the diagnostics widget): a segmentation has at least two
#: classes, so K=1 is tried only when asked for. ICL (see
#: :func:`napari_gmm.select_n_components`) gives the same K for every seed and a plausible K
#: (2-3) on scikit-image's camera, coins, cell and moon, where BIC picks 6-8.
AUTO_CANDIDATES = range(2, 9)
AUTO_CRITERION = "icl"


@dataclass(frozen=True, eq=False)
class Selection:
    """Mixtures of several sizes fitted to one image, with their information criteria.

    Attributes
    ----------
    best : int
        The candidate number of components with the smallest `criterion`.
    criterion : str
        'bic', 'aic' or 'icl'.
    candidates : tuple of int
        The numbers of components that were fitted, ascending.
    bic, aic, log_likelihood : tuple of float
        Per candidate: criteria and mean log-likelihood per sample of the data they were
        computed on (all valid pixels, or the subsample: see `method`).
    converged : tuple of bool
    n_iter : tuple of int
    models : tuple of sklearn.mixture.GaussianMixture
        The fitted mixtures, components in intensity order.
    n_samples : int
        The number of samples n in the criteria.
    method : str
        'exact (distinct values)', 'all pixels' or 'subsample'.
    icl : tuple of float
        Per candidate: the integrated completed likelihood ``bic + 2 * entropy`` (see
        :func:`select_n_components`).
    """

    best: int
    criterion: str
    candidates: tuple[int, ...]
    bic: tuple[float, ...]
    aic: tuple[float, ...]
    log_likelihood: tuple[float, ...]
    converged: tuple[bool, ...]
    n_iter: tuple[int, ...]
    models: tuple[GaussianMixture, ...]
    n_samples: int
    method: str
    icl: tuple[float, ...] = ()

    @property
    def scores(self) -> tuple[float, ...]:
        """The values of the chosen `criterion` per candidate (what `best` minimises)."""
        return getattr(self, self.criterion)

    def to_records(self) -> list[dict]:
        """One dict per candidate (K, bic, aic, icl, log_likelihood, converged, n_iter)."""
        return [
            {
                "K": k,
                "bic": b,
                "aic": a,
                "icl": i,
                "log_likelihood": ll,
                "converged": c,
                "n_iter": it,
            }
            for k, b, a, i, ll, c, it in zip(
                self.candidates,
                self.bic,
                self.aic,
                self.icl,
                self.log_likelihood,
                self.converged,
                self.n_iter,
                strict=True,
            )
        ]


def _check_candidates(candidates) -> tuple[int, ...]:
    hint = " Pass the numbers of classes to try, e.g. candidates=range(1, 9)."
    try:
        values = list(itertools.islice(candidates, 4 * MAX_COMPONENTS + 1))
    except TypeError:
        raise TypeError(
            f"candidates must be an iterable of ints >= 1, got {type(candidates).__name__} "
            f"({candidates!r}).{hint}"
        ) from None
    if len(values) > 4 * MAX_COMPONENTS:
        raise ValueError(f"candidates has more than {4 * MAX_COMPONENTS} values.{hint}")
    if not values:
        raise ValueError(f"candidates is empty; at least one number of classes is needed.{hint}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(
                f"candidates must hold ints >= 1, got {type(value).__name__} ({value!r}) "
                f"in {values!r}.{hint}"
            )
        check_int("each candidate", value, minimum=1, hint=hint)
        if value > MAX_COMPONENTS:
            raise ValueError(
                f"candidate {value} is more classes than napari-gmm fits (at most "
                f"{MAX_COMPONENTS}): such a fit would run for hours.{hint}"
            )
    return tuple(sorted({int(v) for v in values}))


def select_n_components(
    image,
    candidates=AUTO_CANDIDATES,
    *,
    criterion="bic",
    channel_axis=UNSET,
    covariance_type="full",
    random_state=None,
    n_init=1,
    tol=1e-3,
    max_iter=100,
    reg_covar=1e-6,
    max_samples=MAX_SAMPLES,
    max_distinct=MAX_DISTINCT,
    progress=None,
) -> Selection:
    """Fit a mixture for each candidate number of classes and pick the best by BIC or AIC.

    The pixels are read (and, for integer images, compressed) once and every candidate is
    fitted on the same data, so the criteria are comparable:

    * integer images with at most `max_distinct` distinct values/colours take the exact
      path (EM on the distinct values weighted by their counts); the criteria use the
      likelihood of every valid pixel, n = number of valid pixels;
    * otherwise one seeded random subsample of at most `max_samples` valid pixels is drawn
      and reused for every candidate; the criteria use the likelihood of that subsample,
      n = its size. Evaluating a mixture on pixels it was not fitted on would mix the fit
      with a held-out score, and BIC/AIC assume the data the maximum likelihood was
      reached on.

    Integer images are quantised: their values are exact multiples of one, so extra
    components can collapse onto single values, whose density then grows without bound as
    the variance shrinks to `reg_covar`, and BIC keeps adding components. For integer
    images the covariance regularisation is therefore at least 1/12, the variance of the
    rounding error of unit steps: a Gaussian then cannot be narrower than the bin it
    describes.

    Parameters
    ----------
    image : ndarray
        Gray (any number of spatial axes) or multichannel image (with `channel_axis`).
    candidates : iterable of int, default=AUTO_CANDIDATES (range(2, 9))
        Numbers of components to try (include 1 to test whether the image has any
        structure at all) (sorted, duplicates removed). Candidates larger than
        the number of distinct valid values/colours (of the subsample, on that path) are
        skipped with a warning; a ValueError is raised when none remain.
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        The criterion minimised. BIC and AIC measure how well the mixture describes the
        pixel *density*: on real images, whose classes are not exactly Gaussian, both keep
        adding components as the number of pixels grows (BIC picks 6-8 on scikit-image's
        camera, coins, cell and moon). ICL, the integrated completed likelihood (Biernacki,
        Celeux & Govaert, IEEE TPAMI 22, 2000), adds twice the classification entropy
        ``-sum_i sum_k t_ik log t_ik`` of the posteriors ``t``: components that overlap,
        i.e. that do not make distinct classes, are penalised in proportion to the pixels
        they leave ambiguous, which suits segmentation. With 'icl' every candidate is
        fitted from a deterministic start (:func:`quantile_means`) instead of k-means, so
        the choice does not depend on `random_state`.
    channel_axis, covariance_type, random_state, n_init, tol, max_iter, reg_covar
        As in :func:`napari_gmm.segment`.
    max_samples, max_distinct : int
        As in :func:`napari_gmm.segment`.
    progress : callable or None, default=None
        Called as ``progress(done, total)`` after each candidate; an exception it raises
        (e.g. a cancellation) stops the selection.

    Returns
    -------
    Selection

    Raises
    ------
    TypeError, ValueError
        For invalid images or options: empty or non-int candidates, an unknown criterion.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_gmm.core.analysis._synthetic import make_class_image
    >>> image, _ = make_class_image((64, 64), n_classes=3, sigma=10, seed=0)
    >>> sel = select_n_components(image, range(1, 6), random_state=0)
    >>> sel.best, sel.candidates, sel.n_samples, sel.method
    (3, (1, 2, 3, 4, 5), 4096, 'exact (distinct values)')
    >>> [r["K"] for r in sel.to_records()]
    [1, 2, 3, 4, 5]
    """
    checked = _check_options(candidates, criterion, covariance_type, random_state, n_init,
                             tol, max_iter, reg_covar, max_samples, max_distinct)
    report = check_progress(progress, "progress(done, total)")
    prepared = prepare_candidates(image, channel_axis, random_state, *checked, stacklevel=3)
    total = len(prepared.kept)
    counts = None if report is None else lambda f, _stage: report(round(f * total), total)
    rows = run(iter_fits(prepared), counts)
    return _selection(prepared, rows)


def iter_select_n_components(image, candidates=range(1, 9), *, channel_axis=UNSET, **options):
    """Generator form of :func:`select_n_components`: yields ``(fraction, stage)`` after
    each candidate and returns the :class:`Selection` (same options but `progress`)."""
    options = {**_SELECT_DEFAULTS, **options}
    checked = _check_options(candidates, **options)
    prepared = prepare_candidates(
        image, channel_axis, options["random_state"], *checked, stacklevel=3
    )
    rows = yield from iter_fits(prepared)
    return _selection(prepared, rows)


#: The options of :func:`select_n_components` and their defaults (for its generator form).
_SELECT_DEFAULTS = {"criterion": "bic", **Options().as_dict(
    ("covariance_type", "random_state", "n_init", "tol", "max_iter", "reg_covar", "max_samples",
     "max_distinct")
)}


def _check_options(candidates, criterion, covariance_type, random_state, n_init, tol,
                   max_iter, reg_covar, max_samples, max_distinct):
    """The checked options: ``(ks, criterion, params, max_samples, max_distinct)``."""
    ks = _check_candidates(candidates)
    criterion = check_choice("criterion", criterion, CRITERIA)
    options = Options(covariance_type=covariance_type, tol=tol, max_iter=max_iter,
                      n_init=n_init, reg_covar=reg_covar, random_state=random_state,
                      max_samples=max_samples, max_distinct=max_distinct)
    params = options.gmm_params(1)
    max_samples, max_distinct = check_options(max_samples=max_samples, max_distinct=max_distinct)
    return ks, criterion, params, max_samples, max_distinct


def _selection(prepared: Prepared, rows) -> Selection:
    """The :class:`Selection` of the fitted candidates."""
    columns = tuple(tuple(col) for col in zip(*rows, strict=True))
    bic, aic, icl, lls, conv, iters, models, methods = columns
    scores = {"bic": bic, "aic": aic, "icl": icl}[prepared.criterion]
    method = (
        methods[-1]
        if prepared.compressed is not None
        else ("subsample" if prepared.subsampled else "all pixels")
    )
    return Selection(
        best=prepared.kept[int(np.argmin(scores))],
        criterion=prepared.criterion,
        candidates=prepared.kept,
        bic=bic,
        aic=aic,
        icl=icl,
        log_likelihood=lls,
        converged=conv,
        n_iter=iters,
        models=models,
        n_samples=int(prepared.n),
        method=method,
    )


