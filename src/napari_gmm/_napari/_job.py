"""What a dock's run needs, read from its fields and the input layer when it starts.

Pure Python (no Qt). The base dock keeps the running :class:`Job` to check, when the
result comes back, that the input layer is still there with the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(eq=False)
class Job:
    """A run of a dock on one image layer.

    Attributes
    ----------
    source : str
        The input layer's name (for messages and output layer names).
    layer : napari.layers.Layer or None
        The input layer.
    data_ref : object
        ``layer.data`` when the run started (a replaced array discards the results).
    busy : str or None
        Status text while the run goes on.
    """

    source: str
    layer: object = None
    data_ref: object = None
    busy: str | None = None


@dataclass(eq=False)
class SegmentJob(Job):
    """A run of the *GMM Segmentation* dock (see ``_segment_job.read_segment_job``).

    ``segment`` holds the keyword arguments of :func:`napari_gmm.segment` the fields set
    (``n_components``, the :class:`napari_gmm.core.Options` names, ``time_axis``,
    ``frames``; with a model, those of :func:`napari_gmm.apply_model` and ``model``); the
    other attributes are the job's own options and what the output layers copy from the
    input layer.
    """

    data: object = None
    segment: dict = field(default_factory=dict)
    channels: object = None
    noise_sigma: float = 0.0
    seed: int | None = None
    uncertainty: str | None = None
    posteriors: bool = False
    objects: dict | None = None
    bias_layers: bool = False
    scale: tuple = ()
    translate: tuple = ()
    rgb: bool = False
    contrast_limits: tuple = ()
    colormap: str | None = None


@dataclass(eq=False)
class DiagnosticsJob(Job):
    """A run of the *Model diagnostics* dock (its fields go into ``Fit``)."""

    data: object = None
    channel_axis: int | None = None
    scale: tuple = ()
    translate: tuple = ()
    seed: int = 0
    tol: float = 1e-3
