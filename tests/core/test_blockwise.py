"""Computing lazy results a group of blocks at a time gives what one dask.compute gives."""

import dask
import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.lazy import _cache
from napari_gmm.core.lazy._blockwise import block_groups, compute_in_groups, sum_in_groups


@pytest.mark.parametrize("size", [1, 2, 5])
def test_groups_cover_every_block_once(size):
    chunks = ((3, 3, 1), (4, 2), (5, 5, 5, 2))
    seen = np.zeros((7, 6, 17), dtype=int)
    for where in block_groups(chunks, size):
        seen[where] += 1
    assert (seen == 1).all()


def test_smoothed_lazy_outputs_in_groups_equal_one_compute(tmp_path, monkeypatch, halo_blocks):
    monkeypatch.setattr(_cache, "MAX_BLOCK_VOXELS", 1)  # keep the chunks: several blocks
    image = make_class_image((28, 33, 40), 3, sigma=35, seed=2, dtype="uint8")[0]
    lazy = da.from_array(image, chunks=(14, 17, 13))  # uneven chunks, halos across borders
    seg = ng.segment(lazy, 3, random_state=0, smoothing=1.0)
    expected = dask.compute(seg.labels, seg.probability)
    calls = []
    labels, prob = compute_in_groups(
        [seg.labels, seg.probability], progress=lambda d, t: calls.append((d, t)), size=2
    )
    np.testing.assert_array_equal(labels, expected[0])
    np.testing.assert_array_equal(prob, expected[1])
    # the last x block (1 voxel) is merged so every block is at least one halo (6) wide
    assert seg.labels.chunks[2] == (13, 13, 8, 6)
    assert calls == [(n, 8) for n in range(1, 9)]  # 4 rows of blocks, 4 -> groups of 2 + 2
    # write tasks are run for their effect only
    target = tmp_path / "labels.zarr"
    task = seg.labels.to_zarr(str(target), compute=False)
    assert compute_in_groups([task], keep=[False]) == [None]
    np.testing.assert_array_equal(da.from_zarr(str(target)).compute(), expected[0])


def test_sum_in_groups_adds_every_part():
    parts = [dask.delayed(lambda i=i: (i, np.full(2, i)))() for i in range(7)]

    def add(a, b):
        return a[0] + b[0], a[1] + b[1]

    total = sum_in_groups(parts, add, size=3)
    assert total[0] == 21 and total[1].tolist() == [21, 21]


def test_a_distributed_client_computes_everything_at_once():
    distributed = pytest.importorskip("distributed")
    x = da.arange(100, chunks=10)
    with distributed.Client(processes=False, dashboard_address=None, n_workers=1):
        calls = []
        (out,) = compute_in_groups([x], progress=lambda d, t: calls.append((d, t)), size=1)
    assert calls == [(1, 1)]
    np.testing.assert_array_equal(out, np.arange(100))
