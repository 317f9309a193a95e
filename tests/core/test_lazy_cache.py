"""Lazy smoothing keeps the first round's posteriors between its two halo passes."""

import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.lazy import _cache, _disk_cache
from napari_gmm.core.lazy._apply import lazy_stats
from napari_gmm.core.lazy._blockwise import sum_in_groups
from napari_gmm.core.lazy._cache import (
    PosteriorCache,
    cache_budget,
    merged_chunks,
    split_chunks,
)
from napari_gmm.core.lazy._fit import _sum_parts, lazy_pixels
from napari_gmm.core.potts._hmrf import SWEEPS
from napari_gmm.core.potts._hmrf_rounds import hmrf_em

# the halo blocks of images beyond the in-core budget (core/lazy/_incore.py)
pytestmark = pytest.mark.usefixtures("halo_blocks")


def _image(shape, dtype="uint8", seed=3):
    return make_class_image(shape, n_classes=3, sigma=40, seed=seed, dtype=dtype)[0]


@pytest.mark.parametrize(("shape", "chunks"), [((40, 52), (13, 17)), ((18, 26, 30), (7, 9, 8))])
def test_cache_holds_the_first_round_of_the_whole_image(shape, chunks):
    image = _image(shape)
    gmm = ng.segment(image, 3, random_state=0).model
    pixels = lazy_pixels(da.from_array(image, chunks=chunks), None)
    cache = PosteriorCache(shape, 3)
    parts = lazy_stats(pixels, gmm, smoothing=1.0, scale=None, sweeps=SWEEPS, max_distinct=65536,
                       cache=cache)
    nk, _, _ = sum_in_groups(parts, _sum_parts)
    # the in-memory first round: plain posteriors, then SWEEPS sweeps, no re-estimation
    _, ref = hmrf_em(gmm, image.astype(np.float64), smoothing=1.0, n_rounds=0, n_iter=SWEEPS)
    np.testing.assert_allclose(np.moveaxis(cache.q, 0, -1), ref, atol=2e-5)
    np.testing.assert_allclose(nk, ref.reshape(-1, 3).sum(axis=0), rtol=1e-5)


def _both(monkeypatch, image, chunks, **options):
    """Lazy segmentation with the cache, then with the first round recomputed."""
    lazy = da.from_array(image, chunks=chunks)
    seg = ng.segment(lazy, 3, random_state=0, smoothing=1.0, **options)
    with monkeypatch.context() as m:
        m.setattr(_cache, "cache_budget", lambda: 0)
        m.setattr(_disk_cache, "disk_room", lambda directory, n_bytes: False)  # no disk
        ref = ng.segment(lazy, 3, random_state=0, smoothing=1.0, **options)
    return seg, ref


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_cached_and_recomputed_first_rounds_give_the_same_labels(monkeypatch, backend):
    from napari_gmm.core._backend import use_backend

    image = _image((24, 30, 34), dtype="uint16")
    with use_backend(backend):
        seg, ref = _both(monkeypatch, image, (9, 11, 12))
        twice = seg.labels.compute()  # the cache is read, never written, by the outputs
        np.testing.assert_allclose(seg.model.means_, ref.model.means_, rtol=1e-12)
        np.testing.assert_array_equal(seg.labels.compute(), ref.labels.compute())
        np.testing.assert_allclose(seg.probability.compute(), ref.probability.compute(),
                                   atol=1e-6)
        np.testing.assert_array_equal(seg.labels.compute(), twice)


def test_cache_with_holes_across_block_borders(monkeypatch):
    image = _image((20, 28, 32)).astype(np.float32)
    image[5:15, 10:20, 3:30] = np.nan  # across block borders
    seg, ref = _both(monkeypatch, image, (7, 10, 9))
    labels = seg.labels.compute()
    np.testing.assert_array_equal(labels, ref.labels.compute())
    np.testing.assert_array_equal(labels == 0, ~np.isfinite(image))


def test_cache_with_a_subsample_missing_blocks(monkeypatch):
    # 60 M-step voxels among 96 blocks: most blocks have none but must fill the cache
    image = _image((24, 32, 32), dtype="uint16")
    seg, ref = _both(monkeypatch, image, (6, 8, 8), max_samples=60)
    labels = seg.labels.compute()
    np.testing.assert_array_equal(labels, ref.labels.compute())
    full = ng.segment(image, 3, random_state=0, smoothing=1.0, max_samples=60)
    np.testing.assert_allclose(seg.model.means_, full.model.means_, rtol=1e-9)
    assert (labels == full.labels).mean() >= 0.999


def test_cache_is_refused_over_its_budget(monkeypatch):
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", str(4 * 3 * 1000 * 4))
    assert cache_budget() == 3 * 1000 * 4  # a quarter of what is available
    monkeypatch.setattr(_disk_cache, "disk_room", lambda directory, n_bytes: False)
    assert PosteriorCache.allocate((1000,), 3) is not None
    assert PosteriorCache.allocate((1001,), 3) is None


def test_merged_chunks_keep_input_borders_within_the_budget():
    chunks = ((7, 7, 6), (11, 11, 8), (9, 9, 9, 5))
    merged = merged_chunks(chunks, 2000)
    assert merged == ((7, 7, 6), (11, 11, 8), (18, 14))  # x first; one more would pass 2000
    for axis, new in zip(chunks, merged, strict=True):
        assert sum(new) == sum(axis)
        assert set(np.cumsum(new)) <= set(np.cumsum(axis))  # no input chunk is split
    assert merged_chunks(((64,), (128, 128), (128, 128)), 1 << 22) == ((64,), (256,), (256,))
    assert merged_chunks(chunks, 1) == chunks


def test_split_chunks_keep_input_borders_and_whole_rows():
    chunks = ((128, 128), (128, 72), (256,))
    split = split_chunks(chunks, 1 << 20)
    assert split == ((32,) * 8, (128, 72), (256,))  # z halved twice: 32 x 128 x 256 = 2^20
    assert max(split[0]) * max(split[1]) * max(split[2]) <= 1 << 20
    for axis, new in zip(chunks, split, strict=True):
        assert sum(new) == sum(axis)
        assert set(np.cumsum(axis)) <= set(np.cumsum(new))  # every input border stays
    assert split_chunks(((5,), (7,), (9,)), 10) == ((1,) * 5, (1,) * 7, (9,))  # rows whole
    assert split_chunks(chunks, 1 << 30) == chunks


def test_bigger_blocks_give_the_labels_of_the_input_chunks(monkeypatch):
    image = _image((16, 40, 44))
    lazy = da.from_array(image, chunks=(8, 10, 11))
    with monkeypatch.context() as m:
        m.setattr(_cache, "MAX_BLOCK_VOXELS", 16 * 20 * 22)
        seg = ng.segment(lazy, 3, random_state=0, smoothing=1.0)
    assert seg.labels.numblocks == (1, 2, 2)  # merged: 16 x 20 x 22 voxels per block
    with monkeypatch.context() as m:
        m.setattr(_cache, "MAX_BLOCK_VOXELS", 1)
        small = ng.segment(lazy, 3, random_state=0, smoothing=1.0)
    assert small.labels.numblocks == (2, 4, 4)
    np.testing.assert_array_equal(seg.labels.compute(), small.labels.compute())


@pytest.mark.parametrize("n_out", [2, 5])
@pytest.mark.parametrize("view", [False, True])
def test_packed_outputs_match_finish_planes(n_out, view):
    from napari_gmm.core.lazy._fused_blocks import packed_outputs
    from napari_gmm.core.potts._planes_kernels import finish_planes

    rng = np.random.default_rng(0)
    shape = (12, 30, 40)
    q = rng.dirichlet(np.ones(3), size=int(np.prod(shape))).T.astype(np.float32).copy()
    q[:, :50] = 0.0  # invalid voxels
    q[:, 50:60] = np.float32(1 / 3)  # ties: the first class wins
    own = (slice(2, 9), slice(3, 27), slice(1, 38)) if view else (slice(None),) * 3
    q_own = q.reshape(3, *shape)[(slice(None), *own)]  # a strided view of the planes
    assert q_own.flags.c_contiguous != view
    ref = np.ascontiguousarray(q_own).reshape(3, -1)
    order = np.array([2, 0, 1])
    post = np.empty((ref.shape[1], 3), dtype=np.float32)
    labels = np.empty(ref.shape[1], dtype=np.uint8)
    prob = np.empty(ref.shape[1], dtype=np.float32)
    finish_planes(ref, order, post, labels, prob)
    out = packed_outputs(q_own, order, n_out)
    assert out.shape == (*q_own.shape[1:], n_out)
    out = out.reshape(-1, n_out)
    np.testing.assert_array_equal(out[:, 0], labels)
    np.testing.assert_array_equal(out[:, 1], prob)
    if not view:
        assert labels[:50].max() == 0 and (labels[50:60] == 1).all()
    if n_out > 2:
        np.testing.assert_array_equal(out[:, 2:], post)


def test_lazy_smoothing_is_deterministic_across_thread_counts():
    import dask
    import numba

    image = _image((16, 64, 72), dtype="uint16")  # more voxels than one reduction block
    lazy = da.from_array(image, chunks=(8, 32, 36))
    before = numba.get_num_threads()
    runs = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            with dask.config.set(scheduler="threads", num_workers=threads):
                seg = ng.segment(lazy, 3, random_state=0, smoothing=1.0, max_samples=10**6,
                                 return_posteriors=True)
                runs.append((seg.model.means_, seg.posteriors.compute()))
    finally:
        numba.set_num_threads(before)
    (m1, q1), (m2, q2) = runs
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(q1, q2)


def test_blocks_run_the_sweeps_of_the_in_memory_path(monkeypatch):
    from napari_gmm.core.lazy import _fused_blocks

    image = make_class_image((24, 64, 64), n_classes=3, sigma=18, seed=4, dtype="uint8")[0]
    lazy = da.from_array(image, chunks=(12, 32, 32))
    monkeypatch.setattr(_cache, "MAX_BLOCK_VOXELS", 12 * 32 * 32)  # 8 blocks
    runs = []

    def counted(steps, progress=None):
        done = _fused_blocks.__dict__["_drive"](steps, progress)
        runs.append(done)
        return done

    monkeypatch.setitem(_fused_blocks.__dict__, "_drive", _fused_blocks.drive)
    monkeypatch.setattr(_fused_blocks, "drive", counted)
    seg = ng.segment(lazy, 3, random_state=0, smoothing=1.0)
    labels = seg.labels.compute()
    ref = ng.segment(image, 3, random_state=0, smoothing=1.0)
    first, second = ref.n_sweeps
    assert seg.n_sweeps == ref.n_sweeps and first < SWEEPS  # the early stop happened
    # 8 blocks of the statistics pass, 8 of the labels pass, and the 2 models' sweeps of
    # the central block that the probability's temperature is fitted on
    # (lazy/_calibrate.py); the counts of the pilot's boxes (lazy/_pilot.py) are not driven
    assert sorted(runs) == sorted([first] * 9 + [second] * 9)
    np.testing.assert_array_equal(labels, ref.labels)
    np.testing.assert_allclose(seg.probability.compute(), ref.probability, atol=1e-6)


def test_own_moments_match_the_moments_read_in_place():
    """The GPU route's M-step statistics (from a host copy of the own voxels) are those the
    CPU route sums in place on the planes."""
    from napari_gmm.core.lazy._fit import block_pixel_data
    from napari_gmm.core.lazy._fused_blocks import (
        block_moments,
        own_mask,
        own_moments,
        own_view,
        swept_planes,
    )

    image = _image((14, 22, 26)).astype(np.float32)
    image[3:9, 5:12, 4:20] = np.nan
    data = block_pixel_data(image[..., None])
    gmm = ng.segment(image, 3, random_state=0).model
    planes = swept_planes(data, [gmm], 1.0, None, 3)
    inner = (slice(2, 12), slice(3, 19), slice(0, 23))
    shift = gmm.means_ + 0.5
    got = own_moments(own_view(planes, data.spatial_shape, inner), data, inner, shift)
    want = block_moments(planes, data, own_mask(data.spatial_shape, inner, data.valid), shift)
    assert got[0].sum() == pytest.approx(np.count_nonzero(np.isfinite(image[inner])), rel=1e-5)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_lazy_result_says_where_its_blocks_run(monkeypatch):
    from napari_gmm.core._backend import use_backend
    from napari_gmm.core.lazy import _fused_blocks, _segment

    gmm = ng.segment(_image((8, 20, 20)), 2, random_state=0).model
    with use_backend("numba"):
        assert _segment.block_backend(gmm, (8, 20, 20), 1.0) == "numba"
        monkeypatch.setattr(_fused_blocks, "use_cupy", lambda: True)  # 'cupy' with a GPU
        assert _segment.block_backend(gmm, (8, 20, 20), 1.0) == "cupy"
        assert _segment.block_backend(gmm, (8, 20, 20), 0.0) == "numba"  # plain: CPU
        assert _segment.block_backend(gmm, (2, 2, 8, 20, 20), 1.0) == "numba"  # 5-D: CPU
    with use_backend("numpy"):
        assert _segment.block_backend(gmm, (8, 20, 20), 1.0) == "numpy"
