"""Compare two label images: adjusted Rand index and per-class Dice after matching labels."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import adjusted_rand_score

from ._contingency import optimal_matching, sparse_table


@dataclass(frozen=True)
class Comparison:
    """Agreement between a reference label image and a segmentation.

    Attributes
    ----------
    ari : float
        Adjusted Rand index (1 = identical partitions, ~0 = chance), label-permutation free.
    dice : dict of int -> float
        Dice coefficient of each reference class with its matched segmentation class.
    mean_dice : float
        Unweighted mean of `dice`.
    accuracy : float
        Fraction of compared pixels whose matched label equals the reference label.
    mapping : dict of int -> int
        Segmentation label -> reference label found by the Hungarian matching.
    n_pixels : int
        Number of pixels compared.
    """

    ari: float
    dice: dict
    mean_dice: float
    accuracy: float
    mapping: dict
    n_pixels: int


def _check_pair(reference, labels):
    ref = np.asarray(reference)
    lab = np.asarray(labels)
    if ref.shape != lab.shape:
        raise ValueError(
            f"reference and labels must have the same shape, got {ref.shape} and {lab.shape}. "
            "Compare label images of the same image."
        )
    for name, a in (("reference", ref), ("labels", lab)):
        if a.dtype.kind not in "biu":
            raise TypeError(
                f"{name} must be an integer label image, got dtype {a.dtype}. "
                f"Convert it with {name}.astype(int) if it holds whole numbers."
            )
    if ref.size == 0:
        raise ValueError(
            "reference and labels are empty; there is nothing to compare. Pass label images "
            "with at least one pixel."
        )
    return ref.ravel(), lab.ravel()


def match_labels(reference, labels) -> dict:
    """Match segmentation labels to reference labels maximising overlap (Hungarian).

    Returns
    -------
    dict of int -> int
        Segmentation label -> reference label. With more segmentation classes than
        reference classes, the unmatched ones are absent.

    Examples
    --------
    >>> match_labels([1, 1, 2, 2], [2, 2, 1, 1])
    {1: 2, 2: 1}
    """
    ref, lab = _check_pair(reference, labels)
    lab_ids, ref_ids, table = sparse_table(ref, lab)
    rows, cols = optimal_matching(table)
    return {int(lab_ids[r]): int(ref_ids[c]) for r, c in zip(rows, cols, strict=True)}


def _check_ignore(ignore) -> np.ndarray | None:
    if ignore is None:
        return None
    values = np.atleast_1d(np.asarray(ignore, dtype=object))
    if values.ndim != 1 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values
    ):
        raise TypeError(
            f"ignore must be a label value (an int), a sequence of ints or None, got "
            f"{ignore!r}. E.g. ignore=0 leaves out pixels that were not segmented."
        )
    return np.array([int(v) for v in values])


def compare_labels(reference, labels, *, ignore=None) -> Comparison:
    """Compare a segmentation with a reference (ground truth or another segmentation).

    Parameters
    ----------
    reference, labels : integer ndarray of the same shape
        Label images; label values need not correspond (they are matched first).
    ignore : int, sequence of int or None, default=None
        Label value(s) whose pixels (in either image) are left out, e.g. 0 for pixels that
        were not segmented.

    Returns
    -------
    Comparison
        ARI, per-class Dice after matching, mean Dice, accuracy and the matching.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([1, 1, 1, 2, 2, 2])
    >>> seg = np.array([2, 2, 2, 1, 1, 2])
    >>> c = compare_labels(truth, seg)
    >>> round(c.accuracy, 3), c.mapping
    (0.833, {1: 2, 2: 1})
    """
    ref, lab = _check_pair(reference, labels)
    ignored = _check_ignore(ignore)
    if ignored is not None:
        keep = ~(np.isin(ref, ignored) | np.isin(lab, ignored))
        ref, lab = ref[keep], lab[keep]
        if ref.size == 0:
            raise ValueError(
                f"Every pixel has the ignored label {ignore}; nothing to compare. Check that "
                "the right reference was given, or pass ignore=None to compare every pixel."
            )
    lab_ids, ref_ids, table = sparse_table(ref, lab)
    rows, cols = optimal_matching(table)
    mapping = {int(lab_ids[r]): int(ref_ids[c]) for r, c in zip(rows, cols, strict=True)}
    # per-class sizes and matched overlaps from the sparse table (no pass per label)
    ref_count = np.asarray(table.sum(axis=0)).ravel()
    lab_count = np.asarray(table.sum(axis=1)).ravel()
    overlap = np.asarray(table[rows, cols]).ravel() if rows.size else np.zeros(0)
    seg_count = np.zeros(ref_ids.size, np.int64)
    hits = np.zeros(ref_ids.size, np.int64)
    seg_count[cols] = lab_count[rows]
    hits[cols] = overlap
    denom = ref_count + seg_count
    dice = {int(r): 2.0 * int(h) / int(d) if d else 1.0
            for r, h, d in zip(ref_ids, hits, denom, strict=True)}
    return Comparison(
        ari=float(adjusted_rand_score(ref, lab)),
        dice=dice,
        mean_dice=float(np.mean(list(dice.values()))),
        accuracy=float(hits.sum() / ref.size),
        mapping=mapping,
        n_pixels=int(ref.size),
    )
