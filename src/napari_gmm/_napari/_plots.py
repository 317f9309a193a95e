"""Matplotlib figures of the analysis widgets: noise study, model selection, EM diagnostics.

Pure matplotlib (no pyplot state, no Qt): every builder draws into a given axes or figure,
or makes a new :class:`matplotlib.figure.Figure`, so the figures can be made headless (for
reports and tests) as well as in the widgets' canvases.
"""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

#: Largest number of pixels drawn in the scatter plots of :func:`plot_components`.
MAX_POINTS = 4000
#: Colours of the conditions of :func:`plot_noise_sweep` (no smoothing, smoothing).
CONDITION_COLOURS = ("tab:blue", "tab:orange")


def _axes(ax):
    """`ax`, or the axes of a new figure."""
    return Figure(figsize=(5, 3.2), layout="constrained").add_subplot() if ax is None else ax


def plot_noise_sweep(records_plain, records_smooth=None, ax=None):
    """ARI and mean Dice against the noise standard deviation, one pair of lines per condition.

    Parameters
    ----------
    records_plain : list of dict
        Records of :func:`napari_gmm.noise_sweep` without smoothing (keys ``sigma``, ``ari``,
        ``dice``, ``against``).
    records_smooth : list of dict or None, default=None
        Records of the same sweep with spatial smoothing, drawn in a second colour.
    ax : matplotlib.axes.Axes or None
        Where to draw; None makes a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        Lines: ARI (solid, circles) then Dice (dashed, squares) per condition.
    """
    ax = _axes(ax)
    conditions = [("no smoothing", records_plain)]
    if records_smooth:
        conditions.append(("smoothing", records_smooth))
    for (name, records), colour in zip(conditions, CONDITION_COLOURS, strict=False):
        sigma = [float(np.mean(r["sigma"])) for r in records]
        for key, label, style in (("ari", "ARI", "-o"), ("dice", "Dice", "--s")):
            values = [r[key] for r in records]
            ax.plot(sigma, values, style, color=colour, ms=4, label=f"{label}, {name}")
    against = records_plain[0]["against"] if records_plain else "reference"
    ax.set_xlabel("noise σ (intensity units)")
    ax.set_ylabel(f"agreement with {against}", fontsize="small")
    ax.set_ylim(min(-0.05, ax.get_ylim()[0]), 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="lower left")
    return ax


def plot_criteria(selection, ax=None):
    """BIC, AIC (and ICL) against the number of components, the chosen K marked.

    Parameters
    ----------
    selection : Selection
        Result of :func:`napari_gmm.core.select_n_components` (``candidates``,
        ``bic``, ``aic``, ``best``).
    ax : matplotlib.axes.Axes or None
        Where to draw; None makes a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        Lines: BIC, AIC, ICL (when the selection has it), then a vertical line at the
        chosen K (its ``get_xdata()``). The legend names the criterion that chose K.
    """
    ax = _axes(ax)
    ks = np.asarray(selection.candidates, dtype=float)
    curves = [("BIC", selection.bic, "-o"), ("AIC", selection.aic, "--s")]
    if getattr(selection, "icl", ()):
        curves.append(("ICL", selection.icl, "-.^"))
    chosen = str(getattr(selection, "criterion", "")).upper()
    for name, values, style in curves:
        label = f"{name} (chooses K)" if name == chosen else name
        ax.plot(ks, np.asarray(values, dtype=float), style, ms=4, label=label)
    best = float(selection.best)
    ax.axvline(best, color="tab:red", lw=1.5, alpha=0.7, label=f"chosen K = {selection.best}")
    ax.set_xticks(ks)
    ax.set_xlim(ks.min() - 0.5, ks.max() + 0.5)
    if len(ks) > 2 and best in (ks.min(), ks.max()):
        ax.set_title("chosen K at the end of the range: widen it?", fontsize="small")
    ax.set_xlabel("number of components K")
    ax.set_ylabel("criterion (lower is better)", fontsize="small")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    return ax


def plot_trace(lower_bounds, tol, ax=None):
    """The EM convergence trace, and its change per iteration against the threshold `tol`.

    Parameters
    ----------
    lower_bounds : sequence of float
        Mean log-likelihood lower bound after each EM iteration.
    tol : float
        EM stops once the bound changes by less than this.
    ax : matplotlib.axes.Axes or None
        Where to draw the trace; None makes a new figure. The change ``|Δ|`` (log scale)
        and a horizontal line at `tol` are drawn on a twin axes.

    Returns
    -------
    (matplotlib.axes.Axes, matplotlib.axes.Axes)
        The trace axes (one line) and the twin axes of ``|Δ|`` (the ``|Δ|`` line, if there
        are at least two iterations, then the `tol` line).
    """
    ax = _axes(ax)
    bounds = np.asarray(lower_bounds, dtype=float)
    iterations = np.arange(1, bounds.size + 1)
    ax.plot(iterations, bounds, "-o", ms=3, color="tab:blue", label="lower bound")
    ax.set_ylabel("lower bound / pixel", color="tab:blue", fontsize="small")
    twin = ax.twinx()
    if bounds.size > 1:
        delta = np.maximum(np.abs(np.diff(bounds)), np.finfo(float).tiny)
        twin.plot(iterations[1:], delta, ":^", ms=3, color="tab:gray", label="|Δ|")
    twin.axhline(tol, color="tab:red", lw=1, ls="--", label=f"tol = {tol:g}")
    twin.set_yscale("log")
    twin.set_ylabel("|Δ lower bound|", color="tab:gray", fontsize="small")
    ax.set_xlabel(f"EM iteration (stopped after {bounds.size})")
    handles = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    twin.legend(handles[0] + more[0], handles[1] + more[1], fontsize="x-small", ncols=3,
                loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    return ax, twin


def full_covariances(model) -> np.ndarray:
    """The covariances of a fitted ``GaussianMixture`` as ``(K, d, d)`` matrices."""
    k, d = model.means_.shape
    cov = np.asarray(model.covariances_, dtype=float)
    kind = model.covariance_type
    if kind == "full":
        return cov.reshape(k, d, d)
    if kind == "tied":
        return np.broadcast_to(cov.reshape(d, d), (k, d, d)).copy()
    if kind == "diag":
        return np.stack([np.diag(c) for c in cov.reshape(k, d)])
    return cov.reshape(k, 1, 1) * np.eye(d)  # spherical


def _subsample(features: np.ndarray, max_points: int, seed: int = 0) -> np.ndarray:
    if features.shape[0] <= max_points:
        return features
    rng = np.random.default_rng(seed)
    return features[np.sort(rng.choice(features.shape[0], max_points, replace=False))]


def _colours(k: int) -> list:
    return [colormaps["tab10"](i % 10) for i in range(k)]


def _plot_1d(ax, values: np.ndarray, model) -> None:
    weights, means = model.weights_, model.means_[:, 0]
    sd = np.sqrt(full_covariances(model)[:, 0, 0])
    ax.hist(values, bins=min(128, max(16, values.size // 50)), density=True,
            color="0.75", label="pixels")
    lo = min(values.min(), (means - 4 * sd).min())
    hi = max(values.max(), (means + 4 * sd).max())
    x = np.linspace(lo, hi, 512)
    total = np.zeros_like(x)
    for k, (w, m, s, colour) in enumerate(
        zip(weights, means, sd, _colours(len(means)), strict=True), start=1
    ):
        y = w * np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))
        total += y
        ax.plot(x, y, color=colour, lw=1.2, label=f"class {k}")
    ax.plot(x, total, color="k", lw=1.5, ls="--", label="mixture")
    ax.set_xlabel("intensity")
    ax.set_ylabel("density", fontsize="small")
    ax.legend(fontsize="x-small")


def _plot_pair(ax, points, labels, model, i: int, j: int, colours) -> None:
    cov = full_covariances(model)
    ax.scatter(points[:, i], points[:, j], s=2, c=[colours[k] for k in labels],
               alpha=0.35, linewidths=0, rasterized=True)
    for k, colour in enumerate(colours):
        sub = cov[k][np.ix_([i, j], [i, j])]
        vals, vecs = np.linalg.eigh(sub)
        angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
        width, height = 2 * 2 * np.sqrt(np.maximum(vals[::-1], 0))  # 2 standard deviations
        ax.add_patch(Ellipse(model.means_[k, [i, j]], width, height, angle=angle,
                             fill=False, lw=1.5, ec=colour, label=f"class {k + 1}"))
        ax.plot(*model.means_[k, [i, j]], "x", color="k", ms=5)
    ax.set_xlabel(f"channel {i}", fontsize="small")
    ax.set_ylabel(f"channel {j}", fontsize="small")
    ax.tick_params(labelsize="x-small")


def plot_components(image_features, model, ax=None, fig=None, *, max_points=MAX_POINTS):
    """The fitted components over the data.

    Gray images (one feature): a histogram of the pixel values with each weighted Gaussian
    and their sum (the mixture). Multichannel images: one scatter plot per pair of channels
    of a subsample of pixels coloured by their class, with the 2-standard-deviation ellipse
    of each component.

    Parameters
    ----------
    image_features : (n_pixels,) or (n_pixels, n_channels) array_like
        Pixel values (e.g. :func:`napari_gmm.pixel_features`); non-finite rows are dropped.
    model : sklearn.mixture.GaussianMixture
        The fitted mixture, in the same units (component k-1 is class k).
    ax : matplotlib.axes.Axes or None
        The axes for a gray image; for multichannel ones, its figure is used (`ax` removed).
    fig : matplotlib.figure.Figure or SubFigure or None
        Where to add the axes when `ax` is None; None makes a new figure.
    max_points : int
        Largest number of pixels in the scatter plots.

    Returns
    -------
    list of matplotlib.axes.Axes
        One axes (gray) or one per channel pair (at most 3 pairs: the first 3 channels).
    """
    features = np.asarray(image_features, dtype=float)
    features = features.reshape(features.shape[0], -1)
    features = features[np.all(np.isfinite(features), axis=1)]
    d = model.means_.shape[1]
    if features.shape[1] != d:
        raise ValueError(f"The features have {features.shape[1]} channels, the model {d}.")
    if d == 1:
        ax = ax if ax is not None else (fig or Figure(layout="constrained")).add_subplot()
        _plot_1d(ax, features[:, 0], model)
        return [ax]
    if fig is None:
        fig = ax.figure if ax is not None else Figure(figsize=(9, 3), layout="constrained")
    if ax is not None:
        ax.remove()
    pairs = list(itertools.combinations(range(min(d, 3)), 2))
    axes = list(np.ravel(fig.subplots(1, len(pairs), squeeze=False)))
    points = _subsample(features, max_points)
    labels = model.predict(points)
    colours = _colours(model.n_components)
    for axis, (i, j) in zip(axes, pairs, strict=True):
        _plot_pair(axis, points, labels, model, i, j, colours)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 6),
               fontsize="x-small", frameon=False)
    return axes
