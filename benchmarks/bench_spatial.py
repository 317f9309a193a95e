"""Benchmark the spatial model (Potts/HMRF smoothing): sweeps, end to end, threads, GPU.

Run ``python benchmarks/bench_spatial.py`` (128x512x512, K=2 and 3, 1 and 2 threads) or
``--quick`` (a smoke run). Everything is measured in one process, against baselines of the
same run:

* **sweeps**: one mean-field sweep of the class-major kernel (``potts._planes_kernels``) in
  ns per voxel, and in *memory passes*: its time over that of one numpy read+write pass
  over a float32 array of the image's size (``np.add(a, 1, out=b)``); the previous
  pixel-major kernel (``potts._kernels``) on the same log-likelihoods for comparison;
* **end to end**: ``segment`` plain and with ``smoothing=1`` (numba backend; best of
  ``--e2e-repeat`` runs: fresh buffers of this size sometimes wait for the kernel to find
  huge pages; the thread counts alternated), the ratio smoothing / plain, the same in
  memory passes, and the speed-up over one thread;
* **lazy / in-memory**: ``segment(dask_array, 3, smoothing=1)`` of a uint8 volume
  (``--lazy-shape``, chunks ``--lazy-chunks``) with labels and probability computed a group
  of blocks at a time (``compute_in_groups``, as the CLI does), against ``segment`` of the
  same numpy array, alternated ``--repeat`` times (median and best of each, ratio of
  medians; the process CPU time too, which a loaded machine disturbs less), on 2 threads
  (dask's and numba's); labels agreement of the two;
* **GPU** (when CuPy finds one, else "no GPU"): ``segment(smoothing=1)`` of a float32
  volume (``--gpu-shape``, default 512^3) K=3 with the 'cupy' backend, host array in, labels
  and probability out; the same on the CPU (numba, all threads); the device-resident part
  (upload / log-likelihoods + sweeps + full-data M-steps / download timed apart), and the
  accuracy of both against the true classes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from _timing import best_time
from scipy import ndimage


def volume(shape, k, *, sigma, seed=0):
    """Blocky classes (a zoomed random field) 0..k-1 + Gaussian noise; (image, truth)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, k, tuple(max(2, s // 16) for s in shape), dtype=np.uint8)
    truth = ndimage.zoom(coarse, [s / c for s, c in zip(shape, coarse.shape, strict=True)],
                         order=0)
    image = rng.standard_normal(shape, dtype=np.float32)
    image *= sigma
    image += truth
    return image, truth


def numpy_pass(n) -> float:
    """Seconds of one read+write pass over n float32 values (best of 3)."""
    a = np.ones(n, dtype=np.float32)
    b = np.empty_like(a)
    return best_time(lambda: np.add(a, 1.0, out=b), 3)[0]


def sweep_rows(shape, k, threads, rows):
    import numba
    from sklearn.mixture import GaussianMixture

    from napari_gmm.core.potts import _neighbours
    from napari_gmm.core.potts._kernels import potts_sweep_lp
    from napari_gmm.core.potts._planes import Planes

    image, _ = volume(shape, k, sigma=0.5)
    n = image.size
    gmm = GaussianMixture(k, random_state=0).fit(image.reshape(-1, 1)[:: max(1, n // 50_000)])
    kernel = _neighbours.neighbour_kernel(3)
    weights = _neighbours._axis_weights(kernel)
    t_pass = numpy_pass(n)
    for t in threads:
        numba.set_num_threads(t)
        planes = Planes(None, shape, k, kernel, weights, 8.0)
        t_lp, _ = best_time(lambda p=planes: p.set_model(gmm, image.reshape(-1, 1)), 2)
        planes.plain()
        steps = planes.iter_sweeps(4)
        next(steps)  # compiled, caches warm
        start = time.perf_counter()
        for _ in steps:
            pass
        t_sweep = (time.perf_counter() - start) / 3
        lp = np.ascontiguousarray(planes.lp.T)
        q, spare = np.ascontiguousarray(planes.q.T), np.empty_like(lp)
        vol = np.array(shape, dtype=np.int64)
        w = np.array(weights, dtype=np.float64)
        empty = np.zeros(0, dtype=bool)
        old_args = (lp, empty, vol, w, 8.0, q, spare)
        potts_sweep_lp(*old_args)
        t_old, _ = best_time(lambda a=old_args: potts_sweep_lp(*a), 2)
        del old_args
        del lp, q, spare, planes
        rows.append((f"K={k}", t, t_lp / n * 1e9, t_sweep / n * 1e9, t_sweep / t_pass,
                     t_old / n * 1e9))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return t_pass / n * 1e9


def e2e_rows(shape, k, threads, rows, repeat=3):
    import numba

    import napari_gmm as ng

    image, truth = volume(shape, k, sigma=0.5, seed=1)
    t_pass = numpy_pass(image.size)
    base = {}
    best = {t: {} for t in threads}
    with ng.use_backend("numba"):
        ng.segment(image[:4, :64, :64], k, smoothing=1.0, random_state=0)  # compile
        # thread counts alternated (a busy spell hits all alike); the plain runs apart
        # from the smoothing ones (after a plain run frees its buffers, a first smoothing
        # run of one thread waits seconds in the kernel for fresh pages on this machine)
        for smoothing in (1.0, 0.0):
            for _ in range(repeat):
                for t in threads:
                    numba.set_num_threads(t)
                    took, seg = best_time(
                        lambda s=smoothing: ng.segment(image, k, smoothing=s, random_state=0)
                    )
                    best[t][smoothing] = min(best[t].get(smoothing, np.inf), took)
                    if smoothing:
                        best[t]["sweeps"] = seg.n_sweeps
                        best[t]["acc"] = float(np.mean(seg.labels == truth + 1))
                    seg = None
        for t in threads:
            t_plain, t_smooth = best[t][0.0], best[t][1.0]
            n_sweeps, acc = best[t]["sweeps"], best[t]["acc"]
            base.setdefault("plain", t_plain)
            base.setdefault("smooth", t_smooth)
            ratios = (t_smooth / t_plain, t_smooth / t_pass, base["smooth"] / t_smooth)
            rows.append((f"K={k}", t, t_plain, t_smooth, *ratios, n_sweeps, acc))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def lazy_rows(shape, chunks, repeat, threads=2):
    """Seconds of in-memory and lazy ``segment(smoothing=1)`` (alternated): the lazy image
    in core (the default while it fits, ``lazy._incore``) and in halo blocks (the route of
    images beyond the in-core budget, forced here)."""
    import dask
    import dask.array as da
    import numba

    import napari_gmm as ng
    from napari_gmm.core import compute_in_groups
    from napari_gmm.core.analysis._synthetic import make_class_image
    from napari_gmm.core.lazy import _incore

    image = make_class_image(shape, n_classes=3, sigma=45, seed=2, dtype="uint8")[0]
    lazy = da.from_array(image, chunks=chunks)

    def in_memory():
        seg = ng.segment(image, 3, random_state=0, smoothing=1.0)
        return seg.labels

    def in_core():
        seg = ng.segment(lazy, 3, random_state=0, smoothing=1.0)
        return compute_in_groups([seg.labels, seg.probability])[0]

    def halo_blocks():
        budget = _incore.MAX_INCORE_BYTES
        _incore.MAX_INCORE_BYTES = 0
        try:
            return in_core()
        finally:
            _incore.MAX_INCORE_BYTES = budget

    from napari_gmm.core._options import Options

    opts = Options.from_kwargs(smoothing=1.0).checked().as_dict()
    default = "in core" if _incore.runs_in_core(lazy, 3, opts) else "halo blocks, over budget"
    paths = {"in-memory": in_memory, f"lazy, default ({default})": in_core}
    if default == "in core":  # else the default row is the halo blocks already
        paths["lazy, halo blocks (forced)"] = halo_blocks
    numba.set_num_threads(threads)
    times = {name: [] for name in paths}
    cpu = {name: [] for name in paths}
    with ng.use_backend("numba"), dask.config.set(num_workers=threads, scheduler="threads"):
        outs = {name: func() for name, func in paths.items()}  # compile, warm caches
        for _ in range(repeat):
            for name, func in paths.items():
                c0 = time.process_time()
                t, _ = best_time(func)
                times[name].append(t)
                cpu[name].append(time.process_time() - c0)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    med = {name: float(np.median(t)) for name, t in times.items()}
    best = {name: float(np.min(t)) for name, t in times.items()}
    cpu = {name: float(np.median(t)) for name, t in cpu.items()}
    agree = {name: float(np.mean(outs["in-memory"] == out)) for name, out in outs.items()}
    return med, best, cpu, agree


def print_lazy(med, best, cpu, agree):
    """The lazy / in-memory table of :func:`lazy_rows`."""
    print("| path | median s | best s | / in-memory (medians) | median CPU s | "
          "/ in-memory (CPU) | labels agree with in-memory |")
    print("|---|---|---|---|---|---|---|")
    for name in med:
        print(f"| {name} | {med[name]:.3f} | {best[name]:.3f} | "
              f"{med[name] / med['in-memory']:.2f} | {cpu[name]:.3f} | "
              f"{cpu[name] / cpu['in-memory']:.2f} | {agree[name]:.5f} |")


def gpu_section(shape, k, profile=False):
    import numba

    import napari_gmm as ng
    from napari_gmm.core._backend import gpu_available

    if not gpu_available():
        print("\nGPU: no GPU (CuPy not installed or no CUDA device): rows skipped.")
        return
    import copy

    import cupy as cp

    from napari_gmm.core.potts import _neighbours
    from napari_gmm.core.potts._gpu import GpuPlanes
    from napari_gmm.core.potts._hmrf import STOP_CHANGED, SWEEPS
    from napari_gmm.core.potts._planes import Planes, iter_hmrf_planes

    name = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    image, truth = volume(shape, k, sigma=0.5, seed=2)
    n = image.size
    warm = image[:8, :64, :64].copy()
    out = []
    with ng.use_backend("cupy"):
        ng.segment(warm, k, smoothing=1.0, random_state=0)  # compile the CUDA kernels
        t_gpu, seg_gpu = best_time(lambda: ng.segment(image, k, smoothing=1.0, random_state=0), 2)
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(ng.segment, image, k, smoothing=1.0, random_state=0)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(28)
    with ng.use_backend("numba"):
        ng.segment(warm, k, smoothing=1.0, random_state=0)
        t_cpu, seg_cpu = best_time(lambda: ng.segment(image, k, smoothing=1.0, random_state=0))
        t_plain, _ = best_time(lambda: ng.segment(image, k, random_state=0))
    # the spatial model alone, GPU against the CPU planes on every thread
    gmm = seg_cpu.model
    kernel = _neighbours.neighbour_kernel(3)
    weights = _neighbours._axis_weights(kernel)
    flat = image.reshape(-1, 1)

    def gpu_parts():
        model = copy.deepcopy(gmm)
        t0 = time.perf_counter()
        planes = GpuPlanes(flat, None, shape, k, kernel, weights, 8.0)
        cp.cuda.Device().synchronize()
        t1 = time.perf_counter()
        for _ in iter_hmrf_planes(planes, model, None, (1, SWEEPS), STOP_CHANGED, None):
            pass
        cp.cuda.Device().synchronize()
        t2 = time.perf_counter()
        planes.finish(np.arange(k), posteriors=False)
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    gpu_parts()
    up, dev, down = min((gpu_parts() for _ in range(2)), key=sum)

    def cpu_part():
        model = copy.deepcopy(gmm)
        planes = Planes(None, shape, k, kernel, weights, 8.0)
        for _ in iter_hmrf_planes(planes, model, flat, (1, SWEEPS), STOP_CHANGED, None):
            pass
        return planes.finish(np.arange(k), np.uint8)

    t_cpu_part, _ = best_time(cpu_part)
    planes = GpuPlanes(flat, None, shape, k, kernel, weights, 8.0)
    planes.set_model(gmm)
    planes.plain()
    planes.sweep()
    cp.cuda.Device().synchronize()
    start = time.perf_counter()
    for _ in range(10):
        planes.sweep()
    cp.cuda.Device().synchronize()
    t_sweep = (time.perf_counter() - start) / 10
    del planes
    acc_gpu = float(np.mean(seg_gpu.labels == truth + 1))
    acc_cpu = float(np.mean(seg_cpu.labels == truth + 1))
    threads = numba.get_num_threads()
    print(f"\nGPU: {name}; {'x'.join(map(str, shape))} float32, K={k}, smoothing=1; "
          f"CPU: numba on {threads} threads\n")
    print("| run | s | CPU / GPU | notes |")
    print("|---|---|---|---|")
    out.append(("segment(smoothing=1), cupy, host in, labels+probability out", t_gpu,
                t_cpu / t_gpu, f"sweeps {seg_gpu.n_sweeps}, accuracy {acc_gpu:.4f}"))
    out.append((f"segment(smoothing=1), numba {threads} threads", t_cpu, 1.0,
                f"sweeps {seg_cpu.n_sweeps}, accuracy {acc_cpu:.4f}"))
    out.append((f"segment plain, numba {threads} threads", t_plain, t_cpu / t_plain, ""))
    out.append(("GPU spatial model: upload (pinned, chunked)", up, float("nan"), ""))
    out.append(("GPU spatial model: device-resident (log-lik, sweeps, full M-step)", dev,
                t_cpu_part / dev, "vs the CPU planes HMRF on all threads"))
    out.append(("GPU spatial model: download labels+probability", down, float("nan"), ""))
    out.append((f"CPU planes HMRF (subsample-free), numba {threads} threads", t_cpu_part, 1.0,
                ""))
    out.append(("GPU one sweep", t_sweep, float("nan"),
                f"{t_sweep / n * 1e9:.3f} ns/voxel/sweep"))
    for run, t, ratio, notes in out:
        shown = "" if np.isnan(ratio) else f"{ratio:.1f}x"  # no CPU counterpart
        print(f"| {run} | {t:.4f} | {shown} | {notes} |")
    print(f"\nlabels agree GPU vs CPU: {np.mean(seg_gpu.labels == seg_cpu.labels):.5f}")


def gpu_lazy_section(shape, chunks):
    """Dask halo blocks (the route beyond the in-core budget, forced) on the GPU against the
    same blocks on the CPU planes: seconds, ratio, labels agreement (GPU machines only)."""
    import dask
    import dask.array as da
    import numba

    import napari_gmm as ng
    from napari_gmm.core import compute_in_groups
    from napari_gmm.core._backend import gpu_available
    from napari_gmm.core.analysis._synthetic import make_class_image
    from napari_gmm.core.lazy import _incore

    if not gpu_available():
        return
    image = make_class_image(shape, n_classes=3, sigma=45, seed=2, dtype="uint8")[0]
    lazy = da.from_array(image, chunks=chunks)
    budget, _incore.MAX_INCORE_BYTES = _incore.MAX_INCORE_BYTES, 0
    rows = {}
    try:
        for name in ("cupy", "numba"):
            with ng.use_backend(name), dask.config.set(scheduler="threads"):
                def run(name=name):
                    seg = ng.segment(lazy, 3, random_state=0, smoothing=1.0)
                    return seg.backend, compute_in_groups([seg.labels, seg.probability])[0]
                run()  # compile, warm caches
                rows[name] = best_time(run, 2)
    finally:
        _incore.MAX_INCORE_BYTES = budget
    (t_gpu, (where, labels_gpu)), (t_cpu, (_, labels_cpu)) = rows["cupy"], rows["numba"]
    print(f"\nGPU, dask halo blocks: {'x'.join(map(str, shape))} uint8, chunks "
          f"{'x'.join(map(str, chunks))}, smoothing=1, K=3\n")
    print("| blocks | s | CPU / GPU |\n|---|---|---|")
    print(f"| {where} (GPU planes) | {t_gpu:.3f} | {t_cpu / t_gpu:.1f}x |")
    print(f"| numba, {numba.get_num_threads()} threads | {t_cpu:.3f} | 1.0x |")
    print(f"\nlabels agree GPU vs CPU blocks: {np.mean(labels_gpu == labels_cpu):.5f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke run")
    parser.add_argument("--shape", type=int, nargs=3, default=(128, 512, 512))
    parser.add_argument("--threads", type=int, nargs="+", default=(1, 2))
    parser.add_argument("--gpu-shape", type=int, nargs=3, default=(512, 512, 512))
    parser.add_argument("--skip-cpu", action="store_true", help="only the GPU section")
    parser.add_argument("--lazy-shape", type=int, nargs=3, default=(64, 256, 256))
    parser.add_argument("--lazy-chunks", type=int, nargs=3, default=(64, 128, 128))
    parser.add_argument("--repeat", type=int, default=5, help="lazy / in-memory repeats")
    parser.add_argument("--e2e-repeat", type=int, default=3, help="end-to-end runs (best)")
    parser.add_argument("--only-lazy", action="store_true", help="only the lazy section")
    parser.add_argument("--profile", action="store_true", help="profile the GPU segment")
    args = parser.parse_args(argv)
    shape = (16, 128, 128) if args.quick else tuple(args.shape)
    gpu_shape = (32, 128, 128) if args.quick else tuple(args.gpu_shape)
    label = "x".join(map(str, shape))
    if not args.skip_cpu:
        lazy_shape = (16, 64, 64) if args.quick else tuple(args.lazy_shape)
        lazy_chunks = (16, 32, 32) if args.quick else tuple(args.lazy_chunks)
        med, best, cpu, agree = lazy_rows(lazy_shape, lazy_chunks, args.repeat)
        print(f"\nload average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
        print(f"\nLazy / in-memory, segment(image, 3, smoothing=1), "
              f"{'x'.join(map(str, lazy_shape))} uint8, chunks "
              f"{'x'.join(map(str, lazy_chunks))}, 2 threads, {args.repeat} alternated runs:\n")
        print_lazy(med, best, cpu, agree)
        sys.stdout.flush()
    if not args.skip_cpu and not args.only_lazy:
        rows = []
        for k in (2, 3):
            t_pass = sweep_rows(shape, k, args.threads, rows)
        print(f"\nload average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores; "
              f"numpy read+write pass {t_pass:.2f} ns/voxel\n")
        print(f"Mean-field sweeps, {label} float32:\n")
        print("| K | threads | log-lik ns/voxel | sweep ns/voxel | memory passes | "
              "previous kernel ns/voxel |")
        print("|---|---|---|---|---|---|")
        for k, t, lp, sw, passes, old in rows:
            print(f"| {k} | {t} | {lp:.2f} | {sw:.2f} | {passes:.1f} | {old:.2f} |")
        rows = []
        for k in (2, 3):
            e2e_rows(shape, k, args.threads, rows, args.e2e_repeat)
        print(f"\nEnd to end, segment(image, K), {label} float32, numba:\n")
        print("| K | threads | plain s | smoothing=1 s | smoothing / plain | memory passes | "
              "speed-up vs 1st | sweeps | accuracy |")
        print("|---|---|---|---|---|---|---|---|---|")
        for k, t, tp, ts, ratio, passes, speed, sweeps, acc in rows:
            print(f"| {k} | {t} | {tp:.3f} | {ts:.3f} | {ratio:.2f} | {passes:.0f} | "
                  f"{speed:.2f}x | {list(sweeps)} | {acc:.4f} |")
    sys.stdout.flush()
    gpu_section(gpu_shape, 3, args.profile)
    gpu_lazy_section((64, 128, 128) if args.quick else (512, 512, 512),
                     (32, 64, 64) if args.quick else (128, 128, 128))
    return 0


if __name__ == "__main__":
    sys.exit(main())
