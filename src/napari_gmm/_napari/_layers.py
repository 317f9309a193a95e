"""Output layers of the dock widget: create them once, then update them in place.

Every layer the widget makes carries ``metadata["napari-gmm"] = {"role", "source", "name",
...}``: what it shows, the name of the input layer it was computed from, and the name it was
given. A layer is taken to be the widget's own output only if this mark matches *and* the
layer still has that name, so layers made by the user (or renamed by the user, to keep a
result) are never modified or removed.

Only call these functions from the main (GUI) thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from napari.layers import Image, Labels

if TYPE_CHECKING:
    import napari

    from ._worker import JobResult

#: Metadata key marking the layers made by the widget.
MARK = "napari-gmm"


@dataclass(frozen=True)
class Output:
    """A layer to put in the viewer.

    Attributes
    ----------
    role : str
        What it shows: ``'noisy'``, ``'probability'``, ``'uncertainty'``, ``'posterior k'``
        or ``'labels'``; the layer is named ``'<source> <role>'``.
    kind : str
        ``'image'`` or ``'labels'``.
    data : ndarray
        The layer data.
    rgb : bool
        Whether an image layer is RGB(A).
    create : dict
        Keyword arguments for a new layer only (colormap, opacity, visibility...): a user's
        later changes to these are kept when the layer is updated.
    update : dict
        Layer properties set on new and updated layers alike (e.g. contrast limits).
    info : dict
        Extra entries of the ``metadata["napari-gmm"]`` mark (e.g. the fit summary).
    """

    role: str
    kind: str
    data: np.ndarray
    rgb: bool = False
    create: dict | None = None
    update: dict | None = None
    info: dict | None = None


def output_name(source: str, role: str) -> str:
    """Name of the output layer showing `role` for the input layer named `source`."""
    return f"{source} {role}"


def own_layers(viewer: napari.viewer.Viewer, source: str) -> dict[str, napari.layers.Layer]:
    """The widget's output layers for input `source`, by role."""
    found = {}
    for layer in viewer.layers:
        mark = layer.metadata.get(MARK)
        if (
            isinstance(mark, dict)
            and mark.get("source") == source
            and mark.get("name") == layer.name
            and isinstance(mark.get("role"), str)
        ):
            found.setdefault(mark["role"], layer)
    return found


def put_outputs(
    viewer: napari.viewer.Viewer,
    source: str,
    outputs: list[Output],
    *,
    scale,
    translate,
    keep=(),
) -> list[napari.layers.Layer]:
    """Create or update the output layers of input `source`; remove its stale outputs.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer.
    source : str
        Name of the input layer (never modified).
    outputs : list of Output
        The layers of this run, bottom to top for new layers.
    scale, translate : sequence of float
        Spatial scale and translate of the input, given to every output.
    keep : iterable of layer
        Layers never to update or remove (the input layer).

    Returns
    -------
    list of napari.layers.Layer
        The layers, in the order of `outputs`.
    """
    keep_ids = {id(_unwrap(layer)) for layer in keep}
    existing = {
        role: layer
        for role, layer in own_layers(viewer, source).items()
        if id(_unwrap(layer)) not in keep_ids
    }
    layers = []
    for out in outputs:
        name = output_name(source, out.role)
        mark = {"role": out.role, "source": source, "name": name, **(out.info or {})}
        props = {"scale": scale, "translate": translate, **(out.update or {})}
        cls = Labels if out.kind == "labels" else Image
        layer = existing.pop(out.role, None)
        if layer is not None and _compatible(layer, cls, out):
            layer.data = out.data
            for key, value in props.items():
                setattr(layer, key, value)
        else:
            kwargs = {"name": name, **(out.create or {}), **props}
            if cls is Image:
                kwargs["rgb"] = out.rgb
            new = cls(out.data, **kwargs)
            if layer is None:
                viewer.layers.append(new)
            else:  # same role but e.g. other dimensionality: replace it where it was
                index = viewer.layers.index(layer)
                viewer.layers.remove(layer)
                viewer.layers.insert(index, new)
            layer = new
        mark["name"] = layer.name  # napari may have made the name unique
        layer.metadata = {**layer.metadata, MARK: mark}
        layers.append(layer)
    for layer in existing.values():  # outputs of an earlier run that this run did not make
        viewer.layers.remove(layer)
    return layers


def _compatible(layer, cls, out: Output) -> bool:
    """Whether `layer` can take the data of `out` in place."""
    if not isinstance(layer, cls) or layer.multiscale or isinstance(out.data, list):
        return False
    if cls is Image and bool(layer.rgb) != bool(out.rgb):
        return False
    return np.ndim(layer.data) == out.data.ndim


def _unwrap(obj):
    """The object behind napari's public-only proxy (identity comparisons)."""
    return getattr(obj, "__wrapped__", obj)


def image_layers(viewer: napari.viewer.Viewer) -> list:
    """The viewer's Image layers, in layer-list order (choices of the widgets' image field)."""
    return [layer for layer in viewer.layers if isinstance(layer, Image)]


def spatial_transform(layer, channel_axis: int | None) -> tuple[tuple, tuple]:
    """Scale and translate of the spatial axes of an input layer.

    For RGB layers napari's scale already has only the spatial axes; for a multichannel
    layer segmented along `channel_axis` that axis is dropped.
    """
    scale, translate = tuple(layer.scale), tuple(layer.translate)
    if channel_axis is not None and not layer.rgb:
        axis = channel_axis % len(scale)
        scale = scale[:axis] + scale[axis + 1 :]
        translate = translate[:axis] + translate[axis + 1 :]
    return scale, translate


def job_outputs(job, result: JobResult) -> list[Output]:
    """The output layers of a finished job, bottom to top.

    `job` (a :class:`._job.SegmentJob`) holds what the widget read when the job started.
    Derived maps are hidden when first added (the labels are shown over the image); later
    runs keep whatever visibility, colormap or opacity the user chose.
    """
    seg = result.segmentation
    unit = {"contrast_limits": (0.0, 1.0)}
    outputs = []
    if result.noisy is not None:
        create = {} if job.rgb else {"colormap": job.colormap}
        update = {"contrast_limits": job.contrast_limits}
        outputs.append(Output("noisy", "image", result.noisy, job.rgb, create, update))
    hidden = {"colormap": "viridis", "visible": False}
    outputs.append(Output("probability", "image", seg.probability, False, hidden, unit))
    if result.uncertainty is not None:
        create = {"colormap": "magma", "visible": False}
        outputs.append(Output("uncertainty", "image", result.uncertainty, False, create, unit))
    if result.posteriors is not None:
        for k, posterior in enumerate(result.posteriors, start=1):
            outputs.append(Output(f"posterior {k}", "image", posterior, False, hidden, unit))
    from ._bias_fields import bias_outputs

    outputs += bias_outputs(job, seg, Output)
    info = {"summary": seg.summary(), "options": job_record(job)}
    names = getattr(seg, "class_names", None)  # guided classes: names in the features
    update = {} if not names else {"features": {"index": list(range(1, len(names) + 1)),
                                               "class_name": list(names)}}
    outputs.append(Output("labels", "labels", seg.labels, create={"opacity": 0.6},
                          update=update, info=info))
    if getattr(result, "objects", None) is not None:
        outputs.append(objects_output(result.objects, job.objects))
    return outputs


def objects_output(objects, options=None) -> Output:
    """The ``'<source> objects'`` Labels layer: instance labels, one features row per object.

    The features' ``index`` column holds the object ids, so napari shows an object's row
    (class, size, centroid, mean intensity...) in the status bar when hovering it.
    `options` (those of ``label_objects``) are recorded in the layer's metadata.
    """
    features = {"index": objects.table["label"], **objects.table}
    info = {"n_objects": objects.n_objects, "classes": [int(c) for c in objects.classes],
            "options": {k: v for k, v in (options or {}).items()
                        if k not in ("classes", "mask")}}
    return Output("objects", "labels", objects.labels, update={"features": features}, info=info)


def with_role(layers, role: str):
    """The layer of `layers` (outputs of :func:`put_outputs`) that shows `role`."""
    return next(layer for layer in layers if layer.metadata[MARK]["role"] == role)


def job_record(job) -> dict:
    """The options of a job as plain Python (JSON-serialisable), to repeat the run."""
    keys = ("noise_sigma", "seed", "uncertainty", "posteriors", "bias_layers")
    return {**job.segment, **{key: getattr(job, key) for key in keys}}
