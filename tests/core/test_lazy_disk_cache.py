"""Lazy smoothing beyond the memory budget keeps the first round's posteriors on disk."""

import gc
import itertools

import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.lazy import _cache, _disk_cache
from napari_gmm.core.lazy._cache import PosteriorCache, block_starts, own_slices
from napari_gmm.core.lazy._disk_cache import DiskPosteriorCache, disk_room, filesystem_type

# the halo blocks of images beyond the in-core budget (core/lazy/_incore.py)
pytestmark = pytest.mark.usefixtures("halo_blocks")


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NAPARI_GMM_TMPDIR", str(tmp_path))
    return tmp_path


def _fill(cache, shape, chunks, k, seed=0):
    """Store random posteriors block by block; return the whole array."""
    rng = np.random.default_rng(seed)
    q = rng.random((k, *shape), dtype=np.float32)
    starts = block_starts(chunks)
    for index in itertools.product(*(range(len(c)) for c in chunks)):
        where = own_slices(starts, index)
        view = q[(slice(None), *where)]  # a strided view, as the planes' own voxels
        cache.store(where, view)
    return q


def test_disk_cache_reads_any_region_back(tmpdir_env):
    shape, chunks = (9, 14, 11), ((4, 5), (5, 5, 4), (6, 5))
    disk = DiskPosteriorCache(shape, 3)
    memory = PosteriorCache(shape, 3)
    q = _fill(disk, shape, chunks, 3)
    _fill(memory, shape, chunks, 3)
    assert disk.path.parent == tmpdir_env
    regions = [
        (slice(0, 9), slice(0, 14), slice(0, 11)),  # everything
        (slice(2, 7), slice(3, 12), slice(4, 9)),  # across every block border
        (slice(4, 5), slice(5, 10), slice(6, 11)),  # inside one block
        (slice(0, 9), slice(13, 14), slice(0, 11)),  # one row of blocks
    ]
    for where in regions:
        np.testing.assert_array_equal(disk.read(where), q[(slice(None), *where)])
        np.testing.assert_array_equal(disk.read(where), memory.read(where))
        np.testing.assert_array_equal(_read_into(disk, where), q[(slice(None), *where)])
        np.testing.assert_array_equal(_read_into(memory, where), q[(slice(None), *where)])
    assert not disk.read(regions[1]).flags.writeable


def _read_into(cache, where, k=3):
    """Posteriors (of `k` classes) of `where` read into an array full of garbage."""
    shape = tuple(s.stop - s.start for s in where)
    q = np.full((k, *shape), 7.0, dtype=np.float32)
    cache.read_into(where, q)
    return q


def test_disk_cache_refuses_a_region_not_stored(tmpdir_env):
    disk = DiskPosteriorCache((6, 8), 2)
    disk.store((slice(0, 3), slice(0, 8)), np.zeros((2, 3, 8), np.float32))
    disk.store((slice(3, 6), slice(0, 4)), np.zeros((2, 3, 4), np.float32))
    with pytest.raises(RuntimeError, match="no block"):
        disk.read((slice(2, 6), slice(2, 8)))


def test_disk_cache_removes_only_its_own_directory(tmpdir_env):
    mine = tmpdir_env / "results.npy"  # something of the user's next to the cache
    np.save(mine, np.arange(3))
    disk = DiskPosteriorCache((6, 8), 2)
    _fill(disk, (6, 8), ((3, 3), (8,)), 2)
    path = disk.path
    assert any(path.iterdir())
    del disk
    gc.collect()
    assert not path.exists()
    np.testing.assert_array_equal(np.load(mine), np.arange(3))
    closed = DiskPosteriorCache((4,), 2)
    closed.close()
    assert not closed.path.exists()
    assert sorted(p.name for p in tmpdir_env.iterdir()) == ["results.npy"]


def test_filesystem_type_takes_the_longest_mount_point():
    mounts = ("/dev/vda / ext4 rw 0 0\n"
              "tmpfs /tmp tmpfs rw 0 0\n"
              "/dev/vdb /tmp/scratch xfs rw 0 0\n"
              "/dev/vdc /my\\040disk ext4 rw 0 0\n")
    assert filesystem_type("/tmp/job", mounts) == "tmpfs"
    assert filesystem_type("/tmp/scratch/job", mounts) == "xfs"
    assert filesystem_type("/tmpfiles", mounts) == "ext4"  # not under /tmp
    assert filesystem_type("/my disk/a", mounts) == "ext4"
    assert filesystem_type("/home", "") is None


def test_disk_room_refuses_memory_and_full_disks(tmp_path, monkeypatch):
    assert disk_room(tmp_path, 1)
    monkeypatch.setattr(_disk_cache, "filesystem_type", lambda path: "tmpfs")
    assert not disk_room(tmp_path, 1)
    monkeypatch.setattr(_disk_cache, "filesystem_type", lambda path: "ext4")
    monkeypatch.setattr(_disk_cache, "DISK_MARGIN", 1 << 62)
    assert not disk_room(tmp_path, 1)
    assert not disk_room(tmp_path / "missing", 1)


def test_cache_goes_to_disk_over_the_memory_budget(tmpdir_env, monkeypatch):
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", str(4 * 3 * 1000 * 4))
    assert isinstance(PosteriorCache.allocate((1000,), 3), PosteriorCache)
    over = PosteriorCache.allocate((1001,), 3)
    assert isinstance(over, DiskPosteriorCache) and not over.merge_blocks
    monkeypatch.setattr(_disk_cache, "disk_room", lambda directory, n_bytes: False)
    assert PosteriorCache.allocate((1001,), 3) is None  # recomputed instead


def _segment(image, chunks, **options):
    seg = ng.segment(da.from_array(image, chunks=chunks), 3, random_state=0, smoothing=1.0,
                     **options)
    return seg.labels.compute(), seg.probability.compute(), seg.model


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_disk_cache_gives_the_labels_of_the_memory_cache_and_of_recomputing(
        tmpdir_env, monkeypatch, backend):
    from napari_gmm.core._backend import use_backend

    image = make_class_image((20, 26, 30), n_classes=3, sigma=40, seed=3, dtype="uint16")[0]
    image = image.astype(np.float32)
    image[4:12, 9:18, 2:25] = np.nan  # invalid voxels across block borders
    chunks = (7, 9, 10)
    made = []
    allocate = DiskPosteriorCache.allocate

    def spy(*args):
        made.append(allocate(*args))
        return made[-1]

    with use_backend(backend):
        memory = _segment(image, chunks)
        with monkeypatch.context() as m:
            m.setattr(_cache, "cache_budget", lambda: 0)
            m.setattr(DiskPosteriorCache, "allocate", staticmethod(spy))
            m.setattr(DiskPosteriorCache, "block_voxels", 7 * 9 * 10)  # several blocks
            disk = _segment(image, chunks)
            m.setattr(_disk_cache, "disk_room", lambda directory, n_bytes: False)
            recomputed = _segment(image, chunks)
    assert isinstance(made[0], DiskPosteriorCache) and made[1] is None
    for other in (disk, recomputed):
        np.testing.assert_allclose(other[2].means_, memory[2].means_, rtol=1e-12)
        np.testing.assert_array_equal(other[0], memory[0])
        np.testing.assert_allclose(other[1], memory[1], atol=1e-6)
    np.testing.assert_array_equal(memory[0] == 0, np.isnan(image))


def test_scheduler_shares_memory_only_in_this_process():
    import dask

    from napari_gmm.core.lazy._blockwise import scheduler_shares_memory

    array = da.zeros((4, 4), chunks=2)
    assert scheduler_shares_memory(array)  # dask's default for arrays: threads
    for name, shared in (("sync", True), ("threads", True), ("processes", False)):
        with dask.config.set(scheduler=name):
            assert scheduler_shares_memory(array) is shared


def test_processes_scheduler_gives_the_labels_of_threads(tmpdir_env):
    # the first pass's tasks run in other processes: no cache (their writes would go to
    # copies of it and the second pass would start from posteriors never written)
    import dask

    image = make_class_image((16, 30, 32), n_classes=3, sigma=40, seed=3, dtype="uint16")[0]
    threads = _segment(image, (8, 15, 16))
    with dask.config.set(scheduler="processes", num_workers=2):
        processes = _segment(image, (8, 15, 16))
    np.testing.assert_array_equal(processes[0], threads[0])
    np.testing.assert_allclose(processes[1], threads[1], atol=1e-6)


def test_disk_cache_is_read_by_other_processes(tmpdir_env, monkeypatch):
    # segmented here (the cache written by this process), computed by worker processes
    import dask

    image = make_class_image((16, 30, 32), n_classes=3, sigma=40, seed=4, dtype="uint16")[0]
    monkeypatch.setattr(_cache, "cache_budget", lambda: 0)
    seg = ng.segment(da.from_array(image, chunks=(8, 15, 16)), 3, random_state=0,
                     smoothing=1.0)
    here = seg.labels.compute()
    with dask.config.set(scheduler="processes", num_workers=2):
        there = seg.labels.compute()
    np.testing.assert_array_equal(there, here)
    (cache_dir,) = tmpdir_env.iterdir()  # the copies in the workers did not remove it
    assert any(cache_dir.iterdir())


def test_a_full_disk_says_where_and_what_to_do(tmpdir_env, monkeypatch):
    disk = DiskPosteriorCache((6, 8), 2)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(OSError, match="NAPARI_GMM_TMPDIR") as error:
        disk.store((slice(0, 6), slice(0, 8)), np.zeros((2, 6, 8), np.float32))
    assert str(disk.path) in str(error.value) and "No space left" in str(error.value)
    with pytest.raises(RuntimeError, match="no block"):  # nothing half-registered
        disk.read((slice(0, 6), slice(0, 8)))
