"""The emulated GPU (``tests/cuda_emulator``) that runs the GPU backend's tests on machines
without one: its CuPy keeps host and device apart, its kernel launches check what a GPU
would misread, its block collectives are those of CUDA, and it runs the backend's own
kernel source (a bug put into it shows) and the benchmark's GPU section."""

import gc
import os
import re
import sys

import cuda_emulator
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import napari_gmm as ng
from napari_gmm.core._features import pixel_data
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.potts import _gpu_kernels, _neighbours
from napari_gmm.core.potts._gpu import GpuPlanes
from napari_gmm.core.potts._gpu_kernels import grid, kernel
from napari_gmm.core.potts._gpu_memory import device_bytes
from napari_gmm.core.potts._planes import Planes

pytestmark = pytest.mark.skipif(not cuda_emulator.available(),
                                reason="needs a C++ compiler for the emulated GPU")

COLLECTIVES = r"""
extern "C" __global__ void collect(const float* x, long long n, double* block_sums,
                                   int* counts, double* warp_sums)
{
    __shared__ double part[256];
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    double v = i < n ? (double)x[i] : 0.0;
    part[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) block_sums[blockIdx.x] = part[0];
    int c = __syncthreads_count(i < n && x[i] > 0.0f);
    if (threadIdx.x == 0) counts[blockIdx.x] = c;
    double w = v;
    for (int off = 16; off > 0; off >>= 1) w += __shfl_down_sync(0xffffffffu, w, off);
    if ((threadIdx.x & 31) == 0) atomicAdd(warp_sums + blockIdx.x, w);
}
"""


@pytest.fixture
def cp(monkeypatch):
    cuda_emulator.install(monkeypatch)
    import cupy

    return cupy


def test_device_arrays_are_not_converted_implicitly(cp):
    dev = cp.asarray(np.arange(6.0))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(dev)
    assert np.array_equal(dev.reshape(2, 3).get(), np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match="float32 array cannot be set"):
        dev.set(np.zeros(6, np.float32))


def test_block_collectives_behave_as_on_a_gpu(cp):
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    blocks = 4
    sums, warps = cp.zeros(blocks, dtype=cp.float64), cp.zeros(blocks, dtype=cp.float64)
    counts = cp.zeros(blocks, dtype=cp.int32)
    kernel = cp.RawModule(code=COLLECTIVES).get_function("collect")
    kernel((blocks,), (256,), (cp.asarray(x), np.int64(x.size), sums, counts, warps))
    padded = np.zeros(blocks * 256)
    padded[: x.size] = x
    per_block = padded.reshape(blocks, 256)
    np.testing.assert_allclose(sums.get(), per_block.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(warps.get(), per_block.sum(axis=1), rtol=1e-12)
    assert np.array_equal(counts.get(), (per_block > 0).sum(axis=1))


def test_launches_refuse_what_a_gpu_would_misread(cp):
    q = cp.asarray(np.full((3, 100), 1 / 3, dtype=np.float32))
    temper = kernel("temper")
    temper(grid(100), (256,), (q, np.int64(100), np.int32(3), np.float32(0.5)))
    with pytest.raises(TypeError, match=r"parameter 1 \(long long n\).*int32"):
        temper(grid(100), (256,), (q, np.int32(100), np.int32(3), np.float32(0.5)))
    with pytest.raises(TypeError, match=r"parameter 2 \(int K\).*int64"):
        temper(grid(100), (256,), (q, np.int64(100), 3, np.float32(0.5)))  # a Python int
    with pytest.raises(TypeError, match="float32 device array, got float64"):
        temper(grid(100), (256,), (q.astype(cp.float64), np.int64(100), np.int32(3),
                                   np.float32(0.5)))
    with pytest.raises(TypeError, match="not contiguous"):
        temper(grid(50), (256,), (q[:, ::2], np.int64(50), np.int32(3), np.float32(0.5)))
    with pytest.raises(TypeError, match="needs a device array"):
        temper(grid(100), (256,), (q.get(), np.int64(100), np.int32(3), np.float32(0.5)))
    with pytest.raises(TypeError, match="takes 4 arguments"):
        temper(grid(100), (256,), (q, np.int64(100), np.int32(3)))


def test_a_bug_in_the_kernel_source_shows(cp, monkeypatch):
    """The emulator compiles the backend's own CUDA source: a wrong label in ``plain``
    makes the GPU planes disagree with their CPU twin."""
    shape = (4, 20, 22)
    X = np.random.default_rng(0).normal(np.repeat([0.0, 3.0], 880), 1.0)[:, None]
    X = X.astype(np.float32)
    gmm = GaussianMixture(2, random_state=0).fit(X)
    kernel = _neighbours.neighbour_kernel(3, None)
    weights = _neighbours._axis_weights(kernel)

    def labels_agree():
        cpu = Planes(None, shape, 2, kernel, weights, 8.0)
        gpu = GpuPlanes(X, None, shape, 2, kernel, weights, 8.0)
        cpu.set_model(gmm, X)
        gpu.set_model(gmm)
        cpu.plain()
        gpu.plain()
        return np.array_equal(gpu.labels.get(), cpu.labels)

    assert labels_agree()
    bad = _gpu_kernels.SOURCE.replace("(unsigned char)(best + 1) : 0;\n}",
                                      "(unsigned char)(best) : 0;\n}", 1)
    assert bad != _gpu_kernels.SOURCE
    monkeypatch.setattr(_gpu_kernels, "SOURCE", bad)
    _gpu_kernels.module.cache_clear()
    assert not labels_agree()


def test_benchmark_gpu_section_runs(cp, monkeypatch, capsys):
    """``bench_spatial.py --skip-cpu --quick`` runs its GPU tables (times meaningless
    here) and its GPU labels agree with the CPU's: it will not fail on a lent GPU."""
    here = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks")
    monkeypatch.syspath_prepend(os.path.abspath(here))
    monkeypatch.delitem(sys.modules, "bench_spatial", raising=False)
    import bench_spatial

    assert bench_spatial.main(["--skip-cpu", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "GPU: emulated CUDA device" in out and "GPU, dask halo blocks" in out
    agree = [float(v) for v in re.findall(r"labels agree GPU vs CPU(?: blocks)?: ([\d.]+)", out)]
    assert len(agree) == 2 and min(agree) >= 0.999, out


def test_segment_moves_the_image_over_the_bus_once(cp):
    """The in-memory GPU route uploads the image (and its mask) once and brings back the
    labels, the probability and the central block the temperature is fitted on (at most
    16,384 voxels' posteriors); all the posteriors only when asked for."""
    image, _ = make_class_image((16, 64, 64), 3, sigma=35, dtype="float32", seed=4)
    image = image.copy()
    image.flat[::41] = np.nan
    n, k = image.size, 3
    moved = []
    for posteriors in (False, True):
        before = cuda_emulator.transfers()
        with ng.use_backend("cupy"):
            ng.segment(image, k, smoothing=1.0, random_state=0, return_posteriors=posteriors)
        after = cuda_emulator.transfers()
        moved.append({key: after[key] - before[key] for key in after})
    small = 4096  # the mixture's parameters, the sweeps' change counts
    assert image.nbytes + n <= moved[0]["to_device"] <= image.nbytes + n + small
    assert n * 5 <= moved[0]["to_host"] <= n * 5 + 16384 * k * 4 + small
    assert moved[1]["to_device"] == moved[0]["to_device"]
    assert moved[1]["to_host"] - moved[0]["to_host"] == n * k * 4


@pytest.mark.usefixtures("halo_blocks")
def test_halo_blocks_bring_back_labels_and_probability_only(cp, monkeypatch):
    """The output pass of lazy smoothing on the GPU brings back each halo block's labels
    and probability (5 bytes per voxel), not its own voxels' posteriors (4 K bytes)."""
    import dask
    import dask.array as da

    from napari_gmm.core.lazy import _cache

    monkeypatch.setattr(_cache, "MAX_BLOCK_VOXELS", 16 * 48 * 48)  # 8 blocks, not merged
    image = make_class_image((32, 96, 96), 3, sigma=30, dtype="uint8", seed=4)[0]
    n, k = image.size, 3
    with ng.use_backend("cupy"):
        seg = ng.segment(da.from_array(image, chunks=(16, 48, 48)), k, smoothing=1.0,
                         random_state=0)
        before = cuda_emulator.transfers()
        labels, _ = dask.compute(seg.labels, seg.probability)
        after = cuda_emulator.transfers()
        ref = ng.segment(image, k, smoothing=1.0, random_state=0)
    assert seg.backend == ref.backend == "cupy"
    back = after["to_host"] - before["to_host"]
    halo = seg.n_sweeps[-1]  # two blocks per axis: each gets a halo on its inner side
    voxels = int(np.prod([m + 2 * halo for m in image.shape]))
    small = 8 * 64  # the sweeps' change counters
    assert voxels * 5 <= back <= voxels * 5 + small
    assert back < n * k * 4
    np.testing.assert_array_equal(labels, ref.labels)


@pytest.mark.parametrize(("dtype", "nan"), [("float32", False), ("uint16", False),
                                            ("float32", True)])
def test_device_memory_estimate_bounds_the_route(cp, dtype, nan):
    """:func:`device_bytes` is an upper bound of what the in-memory GPU route holds on the
    device at once (the emulated device tracks its live arrays), and not a loose one."""
    image = make_class_image((12, 40, 48), 3, sigma=35, dtype=dtype, seed=1)[0].copy()
    if nan:
        image.flat[::37] = np.nan
    features = pixel_data(image, None).features
    gc.collect()
    memory = cuda_emulator.memory()
    base = memory["peak"] = memory["live"]
    with ng.use_backend("cupy"):
        seg = ng.segment(image, 3, smoothing=1.0, random_state=0, return_posteriors=True)
    assert seg.backend == "cupy"
    peak = memory["peak"] - base
    need = device_bytes(image.size, 3, 1, features.dtype, masked=nan)
    assert peak <= need <= 1.25 * peak, (peak, need)


def test_a_spatial_model_too_big_for_the_gpu_runs_on_the_cpu(cp):
    image, _ = make_class_image((10, 48, 50), 3, sigma=35, dtype="float32", seed=4)
    with ng.use_backend("numba"):
        cpu = ng.segment(image, 3, smoothing=1.0, random_state=0)
    memory = cuda_emulator.memory()
    memory["total"] = memory["live"] + 200_000  # a small GPU: ~1 MB needed
    with ng.use_backend("cupy"), pytest.warns(RuntimeWarning, match="runs on the CPU"):
        small = ng.segment(image, 3, smoothing=1.0, random_state=0)
    assert small.backend == "numba" and cpu.backend == "numba"
    np.testing.assert_array_equal(small.labels, cpu.labels)
    np.testing.assert_array_equal(small.probability, cpu.probability)
    memory["total"] = 16 << 30
    with ng.use_backend("cupy"):
        big = ng.segment(image, 3, smoothing=1.0, random_state=0)
        plain = ng.segment(image, 3, random_state=0)
    assert big.backend == "cupy" and np.mean(big.labels == cpu.labels) >= 0.999
    assert plain.backend == "numba"  # no spatial model: nothing ran on the GPU


def test_host_memory_check_counts_the_cpu_fallback(cp, monkeypatch):
    """Under 'cupy' the smoothing planes live on the GPU, not in host memory; when the GPU
    is too small for them the CPU kernels run them, so the host check counts them."""
    image, _ = make_class_image((10, 48, 50), 3, sigma=35, dtype="float32", seed=4)
    n = image.size  # host bytes: outputs 5 per voxel on the GPU route, + 37 on the CPU's
    monkeypatch.setenv("NAPARI_GMM_AVAILABLE_MEMORY", str(20 * n))
    with ng.use_backend("cupy"):
        assert ng.segment(image, 3, smoothing=1.0, random_state=0).backend == "cupy"
        memory = cuda_emulator.memory()
        memory["total"] = memory["live"] + 200_000  # a small GPU
        with pytest.raises(ng.NotEnoughMemoryError, match="with smoothing"):
            ng.segment(image, 3, smoothing=1.0, random_state=0)
