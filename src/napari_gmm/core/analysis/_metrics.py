"""Compare two label images: adjusted Rand index and per-class Dice after matching labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score


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
    ref_ids, ref_inv = np.unique(ref, return_inverse=True)
    lab_ids, lab_inv = np.unique(lab, return_inverse=True)
    confusion = np.zeros((lab_ids.size, ref_ids.size), dtype=np.int64)
    np.add.at(confusion, (lab_inv, ref_inv), 1)
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    return {int(lab_ids[r]): int(ref_ids[c]) for r, c in zip(rows, cols, strict=True)}


def compare_labels(reference, labels, *, ignore=None) -> Comparison:
    """Compare a segmentation with a reference (ground truth or another segmentation).

    Parameters
    ----------
    reference, labels : integer ndarray of the same shape
        Label images; label values need not correspond (they are matched first).
    ignore : int or None, default=None
        A label value whose pixels (in either image) are left out, e.g. 0 for pixels that
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
    if ignore is not None:
        keep = (ref != ignore) & (lab != ignore)
        ref, lab = ref[keep], lab[keep]
        if ref.size == 0:
            raise ValueError(
                f"Every pixel has the ignored label {ignore}; nothing to compare. Check that "
                "the right reference was given, or pass ignore=None to compare every pixel."
            )
    mapping = match_labels(ref, lab)
    lut_keys = np.array(sorted(mapping), dtype=np.int64)
    matched = np.full(lab.shape, -1, dtype=np.int64)
    for key in lut_keys:
        matched[lab == key] = mapping[int(key)]
    dice = {}
    for r in np.unique(ref):
        in_ref = ref == r
        in_seg = matched == r
        denom = int(in_ref.sum() + in_seg.sum())
        dice[int(r)] = 2.0 * int(np.count_nonzero(in_ref & in_seg)) / denom if denom else 1.0
    return Comparison(
        ari=float(adjusted_rand_score(ref, lab)),
        dice=dice,
        mean_dice=float(np.mean(list(dice.values()))),
        accuracy=float(np.mean(matched == ref)),
        mapping=mapping,
        n_pixels=int(ref.size),
    )
