"""GPU backend: CPU twins against scikit-learn / the numpy reference everywhere, and the
CUDA kernels against their CPU twins where CuPy finds a GPU (skipped otherwise)."""

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core._backend import gpu_available, set_backend, use_backend
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.fit._sklearn_private import estimate_gaussian_parameters
from napari_gmm.core.potts import _hmrf_rounds, _neighbours

numba = pytest.importorskip("numba")

COVARIANCES = ["full", "tied", "diag", "spherical"]


def _volume(shape, n_channels=1, k=3, seed=0, nan=True):
    """A float32 class image (spatial shape, C) with some NaN voxels, and a mixture."""
    image, _ = make_class_image(shape, k, sigma=35, dtype="float32", n_channels=n_channels,
                                seed=seed)
    image = image.reshape(*shape, n_channels).astype(np.float32)
    if nan:
        image.reshape(-1, n_channels)[::53, 0] = np.nan
    X = image.reshape(-1, n_channels)
    ok = np.isfinite(X).all(axis=1)
    gmm = GaussianMixture(k, random_state=seed).fit(X[ok][::3].astype(np.float64))
    return image, ok, gmm


def _planes(shape, ok, gmm, spacing=None, beta=8.0):
    from napari_gmm.core.potts._planes import Planes

    kernel = _neighbours.neighbour_kernel(len(shape), spacing)
    return Planes(ok.reshape(shape), shape, gmm.n_components, kernel,
                  _neighbours._axis_weights(kernel), beta)


@pytest.mark.parametrize("covariance_type", COVARIANCES)
@pytest.mark.parametrize("n_channels", [1, 3])
def test_moments_twin_matches_sklearn(covariance_type, n_channels):
    from napari_gmm.core.potts._moments import cpu_moments, params_from_moments

    image, ok, gmm = _volume((10, 30, 28), n_channels)
    X = image.reshape(-1, n_channels)
    rng = np.random.default_rng(1)
    q = rng.dirichlet(np.ones(3), size=X.shape[0]).astype(np.float32)
    shift = gmm.means_ + 0.3
    moments = cpu_moments(X, np.ascontiguousarray(q.T), ok, shift)
    w, m, c, _ = params_from_moments(moments, shift, covariance_type, 1e-6)
    nk, means, covs = estimate_gaussian_parameters(
        X[ok].astype(np.float64), q[ok].astype(np.float64), 1e-6, covariance_type
    )
    assert np.allclose(w, nk / nk.sum(), rtol=1e-10)
    assert np.allclose(m, means, rtol=1e-9, atol=1e-9)
    assert np.allclose(c, covs, rtol=1e-7, atol=1e-10)


def test_full_data_planes_driver_matches_numpy_reference():
    from napari_gmm.core.potts._planes import iter_hmrf_planes

    image, ok, gmm = _volume((8, 36, 40), 1)
    shape = image.shape[:-1]
    planes = _planes(shape, ok, gmm)
    model = __import__("copy").deepcopy(gmm)
    sweeps = []
    for _ in iter_hmrf_planes(planes, model, image.reshape(-1, 1), (1, 5), None, sweeps):
        pass
    q = planes.finish(np.arange(3), np.uint8)[2]
    with use_backend("numpy"):  # every valid voxel is in its M-step (fewer than max_samples)
        ref_gmm, ref_q = _hmrf_rounds.hmrf_em(gmm, image, n_iter=5, max_samples=10**7)
    assert sweeps == [5, 5]
    assert np.allclose(model.means_, ref_gmm.means_, rtol=1e-5)
    assert np.allclose(model.covariances_, ref_gmm.covariances_, rtol=1e-4)
    assert np.abs(q - ref_q.reshape(q.shape)).max() < 1e-4


@pytest.mark.skipif(gpu_available(), reason="a GPU is present")
def test_cupy_backend_refused_without_gpu():
    with pytest.raises(ValueError, match="CuPy and a CUDA GPU"):
        set_backend("cupy")
    assert ng.get_backend() in ("numba", "numpy")


# ---- CUDA kernels against their CPU twins (need a GPU) --------------------------------


def _gpu_and_cpu(shape, n_channels=1, spacing=None, nan=True, k=3):
    from napari_gmm.core.potts._gpu import GpuPlanes

    image, ok, gmm = _volume(shape, n_channels, k=k, nan=nan)
    X = image.reshape(-1, n_channels)
    cpu = _planes(shape, ok, gmm, spacing)
    kernel = _neighbours.neighbour_kernel(len(shape), spacing)
    gpu = GpuPlanes(X, None, shape, k, kernel, _neighbours._axis_weights(kernel), 8.0)
    return X, ok, gmm, cpu, gpu


@pytest.mark.usefixtures("gpu")
@pytest.mark.parametrize(
    ("shape", "n_channels", "spacing"),
    [
        ((40, 52), 1, None),
        ((9, 31, 30), 1, (3.0, 1.0, 1.0)),
        ((7, 20, 24), 3, None),
        ((3, 50), 1, (1.0, 2.0)),
    ],
)
def test_gpu_kernels_match_cpu_twins(shape, n_channels, spacing):
    import cupy as cp

    from napari_gmm.core.potts._moments import cpu_moments

    X, ok, gmm, cpu, gpu = _gpu_and_cpu(shape, n_channels, spacing)
    assert gpu.n_valid == cpu.n_valid == int(ok.sum())
    assert np.array_equal(gpu.valid.get().astype(bool), ok)
    cpu.set_model(gmm, X, last=True)
    gpu.set_model(gmm, last=True)
    assert np.abs(gpu.lp.get() - cpu.lp).max() < 1e-5
    assert gpu.log_likelihood == pytest.approx(cpu.log_likelihood, rel=1e-9)
    assert cpu.log_likelihood == pytest.approx(gmm.score(X[ok].astype(np.float64)), rel=1e-6)
    cpu.plain()
    gpu.plain()
    assert np.abs(gpu.q.get() - cpu.q).max() < 1e-6
    assert np.array_equal(gpu.labels.get(), cpu.labels)
    for _ in range(4):  # one sweep from the same posteriors: round-off apart
        start_q, start_labels = cpu.q.copy(), cpu.labels.copy()
        next(cpu.iter_sweeps(1), None)
        gpu.q, gpu.labels = cp.asarray(start_q), cp.asarray(start_labels)
        gpu.sweep()
        assert np.abs(gpu.q.get() - cpu.q).max() < 1e-5
        assert np.mean(gpu.labels.get() == cpu.labels) >= 0.999
    shift = np.asarray(gmm.means_) + 0.1
    gpu.q = cp.asarray(cpu.q)
    ref = cpu_moments(X, cpu.q, ok, shift)
    assert np.allclose(gpu.moments(shift), ref, rtol=1e-9, atol=1e-9)
    order = np.array([2, 0, 1])
    labels, prob, post = gpu.finish(order, posteriors=True)
    ref_labels, ref_prob, ref_post = cpu.finish(order, np.uint8)
    assert np.array_equal(labels, ref_labels)
    assert np.array_equal(prob, ref_prob) and np.array_equal(post, ref_post)
    assert np.all(labels[~ok] == 0) and np.all(prob[~ok] == 0)


def _plain_twins(shape):
    """CPU and GPU planes of one volume, both holding the plain posteriors."""
    X, _, gmm, cpu, gpu = _gpu_and_cpu(shape)
    cpu.set_model(gmm, X)
    gpu.set_model(gmm)
    cpu.plain()
    gpu.plain()
    return cpu, gpu


@pytest.mark.usefixtures("gpu")
def test_gpu_sweeps_track_the_twin():
    cpu, gpu = _plain_twins((6, 40, 44))
    for _ in cpu.iter_sweeps(6):
        gpu.sweep()
    assert np.mean(gpu.labels.get() == cpu.labels) >= 0.999
    assert np.abs(gpu.q.get() - cpu.q).mean() < 1e-4


@pytest.mark.usefixtures("gpu")
def test_gpu_sweep_counts_changes_like_the_twin():
    cpu, gpu = _plain_twins((6, 40, 44))
    steps = cpu.iter_sweeps(1)
    next(steps)
    before = gpu.labels.get()
    changed = gpu.sweep()
    assert changed == int(np.count_nonzero(gpu.labels.get() != before)) > 0


@pytest.mark.usefixtures("gpu")
def test_gpu_tempering_matches_the_twin_and_keeps_labels():
    import cupy as cp

    from napari_gmm.core.potts._temper_kernel import temper_planes_kernel

    cpu, gpu = _plain_twins((6, 40, 44))
    for _ in cpu.iter_sweeps(3):
        pass
    q = cpu.q.copy()
    q[:, :50] = 0  # invalid voxels
    q[:, 50:60] = 1.0 / q.shape[0]  # ties: the first class stays the label
    labels = q.argmax(axis=0)
    live = q[:, 50:].sum(axis=0) > 0  # the NaN voxels' posteriors are all 0
    gpu.q = cp.asarray(q)
    gpu.temper(2.5)
    temper_planes_kernel(q, 1.0 / 2.5)
    got = gpu.q.get()
    assert np.abs(got - q).max() < 1e-5
    assert np.array_equal(got.argmax(axis=0), labels)
    assert np.all(got[:, :50] == 0)
    assert 0.9 < live.mean() < 1 and np.all(got[:, 50:][:, ~live] == 0)
    np.testing.assert_allclose(got[:, 50:][:, live].sum(axis=0), 1, atol=1e-5)
    box = (slice(1, 4), slice(5, 20), slice(0, 44))
    block = gpu.posterior_block(box)
    assert np.array_equal(block, np.moveaxis(got.reshape(-1, 6, 40, 44)[(slice(None), *box)],
                                             0, -1))


@pytest.mark.usefixtures("gpu")
def test_gpu_calibrates_without_copying_the_posteriors_back():
    image, _ = make_class_image((10, 48, 50), 3, sigma=35, dtype="float32", seed=5)
    with use_backend("cupy"):
        bare = ng.segment(image, 3, smoothing=1.0, random_state=0)
        full = ng.segment(image, 3, smoothing=1.0, random_state=0, return_posteriors=True)
    with use_backend("numba"):
        cpu = ng.segment(image, 3, smoothing=1.0, random_state=0)
    assert bare.posteriors is None
    np.testing.assert_array_equal(bare.probability, full.probability)
    np.testing.assert_allclose(full.posteriors.max(axis=-1), full.probability, atol=1e-6)
    # the numba route's probability is tempered here (0.03 from the untempered one)
    assert np.abs(bare.probability - cpu.probability).mean() < 1e-3


@pytest.mark.usefixtures("gpu")
@pytest.mark.parametrize("chunk", [64, 1000, 1 << 26])
def test_transfers_round_trip(monkeypatch, chunk):
    from napari_gmm.core.potts import _gpu

    monkeypatch.setattr(_gpu, "CHUNK_BYTES", chunk)
    host = np.random.default_rng(0).standard_normal((1001, 3)).astype(np.float32)
    dev = _gpu.to_device(host)
    assert np.array_equal(dev.get(), host)
    assert np.array_equal(_gpu.to_host(dev), host)


@pytest.mark.usefixtures("gpu")
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_segment_on_gpu_matches_numba(covariance_type):
    image, _ = make_class_image((10, 48, 50), 3, sigma=35, dtype="float32", seed=4)
    image = image.copy()
    image.flat[::41] = np.nan
    segs = {}
    for name in ("numba", "cupy"):
        with use_backend(name):
            segs[name] = ng.segment(
                image, 3, smoothing=1.0, random_state=0, covariance_type=covariance_type,
                return_posteriors=True,
            )
    a, b = segs["numba"], segs["cupy"]
    assert b.backend == "cupy" and len(b.n_sweeps) == 2
    # summed on the device by the last log-likelihood pass (no E-step on the host)
    assert b.log_likelihood == pytest.approx(a.log_likelihood, rel=1e-4)
    assert np.mean(a.labels == b.labels) >= 0.999
    assert np.abs(a.probability - b.probability).mean() < 1e-3
    assert np.allclose(a.model.means_, b.model.means_, rtol=1e-3)
    assert np.all(b.labels[np.isnan(image)] == 0)


@pytest.mark.usefixtures("gpu")
def test_hmrf_em_on_gpu_matches_numpy_reference():
    image, _, gmm = _volume((8, 36, 40), 1)
    with use_backend("numpy"):
        ref_gmm, ref_q = _hmrf_rounds.hmrf_em(gmm, image, n_iter=5, max_samples=10**7)
    with use_backend("cupy"):
        got_gmm, got_q = _hmrf_rounds.hmrf_em(gmm, image, n_iter=5)
    assert np.allclose(got_gmm.means_, ref_gmm.means_, rtol=1e-4)
    assert np.abs(got_q - ref_q).max() < 1e-3


@pytest.mark.usefixtures("gpu")
@pytest.mark.parametrize("disk", [False, True])
def test_lazy_halo_blocks_on_gpu_match_numba(monkeypatch, tmp_path, disk):
    """Dask images beyond the in-core budget: halo blocks swept on the GPU (the planes'
    twin), the first round kept in memory or on disk, against the same blocks on the CPU."""
    import dask.array as da

    from napari_gmm.core.lazy import _cache, _incore

    monkeypatch.setattr(_incore, "MAX_INCORE_BYTES", 0)
    if disk:
        monkeypatch.setenv("NAPARI_GMM_TMPDIR", str(tmp_path))
        monkeypatch.setattr(_cache, "cache_budget", lambda: 0)
    image, _ = make_class_image((24, 60, 64), 3, sigma=35, dtype="uint16", seed=5)
    lazy = da.from_array(image, chunks=(12, 30, 32))
    out = {}
    for name in ("numba", "cupy"):
        with use_backend(name):
            seg = ng.segment(lazy, 3, smoothing=1.0, random_state=0)
            out[name] = seg.backend, seg.labels.compute(), seg.probability.compute()
    assert out["numba"][0] == "numba" and out["cupy"][0] == "cupy"
    assert np.mean(out["numba"][1] == out["cupy"][1]) >= 0.999
    assert np.abs(out["numba"][2] - out["cupy"][2]).mean() < 1e-3


@pytest.mark.usefixtures("gpu")
def test_lazy_gpu_blocks_sum_every_voxel_as_in_memory(monkeypatch):
    """On the GPU the HMRF M-step of halo blocks sums every voxel, as the in-memory GPU
    path does, not the CPU's subsample of `max_samples`."""
    import dask.array as da

    from napari_gmm.core.lazy import _incore

    monkeypatch.setattr(_incore, "MAX_INCORE_BYTES", 0)
    image, _ = make_class_image((24, 60, 64), 3, sigma=35, dtype="uint16", seed=5)
    with use_backend("cupy"):
        lazy = ng.segment(da.from_array(image, chunks=(12, 30, 32)), 3, smoothing=1.0,
                          random_state=0, max_samples=5000)
        memory = ng.segment(image, 3, smoothing=1.0, random_state=0, max_samples=5000)
    np.testing.assert_allclose(lazy.model.means_, memory.model.means_, rtol=5e-3)
    np.testing.assert_allclose(lazy.model.weights_, memory.model.weights_, atol=5e-3)
