"""Typed, checked access to the fields of a decoded model file (messages name the file)."""

from __future__ import annotations

import math

import numpy as np


class Reader:
    """Typed access to the fields of a decoded model file, with messages naming the file."""

    def __init__(self, data: dict, where: str):
        self.data, self.where = data, where

    def fail(self, what: str) -> ValueError:
        return ValueError(
            f"{self.where} is not a valid napari-gmm model file: {what}. Save the model "
            "again with napari_gmm.save_model (or seg.save_model), or check the file."
        )

    def get(self, name, default=None, *, required=True):
        if name not in self.data:
            if required:
                raise self.fail(f"missing field {name!r}")
            return default
        return self.data[name]

    def integer(self, name, lo, hi, default=None, *, required=True) -> int:
        value = self.get(name, default, required=required)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
        return value

    def number(self, name, default=None, *, required=True, minimum=-math.inf) -> float:
        value = self.get(name, default, required=required)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value) or value < minimum:
            raise self.fail(f"{name} must be a finite number >= {minimum}, got {value!r}")
        return float(value)

    def choice(self, name, allowed, default=None, *, required=True) -> str:
        value = self.get(name, default, required=required)
        if value not in allowed:
            raise self.fail(f"{name} must be one of {', '.join(map(repr, allowed))}, "
                            f"got {value!r}")
        return value

    def array(self, name, shape, *, required=True) -> np.ndarray | None:
        value = self.get(name, required=required)
        if value is None and not required:
            return None
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise self.fail(f"{name} must be a (nested) list of numbers ({err})") from None
        if arr.shape != shape:
            raise self.fail(f"{name} must have shape {shape}, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise self.fail(f"{name} has non-finite values")
        return arr


def covariance_shape(covariance_type: str, k: int, d: int) -> tuple[int, ...]:
    return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[
        covariance_type
    ]


def check_covariances(read: Reader, cov: np.ndarray, covariance_type: str) -> None:
    if covariance_type in ("diag", "spherical"):
        if (cov <= 0).any():
            raise read.fail("covariances_ must be positive (variances), found values <= 0")
        return
    mats = cov[None] if covariance_type == "tied" else cov
    scale = np.abs(mats).max(axis=(1, 2), keepdims=True)
    if (np.abs(mats - mats.transpose(0, 2, 1)) > 1e-10 * scale).any():
        raise read.fail("covariances_ must be symmetric matrices")
    try:
        np.linalg.cholesky(mats)
    except np.linalg.LinAlgError:
        raise read.fail("covariances_ must be positive definite; a matrix is not") from None

