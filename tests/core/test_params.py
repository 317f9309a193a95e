"""The options object: one constraints table, defaults and messages as the functions had."""

import argparse

import numpy as np
import pytest

from napari_gmm.core import DEFAULTS, Options, segment
from napari_gmm.core._options import CONSTRAINTS, GMM_OPTIONS, check_options


def test_every_option_has_a_constraint_and_defaults_follow():
    assert set(CONSTRAINTS) == set(Options.names())
    assert Options().as_dict() == DEFAULTS
    assert set(GMM_OPTIONS) <= set(Options.names())


def test_checked_normalises_and_is_frozen():
    opts = Options.from_kwargs(max_iter=np.int64(7), return_posteriors=1).checked()
    assert opts.max_iter == 7 and type(opts.max_iter) is int
    assert opts.return_posteriors is True
    with pytest.raises(AttributeError):
        opts.tol = 1.0  # frozen


@pytest.mark.parametrize(
    ("name", "value", "error", "match"),
    [
        ("tol", -1.0, ValueError, "tol must be a finite number >= 0"),
        ("max_iter", 0, ValueError, "max_iter must be an int >= 1, got 0"),
        ("max_iter", 1.5, TypeError, "max_iter must be an int"),
        ("covariance_type", "round", ValueError, "covariance_type must be one of"),
        ("init_params", "nope", ValueError, "init_params must be one of"),
        ("max_distinct", -1, ValueError, "max_distinct must be an int >= 0"),
        ("bias_order", 0, ValueError, "bias_order"),
        ("marginals", "exact", ValueError, "marginals"),
    ],
)
def test_constraints_raise_the_functions_messages(name, value, error, match):
    with pytest.raises(error, match=match):
        Options.from_kwargs(**{name: value}).checked()
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    with pytest.raises(error, match=match):  # the same error from the API
        segment(image, 2, **{name: value})


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match=r"Unknown segmentation option\(s\) \['tool'\]"):
        Options.from_kwargs(tool=1)
    with pytest.raises(TypeError, match=r"Unknown apply option\(s\) \['tol'\]"):
        Options.from_kwargs(("smoothing",), "apply", tol=1)


def test_from_namespace_renames_and_overrides():
    args = argparse.Namespace(init="random", seed=3, tol=0.5, out_dir="x", scale=(9.0, 9.0))
    opts = Options.from_namespace(args, {"init": "init_params", "seed": "random_state"},
                                  scale=(1.0, 2.0))
    assert (opts.init_params, opts.random_state, opts.tol) == ("random", 3, 0.5)
    assert opts.scale == (1.0, 2.0)
    assert opts.max_iter == DEFAULTS["max_iter"]


def test_gmm_params_and_check_options():
    params = Options(tol=0.1).gmm_params(3)
    assert params == {**{k: DEFAULTS[k] for k in GMM_OPTIONS}, "tol": 0.1, "n_components": 3}
    assert check_options(max_distinct=5) == 5
    assert check_options(max_samples=2, smoothing="auto") == (2, "auto")
