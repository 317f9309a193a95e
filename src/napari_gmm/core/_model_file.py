"""Model files: a fitted GaussianMixture as JSON of plain lists and numbers (never pickle).

Part of the core because applying a saved model (:func:`napari_gmm.apply_model`) needs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.mixture import GaussianMixture

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


def model_to_dict(gmm: GaussianMixture) -> dict:
    """Fitted mixture -> plain dict of lists and numbers (JSON-serialisable).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> gmm = GaussianMixture(2, random_state=0).fit(np.array([[0.], [0.1], [5.], [5.1]]))
    >>> sorted(model_to_dict(gmm))[:4]
    ['converged_', 'covariance_type', 'covariances_', 'init_params']
    """
    out = {name: getattr(gmm, name) for name in _PARAMS}
    for name in _ARRAYS:
        out[name] = np.asarray(getattr(gmm, name)).tolist()
    out["converged_"] = bool(gmm.converged_)
    out["n_iter_"] = int(gmm.n_iter_)
    out["lower_bound_"] = float(gmm.lower_bound_)
    out["n_features_in_"] = int(gmm.n_features_in_)
    return out


def model_from_dict(data: dict) -> GaussianMixture:
    """Inverse of :func:`model_to_dict`: a fitted GaussianMixture ready to predict."""
    try:
        gmm = GaussianMixture(**{name: data[name] for name in _PARAMS})
        for name in _ARRAYS:
            setattr(gmm, name, np.asarray(data[name], dtype=np.float64))
        gmm.converged_ = bool(data["converged_"])
        gmm.n_iter_ = int(data["n_iter_"])
        gmm.lower_bound_ = float(data["lower_bound_"])
        gmm.n_features_in_ = int(data["n_features_in_"])
    except KeyError as err:
        raise ValueError(f"Not a saved napari-gmm model: missing field {err}.") from err
    return gmm


def save_model(gmm: GaussianMixture, path) -> Path:
    """Save a fitted mixture as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model_to_dict(gmm), indent=1))
    return path


def load_model(path) -> GaussianMixture:
    """Load a mixture saved by :func:`save_model`."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not a JSON model file: {err}") from err
    return model_from_dict(data)
