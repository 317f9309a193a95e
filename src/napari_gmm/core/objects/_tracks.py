"""Link objects across the frames of a time series by largest overlap: a track id per object.

Each object of frame t continues the track of the object of frame t-1 it overlaps most
(in pixels). When two objects of frame t claim the same predecessor (a division, or a
split by the watershed), the one with the larger overlap continues the track and the
other starts a new one; an object that overlaps nothing starts a new track. Track ids are
1.. in the order tracks start. This is the simple linking that suits objects moving less
than their size between frames; it does not bridge gaps or join tracks.
"""

from __future__ import annotations

import numpy as np


def track_ids(labels, frame_of, time_axis: int) -> np.ndarray:
    """Track id of every object ``1..n`` of instance `labels` (ids unique over the series).

    Parameters
    ----------
    labels : ndarray of int
        Instance labels of the series (0 background), object ids ``1..n``.
    frame_of : (n,) ndarray of int
        Frame of each object (the table's ``frame`` column).
    time_axis : int
        Axis of `labels` holding the frames.
    """
    n = len(frame_of)
    track = np.zeros(n + 1, dtype=np.int64)
    next_id = 1
    previous = None
    for t in range(labels.shape[time_axis]):
        current = np.take(labels, t, axis=time_axis)
        ids = np.flatnonzero(frame_of == t) + 1
        parent = np.zeros(n + 1, dtype=np.int64)
        if previous is not None and len(ids):
            parent = _parents(previous, current, n)
        for i in ids:
            if parent[i] > 0:
                track[i] = track[parent[i]]
            else:
                track[i], next_id = next_id, next_id + 1
        previous = current
    return track[1:]


def _parents(previous, current, n: int) -> np.ndarray:
    """For each object of `current`, the object of `previous` it continues (0: none)."""
    both = (previous > 0) & (current > 0)
    pairs, overlap = np.unique(
        previous[both].astype(np.int64) * (n + 1) + current[both], return_counts=True
    )
    before, after = np.divmod(pairs, n + 1)
    order = np.lexsort((before, after, -overlap))  # largest overlap first, then by ids
    parent = np.zeros(n + 1, dtype=np.int64)
    taken = np.zeros(n + 1, dtype=bool)
    for k in order:
        a, b = after[k], before[k]
        if parent[a] == 0 and not taken[b]:
            parent[a], taken[b] = b, True
    return parent
