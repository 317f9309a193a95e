"""The lazy (dask) paths of issue 26 against the in-memory ones, measured in the same run.

Run ``python benchmarks/bench_formats.py`` (a few minutes on two shared cores; ``--sizes``
sets the edge of the bias-field volumes).

* **bias field on dask**: a shaded 3-class float32 volume (``size/2 x size x size``, chunks
  of :data:`CHUNKS`) is written to zarr; ``segment(..., bias_field=
  'polynomial')`` runs in fresh subprocesses on the volume read into memory (numpy) and on
  ``da.from_zarr`` (labels written to zarr block by block). The table gives the agreement of
  the labels, the wall time ratio, and each run's peak RSS (``VmHWM``): the lazy path
  holds the bias sample and a few blocks (flat in the volume's size, above the ~0.4 GB of a
  process with numba and dask loaded), the in-memory path several copies of the image.
* **n_components='auto' on dask**: the K chosen in memory and on dask for volumes of 2..5
  classes (uint8: the exact histogram, float32: a sample of ``max_samples`` voxels).
* **objects on dask labels**: ``label_objects`` on numpy labels and on the same labels in
  chunks: the same objects and table (checked), and the time ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
#: Chunks of the zarr volumes of the bias-field runs.
CHUNKS = (48, 96, 96)


def _shaded(size: int, seed: int = 2):
    from napari_gmm.core.analysis._synthetic import make_class_image, make_shading

    shape = (size // 2, size, size)
    image = make_class_image(shape, 3, sigma=12, seed=seed, dtype="float32")[0]
    return (image * make_shading(shape, seed=1)).astype(np.float32)


def child(mode: str, workdir: Path) -> None:
    """One bias-field run in this (fresh) process; prints its time and peak RSS."""
    import dask.array as da

    import napari_gmm as ng

    start = time.perf_counter()
    if mode == "memory":
        image = np.load(workdir / "volume.npy")
        seg = ng.segment(image, 3, bias_field="polynomial", random_state=0)
        np.save(workdir / "labels_memory.npy", seg.labels)
    else:
        from napari_gmm.cli._zarr import return_memory_to_the_os
        from napari_gmm.io._zarr import write_ome_zarr

        return_memory_to_the_os()
        image = da.from_zarr(str(workdir / "volume.zarr"))
        seg = ng.segment(image, 3, bias_field="polynomial", random_state=0)
        write_ome_zarr(workdir / "labels_lazy.zarr", seg.labels, name="labels")
    elapsed = time.perf_counter() - start
    print(json.dumps({"time": elapsed, "peak": _peak_rss()}))


def _peak_rss() -> int:
    """Peak resident memory of this process in bytes: VmHWM, the high-water mark of its own
    address space (``ru_maxrss`` would include the parent's at fork time, on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_child(mode: str, workdir: Path) -> dict:
    out = subprocess.run([sys.executable, str(HERE), "--child", mode, "--workdir", str(workdir)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bias_table(sizes) -> list[str]:
    import dask.array as da

    from napari_gmm.io._zarr import read_zarr

    rows = ["| volume | input MB | labels lazy = in-memory | time lazy / in-memory "
            "| peak RSS MB, in-memory | peak RSS MB, lazy |",
            "|---|---|---|---|---|---|"]
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            image = _shaded(size)
            np.save(workdir / "volume.npy", image)
            chunks = CHUNKS  # fixed: the lazy working set is a few blocks, whatever the size
            da.from_array(image, chunks=chunks).to_zarr(str(workdir / "volume.zarr"))
            nbytes = image.nbytes
            del image
            mem = _run_child("memory", workdir)
            lazy = _run_child("lazy", workdir)
            ref = np.load(workdir / "labels_memory.npy")
            got = read_zarr(workdir / "labels_lazy.zarr").data.compute()
            agree = float((ref == got).mean())
        rows.append(f"| {size // 2}x{size}x{size} float32 | {nbytes / 1e6:.0f} | {agree:.4f} | "
                    f"{lazy['time'] / mem['time']:.2f} | {mem['peak'] / 1e6:.0f} | "
                    f"{lazy['peak'] / 1e6:.0f} |")
    return rows


def auto_table() -> list[str]:
    import dask.array as da

    import napari_gmm as ng
    from napari_gmm.core.analysis._synthetic import make_class_image

    rows = ["| volume | classes | K in memory | K on dask | method on dask |",
            "|---|---|---|---|---|"]
    for dtype in ("uint8", "float32"):
        for k in (2, 3, 4, 5):
            image = make_class_image((32, 96, 96), k, sigma=12, seed=1, dtype=dtype)[0]
            ref = ng.segment(image, "auto", random_state=0, max_samples=50_000)
            seg = ng.segment(da.from_array(image, chunks=(16, 48, 48)), "auto", random_state=0,
                             max_samples=50_000)
            rows.append(f"| 32x96x96 {dtype} | {k} | {ref.n_components} | {seg.n_components} "
                        f"| {seg.selection.method} |")
    return rows


def objects_table() -> list[str]:
    import dask.array as da

    import napari_gmm as ng
    from napari_gmm.core.analysis._synthetic import make_class_image

    rows = ["| labels | chunks | objects | same labels and table | time dask / numpy |",
            "|---|---|---|---|---|"]
    for shape, chunks in (((64, 256, 256), (32, 64, 64)), ((1024, 1024), (256, 256))):
        image = make_class_image(shape, 3, sigma=30, seed=1, dtype="uint8")[0]
        labels = ng.segment(image, 3, random_state=0).labels
        start = time.perf_counter()
        ref = ng.label_objects(labels, "foreground", image=image, min_size=2)
        t_mem = time.perf_counter() - start
        start = time.perf_counter()
        lazy = ng.label_objects(da.from_array(labels, chunks=chunks), "foreground",
                                image=image, min_size=2)
        lazy_labels = lazy.labels.compute()
        t_lazy = time.perf_counter() - start
        same = np.array_equal(lazy_labels, ref.labels) and all(
            np.allclose(lazy.table[c], ref.table[c], equal_nan=True) for c in ref.table
        )
        rows.append(f"| {'x'.join(map(str, shape))} | {'x'.join(map(str, chunks))} | "
                    f"{ref.n_objects} | {same} | {t_lazy / t_mem:.2f} |")
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 192])
    parser.add_argument("--child", choices=("memory", "lazy"), default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--parts", nargs="+", choices=("bias", "auto", "objects"),
                        default=["bias", "auto", "objects"])
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.workdir)
        return
    parts = {"bias": ("bias field on dask", lambda: bias_table(args.sizes)),
             "auto": ("n_components='auto' on dask", auto_table),
             "objects": ("objects on dask labels", objects_table)}
    for part in args.parts:
        title, table = parts[part]
        print(f"\n{title}\n")
        print("\n".join(table()), flush=True)


if __name__ == "__main__":
    main()
