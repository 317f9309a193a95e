"""Tracks: objects of a time series linked across frames by largest overlap."""

from __future__ import annotations

import numpy as np

import napari_gmm as ng
from napari_gmm.core.objects._synthetic import draw_ball


def frame(shape, disks):
    out = np.ones(shape, np.uint8)
    for centre, radius in disks:
        box, mask = draw_ball(shape, centre, radius)
        out[box][mask] = 2
    return out


def test_moving_disks_keep_their_track_and_new_ones_start_tracks():
    shape = (60, 80)
    frames = [
        frame(shape, [((15, 10 + 3 * t), 6), ((45, 70 - 3 * t), 6)]) for t in range(4)
    ]
    frames.append(frame(shape, [((15, 22), 6), ((45, 58), 6), ((30, 40), 5)]))  # a newcomer
    objects = ng.label_objects(np.stack(frames), 2, time_axis=0)
    table = objects.table
    first = {int(table["track_id"][i]) for i in np.flatnonzero(table["centroid-0"] < 20)}
    second = {int(table["track_id"][i]) for i in np.flatnonzero(table["centroid-0"] > 40)}
    middle = np.flatnonzero((table["centroid-0"] > 25) & (table["centroid-0"] < 35))
    assert first == {1} and second == {2}
    assert len(middle) == 1 and table["track_id"][middle[0]] == 3


def test_a_division_continues_the_larger_overlap_and_starts_one_track():
    before = frame((40, 60), [((20, 30), 10)])
    after = frame((40, 60), [((20, 24), 6), ((20, 41), 5)])  # the left one overlaps more
    objects = ng.label_objects(np.stack([before, after]), 2, time_axis=0)
    assert list(objects.table["frame"]) == [0, 1, 1]
    assert list(objects.table["track_id"]) == [1, 1, 2]


def test_track_ids_with_the_time_axis_last_and_as_oracle_of_overlaps():
    rng = np.random.default_rng(0)
    frames = [frame((50, 50), [((25 + rng.integers(-2, 3), 25 + rng.integers(-2, 3)), 8)])
              for _ in range(5)]
    series = np.stack(frames, axis=-1)
    objects = ng.label_objects(series, 2, time_axis=-1)
    assert list(objects.table["track_id"]) == [1] * 5
    # every link is the largest overlap with the previous frame
    labels = objects.labels
    for i in range(1, 5):
        previous, current = labels[..., i - 1], labels[..., i]
        ids, counts = np.unique(previous[current == i + 1], return_counts=True)
        assert ids[np.argmax(counts)] == i


def test_single_images_have_no_track_column():
    assert "track_id" not in ng.label_objects(frame((30, 30), [((15, 15), 5)]), 2).table
