"""Gaussian-mixture segmentation of images, for napari and scripts.

The core (everything exported here) needs only numpy, scipy and scikit-learn; the napari
widgets live in ``napari_gmm._widget`` and are imported by napari through the manifest.
"""

__version__ = "0.1.0"

from ._density import mixture_density, mixture_log_density
from ._features import pixel_features
from ._fit import MAX_SAMPLES, GMMConvergenceWarning
from ._io import load_model, save_model
from ._metrics import Comparison, compare_labels, match_labels
from ._noise import add_gaussian_noise
from ._result import Segmentation, uncertainty
from ._segment import MAX_DISTINCT, segment
from ._selection import Selection, select_n_components
from ._sweep import noise_sweep

__all__ = [
    "MAX_DISTINCT",
    "MAX_SAMPLES",
    "Comparison",
    "GMMConvergenceWarning",
    "Segmentation",
    "Selection",
    "__version__",
    "add_gaussian_noise",
    "compare_labels",
    "load_model",
    "match_labels",
    "mixture_density",
    "mixture_log_density",
    "noise_sweep",
    "pixel_features",
    "save_model",
    "segment",
    "select_n_components",
    "uncertainty",
]
