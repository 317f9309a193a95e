"""The result of :func:`napari_gmm.label_objects`: instance labels and their measurement table."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True, eq=False)
class Objects:
    """Result of :func:`napari_gmm.label_objects`.

    Attributes
    ----------
    labels : ndarray of int32, the shape of the class labels
        Instance labels: 0 background, ``1..n_objects`` one id per object (ordered by frame,
        then class, then the position of the object's first pixel in C order).
    table : dict of str to ndarray
        One row per object, row ``i`` for id ``i + 1``; columns ``label``, ``frame`` (time
        series only), ``class``, the size in pixels (``area`` in 2D, ``volume`` in 3D+),
        ``<size>_scaled`` (physical units, with `scale`), ``centroid-<i>`` (pixel
        coordinates within the frame), ``centroid_scaled-<i>`` (with `scale`), ``bbox-<j>``
        (min coordinates, then max + 1, as ``skimage.measure.regionprops``) and
        ``intensity_mean`` (or ``intensity_mean-<c>`` per channel, with `image`).
    classes : tuple of int
        The classes whose components are the objects.
    time_axis : int or None
        Axis of `labels` holding the frames of a time series.
    scale : tuple of float or None
        Physical pixel size per spatial axis used for the ``*_scaled`` columns.
    """

    labels: np.ndarray = field(repr=False)
    table: dict = field(repr=False)
    classes: tuple
    time_axis: int | None = None
    scale: tuple | None = None

    @property
    def n_objects(self) -> int:
        """Number of objects."""
        return len(self.table["label"])

    def __repr__(self) -> str:
        return f"Objects(n_objects={self.n_objects}, classes={self.classes})"

    def to_records(self) -> list[dict]:
        """The table as one dict per object, with plain Python numbers (JSON-serialisable)."""
        names = list(self.table)
        columns = [self.table[name].tolist() for name in names]
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]

    def to_csv(self, path) -> Path:
        """Write the table as CSV (a header, one row per object); returns the path.

        Floats are written with full precision (``repr``), so reading the file back gives
        the same numbers.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(list(self.table))
            writer.writerows(
                [repr(v) if isinstance(v, float) else v for v in row.values()]
                for row in self.to_records()
            )
        return path
