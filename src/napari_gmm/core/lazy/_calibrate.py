"""Calibrated probabilities of dask images: the in-memory temperature, fitted on one block.

The in-memory route tempers the final mean-field posteriors by a temperature fitted on a
central block of the image (:mod:`..potts._calibrate`). A dask image gets the same: the
central block is read with a margin as deep as all the sweeps (so its final posteriors are
those the blocks compute there), swept with the image's models, and given to
:func:`..potts._calibrate.held_out_temperature`; the blocks then temper their own voxels'
posteriors by it (:func:`..potts._calibrate.temper_planes`). The labels do not change.
"""

from __future__ import annotations

import numpy as np

from ..potts._calibrate import calibration_seed, central_block, held_out_temperature
from ._apply import _potts_block
from ._fused_blocks import per_model


def lazy_temperature(pixels, models, order, final, *, smoothing, scale, sweeps, max_distinct,
                     random_state) -> float:
    """The temperature of the final posteriors of a dask image (see the module docstring).

    `models` and `order` are those of :func:`._apply.lazy_outputs`; `final` is the final
    mixture, its components in the order of the results.
    """
    shape = pixels.spatial_shape
    margin = int(sum(per_model(sweeps, len(models))))
    central = central_block(shape)
    outer = tuple(
        slice(max(0, s.start - margin), min(n, s.stop + margin))
        for s, n in zip(central, shape, strict=True)
    )
    box = tuple(slice(c.start - o.start, c.stop - o.start)
                for c, o in zip(central, outer, strict=True))
    sub = np.asarray(pixels.array[(*outer, slice(None))].compute())
    q, data = _potts_block(sub, models, smoothing, scale, sweeps, max_distinct)
    if order is not None:
        q = q[..., order]
    valid = None if data.valid is None else data.to_spatial(data.valid)
    return held_out_temperature(final, sub, np.ascontiguousarray(q, dtype=np.float32), valid,
                                smoothing=smoothing, scale=scale,
                                random_state=calibration_seed(random_state), box=box)
