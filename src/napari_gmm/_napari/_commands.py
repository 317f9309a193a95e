"""npe2 commands: segment or add noise to the active Image layer, from the palette or scripts.

napari injects the parameters annotated with napari types (the active layer for
``napari.layers.Image``) and adds the returned ``LayerDataTuple``s to the viewer, updating
layers of the same name on a second run. Scripts can call them through napari's command
registry with keyword arguments, e.g.::

    from napari._app_model import get_app_model
    get_app_model().commands.execute_command("napari-gmm.segment", n_components=2)

or call the functions directly with a layer. They run in the calling (main) thread: for
long jobs with progress and cancel use the GMM Segmentation dock widget.
"""

from __future__ import annotations

import napari.layers
import napari.types
import numpy as np

from ..core import add_gaussian_noise, segment
from ._layers import MARK, output_name, spatial_transform

#: Axis labels (lower case) that mark a layer's time axis.
TIME_LABELS = ("t", "time", "frame", "frames")


def time_axis_of(layer) -> int | None:
    """The axis of `layer` labelled as time ('t', 'time', 'frame'), or None.

    napari's default axis labels ('-3', '-2', '-1' ...) never match.
    """
    labels = [str(label).strip().lower() for label in getattr(layer, "axis_labels", ())]
    found = [i for i, label in enumerate(labels) if label in TIME_LABELS]
    return found[0] if len(found) == 1 else None


def _check_layer(image, what: str):
    if image is None:
        raise ValueError(f"No image layer to {what}: add one or select it in the layer list.")
    if not isinstance(image, napari.layers.Image):
        kind = type(getattr(image, "__wrapped__", image)).__name__  # behind napari's proxy
        raise TypeError(
            f"The active layer {image.name!r} is a {kind} layer; select an Image layer to {what}."
        )
    if image.multiscale:
        raise ValueError(
            f"Layer {image.name!r} is multiscale; this command needs a single-scale image. "
            "Add one resolution level as a new layer and use that."
        )
    return image


def segment_layer(
    image: napari.layers.Image,
    n_components: int | str = 3,
    smoothing: float = 0.0,
    time_axis: int | str | None = "auto",
    frames: str | int = "each",
    random_state: int | None = 0,
    bias_field: str | None = None,
) -> list[napari.types.LayerDataTuple]:
    """Segment an Image layer with a Gaussian mixture: labels + probability layers.

    Parameters
    ----------
    image : napari.layers.Image
        The layer (injected: the active layer). RGB layers are segmented on their colours.
    n_components : int or 'auto', default=3
        Number of classes; 'auto' chooses it by ICL.
    smoothing : float, default=0.0
        Potts prior strength (1.0 recommended for noisy images); uses the layer's scale.
    time_axis : int, 'auto' or None, default='auto'
        Axis of the frames; 'auto' takes the axis labelled 't'/'time' (none: one image).
    frames : {'each', 'shared'} or int, default='each'
        Time series only: fit every frame, one model on all, or on one reference frame.
    random_state : int or None, default=0
        Seed (0: the same result on every run).
    bias_field : {None, 'polynomial'}, default=None
        Correct uneven illumination with a smooth multiplicative field (see
        :func:`napari_gmm.segment`); the dock widget can also show the field.

    Returns
    -------
    list of LayerDataTuple
        ``'<layer> probability'`` (image, hidden) and ``'<layer> labels'``, with the
        layer's scale and translate and the fit summary in ``metadata['napari-gmm']``.
    """
    image = _check_layer(image, "segment")
    channel_axis = -1 if image.rgb else None
    if time_axis == "auto":
        time_axis = time_axis_of(image)
    seg = segment(
        image.data,
        n_components,
        channel_axis=channel_axis,
        smoothing=smoothing,
        scale=tuple(abs(s) for s in image.scale),
        time_axis=time_axis,
        frames=frames if time_axis is not None else "each",
        random_state=random_state,
        bias_field=bias_field,
    )
    scale, translate = spatial_transform(image, channel_axis)
    options = {
        "n_components": n_components,
        "smoothing": float(smoothing),
        "time_axis": time_axis,
        "frames": frames,
        "random_state": random_state,
        "channel_axis": channel_axis,
        "bias_field": bias_field,
    }
    common = {"scale": scale, "translate": translate, "axis_labels": image.axis_labels}

    def meta(role, **info):
        name = output_name(image.name, role)
        mark = {"role": role, "source": image.name, "name": name, **info}
        return {"name": name, "metadata": {MARK: mark}, **common}

    probability = meta("probability")
    probability.update(colormap="viridis", contrast_limits=(0.0, 1.0), visible=False)
    labels = meta("labels", summary=seg.summary(), options=options)
    labels["opacity"] = 0.6
    return [(seg.probability, probability, "image"), (seg.labels, labels, "labels")]


def add_noise_layer(
    image: napari.layers.Image,
    sigma: float | None = None,
    seed: int | None = None,
) -> napari.types.LayerDataTuple:
    """Add Gaussian noise to an Image layer: a new ``'<layer> noisy'`` image layer.

    Parameters
    ----------
    image : napari.layers.Image
        The layer (injected: the active layer); RGB layers get noise in every channel.
    sigma : float or None, default=None
        Standard deviation in the image's intensity units; None: 10 % of the range of
        its finite values.
    seed : int or None, default=None
        Seed of the noise.

    Returns
    -------
    LayerDataTuple
        The noisy image (same dtype, scale, translate, colormap and contrast limits).
    """
    image = _check_layer(image, "add noise to")
    data = np.asarray(image.data)
    if sigma is None:
        finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
        sigma = 0.1 * float(np.ptp(finite)) if finite.size else 0.0
    channel_axis = -1 if image.rgb else None
    noisy = add_gaussian_noise(data, sigma, seed=seed, channel_axis=channel_axis)
    name = output_name(image.name, "noisy")
    meta = {
        "name": name,
        "scale": tuple(image.scale),
        "translate": tuple(image.translate),
        "rgb": bool(image.rgb),
        "contrast_limits": tuple(image.contrast_limits),
        "metadata": {MARK: {"role": "noisy", "source": image.name, "name": name, "sigma": sigma}},
    }
    if not image.rgb:
        meta["colormap"] = image.colormap.name
    return (noisy, meta, "image")
