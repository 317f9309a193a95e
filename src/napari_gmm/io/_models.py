"""Model files: a fitted mixture saved as JSON (never pickle)."""

from __future__ import annotations

import json
from pathlib import Path

from sklearn.mixture import GaussianMixture

from ..core._model_dict import model_from_dict, model_to_dict


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
