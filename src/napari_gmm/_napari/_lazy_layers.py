"""Lazy and multiscale image layers: dask-backed outputs, one fit for every level.

Pure Python (no Qt): runs inside the widget's worker like :func:`._worker.segment_job`.

- A dask-backed Image layer goes through :func:`napari_gmm.segment` unchanged, which keeps
  the results lazy: the Labels / probability layers are dask arrays, and napari computes
  only the planes it shows.
- A multiscale Image layer is fitted once and every level predicted lazily by
  :func:`napari_gmm.core.iter_segment_multiscale` (``core/lazy/_multiscale.py``), giving
  multiscale Labels and probability layers with the input's levels, scale and translate.
"""

from __future__ import annotations

import numpy as np

from ..core import is_dask_array


def layer_data(layer):
    """The data to segment: the list of levels of a multiscale layer, else ``layer.data``."""
    return list(layer.data) if layer.multiscale else layer.data


def is_multiscale(data) -> bool:
    return isinstance(data, list)


def uncertainty_map(seg, kind):
    """The uncertainty map of a result (lazy for lazy results), or None."""
    if kind is None:
        return None
    if isinstance(seg.labels, list):
        raise ValueError(
            "Uncertainty maps are not available for multiscale layers yet; set the "
            "uncertainty to 'none', or segment one level as a single-scale layer."
        )
    return seg.uncertainty(kind)


def posterior_stack(seg):
    """Per-class posterior maps, class axis first (lazy for lazy results)."""
    if seg.posteriors is None:
        return None
    if is_dask_array(seg.posteriors):
        import dask.array as da

        return da.moveaxis(seg.posteriors, -1, 0)
    return np.ascontiguousarray(np.moveaxis(seg.posteriors, -1, 0))
