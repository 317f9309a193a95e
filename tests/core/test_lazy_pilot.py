"""The early stop counts a fixed grid of boxes on large images, and lazy smoothing finds the
in-memory number of sweeps on those boxes first, so halo blocks give the in-memory labels."""

import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.lazy import _cache, _disk_cache, _pilot
from napari_gmm.core.potts import _neighbours, _stop_sample
from napari_gmm.core.potts._hmrf import SWEEPS
from napari_gmm.core.potts._planes import Planes
from napari_gmm.core.potts._stop_sample import (
    count_axes,
    count_intervals,
    counted_boxes,
    n_counted,
)


@pytest.fixture
def small_grid(monkeypatch):
    """The counted grid of large images, scaled down to test images: images over 2^12
    voxels count boxes of 10^3 (3-D) or 24^2 (2-D) voxels, about 2^11 in all."""
    monkeypatch.setattr(_stop_sample, "SAMPLE_ABOVE", 1 << 12)
    monkeypatch.setattr(_stop_sample, "SAMPLE_VOXELS", 1 << 11)
    monkeypatch.setattr(_stop_sample, "box_width", lambda n: {2: 24, 3: 10}.get(n, 4))


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_GMM_TMPDIR", str(tmp_path))
    return tmp_path


def _boxes_are_spread_and_disjoint(shape):
    boxes = counted_boxes(shape)
    masks = count_axes(shape)
    seen = np.zeros(shape, dtype=int)
    for box in boxes:
        seen[box] += 1
    assert seen.max() == 1  # disjoint
    grid = np.ix_(*[np.flatnonzero(m) for m in masks])
    assert (seen[grid] == 1).all() and seen.sum() == n_counted(masks)  # the masks' product
    for mask in masks:  # both halves of every axis have counted voxels
        assert all(half.any() for half in np.array_split(mask, 2))
    return seen.sum()


def test_small_images_count_every_voxel():
    assert count_intervals((2048, 2048)) is None  # 2^22 voxels
    assert count_intervals((128, 128, 256)) is None
    assert [m.all() for m in count_axes((30, 40))] == [True, True]
    assert counted_boxes((30, 40)) == [(slice(0, 30), slice(0, 40))]


@pytest.mark.parametrize("shape", [(512, 512, 512), (128, 512, 512), (4096, 4096),
                                   (40, 2048, 2048), (1 << 23,), (1030, 1030, 1030)])
def test_large_images_count_a_spread_grid_of_about_two_million_voxels(shape):
    intervals = count_intervals(shape)
    assert intervals is not None
    masks = count_axes(shape)
    n = n_counted(masks)
    assert _stop_sample.SAMPLE_VOXELS / 2 <= n <= 3 * _stop_sample.SAMPLE_VOXELS
    assert count_intervals(shape) == intervals  # from the shape alone
    if len(shape) > 1 and np.prod(shape) < 1 << 29:
        assert _boxes_are_spread_and_disjoint(shape) == n


def test_grid_counts_only_valid_voxels(small_grid):
    shape = (20, 30, 40)
    masks = count_axes(shape)
    valid = np.random.default_rng(0).random(shape) < 0.7
    grid = np.ix_(*[np.flatnonzero(m) for m in masks])
    assert n_counted(masks, valid) == int(valid[grid].sum())
    assert _boxes_are_spread_and_disjoint(shape) == n_counted(masks) < valid.size // 2


def test_planes_count_changed_labels_on_the_grid_only(small_grid):
    shape = (16, 30, 36)
    image = make_class_image(shape, n_classes=3, sigma=40, seed=1, dtype="uint8")[0]
    gmm = ng.segment(image, 3, random_state=0).model
    kernel = _neighbours.neighbour_kernel(3, None)
    planes = [Planes(None, shape, 3, kernel, _neighbours._axis_weights(kernel), 8.0, count)
              for count in (None, [np.ones(n, np.uint8) for n in shape])]
    grid = np.ix_(*[np.flatnonzero(m) for m in count_axes(shape)])
    for p in planes:
        p.set_model(gmm, image.reshape(-1, 1).astype(np.float64))
        p.plain()
    before = planes[0].labels.reshape(shape).copy()
    for p in planes:
        next(p.iter_sweeps(1))
    flips = planes[0].labels.reshape(shape) != before
    assert np.array_equal(planes[0].labels, planes[1].labels)
    assert planes[0].last_changed == int(flips[grid].sum()) < planes[1].last_changed
    assert planes[1].last_changed == int(flips.sum())
    assert planes[0].n_counted == flips[grid].size and planes[1].n_counted == image.size


@pytest.mark.usefixtures("small_grid")
def test_numpy_reference_stops_where_the_planes_stop():
    from napari_gmm.core._backend import use_backend

    image = make_class_image((16, 48, 48), n_classes=3, sigma=18, seed=2, dtype="uint8")[0]
    runs = {}
    for backend in ("numba", "numpy"):
        with use_backend(backend):
            runs[backend] = ng.segment(image, 3, random_state=0, smoothing=1.0).n_sweeps
    assert runs["numba"] == runs["numpy"] and runs["numba"][0] < SWEEPS


def _image(shape, sigma=18, dtype="uint8"):
    return make_class_image(shape, n_classes=3, sigma=sigma, seed=3, dtype=dtype)[0]


@pytest.mark.usefixtures("halo_blocks")
@pytest.mark.parametrize("grid", [False, True])
@pytest.mark.parametrize("shape", [(20, 48, 56), (150, 170)])
def test_halo_blocks_give_the_in_memory_labels(request, grid, shape):
    if grid:
        request.getfixturevalue("small_grid")
        assert count_intervals(shape) is not None
    image = _image(shape)
    chunks = tuple(n // 3 for n in shape)
    ref = ng.segment(image, 3, random_state=0, smoothing=1.0)
    seg = ng.segment(da.from_array(image, chunks=chunks), 3, random_state=0, smoothing=1.0)
    assert ref.n_sweeps[0] < SWEEPS  # the early stop decides
    assert seg.n_sweeps == ref.n_sweeps
    np.testing.assert_array_equal(seg.labels.compute(), ref.labels)
    np.testing.assert_allclose(seg.probability.compute(), ref.probability, atol=1e-6)
    np.testing.assert_allclose(seg.model.means_, ref.model.means_, rtol=1e-9)
    applied = ng.apply_model(ref.model, image, smoothing=0.8)
    lazy = ng.apply_model(ref.model, da.from_array(image, chunks=chunks), smoothing=0.8)
    assert lazy.n_sweeps == applied.n_sweeps
    np.testing.assert_array_equal(lazy.labels.compute(), applied.labels)


@pytest.mark.usefixtures("halo_blocks", "small_grid")
@pytest.mark.parametrize("where", ["memory", "disk", "recomputed"])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_every_cache_and_backend_give_the_in_memory_labels(tmpdir_env, monkeypatch, where,
                                                           backend):
    from napari_gmm.core._backend import use_backend

    image = _image((18, 40, 44), sigma=22, dtype="uint16").astype(np.float32)
    image[3:9, 5:30, 10:20] = np.nan  # invalid voxels across blocks and counted boxes
    if where != "memory":
        monkeypatch.setattr(_cache, "cache_budget", lambda: 0)
    if where == "recomputed":
        monkeypatch.setattr(_disk_cache, "disk_room", lambda directory, n_bytes: False)
    starts = []
    start_planes = _pilot.start_planes
    monkeypatch.setattr(_pilot, "start_planes",
                        lambda *args, **kw: starts.append(1) or start_planes(*args, **kw))
    with use_backend(backend):
        ref = ng.segment(image, 3, random_state=0, smoothing=1.0, max_samples=10**6)
        seg = ng.segment(da.from_array(image, chunks=(6, 14, 15)), 3, random_state=0,
                         smoothing=1.0, max_samples=10**6)
        labels = seg.labels.compute()
    assert seg.n_sweeps == ref.n_sweeps and ref.n_sweeps[0] < SWEEPS
    # the second round's pilot starts from the kept first round on the compiled planes
    assert (len(starts) == len(counted_boxes(image.shape)) > 1) == (
        backend == "numba" and where != "recomputed")
    np.testing.assert_array_equal(labels, ref.labels)
    np.testing.assert_array_equal(labels == 0, np.isnan(image))


@pytest.mark.usefixtures("small_grid")
def test_pilot_reads_only_the_counted_boxes_with_their_halo(monkeypatch):
    image = _image((30, 60, 64))
    gmm = ng.segment(image, 3, random_state=0).model
    from napari_gmm.core.lazy._fit import lazy_pixels

    pixels = lazy_pixels(da.from_array(image, chunks=(10, 20, 32)), None)
    read = []
    changes = _pilot.box_changes

    def spy(block, own, *args, **kwargs):
        read.append((block.shape[:-1], own))
        return changes(block, own, *args, **kwargs)

    monkeypatch.setattr(_pilot, "box_changes", spy)
    monkeypatch.setattr(_pilot, "READ_VOXELS", 1)  # one box per read
    got = _pilot.pilot_sweeps(pixels, [gmm], smoothing=1.0, scale=None, max_distinct=65536)
    boxes = counted_boxes(image.shape)
    assert len(read) == len(boxes) > 1
    for (shape, own), box in zip(read, boxes, strict=True):
        assert [s.stop - s.start for s in own] == [b.stop - b.start for b in box]
        assert all(n <= (b.stop - b.start) + 2 * SWEEPS for n, b in zip(shape, box, strict=True))
    ref = ng.apply_model(gmm, image, smoothing=1.0)
    assert (got,) == ref.n_sweeps


@pytest.mark.usefixtures("halo_blocks", "small_grid")
def test_gpu_counts_the_grid_and_its_halo_blocks_give_its_labels(gpu):
    from napari_gmm.core._backend import use_backend
    from napari_gmm.core.potts._gpu import GpuPlanes

    image = _image((20, 48, 56))
    shape = image.shape
    gmm = ng.segment(image, 3, random_state=0).model
    kernel = _neighbours.neighbour_kernel(3, None)
    x = image.reshape(-1, 1).astype(np.float64)
    weights = _neighbours._axis_weights(kernel)
    twins = [Planes(None, shape, 3, kernel, weights, 8.0), GpuPlanes(x, None, shape, 3, kernel,
                                                                      weights, 8.0)]
    for planes in twins:
        planes.set_model(gmm, x)
        planes.plain()
        next(planes.iter_sweeps(1))
    assert twins[0].n_counted == twins[1].n_counted < image.size
    assert abs(twins[0].last_changed - twins[1].last_changed) <= 2  # expf vs fast_exp
    with use_backend("cupy"):
        ref = ng.segment(image, 3, random_state=0, smoothing=1.0)
        seg = ng.segment(da.from_array(image, chunks=(7, 16, 19)), 3, random_state=0,
                         smoothing=1.0)
        labels = seg.labels.compute()
    assert ref.backend == seg.backend == "cupy"
    assert seg.n_sweeps == ref.n_sweeps and ref.n_sweeps[0] < SWEEPS
    np.testing.assert_array_equal(labels, ref.labels)


@pytest.mark.usefixtures("small_grid")
def test_gpu_counts_the_valid_voxels_of_the_grid(gpu):
    from napari_gmm.core.potts._gpu import GpuPlanes

    image = _image((20, 48, 56)).astype(np.float32)
    image[2:15, 10:40, 5:50] = np.nan  # across several counted boxes
    ok = np.isfinite(image)
    kernel = _neighbours.neighbour_kernel(3, None)
    weights = _neighbours._axis_weights(kernel)
    x = image.reshape(-1, 1)
    cpu = Planes(ok, image.shape, 3, kernel, weights, 8.0)
    gpu_planes = GpuPlanes(x, None, image.shape, 3, kernel, weights, 8.0)  # NaN found there
    grid = np.ix_(*[np.flatnonzero(m) for m in count_axes(image.shape)])
    assert cpu.n_counted == gpu_planes.n_counted == int(ok[grid].sum()) < ok[grid].size
