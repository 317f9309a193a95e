"""Headless demo: segment the bundled samples with and without noise, write the results.

Run as ``napari-gmm demo [--out-dir DIR]``. Needs no display and no napari.
"""

from __future__ import annotations

from pathlib import Path

from ..core import add_gaussian_noise, compare_labels, segment
from ..io._atomic import MARK, refuse_foreign
from ..io._images import write_tiff


def demo_samples() -> list[dict]:
    """The demo's images: a synthetic 3-class image with ground truth and a real RGB slide."""
    from skimage import data

    from ..core import make_class_image

    image, truth = make_class_image((256, 256), 3, gap=60, sigma=6, seed=0)
    return [
        {
            "name": "synthetic",
            "image": image,
            "truth": truth,
            "channel_axis": None,
            "k": 3,
            "sigma": 40.0,
        },
        {
            "name": "immunohistochemistry",
            "image": data.immunohistochemistry(),
            "truth": None,
            "channel_axis": -1,
            "k": 3,
            "sigma": 25.0,
        },
    ]


def _quality(labels, reference) -> str:
    c = compare_labels(reference, labels, ignore=0)
    return f"ARI={c.ari:.3f} accuracy={c.accuracy:.3f}"


def run_demo(out_dir, *, seed: int = 0, echo=print) -> list[dict]:
    """Segment each sample clean and noisy, write TIFFs and an overview PNG to `out_dir`.

    Returns one record per sample and condition (name, condition, quality, time).
    """
    out_dir = Path(out_dir)
    _refuse_foreign_files(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records, panels = [], []
    for sample in demo_samples():
        name, image, axis, k = (sample[key] for key in ("name", "image", "channel_axis", "k"))
        noisy = add_gaussian_noise(image, sample["sigma"], seed=seed, channel_axis=axis)
        clean = segment(image, k, channel_axis=axis, random_state=seed)
        reference = sample["truth"] if sample["truth"] is not None else clean.labels
        runs = [
            ("clean", image, clean, 0.0),
            ("noisy", noisy, None, 0.0),
            ("noisy_smoothed", noisy, None, 1.0),
        ]
        for condition, img, seg, smoothing in runs:
            seg = seg or segment(img, k, channel_axis=axis, random_state=seed, smoothing=smoothing)
            stem = f"{name}_{condition}"
            write_tiff(out_dir / f"{stem}_labels.tif", seg.labels)
            write_tiff(out_dir / f"{stem}_probability.tif", seg.probability)
            quality = _quality(seg.labels, reference)
            records.append(
                {
                    "name": name,
                    "condition": condition,
                    "quality": quality,
                    "seconds": seg.elapsed,
                    "converged": seg.converged,
                }
            )
            echo(
                f"{stem:34s} K={k} converged={seg.converged} iterations={seg.n_iter:3d} "
                f"{quality} ({seg.elapsed:.2f} s)"
            )
            panels.append((f"{name} ({condition})", img, seg, axis))
    figure = _overview(panels, out_dir / "overview.png")
    echo(f"Wrote label/probability TIFFs and {figure} to {out_dir}/")
    return records


def _refuse_foreign_files(out_dir: Path) -> None:
    """The demo replaces its own earlier outputs only, never a file of the same name that
    napari-gmm did not write (ValueError: exit status 2, before any work)."""
    names = [f"{s}_{c}_{r}.tif" for s in ("synthetic", "immunohistochemistry")
             for c in ("clean", "noisy", "noisy_smoothed")
             for r in ("labels", "probability")]
    for path in [out_dir / n for n in names]:
        refuse_foreign(path)
    overview = out_dir / "overview.png"
    if overview.exists() and not _own_png(overview):
        raise ValueError(
            f"{overview} exists and napari-gmm did not write it; choose another --out-dir."
        )


def _own_png(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return str(image.info.get("Software", "")).startswith(MARK)
    except (OSError, UnidentifiedImageError):
        return False


def _overview(panels, path: Path) -> Path:
    """Image | labels | probability, one row per run."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 3, figsize=(9, 3 * len(panels)), squeeze=False)
    for row, (title, img, seg, axis) in zip(axes, panels, strict=True):
        row[0].imshow(img, cmap=None if axis is not None else "gray")
        row[0].set_title(title, fontsize=9)
        row[1].imshow(seg.labels, cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
        row[1].set_title(f"labels (K={seg.n_components})", fontsize=9)
        im = row[2].imshow(seg.probability, cmap="magma", vmin=0, vmax=1)
        row[2].set_title("max posterior", fontsize=9)
        fig.colorbar(im, ax=row[2], fraction=0.046)
        for ax in row:
            ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": MARK})  # recognised by a rerun
    plt.close(fig)
    return path
