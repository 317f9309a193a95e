"""Segment a time series: every frame on its own, one shared model, or a reference frame.

Called by :func:`napari_gmm.segment` / ``iter_segment`` when ``time_axis`` is given:

* ``frames='each'``: every frame is segmented on its own (its own mixture, classes ordered
  by intensity in every frame), which follows bleaching or drifting intensities;
* ``frames='shared'``: one mixture is fitted on the pixels of all frames (the exact
  histogram of an integer series, else a seeded sample) and applied to every frame, so a
  class means the same intensity range in every frame;
* ``frames=<int>``: the mixture is fitted on that reference frame (the full single-image
  pipeline, HMRF re-estimation included) and applied to every frame.

Smoothing only ever runs within a frame. The shared or reference model is applied as it is
(no per-frame re-estimation), so the classes stay identical across frames.

With a bias field every frame gets its own field (a field over time would be a shading
that moves with the frames): ``'each'`` estimates it with the frame's own mixture;
``'shared'`` alternates one mixture on all frames with one field per frame (their mean
over the series is 1, so the fields also take up differences of brightness between frames,
e.g. bleaching); a reference frame's model is applied with a field estimated for every
frame with that model held fixed.
"""

from __future__ import annotations

import time

from .._apply import iter_apply_image
from .._features import pixel_data
from .._options import Options, compress_if_integer
from .._selection import AUTO_CANDIDATES, AUTO_CRITERION, select_n_components
from ..bias._ecm import n_terms
from ..bias._fit import fit_shared_with_bias
from ..fit._fit import fit_on_distinct, fit_on_pixels
from ..fit._shared_frames import frame_mixtures, series_noise, too_noisy_frames, warn_noisy
from ..potts._auto_smoothing import recorded_smoothing
from ..progress import rescale
from ._frames import check_frames, iter_frames, split_frames, stack_frames

#: Share of the progress bar taken by the fit in the shared and reference-frame modes.
FIT_SHARE = 0.3


def iter_segment_series(image, n_components, iter_one, time_axis, frames, opts: dict):
    """Generator: segment the frames of `image` along `time_axis`; returns a Segmentation.

    `iter_one(image, n_components, **opts)` is the single-image segmentation generator
    (``iter_segment``, passed in so that imports point one way); `opts` holds every
    segmentation option (validated here or by `iter_one`).
    """
    start = time.perf_counter()
    split = split_frames(image, time_axis, opts["channel_axis"], opts["scale"])
    mode = check_frames(frames, split.n_frames)
    smoothing, bias_field = opts["smoothing"], opts["bias_field"]  # checked by iter_segment
    terms = n_terms(split.n_spatial, opts["bias_order"])
    frame_opts = {**opts, "channel_axis": split.channel_axis, "scale": split.scale}
    n = split.n_frames
    fields = [None] * n
    if mode == "each":
        results = yield from iter_frames(
            split, lambda frame: iter_one(frame, n_components, **frame_opts)
        )
        methods = sorted({f.method for f in results})
        return stack_frames(
            results, split, mode="each", model=results[0].model,
            method=f"{', '.join(methods)}, each frame",
            n_fit_samples=sum(f.n_fit_samples for f in results), start=start,
            smoothing=recorded_smoothing(smoothing, results),
            bias_params=n * (terms - 1) if bias_field else 0,
        )
    if mode == "shared":
        yield 0.0, f"fitting one mixture on all {n} frames"
        gmm, info, selection, params = _fit_all_frames(split, n_components, opts)
        if bias_field is not None:
            yield 0.1, f"estimating one bias field per frame ({n} frames)"
            gmm, info, fields = fit_shared_with_bias(
                gmm, [pixel_data(split.frame(i), split.channel_axis) for i in range(n)],
                params, order=opts["bias_order"], max_samples=opts["max_samples"],
            )
        method = f"{info.method}, shared by {n} frames"
        n_fit = info.n_fit_samples
        bias_params = n * terms - 1
    else:
        steps = iter_one(split.frame(mode), n_components, **frame_opts)
        label = f"fitting on frame {mode + 1}/{n}"
        ref = yield from rescale(steps, 0.0, FIT_SHARE, lambda stage: f"{label}: {stage}")
        gmm, selection, n_fit = ref.model, ref.selection, ref.n_fit_samples
        method = f"{ref.method}, fitted on frame {mode}"
        bias_params = n * terms
    yield FIT_SHARE, f"applying the model to {n} frames"
    apply_opts = {
        "channel_axis": split.channel_axis,
        "scale": split.scale,
        "smoothing": smoothing,
        "marginals": opts["marginals"],
        "return_posteriors": opts["return_posteriors"],
        "max_distinct": opts["max_distinct"],
        "max_samples": opts["max_samples"],
        # a reference frame's model: a field for every frame with the model held fixed
        "bias_field": bias_field if mode != "shared" else None,
        "bias_order": opts["bias_order"],
    }
    models = [gmm] * n
    if mode == "shared" and bias_field is not None:
        # the fields scale dim frames up, and their noise with them: every frame gets the
        # shared classes widened by its own noise
        data = [pixel_data(split.frame(i), split.channel_axis) for i in range(n)]
        noise = series_noise(data, fields)
        del data
        noisy = too_noisy_frames(gmm, noise)
        models = frame_mixtures(gmm, noise)
        if noisy:
            warn_noisy(noisy, n)
    frame_fields = iter(enumerate(fields))  # iter_frames runs the frames in order

    def one(frame):
        i, field = next(frame_fields)
        return iter_apply_image(models[i], frame, field=field, **apply_opts)

    results = yield from iter_frames(split, one, start=FIT_SHARE, span=1.0 - FIT_SHARE)
    return stack_frames(
        results, split, mode=mode, model=gmm, method=method, n_fit_samples=n_fit,
        start=start, smoothing=recorded_smoothing(smoothing, results), selection=selection,
        bias_params=bias_params if bias_field else 0,
    )


def _fit_all_frames(split, n_components, opts):
    """One mixture on the pixels of every frame: the time axis only enumerates pixels here.

    Integer series take the exact path (EM on the distinct values of all frames weighted
    by their counts); others a seeded random sample of ``max_samples`` pixels of all frames.
    """
    max_samples, max_distinct = opts["max_samples"], opts["max_distinct"]
    # the whole series with time as one more pixel axis: only used to gather pixels
    channel_axis = opts["channel_axis"]
    selection = None
    if isinstance(n_components, str):
        if n_components != "auto":
            raise ValueError(
                f"n_components must be an int >= 1 or 'auto', got {n_components!r}. Use e.g. "
                "n_components=3, or 'auto' to choose it by ICL."
            )
        keys = ("covariance_type", "random_state", "n_init", "tol", "max_iter", "reg_covar",
                "max_samples", "max_distinct")
        selection = select_n_components(
            split.image, AUTO_CANDIDATES, criterion=AUTO_CRITERION, channel_axis=channel_axis,
            **{key: opts[key] for key in keys},
        )
        n_components = selection.best
    params = Options(**opts).gmm_params(n_components)
    data = pixel_data(split.image, channel_axis)
    compressed = compress_if_integer(data, max_distinct)
    if compressed is not None:
        gmm, info = fit_on_distinct(compressed, params)
    else:
        gmm, info = fit_on_pixels(data, params, max_samples=max_samples)
    return gmm, info, selection, params
