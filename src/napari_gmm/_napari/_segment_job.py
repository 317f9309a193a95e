"""What a run of the *GMM Segmentation* dock needs, read from its fields; its summary text.

Main thread only (reads widgets and layers); the run itself is ``_worker.segment_job``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import APPLIED
from ._bias_fields import bias_text
from ._job import SegmentJob
from ._scribbles_section import spatial_shape

if TYPE_CHECKING:
    from ..core import Segmentation

#: Choice of the uncertainty field meaning "no uncertainty map".
NO_UNCERTAINTY = "none"
#: Value of the seed field meaning "a new random seed at each run".
RANDOM_SEED = -1


def read_segment_job(dock, layer, model=None) -> SegmentJob:
    """Everything a run of `dock` (a ``GMMWidget``) needs, read from its fields and
    the layer now (main thread)."""
    axes = dock.input.read(layer)
    data, mask = dock.objects_section.masked(axes["data"], axes["channel_axis"], layer)
    seed = int(dock.seed.value)
    if seed == RANDOM_SEED:
        seed = secrets.randbelow(2**31)
    options = {keyword: field.value for keyword, field in dock._fields}
    options["n_components"] = dock.k_field.read()
    options["smoothing"] = dock.smoothing_field.read()
    if dock.calibrated.value:
        options["marginals"] = "gibbs"
    options.update(dock.bias.read())
    # the prior weighs neighbours by the layer's physical pixel size
    options.update(channel_axis=axes["channel_axis"], scale=tuple(map(abs, axes["scale"])))
    if axes["time_axis"] is not None:
        options.update(time_axis=axes["time_axis"], frames=axes["frames"])
    if model is None:  # guided classes (_scribbles_section.py)
        options.update(dock.scribbles_section.read(spatial_shape(axes), axes["time_axis"]))
    if model is not None:
        keys = ("channel_axis", "smoothing", "marginals", "scale", "time_axis",
                "bias_field", "bias_order")
        options = {k: options[k] for k in keys if k in options}
        options["model"] = str(model) if isinstance(model, str | Path) else "in memory"
    uncertainty = dock.uncertainty.value
    verb = "applying the model to" if model is not None else "segmenting"
    return SegmentJob(
        layer=layer,
        data=data,
        data_ref=layer.data,
        source=layer.name,
        busy=f"{verb} {layer.name!r}…",
        segment=options,
        channels=axes["channel_names"],
        noise_sigma=float(dock.noise_sigma.value),
        seed=seed,
        uncertainty=None if uncertainty == NO_UNCERTAINTY else uncertainty,
        posteriors=bool(dock.posteriors.value),
        objects=dock.objects_section.read(axes["data"], mask),
        bias_layers=dock.bias.layers_wanted(),
        scale=axes["scale"],
        translate=axes["translate"],
        rgb=bool(layer.rgb),
        contrast_limits=tuple(layer.contrast_limits),
        colormap=None if layer.rgb else layer.colormap.name,
    )


def fit_summary_text(seg: Segmentation) -> str:
    """A few short lines summarising a fit, for the widget's summary label."""
    if seg.method == APPLIED:
        return (f"applied model, K={seg.n_components}; log-likelihood {seg.log_likelihood:.4g}"
                f"/pixel{bias_text(seg)}, {seg.elapsed:.2f} s")
    state = "converged" if seg.converged else "NOT converged"
    return (
        f"K={seg.n_components}, {state} after {seg.n_iter} iterations\n"
        f"BIC {seg.bic:.6g}, log-likelihood {seg.log_likelihood:.4g}/pixel\n"
        f"{seg.method}"
        + (f", smoothing {seg.smoothing:g}" if seg.smoothing else "")
        + (" with partial volumes" if getattr(seg, "mixels", None) is not None else "")
        + f"{bias_text(seg)}, {seg.elapsed:.2f} s"
        + (f" on {seg.backend}" if seg.backend else "")
    )
