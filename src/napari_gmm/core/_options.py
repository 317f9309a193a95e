"""The segmentation options as one frozen object, checked in one place (with
:data:`DEFAULTS`, the GaussianMixture keywords :func:`check_params` and the exact-path
test :func:`compress_if_integer`, shared by :mod:`._segment` and :mod:`._selection`).

:class:`Options` holds every keyword option of :func:`napari_gmm.segment` (and the subsets
that :func:`napari_gmm.apply_model` and :func:`napari_gmm.select_n_components` take) with
its default; :data:`CONSTRAINTS` says, per option, what is allowed and raises the error
that says so (the checks of :mod:`._validation` and the subpackages, so the messages are
the ones the functions always gave). :meth:`Options.checked` applies the whole table once.
The API builds it from keyword arguments (:meth:`Options.from_kwargs`), the command line
from ``argparse`` results (:meth:`Options.from_namespace`); the widget passes its fields
as keyword arguments.

Adding an option = one field of :class:`Options` (with its default) + one row of
:data:`CONSTRAINTS` (how it is checked); :data:`DEFAULTS` follows by itself.
Options that depend on the image (``channel_axis``, ``scale``'s length, ``n_components``
against the distinct values) are checked where the image is read.

Examples
--------
>>> opts = Options.from_kwargs(tol=1e-4, max_iter=50).checked()
>>> opts.tol, opts.max_iter, opts.covariance_type
(0.0001, 50, 'full')
>>> Options.from_kwargs(max_iter=0).checked()
Traceback (most recent call last):
...
ValueError: max_iter must be an int >= 1, got 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from ._features import PixelData
from ._validation import (
    COVARIANCE_TYPES,
    INIT_PARAMS,
    MAX_ITER,
    MAX_N_INIT,
    check_choice,
    check_float,
    check_int,
    check_n_components,
)
from .bias._ecm import DEFAULT_ORDER, check_bias_field, check_bias_order
from .fit._compress import compress_integer
from .fit._fit import MAX_SAMPLES
from .potts._hmrf import check_marginals, check_smoothing

#: Default largest number of distinct values (gray) or colours for the exact fast path.
MAX_DISTINCT = 1 << 18


@dataclass(frozen=True, eq=False)
class Options:
    """The keyword options of :func:`napari_gmm.segment` (see it for their meaning)."""

    channel_axis: object = None
    covariance_type: str = "full"
    tol: float = 1e-3
    max_iter: int = 100
    n_init: int = 1
    init_params: str = "kmeans"
    reg_covar: float = 1e-6
    random_state: object = None
    max_samples: int = MAX_SAMPLES
    max_distinct: int = MAX_DISTINCT
    smoothing: object = 0.0
    marginals: str = "mean-field"
    scale: object = None
    return_posteriors: bool = False
    partial_volume: bool = False
    bias_field: str | None = None
    bias_order: int = DEFAULT_ORDER

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in field order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_kwargs(cls, allowed=None, what: str = "segmentation", **kwargs) -> Options:
        """The options from keyword arguments (the others keep their defaults).

        Raises ``TypeError("Unknown <what> option(s) [...]; allowed: [...]")`` for a name
        that is not an option (or not in `allowed`, a subset of the names).
        """
        allowed = cls.names() if allowed is None else tuple(allowed)
        unknown = set(kwargs) - set(allowed)
        if unknown:
            raise TypeError(
                f"Unknown {what} option(s) {sorted(unknown)}; allowed: {sorted(allowed)}."
            )
        return cls(**kwargs)

    @classmethod
    def from_namespace(cls, namespace, rename=None, **overrides) -> Options:
        """The options from ``argparse`` results: every attribute named like an option
        (or renamed to one by `rename`, e.g. ``{"seed": "random_state"}``); `overrides`
        win (e.g. the channel axis and scale read from the file)."""
        values = {}
        for attr, value in vars(namespace).items():
            name = (rename or {}).get(attr, attr)
            if name in cls.names():
                values[name] = value
        return cls(**{**values, **overrides})

    def checked(self, names=None) -> Options:
        """The options checked against :data:`CONSTRAINTS` (values normalised, e.g. ints):
        all of them, or those in `names`, in that order."""
        names = self.names() if names is None else names
        changes = {name: CONSTRAINTS[name](name, getattr(self, name)) for name in names}
        return dataclasses.replace(self, **changes)

    def replace(self, **changes) -> Options:
        """A copy with some options changed (not checked)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self, names=None) -> dict:
        """The options as keyword arguments (all, or those in `names`)."""
        names = self.names() if names is None else names
        return {name: getattr(self, name) for name in names}

    def gmm_params(self, n_components) -> dict:
        """The checked GaussianMixture keyword arguments (the EM options) for an int
        `n_components`."""
        n_components = check_n_components(n_components)
        return {"n_components": n_components, **self.checked(GMM_OPTIONS).as_dict(GMM_OPTIONS)}


def check_options(**values):
    """Check the given options against :data:`CONSTRAINTS` (in the order given).

    Returns the checked values: a tuple in the order of the keywords (the value itself for
    one keyword), e.g. ``smoothing, max_distinct = check_options(smoothing=s, max_distinct=m)``.
    """
    checked = tuple(CONSTRAINTS[name](name, value) for name, value in values.items())
    return checked[0] if len(checked) == 1 else checked


def choice(allowed) -> Callable:
    """Constraint: one of `allowed` (a ValueError listing them otherwise)."""
    return lambda name, value: check_choice(name, value, allowed)


def integer(minimum: int, maximum: int | None = None) -> Callable:
    """Constraint: an int >= `minimum` (and <= `maximum` if given; TypeError for a
    non-int, ValueError outside the range)."""
    return lambda name, value: check_int(name, value, minimum=minimum, maximum=maximum)


def real(minimum: float) -> Callable:
    """Constraint: a finite real number >= `minimum`."""
    return lambda name, value: check_float(name, value, minimum=minimum)


def by(check: Callable) -> Callable:
    """Constraint: a check of one argument (it raises the error and says what to do)."""
    return lambda name, value: check(value)


def unchecked(name, value):
    """Constraint: anything (e.g. ``random_state``, handled by scikit-learn)."""
    return value


#: Per option: the check that raises for a value that is not allowed and returns the value
#: normalised. ``channel_axis`` and ``scale`` depend on the image: checked when it is read.
CONSTRAINTS: dict[str, Callable] = {
    "channel_axis": unchecked,
    "covariance_type": choice(COVARIANCE_TYPES),
    "tol": real(0.0),
    "max_iter": integer(1, maximum=MAX_ITER),
    "n_init": integer(1, maximum=MAX_N_INIT),
    "init_params": choice(INIT_PARAMS),
    "reg_covar": real(0.0),
    "random_state": unchecked,
    "max_samples": integer(1),
    "max_distinct": integer(0),
    "smoothing": by(check_smoothing),
    "marginals": by(check_marginals),
    "scale": unchecked,
    "return_posteriors": lambda name, value: bool(value),
    "partial_volume": lambda name, value: bool(value),
    "bias_field": by(check_bias_field),
    "bias_order": by(check_bias_order),
}

#: The options that are GaussianMixture keyword arguments.
GMM_OPTIONS = ("covariance_type", "tol", "max_iter", "n_init", "init_params", "reg_covar",
               "random_state")


#: The default of every segmentation option (from :class:`Options`).
DEFAULTS = Options().as_dict()


def check_params(
    n_components, covariance_type, tol, max_iter, n_init, init_params, reg_covar, random_state
) -> dict:
    """Validate the EM options; return them as GaussianMixture keyword arguments."""
    return Options(
        covariance_type=covariance_type, tol=tol, max_iter=max_iter, n_init=n_init,
        init_params=init_params, reg_covar=reg_covar, random_state=random_state,
    ).gmm_params(n_components)


def compress_if_integer(data: PixelData, max_distinct: int):
    """Compressed distinct values of an integer image, or None (not integer / too many)."""
    if not data.is_integer or max_distinct == 0:
        return None
    return compress_integer(data.features, max_unique=max_distinct)
