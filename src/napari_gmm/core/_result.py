"""The result of a segmentation, and uncertainty maps of posteriors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.mixture import GaussianMixture

from ._validation import check_choice
from .lazy._fit import is_dask_array

UNCERTAINTY_KINDS = ("1 - max posterior", "margin", "entropy")


@dataclass(frozen=True, eq=False)
class Segmentation:
    """Result of :func:`napari_gmm.segment`.

    Attributes
    ----------
    labels : ndarray of unsigned int, spatial shape
        Class of each pixel, 1..K with 1 the darkest class; 0 for non-finite pixels.
    probability : ndarray of float32, spatial shape
        Posterior probability of the chosen class (the max posterior); 0 for non-finite pixels.
    model : sklearn.mixture.GaussianMixture
        The fitted mixture; component ``k - 1`` is label ``k``.
    converged : bool
        Whether EM met ``tol`` before ``max_iter``.
    n_iter : int
        EM iterations of the best initialisation.
    log_likelihood : float
        Mean log-likelihood per valid pixel, over every valid pixel of the image.
    bic, aic : float
        Bayesian and Akaike information criteria over every valid pixel (lower is better).
    lower_bounds : tuple of float
        Mean log-likelihood lower bound after each EM iteration (the convergence trace).
    method : str
        ``'exact (distinct values)'``, ``'all pixels'`` or ``'subsample'``.
    n_valid : int
        Number of finite pixels (the others are labelled 0).
    n_fit_samples : int
        Rows EM ran on: distinct values on the exact path, else pixels.
    elapsed : float
        Wall-clock seconds of the whole segmentation.
    posteriors : ndarray of float32, shape (*spatial, K), or None
        Per-class posterior maps, when asked for with ``return_posteriors=True``.
    smoothing : float
        Strength of the spatial prior used (0 = plain per-pixel EM).
    selection : Selection or None
        The BIC/AIC comparison of candidate K when ``n_components='auto'``.
    frames : tuple of Segmentation
        Time series (``time_axis`` given): the result of every frame, each with its own
        labels, probability and model; empty for a single image.
    time_axis : int or None
        Time series: the axis of `labels` (and `probability`) that holds the frames.
    frame_mode : {'each', 'shared'}, int or None
        Time series: how the frames were fitted: ``'each'`` on its own, ``'shared'`` one
        model on all frames, or the index of the reference frame the model was fitted on.
    bias_field : ndarray of float32, spatial shape, or None
        With ``bias_field='polynomial'``: the estimated multiplicative field (mean 1 over
        the valid pixels of a segmented image; for ``apply_model`` its scale is set by the
        model). None without a field.
    n_sweeps : tuple of int
        With smoothing: the mean-field sweeps run in each round of HMRF-EM (a round stops
        early once fewer than 0.1 % of the counted pixels change label in a sweep: every
        pixel, or a fixed grid of boxes on images over 2^22 pixels); the same for a dask
        image, whose blocks run them; empty without, and for time series (see each frame's).
    backend : str
        The implementation that ran the per-pixel work: ``'cupy'`` when the spatial model
        (smoothing) ran on the GPU, else the CPU kernels (``'numba'`` or ``'numpy'``), also
        under the ``'cupy'`` setting for the work it leaves to the CPU (no smoothing,
        guided classes, an image whose spatial model does not fit the GPU's free memory;
        see :func:`napari_gmm.set_backend`).
    corrected : ndarray of float32, the input's shape, or None
        With a bias field: the image divided by the field (every channel by the same
        field). Labels, probability and posteriors are those of this image:
        ``model.predict(pixel_features(corrected, channel_axis)) + 1 == labels.ravel()``
        without smoothing.
    class_names : tuple of str or None
        Names of classes 1..K (``class_names=`` of :func:`segment`, or the model's).
        With scribbles, class k is the scribbles' k, and a class may be several Gaussians
        of the model (``model.component_classes_``, see ``core.guided._classes``).
    fractions : ndarray of float32, shape (K, *spatial), or None
        Each class's fraction of every voxel (partial volumes at the boundaries between
        classes, the posteriors elsewhere), with ``segment(..., partial_volume=True)``.
    mixels : MixelModel or None
        ``smoothing='auto'`` on a clean image with partial volumes: the mixel model whose
        data term the final posteriors took (``core.potts._mixel_swap``); else None.
    """

    labels: np.ndarray
    probability: np.ndarray
    model: GaussianMixture
    converged: bool
    n_iter: int
    log_likelihood: float
    bic: float
    aic: float
    lower_bounds: tuple[float, ...]
    method: str
    n_valid: int
    n_fit_samples: int
    elapsed: float
    posteriors: np.ndarray | None = field(default=None, repr=False)
    smoothing: float = 0.0
    selection: object = field(default=None, repr=False)
    frames: tuple = field(default=(), repr=False)
    time_axis: int | None = None
    frame_mode: str | int | None = None
    bias_field: np.ndarray | None = field(default=None, repr=False)
    corrected: np.ndarray | None = field(default=None, repr=False)
    class_names: tuple[str, ...] | None = None
    n_sweeps: tuple = ()
    backend: str = ""
    fractions: np.ndarray | None = field(default=None, repr=False)
    mixels: object = field(default=None, repr=False)

    @property
    def n_components(self) -> int:
        """Number of classes (a class of several Gaussians counts once)."""
        from .guided._classes import n_classes

        return n_classes(self.model)

    def uncertainty(self, kind: str = "margin") -> np.ndarray:
        """Per-pixel uncertainty map in [0, 1] (see :func:`napari_gmm.uncertainty`).

        ``'1 - max posterior'`` needs only the stored probability; ``'margin'`` and
        ``'entropy'`` need the posteriors (``return_posteriors=True``).
        """
        check_choice("kind", kind, UNCERTAINTY_KINDS)
        if is_dask_array(self.probability):  # lazy results of a dask image: a lazy map
            return lazy_uncertainty(self, kind)
        if kind == "1 - max posterior":
            out = 1.0 - self.probability
            out[self.labels == 0] = 0.0
            return out
        if self.posteriors is None:
            raise ValueError(
                f"The {kind!r} uncertainty needs the per-class posteriors, which this result "
                "does not keep. Call segment(..., return_posteriors=True)."
            )
        return uncertainty(self.posteriors, kind)

    def save_model(self, path):
        """Save the fitted mixture as a JSON model file (see :func:`napari_gmm.save_model`).

        Apply it to other images with :func:`napari_gmm.apply_model`; returns the path.
        """
        from ._model_file import save_model

        return save_model(self.model, path)

    def objects(self, classes="foreground", **options):
        """Count and measure the objects of some classes (see :func:`napari_gmm.label_objects`).

        `classes` and `options` (``image``, ``channel_axis``, ``min_size``, ``fill_holes``,
        ``connectivity``, ``scale``, ``split``, ``diameter``, ``mask``) are those of
        ``label_objects``; a time series is labelled frame by frame (``time_axis`` of the
        result) and every class 1..K may be chosen, even one no pixel has (it then has no
        objects). With ``split='watershed'``
        the posterior (``probability``) guides the cut, and so does ``image`` when given
        (pass the segmented image: it separates small nuclei pressed into large ones).
        Returns an ``Objects``.
        """
        from .objects._label import label_objects

        k = max([f.n_components for f in self.frames], default=self.n_components)
        if options.get("split", "none") not in (None, "none"):
            options.setdefault("probability", self.probability)
        return label_objects(self.labels, classes, time_axis=self.time_axis,
                             n_classes=max(k, self.n_components), **options)

    def summary(self) -> dict:
        """Plain-Python summary of the fit (JSON-serialisable), e.g. for layer metadata."""
        from ._model_file import model_to_dict

        return {
            "n_components": int(self.n_components),
            "covariance_type": self.model.covariance_type,
            "converged": bool(self.converged),
            "n_iter": int(self.n_iter),
            "log_likelihood": float(self.log_likelihood),
            "bic": float(self.bic),
            "aic": float(self.aic),
            "method": self.method,
            "n_valid": int(self.n_valid),
            "n_fit_samples": int(self.n_fit_samples),
            "smoothing": float(self.smoothing),
            "n_sweeps": [int(v) for v in self.n_sweeps],
            "backend": self.backend,
            "elapsed_s": float(self.elapsed),
            "lower_bounds": [float(v) for v in self.lower_bounds],
            "model": model_to_dict(self.model),
            **(self._frames_summary() if self.frames else {}),
            **(self._bias_summary() if self.bias_field is not None else {}),
            **({"class_names": list(self.class_names)} if self.class_names else {}),
        }

    def _bias_summary(self) -> dict:
        valid = self.labels > 0
        values = self.bias_field[valid] if valid.any() else self.bias_field
        return {"bias_field": {"min": float(values.min()), "max": float(values.max())}}

    def _frames_summary(self) -> dict:
        keys = ("n_components", "converged", "n_iter", "bic", "n_valid")
        return {
            "time_axis": int(self.time_axis),
            "frame_mode": self.frame_mode,
            "frames": [
                dict(zip(keys, (int(f.n_components), bool(f.converged), int(f.n_iter),
                                float(f.bic), int(f.n_valid)), strict=True))
                for f in self.frames
            ],
        }


def fit_fields(gmm, ll, n_valid, n_params, info, start) -> dict:
    """The fit's fields of a :class:`Segmentation` (convergence, criteria over the `n_valid`
    pixels with mean log-likelihood `ll` and `n_params` free parameters, method, timing),
    shared by the in-memory and the dask results."""
    n_valid = int(n_valid)
    return {
        "model": gmm,
        "converged": bool(gmm.converged_),
        "n_iter": int(gmm.n_iter_),
        "log_likelihood": float(ll),
        "bic": float(-2.0 * ll * n_valid + n_params * np.log(n_valid)),
        "aic": float(-2.0 * ll * n_valid + 2.0 * n_params),
        "lower_bounds": tuple(float(v) for v in getattr(gmm, "lower_bounds_", ())),
        "method": info.method,
        "n_valid": n_valid,
        "n_fit_samples": info.n_fit_samples,
        "elapsed": time.perf_counter() - start,
    }


def uncertainty(posteriors, kind: str = "margin") -> np.ndarray:
    """Uncertainty map from per-class posteriors.

    Parameters
    ----------
    posteriors : ndarray, shape (..., K)
        Class posteriors along the last axis (rows summing to 1; all-zero rows are treated as
        invalid pixels and get 0).
    kind : {'1 - max posterior', 'margin', 'entropy'}, default='margin'
        ``'margin'`` is 1 - (p1 - p2) with p1 >= p2 the two largest posteriors (ilastik's
        uncertainty); ``'entropy'`` is the Shannon entropy divided by log(K).

    Returns
    -------
    ndarray of float32, shape (...)
        0 = certain, 1 = maximally uncertain.

    Examples
    --------
    >>> p = np.array([[1.0, 0.0], [0.5, 0.5], [0.75, 0.25]])
    >>> uncertainty(p, "margin")
    array([0. , 1. , 0.5], dtype=float32)
    """
    check_choice("kind", kind, UNCERTAINTY_KINDS)
    p = np.asarray(posteriors, dtype=np.float32)
    if p.ndim == 0 or p.shape[-1] == 0:
        raise ValueError(
            f"posteriors must be an array of shape (..., K) with the class axis last and "
            f"K >= 1, got shape {p.shape}. Pass seg.posteriors (segment(..., "
            "return_posteriors=True)) or call seg.uncertainty()."
        )
    k = p.shape[-1]
    invalid = ~p.any(axis=-1)
    if kind == "1 - max posterior":
        out = 1.0 - p.max(axis=-1)
    elif kind == "margin":
        if k == 1:
            out = np.zeros(p.shape[:-1], dtype=np.float32)
        else:
            top2 = np.partition(p, k - 2, axis=-1)[..., k - 2 :]
            out = 1.0 - (top2[..., 1] - top2[..., 0])
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log(p), 0.0)
        out = -terms.sum(axis=-1) / np.log(k) if k > 1 else np.zeros(p.shape[:-1])
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    out[invalid] = 0.0
    return out


def lazy_uncertainty(seg: Segmentation, kind: str):
    """:meth:`Segmentation.uncertainty` of lazy (dask) results, block by block."""
    if kind == "1 - max posterior":
        return (1.0 - seg.probability).astype(np.float32) * (seg.labels > 0)
    if seg.posteriors is None:
        raise ValueError(
            f"The {kind!r} uncertainty needs the per-class posteriors, which this result "
            "does not keep. Call segment(..., return_posteriors=True)."
        )
    post = seg.posteriors.rechunk({seg.posteriors.ndim - 1: -1})
    return post.map_blocks(uncertainty, kind, drop_axis=post.ndim - 1, dtype=np.float32)
