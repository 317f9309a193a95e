"""Labels and max posterior of pixel-major posteriors, in place (numba).

Used by the routes without class-major planes (:func:`._hmrf._iter_reference`: more than
3 spatial axes or 254 classes): the posteriors' columns are put in the components' order
and labels and probability written without a second (N, K) buffer or int64 argmax
temporaries.
"""

from __future__ import annotations

import numpy as np

from .._nb_estep import KERNEL_LOCK
from ._kernels import finish_kernel


def finish(q, order, label_dtype):
    """Reorder the columns of `q` in place; labels (argmax + 1, 0 if all 0) and max."""
    n = q.shape[0]
    labels = np.empty(n, dtype=label_dtype)
    prob = np.empty(n, dtype=np.float32)
    with KERNEL_LOCK:
        finish_kernel(q, np.ascontiguousarray(order, dtype=np.int64), labels, prob)
    return labels, prob
