"""The segmentation pipeline: pixels -> fitted mixture -> ordered labels and probabilities."""

from __future__ import annotations

import time

import numpy as np

from ._mask import masked_image
from ._options import MAX_DISTINCT, Options
from ._resources import check_segmentation_memory
from ._result import Segmentation
from ._validation import UNSET, check_progress, resolve_channel_axis
from .bias._ecm import DEFAULT_ORDER
from .fit._empty import warn_empty_classes
from .fit._fit import MAX_SAMPLES
from .guided._segment import GUIDED_OPTIONS, active_options, iter_guided_or_named
from .lazy._fit import is_dask_array
from .lazy._segment import iter_segment_lazy
from .pipeline._image import iter_segment_image
from .progress import run
from .series._series import iter_segment_series


def segment(
    image,
    n_components=None,
    *,
    channel_axis=UNSET,
    covariance_type="full",
    tol=1e-3,
    max_iter=100,
    n_init=1,
    init_params="kmeans",
    reg_covar=1e-6,
    random_state=None,
    max_samples=MAX_SAMPLES,
    max_distinct=MAX_DISTINCT,
    smoothing=0.0,
    marginals="mean-field",
    scale=None,
    return_posteriors=False,
    partial_volume=False,
    time_axis=None,
    frames="each",
    bias_field=None,
    bias_order=DEFAULT_ORDER,
    scribbles=None,
    class_names=None,
    components_per_class=1,
    progress=None,
    mask=None,
) -> Segmentation:
    """Segment an image by fitting a Gaussian mixture to its pixel values with EM.

    Parameters
    ----------
    image : (M, N[, P, ...]) ndarray, or (..., C) with `channel_axis`
        Gray (2D, 3D or nD) or multichannel (e.g. RGB) image of bool, integer or float dtype.
        Pixels that are not finite (NaN/inf in any channel) are left out of the fit.
    n_components : int, 'auto' or None, default=None
        Number of classes (Gaussians); at most the number of distinct valid pixel values.
        None: 3, or with `scribbles` the largest scribbled class id.
        'auto' picks it among 2..8 by ICL (BIC + 2 x classification entropy, from a
        deterministic start, so the same K for every seed) with
        :func:`napari_gmm.select_n_components` (same options); the selection, with the
        BIC, AIC and ICL of every candidate, is kept in ``result.selection``.
    channel_axis : int or None, default=None
        Axis holding the channels (-1 for RGB). None: every axis is spatial (gray image).
        When it is not given and the last axis has length 3 or 4 (and the others at least
        8), the image looks like RGB(A): it is still segmented as gray, with a
        :class:`~napari_gmm.ChannelAxisWarning`; pass ``channel_axis=None`` to confirm.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Shape of the component covariances, as in scikit-learn's GaussianMixture.
    tol : float, default=1e-3
        EM stops when the mean log-likelihood lower bound changes by less than this.
    max_iter : int, default=100
        Largest number of EM iterations (a warning is issued when it is reached).
    n_init : int, default=1
        Number of initialisations; the best log-likelihood wins.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How responsibilities are initialised.
    reg_covar : float, default=1e-6
        Added to the covariance diagonals (squared intensity units) to keep them positive.
    random_state : int, RandomState or None, default=None
        Seed for the initialisation and the subsample; an int gives reproducible results.
    max_samples : int, default=100_000
        When the exact path does not apply and there are more valid pixels than this, the
        mixture is fitted on a seeded random subsample of this many pixels; every pixel is
        then predicted in chunks of bounded memory.
    max_distinct : int, default=262_144
        Integer and bool images with at most this many distinct values (gray) or colours
        (multichannel) take the exact fast path: EM on the distinct values weighted by their
        counts (identical iterates to EM on every pixel) and prediction by lookup table.
        0 disables it.
    smoothing : float, default=0.0
        Strength of a Potts prior over spatial neighbours (hidden Markov random field), for
        noisy images: 0 = off (plain per-pixel EM); 1.0 is the recommended strength, in 2D
        and 3D alike (a pixel whose face neighbours all agree on a class gets prior odds of
        e^8 towards it). The posteriors are then computed by mean-field updates and the
        mixture is re-estimated once from them (HMRF-EM, as in FSL FAST / ANTs Atropos);
        labels and probability come from these regularised posteriors. Only spatial axes
        are smoothed, never channels. ``'auto'`` estimates the strength from the image
        (stochastic EM with maximum pseudo-likelihood, see
        :func:`napari_gmm.core.potts._auto_smoothing.estimate_smoothing`), backed off
        (x0.75, x0.5, ... x0.05, else 0) when its re-estimation would shrink a class below
        0.8 of its weight, as a 1-voxel band eroded by a too strong prior does, unless
        the classes are stable or the held-out likelihood asks for more (see
        :mod:`napari_gmm.core.potts._auto_guard`); the chosen value is
        ``result.smoothing``. ``'held-out'`` chooses it among 0..2 by the held-out
        likelihood of a random tenth of the pixels, hidden from the data term, with the
        same guard (see :mod:`napari_gmm.core.potts._beta_cv`), at about 10
        segmentations' cost. Both use central blocks of large (or dask) images.
    marginals : {'mean-field', 'gibbs'}, default='mean-field'
        With smoothing: how the posteriors (probability, uncertainty) are computed.
        Mean-field posteriors alone are over-confident (~1 nearly everywhere); they are
        tempered, ``q^(1/T)`` renormalised, with ``T >= 1`` fitted on the image by the
        held-out likelihood of hidden pixels (labels unchanged; see
        :mod:`napari_gmm.core.potts._calibrate`). ``'gibbs'`` gives Potts posterior
        marginals by Gibbs sampling (seeded by `random_state`, about 5x the cost of the
        mean-field updates), and labels are their argmax.
    scale : sequence of float or None, default=None
        Physical pixel size per spatial axis (e.g. a napari layer's ``scale``), so that
        the prior weighs neighbours by 1/distance in anisotropic volumes. None: isotropic.
    return_posteriors : bool, default=False
        Also keep the per-class posterior maps, shape (*spatial, K), float32.
    partial_volume : bool, default=False
        Also estimate each class's fraction of every voxel at the boundaries between
        classes (partial volumes, as FSL FAST and ANTs Atropos report):
        ``result.fractions``, shape (K, *spatial), float32 (see
        :func:`napari_gmm.core.potts._partial_volume.partial_volume_fractions`). Single
        in-memory images only.
    time_axis : int or None, default=None
        Axis holding the frames of a time series, e.g. 0 for (T, Y, X) or (T, Z, Y, X).
        Frames are never smoothed across; ``result.frames`` holds every frame's result and
        ``result.labels`` stacks their labels along the time axis. None: a single image.
    frames : {'each', 'shared'} or int, default='each'
        With `time_axis`: ``'each'`` fits every frame on its own (classes ordered by
        intensity in every frame; follows bleaching; ``result.model`` is the first frame's
        model), ``'shared'`` fits one mixture on all frames and applies it to each, an int
        fits on that frame and applies its model to all. With ``'shared'`` or an int,
        ``result.model`` is that one model, applied as it is to every frame.
    bias_field : {None, 'polynomial'}, default=None
        Correct uneven illumination (vignetting, depth attenuation, MRI bias): a smooth
        multiplicative field ``b`` (one for all channels, over the spatial axes) estimated
        jointly with the mixture, which then models ``image / b`` (see
        :mod:`napari_gmm.core.bias._ecm`). ``result.bias_field`` is the field (mean 1 over the
        valid pixels), ``result.corrected`` the corrected image, and the labels,
        probability and model are those of the corrected image. Pixels <= 0 in every
        channel do not inform the field. With `smoothing` the field is also fitted under
        the Potts prior. With `time_axis`: one field per frame (``frames='each'``;
        ``'shared'``: one mixture, one field per frame estimated with it, which also
        evens out the frames' brightness; a reference frame: its model, and a field per
        frame for that model). ``n_components='auto'`` (single images) is chosen on the
        image, then again on the image corrected with that K's field. None: off.
    bias_order : int, default=3
        Total degree of the polynomial field, 1..6 (1: a linear ramp; 2-3: vignetting and
        most smooth shading). Higher orders follow more complex shading but can start to
        explain large regions of one class as shading.
    scribbles : integer ndarray of the spatial shape, or None, default=None
        Guided classes (see :mod:`napari_gmm.core.guided._guided`): 0 = not scribbled, k = class
        k. The mixture is fitted by semi-supervised EM with scribbled pixels held in their
        class (also through the smoothing sweeps); labels follow the scribbles' ids, not
        intensity order; classes above the largest id are fitted unsupervised.
        `init_params` is then not used (a k-means constrained by the scribbles starts EM).
        Not supported yet with `time_axis`, dask arrays, `bias_field`, smoothing='auto'
        or marginals='gibbs' (NotImplementedError).
    class_names : sequence of str or None, default=None
        One name per class (1..K), kept in ``result.class_names`` and the model
        (``model.class_names_``, written to model files).
    components_per_class : int, sequence of int or 'auto', default=1
        With `scribbles`: Gaussians per class (one int for all, or one per class), e.g.
        ``[3, 1]`` for a skewed background and bright objects; 'auto' chooses 1..3 per
        class by BIC (greedy, class by class). Labels, probability and posteriors are per
        class (a class's posterior is the sum of its Gaussians').
    progress : callable or None, default=None
        Called as ``progress(fraction, stage)`` with fraction in [0, 1]; an exception it
        raises (e.g. a cancellation) stops the segmentation.
    mask : ndarray of bool, optional
        Region to segment, the image's shape without its channel axis: only pixels inside
        are fitted and labelled; outside ones are left out like non-finite pixels (label 0,
        probability 0). The image is then processed as float (no exact integer path).

    Returns
    -------
    Segmentation
        ``labels`` (1..K, 0 for non-finite pixels), ``probability`` (float32 max posterior),
        ``model`` (a fitted ``sklearn.mixture.GaussianMixture``, component k-1 = label k),
        ``converged``, ``n_iter``, ``log_likelihood``, ``bic``, ``aic``, ``lower_bounds``...

    Raises
    ------
    TypeError
        For non-numeric images or parameters of the wrong type.
    ValueError
        For empty or all-non-finite images, a bad `channel_axis`, unknown options, or more
        components than distinct valid values.

    Warns
    -----
    GMMConvergenceWarning
        When EM stops at `max_iter` (the result reports ``converged=False``).

    Examples
    --------
    >>> import numpy as np
    >>> import napari_gmm as ng
    >>> image = np.array([[10, 10, 200], [10, 200, 200]], dtype=np.uint8)
    >>> seg = ng.segment(image, n_components=2, random_state=0)
    >>> seg.labels
    array([[1, 1, 2],
           [1, 2, 2]], dtype=uint8)
    >>> seg.probability.dtype, bool(seg.converged)
    (dtype('float32'), True)
    """
    report = check_progress(progress, "progress(fraction, stage)")
    # resolved here, so that a ChannelAxisWarning points at the caller of segment
    channel_axis = resolve_channel_axis(np.shape(image), channel_axis, time_axis)
    image = masked_image(image, mask, channel_axis)  # outside: left out like NaN pixels
    steps = iter_segment(
        image,
        n_components,
        channel_axis=channel_axis,
        covariance_type=covariance_type,
        tol=tol,
        max_iter=max_iter,
        n_init=n_init,
        init_params=init_params,
        reg_covar=reg_covar,
        random_state=random_state,
        max_samples=max_samples,
        max_distinct=max_distinct,
        smoothing=smoothing,
        marginals=marginals,
        scale=scale,
        return_posteriors=return_posteriors,
        partial_volume=partial_volume,
        time_axis=time_axis,
        frames=frames,
        bias_field=bias_field,
        bias_order=bias_order,
        scribbles=scribbles,
        class_names=class_names,
        components_per_class=components_per_class,
    )
    result = run(steps, report)
    if isinstance(result.labels, np.ndarray):  # lazy labels are not computed for it
        warn_empty_classes(result.labels, result.n_components, stacklevel=2)
    return result


def iter_segment(image, n_components=3, *, time_axis=None, frames="each", **options):
    """Generator form of :func:`segment`: yields ``(fraction, stage)`` progress steps and
    returns the :class:`Segmentation` (as ``StopIteration.value``).

    Work between two steps is bounded (one fit, or one chunk of pixels), so a consumer such
    as a napari worker thread can report progress and cancel at every step. Takes the same
    arguments as :func:`segment` except `progress`; with `time_axis`, stages read
    ``'frame i/n: ...'`` and a consumer can cancel between frames.
    """
    guided = active_options({key: options.pop(key) for key in GUIDED_OPTIONS if key in options})
    if n_components is None:
        n_components = 3 if guided.get("scribbles") is None else None
    if guided:
        return (yield from iter_guided_or_named(
            image, n_components, iter_segment, time_axis=time_axis, frames=frames,
            guided=guided, options=options,
        ))
    options["channel_axis"] = resolve_channel_axis(
        np.shape(image), options.get("channel_axis", UNSET), time_axis, stacklevel=3
    )
    partial = bool(options.pop("partial_volume", False))
    if partial and (time_axis is not None or is_dask_array(image)):
        raise ValueError(
            "partial_volume=True needs a single in-memory image: segment the frames one at a "
            "time (without time_axis), or compute a dask array first (np.asarray)."
        )
    if time_axis is None and is_dask_array(image):  # lazy, out of core (core/lazy/_segment.py)
        return (yield from iter_segment_lazy(image, n_components, **options))
    start = time.perf_counter()
    checked = Options.from_kwargs(**options).checked()  # every option, checked once
    opts = checked.as_dict()
    if time_axis is not None:
        # the stacked outputs of every frame (each frame's working memory: per frame)
        check_segmentation_memory(
            image, opts["channel_axis"], n_components, smoothing=0.0,
            posteriors=bool(opts["return_posteriors"]),
        )
        return (yield from iter_segment_series(
            image, n_components, iter_segment, time_axis, frames, opts
        ))
    if frames != "each":
        raise ValueError(
            f"frames={frames!r} needs a time axis: pass time_axis (e.g. time_axis=0 for a "
            "(T, Y, X) series), or leave frames='each' for a single image."
        )
    return (yield from iter_segment_image(
        image, n_components, options, checked, partial=partial, start=start,
        segment_steps=iter_segment,
    ))
