"""The maths: features, exact compression, weighted EM, prediction, spatial prior, selection.

numpy, scipy, scikit-learn and threadpoolctl, numba (compiled kernels, with a numpy fallback)
and dask (out-of-core arrays); nothing here imports napari, Qt, magicgui or the command line, so
scripts and clusters can use it without a display.

Layout: the pipeline (``_segment``, ``_apply``, ``_selection``, ``_result``,
``_options``, ``_validation``, ``_features``, ``_predict``, ...) at the top, each concern in a
subpackage: ``fit`` (compression, weighted EM, scikit-learn fit), ``potts`` (mean-field,
HMRF-EM, kernels, Gibbs sampling, auto smoothing), ``guided`` (scribbles: semi-supervised
EM, classes of several Gaussians, class names), ``bias`` (bias field), ``lazy`` (dask,
out of core), ``objects`` (connected components, measurements), ``analysis`` (density,
metrics, calibration, noise, synthetic images).

The names below are the core's public API: the adapters (``napari_gmm._napari``,
``napari_gmm.cli``, ``napari_gmm.io``) import from here only, never from a private module.
"""

from ._apply import APPLIED, apply_model, iter_apply_model
from ._backend import get_backend, set_backend, use_backend
from ._features import pixel_features
from ._mask import masked_image
from ._model_file import load_model, save_model
from ._options import DEFAULTS, MAX_DISTINCT, Options
from ._resources import NotEnoughMemoryError, available_memory, check_memory
from ._result import UNCERTAINTY_KINDS, Segmentation, uncertainty
from ._segment import iter_segment, segment
from ._selection import (
    AUTO_CANDIDATES,
    Selection,
    iter_select_n_components,
    select_n_components,
)
from ._validation import COVARIANCE_TYPES, INIT_PARAMS, ChannelAxisWarning, check_n_components
from .analysis._density import mixture_density, mixture_log_density
from .analysis._metrics import Comparison, compare_labels, match_labels
from .analysis._noise import add_gaussian_noise
from .analysis._sweep import noise_sweep
from .analysis._synthetic import make_class_image
from .bias._ecm import BIAS_FIELDS, DEFAULT_ORDER, MAX_ORDER, check_bias_order
from .fit._empty import EmptyClassWarning, empty_classes
from .fit._fit import MAX_SAMPLES, GMMConvergenceWarning, RegularizationWarning
from .guided._guided import ScribbleWarning
from .lazy._apply import lazy_outputs
from .lazy._blockwise import compute_in_groups
from .lazy._fit import is_dask_array, lazy_pixels
from .lazy._multiscale import FIT_VOXELS, iter_segment_multiscale
from .objects._label import FOREGROUND, label_objects
from .objects._split import SPLITS
from .objects._table import Objects
from .potts._hmrf import SWEEPS
from .progress import Step, recording_warnings
from .progress import rescale as rescale_steps

__all__ = [
    "APPLIED",
    "AUTO_CANDIDATES",
    "BIAS_FIELDS",
    "COVARIANCE_TYPES",
    "DEFAULTS",
    "DEFAULT_ORDER",
    "FIT_VOXELS",
    "FOREGROUND",
    "INIT_PARAMS",
    "MAX_DISTINCT",
    "MAX_ORDER",
    "MAX_SAMPLES",
    "SPLITS",
    "SWEEPS",
    "UNCERTAINTY_KINDS",
    "ChannelAxisWarning",
    "Comparison",
    "EmptyClassWarning",
    "GMMConvergenceWarning",
    "NotEnoughMemoryError",
    "Objects",
    "Options",
    "RegularizationWarning",
    "ScribbleWarning",
    "Segmentation",
    "Selection",
    "Step",
    "add_gaussian_noise",
    "apply_model",
    "available_memory",
    "check_bias_order",
    "check_memory",
    "check_n_components",
    "compare_labels",
    "compute_in_groups",
    "empty_classes",
    "get_backend",
    "is_dask_array",
    "iter_apply_model",
    "iter_segment",
    "iter_segment_multiscale",
    "iter_select_n_components",
    "label_objects",
    "lazy_outputs",
    "lazy_pixels",
    "load_model",
    "make_class_image",
    "masked_image",
    "match_labels",
    "mixture_density",
    "mixture_log_density",
    "noise_sweep",
    "pixel_features",
    "recording_warnings",
    "rescale_steps",
    "save_model",
    "segment",
    "select_n_components",
    "set_backend",
    "uncertainty",
    "use_backend",
]
