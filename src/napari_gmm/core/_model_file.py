"""Model files: a fitted GaussianMixture as JSON of plain lists and numbers (never pickle).

Part of the core because applying a saved model (:func:`napari_gmm.apply_model`) needs it.
A model file is untrusted input: loading parses JSON only (no code is ever executed), and
every field is checked against the format (:data:`SCHEMA`, shipped as
``docs/model.schema.json``) and for consistency (shapes, weights summing to 1,
symmetric positive-definite covariances, precisions matching them) before a mixture is
built, so a damaged or tampered file fails with a clear ValueError instead of giving wrong
labels later.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.mixture import GaussianMixture

from ._validation import COVARIANCE_TYPES, INIT_PARAMS, MAX_COMPONENTS
from .fit._model_reader import Reader, check_covariances, covariance_shape
from .fit._model_sanity import check_fitted, check_numerically_sane, read_model_bytes
from .fit._sklearn_private import compute_precision_cholesky
from .guided._classes import classes_from_dict, classes_to_dict

#: ``format`` field of every model file.
FORMAT = "napari-gmm model"
#: Version of the format written by :func:`save_model`; files of a newer version are refused.
#: Version 0: files of napari-gmm 0.1, which had no ``format`` / ``version`` fields.
VERSION = 1
#: Largest model file read (bytes); a mixture of 1024 components over 16 channels takes ~10 MB.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Largest number of channels (features) a model file may declare (components: MAX_COMPONENTS).
MAX_FEATURES = 64

_PARAMS = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
)
_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")

_NUMBER = {"type": "number"}
_MATRIX = {"type": "array", "items": {"type": "array", "items": _NUMBER}}
#: JSON Schema (draft 2020-12) of a model file; the loader checks more than it can say.
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "napari-gmm model file",
    "type": "object",
    "required": [
        "n_components", "covariance_type", "weights_", "means_", "covariances_",
        "precisions_cholesky_", "n_features_in_",
    ],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"type": "integer", "minimum": 0, "maximum": VERSION},
        "napari_gmm_version": {"type": "string"},
        "n_components": {"type": "integer", "minimum": 1, "maximum": MAX_COMPONENTS},
        "covariance_type": {"enum": list(COVARIANCE_TYPES)},
        "tol": {"type": "number", "minimum": 0},
        "reg_covar": {"type": "number", "minimum": 0},
        "max_iter": {"type": "integer", "minimum": 1},
        "n_init": {"type": "integer", "minimum": 1},
        "init_params": {"enum": list(INIT_PARAMS)},
        "weights_": {"type": "array", "items": _NUMBER, "minItems": 1},
        "means_": _MATRIX,
        "covariances_": {"type": "array"},
        "precisions_": {"type": "array"},
        "precisions_cholesky_": {"type": "array"},
        "converged_": {"type": "boolean"},
        "n_iter_": {"type": "integer", "minimum": 0},
        "lower_bound_": {"type": "number"},
        "n_features_in_": {"type": "integer", "minimum": 1, "maximum": MAX_FEATURES},
        "component_classes": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "class_names": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
}


def model_to_dict(gmm: GaussianMixture) -> dict:
    """Fitted mixture -> plain dict of lists and numbers (JSON-serialisable).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> gmm = GaussianMixture(2, random_state=0).fit(np.array([[0.], [0.1], [5.], [5.1]]))
    >>> data = model_to_dict(gmm)
    >>> data["format"], data["version"], data["n_components"]
    ('napari-gmm model', 1, 2)
    """
    from .._version import __version__

    out = {"format": FORMAT, "version": VERSION, "napari_gmm_version": __version__}
    out.update({name: getattr(gmm, name) for name in _PARAMS})
    for name in _ARRAYS:
        out[name] = np.asarray(getattr(gmm, name)).tolist()
    out["converged_"] = bool(gmm.converged_)
    out["n_iter_"] = int(gmm.n_iter_)
    out["lower_bound_"] = float(gmm.lower_bound_)
    out["n_features_in_"] = int(gmm.n_features_in_)
    out.update(classes_to_dict(gmm))  # guided classes (core/guided/_classes.py), if any
    return out


def model_from_dict(data, where: str = "the model") -> GaussianMixture:
    """Inverse of :func:`model_to_dict`: a fitted GaussianMixture ready to predict.

    Every field is validated (see the module docstring); `where` names the source in
    error messages.

    Raises
    ------
    ValueError
        For a missing or malformed field, inconsistent shapes, weights not summing to 1,
        covariances that are not symmetric positive definite, precisions that do not match
        the covariances, or a format version newer than this napari-gmm reads.
    """
    if not isinstance(data, dict):
        raise ValueError(
            f"{where} is not a napari-gmm model file: expected a JSON object, got "
            f"{type(data).__name__}. Pass a file written by napari_gmm.save_model."
        )
    read = Reader(data, where)
    if "format" in data and data["format"] != FORMAT:
        raise read.fail(f"format must be {FORMAT!r}, got {data['format']!r}")
    version = read.integer("version", 0, 2**31, default=0, required="format" in data)
    if version > VERSION:
        raise ValueError(
            f"{where} was written by a newer napari-gmm (model format version {version}); "
            f"this napari-gmm ({_own_version()}) reads versions up to {VERSION}. Upgrade "
            "napari-gmm to load it."
        )
    k = read.integer("n_components", 1, MAX_COMPONENTS)
    d = read.integer("n_features_in_", 1, MAX_FEATURES)
    covariance_type = read.choice("covariance_type", COVARIANCE_TYPES)
    params = {
        "n_components": k,
        "covariance_type": covariance_type,
        "tol": read.number("tol", 1e-3, required=False, minimum=0.0),
        "reg_covar": read.number("reg_covar", 1e-6, required=False, minimum=0.0),
        "max_iter": read.integer("max_iter", 1, 2**31, 100, required=False),
        "n_init": read.integer("n_init", 1, 2**31, 1, required=False),
        "init_params": read.choice("init_params", INIT_PARAMS, "kmeans", required=False),
    }
    weights = read.array("weights_", (k,))
    if (weights < 0).any() or abs(weights.sum() - 1.0) > 1e-6:
        raise read.fail(f"weights_ must be >= 0 and sum to 1, got sum {weights.sum():.9g}")
    means = read.array("means_", (k, d))
    cov_shape = covariance_shape(covariance_type, k, d)
    cov = read.array("covariances_", cov_shape)
    check_covariances(read, cov, covariance_type)
    expected = compute_precision_cholesky(cov, covariance_type)
    prec_chol = read.array("precisions_cholesky_", cov_shape)
    if not np.allclose(prec_chol, expected, rtol=1e-6, atol=0.0):
        raise read.fail("precisions_cholesky_ do not match covariances_ (damaged or edited)")
    gmm = GaussianMixture(**params)
    gmm.weights_, gmm.means_, gmm.covariances_ = weights, means, cov
    gmm.precisions_cholesky_ = prec_chol
    if covariance_type in ("full", "tied"):
        mats = prec_chol[None] if covariance_type == "tied" else prec_chol
        precisions = mats @ mats.transpose(0, 2, 1)
        gmm.precisions_ = precisions[0] if covariance_type == "tied" else precisions
    else:
        gmm.precisions_ = prec_chol**2
    converged = read.get("converged_", True, required=False)
    if not isinstance(converged, bool):
        raise read.fail(f"converged_ must be true or false, got {converged!r}")
    gmm.converged_ = converged
    gmm.n_iter_ = read.integer("n_iter_", 0, 2**31, 0, required=False)
    gmm.lower_bound_ = read.number("lower_bound_") if "lower_bound_" in data else -np.inf
    gmm.n_features_in_ = d
    check_numerically_sane(gmm, read.fail)
    return classes_from_dict(gmm, data, where)


def _own_version() -> str:
    from .._version import __version__

    return __version__


def save_model(gmm: GaussianMixture, path) -> Path:
    """Save a fitted mixture as a JSON model file (format :data:`FORMAT`, :data:`VERSION`).

    Parameters
    ----------
    gmm : sklearn.mixture.GaussianMixture
        A fitted mixture, e.g. ``seg.model``.
    path : path-like
        Where to write; missing parent folders are created.

    Returns
    -------
    pathlib.Path
    """
    check_fitted(gmm)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model_to_dict(gmm), indent=1, allow_nan=False))
    return path


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def load_model(path) -> GaussianMixture:
    """Load a mixture saved by :func:`save_model`, checking every field.

    Only JSON is parsed (never pickle: loading cannot execute code). Files larger than
    :data:`MAX_FILE_BYTES` are refused before they are read, and so is anything that is
    not a regular file (a FIFO, a device such as /dev/zero, a folder).

    Raises
    ------
    ValueError
        If the file is missing, not a regular file, too large, not UTF-8 JSON, truncated,
        of a newer format version, or fails any check of :func:`model_from_dict`.
    """
    path = Path(path)
    raw = read_model_bytes(path, MAX_FILE_BYTES)  # regular files only, size capped
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError(
            f"{path} is not a JSON model file ({type(err).__name__}: {err}); it may be "
            "truncated or of another kind. Pass a file written by napari_gmm.save_model."
        ) from None
    return model_from_dict(data, where=str(path))
