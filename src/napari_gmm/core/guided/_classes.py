"""Classes made of several Gaussians, and class names, on a fitted GaussianMixture.

A guided segmentation (scribbles, :mod:`._guided`) may model one class with several
Gaussians, e.g. a skewed background with two or three. The fitted mixture stays a plain
scikit-learn ``GaussianMixture`` over all the Gaussians (so ``score``, ``sample``, ``bic``
work); two attributes say how its components make up the classes:

- ``component_classes_``: (n_components,) int array, the class index (0-based) of every
  component; every class 0..n_classes-1 has at least one component;
- ``class_names_``: tuple of str (one per class) or absent.

A class's posterior is the sum of its components' posteriors; labels are the argmax over
classes + 1. A mixture without ``component_classes_`` has one class per component.
"""

from __future__ import annotations

import numbers

import numpy as np

#: Largest number of Gaussians per class ``components_per_class='auto'`` tries.
AUTO_MAX_PER_CLASS = 3
#: Longest class name accepted (characters).
MAX_NAME_LENGTH = 200


def component_classes(gmm) -> np.ndarray | None:
    """The class index of every component, or None (one class per component)."""
    groups = getattr(gmm, "component_classes_", None)
    return None if groups is None else np.asarray(groups, dtype=np.intp)


def n_classes(gmm) -> int:
    """Number of classes of a mixture (its components, unless grouped)."""
    groups = component_classes(gmm)
    return int(gmm.n_components) if groups is None else int(groups.max()) + 1


def class_names(gmm) -> tuple[str, ...] | None:
    """The class names stored on a mixture, or None."""
    names = getattr(gmm, "class_names_", None)
    return None if names is None else tuple(names)


def is_grouped(gmm) -> bool:
    """Whether some class of the mixture has more than one component."""
    groups = component_classes(gmm)
    return groups is not None and groups.size != n_classes(gmm)


def refuse_grouped_lazy(gmm) -> None:
    """Dask images are applied block by block per component: refuse grouped classes."""
    if is_grouped(gmm):
        raise NotImplementedError(
            "This model has classes made of several Gaussians (components_per_class), which "
            "the out-of-core (dask) apply does not support yet: apply it to the image in "
            "memory (np.asarray(image)) or to its planes one at a time."
        )


def set_classes(gmm, groups, names=None):
    """Store the component -> class map and the class names on `gmm` (in place); return it."""
    groups = check_groups(groups, gmm.n_components)
    gmm.component_classes_ = groups
    if names is not None:
        gmm.class_names_ = check_class_names(names, int(groups.max()) + 1)
    elif hasattr(gmm, "class_names_"):
        del gmm.class_names_
    return gmm


def check_groups(groups, n_components: int, where: str = "component_classes") -> np.ndarray:
    """Validate a component -> class map: ints 0..C-1, every class used, length K."""
    arr = np.asarray(groups)
    if arr.dtype.kind not in "iu" or arr.shape != (n_components,):
        raise ValueError(
            f"{where} must be {n_components} integer class indices (one per component), "
            f"got {arr.dtype} of shape {arr.shape}."
        )
    arr = arr.astype(np.intp)
    if arr.min() < 0 or not np.array_equal(np.unique(arr), np.arange(arr.max() + 1)):
        raise ValueError(
            f"{where} must use every class index 0..C-1 at least once and nothing else, "
            f"got {arr.tolist()}."
        )
    return arr


def check_class_names(names, n: int) -> tuple[str, ...]:
    """Validate class names: `n` distinct, non-empty strings (surrounding blanks removed)."""
    if isinstance(names, str) or not hasattr(names, "__len__"):
        raise TypeError(
            f"class_names must be a sequence of {n} strings (one per class, e.g. "
            f"['background', 'cells']), got {type(names).__name__}."
        )
    if len(names) != n:
        raise ValueError(
            f"class_names must name every class: {n} names for {n} classes, got "
            f"{len(names)} ({list(names)!r})."
        )
    out = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"class names must be strings, got {type(name).__name__} {name!r}.")
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise ValueError(
                f"class names must be non-empty and at most {MAX_NAME_LENGTH} characters, "
                f"got {name!r}."
            )
        out.append(name)
    if len(set(out)) != len(out):
        raise ValueError(f"class names must be distinct, got {out!r}.")
    return tuple(out)


def check_components_per_class(value, n: int):
    """``components_per_class`` as a tuple of `n` ints >= 1, or the string 'auto'."""
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(
                f"components_per_class must be an int >= 1, one int per class, or 'auto', "
                f"got {value!r}."
            )
        return "auto"
    values = [value] * n if isinstance(value, numbers.Integral) else list(value)
    if len(values) != n or any(
        isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in values
    ):
        raise ValueError(
            f"components_per_class must be an int >= 1, {n} ints >= 1 (one per class) or "
            f"'auto', got {value!r}."
        )
    return tuple(int(v) for v in values)


def classes_to_dict(gmm) -> dict:
    """Model-file fields of the classes (empty for a plain mixture)."""
    out = {}
    groups = component_classes(gmm)
    if groups is not None:
        out["component_classes"] = groups.tolist()
    names = class_names(gmm)
    if names is not None:
        out["class_names"] = list(names)
    return out


def classes_from_dict(gmm, data: dict, where: str):
    """Set the classes of a model file's fields on `gmm` (checked); return it."""
    try:
        groups = data.get("component_classes")
        if groups is not None:
            if not isinstance(groups, list) or not all(
                isinstance(g, int) and not isinstance(g, bool) for g in groups
            ):
                raise ValueError("component_classes must be a list of integers")
            set_classes(gmm, np.asarray(groups, dtype=np.int64))
        names = data.get("class_names")
        if names is not None:
            if not isinstance(names, list):
                raise ValueError("class_names must be a list of strings")
            gmm.class_names_ = check_class_names(names, n_classes(gmm))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None
    return gmm


def groups_from_counts(counts) -> np.ndarray:
    """Component -> class map of classes with the given numbers of components."""
    return np.repeat(np.arange(len(counts)), counts)


def class_log_prob(wlp: np.ndarray, groups: np.ndarray | None, n: int) -> np.ndarray:
    """Per-class log-probabilities: log-sum-exp of each class's components' columns.

    Parameters
    ----------
    wlp : (n_rows, K) ndarray
        Weighted log-probabilities ``log(pi_k) + log N(x | k)`` of every component.
    groups : (K,) int ndarray or None
        Class of every component (None: one class per component, `wlp` returned as is).
    n : int
        Number of classes.

    Returns
    -------
    (n_rows, n) ndarray of the dtype of `wlp`
    """
    if groups is None or np.array_equal(groups, np.arange(n)):
        return wlp
    if groups.size == n:
        return wlp[:, np.argsort(groups, kind="stable")]
    out = np.empty((wlp.shape[0], n), dtype=wlp.dtype)
    for c in range(n):
        cols = wlp[:, groups == c]
        if cols.shape[1] == 1:
            out[:, c] = cols[:, 0]
            continue
        top = cols.max(axis=1)
        safe = np.where(np.isfinite(top), top, 0)
        with np.errstate(under="ignore", divide="ignore"):
            out[:, c] = safe + np.log(np.exp(cols - safe[:, None]).sum(axis=1))
    return out
