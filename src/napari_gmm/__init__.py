"""Gaussian-mixture segmentation of images, for napari and scripts.

Layout (imports point one way, adapters -> core):

- :mod:`napari_gmm.core`: the maths (numpy, scipy, scikit-learn, threadpoolctl, numba, dask);
- :mod:`napari_gmm.io`: image and model files;
- :mod:`napari_gmm.cli`: the ``napari-gmm`` command line;
- ``napari_gmm._napari``: the napari widgets, layers and commands, loaded through ``napari.yaml``.

Everything exported here is core or io: importing it never imports napari or Qt.
"""

from ._version import __version__
from .core._apply import apply_model
from .core._backend import get_backend, set_backend, use_backend
from .core._features import pixel_features
from .core._model_file import load_model, save_model
from .core._options import MAX_DISTINCT
from .core._resources import NotEnoughMemoryError
from .core._result import Segmentation, uncertainty
from .core._segment import segment
from .core._selection import Selection, select_n_components
from .core._validation import ChannelAxisWarning
from .core.analysis._density import mixture_density, mixture_log_density
from .core.analysis._metrics import Comparison, compare_labels, match_labels
from .core.analysis._noise import add_gaussian_noise
from .core.analysis._sweep import noise_sweep
from .core.fit._empty import EmptyClassWarning
from .core.fit._fit import MAX_SAMPLES, GMMConvergenceWarning, RegularizationWarning
from .core.fit._shared_frames import SharedFrameWarning
from .core.guided._guided import ScribbleWarning
from .core.objects._label import label_objects
from .core.objects._table import Objects

__all__ = [
    "MAX_DISTINCT",
    "MAX_SAMPLES",
    "ChannelAxisWarning",
    "Comparison",
    "EmptyClassWarning",
    "GMMConvergenceWarning",
    "NotEnoughMemoryError",
    "Objects",
    "RegularizationWarning",
    "ScribbleWarning",
    "Segmentation",
    "Selection",
    "SharedFrameWarning",
    "__version__",
    "add_gaussian_noise",
    "apply_model",
    "compare_labels",
    "get_backend",
    "label_objects",
    "load_model",
    "match_labels",
    "mixture_density",
    "mixture_log_density",
    "noise_sweep",
    "pixel_features",
    "save_model",
    "segment",
    "select_n_components",
    "set_backend",
    "uncertainty",
    "use_backend",
]
