"""Output safety of a batch: refuse colliding or foreign outputs before any work, write
every output atomically.

Before the first input is read, the planned outputs of every input and the summary are
checked together (:func:`check_plan`): two outputs on one path, an output that is an input
(same file, hard links included), that lies inside an input or contains one, and, with
``--overwrite``, an existing path that napari-gmm did not write, are refused (exit
status 2) with the reason. Each output is then written under a temporary name and renamed
when complete (:mod:`napari_gmm.io._atomic`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..io._atomic import atomic_output, refuse_foreign

#: Output suffixes and the writer that makes them (anything else is refused).
OUTPUT_SUFFIXES = {".tif": "tiff", ".tiff": "tiff", ".zarr": "zarr", ".nii": "nifti",
                   ".nii.gz": "nifti"}


def _key(path: Path) -> Path:
    return Path(os.path.realpath(path))  # a symlink loop does not raise here


def _identity(path) -> tuple[int, int] | None:
    """(device, inode) of an existing path: hard links to one file share it."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def writer_for(path, default: str) -> str:
    """The output format of an explicit output name: its suffix, else `default`.

    Raises
    ------
    ValueError
        If the suffix names a format napari-gmm does not write (e.g. ``.png``).
    """
    suffix = Path(path).suffix.lower()
    if Path(path).name.lower().endswith(".nii.gz"):
        suffix = ".nii.gz"
    if not suffix:
        return default
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(
            f"cannot write {path}: outputs are TIFF (.tif, .tiff), OME-Zarr (.zarr) or NIfTI "
            f"(.nii, .nii.gz), not {suffix!r} (labels must stay lossless with their pixel "
            "size); rename it."
        )
    return OUTPUT_SUFFIXES[suffix]


def check_plan(inputs, outputs, *, overwrite: bool) -> None:
    """Refuse a batch whose outputs collide with each other or with an input.

    Parameters
    ----------
    inputs : list of Path
        Every input of the batch.
    outputs : list of (str, Path)
        ``(what, path)`` of every planned output (``'--labels'``, ``'summary'``...).
    overwrite : bool
        Whether existing outputs may be replaced (then only outputs of napari-gmm).

    Raises
    ------
    ValueError
        Saying which output collides with what, or why it may not be replaced.
    """
    keys = [(what, Path(path), _key(path)) for what, path in outputs if path is not None]
    by_key: dict[Path, tuple[str, Path]] = {}
    for what, path, key in keys:
        if key in by_key:
            raise ValueError(
                f"two outputs on one path: {by_key[key][0]} and {what} are both {path}; give "
                "them different names."
            )
        by_key[key] = (what, path)
    sources = {_key(source): Path(source) for source in inputs}
    identities = {_identity(source): Path(source) for source in inputs}
    identities.pop(None, None)
    for what, path, key in keys:
        source = sources.get(key) or identities.get(_identity(path))
        if source is not None:
            raise ValueError(
                f"the output {what} ({path}) is the input {source}; outputs never replace "
                "inputs, with or without --overwrite. Choose another name or --out-dir."
            )
        for parent in key.parents:
            if parent in sources:
                raise ValueError(
                    f"the output {what} ({path}) lies inside the input {sources[parent]}; "
                    "writing it would damage the input. Choose another name or --out-dir."
                )
    for source_key, source in sources.items():
        for parent in source_key.parents:
            if parent in by_key:
                what, path = by_key[parent]
                raise ValueError(
                    f"the output {what} ({path}) contains the input {source}; replacing it "
                    "would delete the input. Choose another name or --out-dir."
                )
    for what, path, key in keys:
        for parent in key.parents:
            if parent in by_key:
                other_what, other = by_key[parent]
                raise ValueError(
                    f"the output {what} ({path}) lies inside the output {other_what} "
                    f"({other}); give them separate names."
                )
    if overwrite:
        for _, path, _ in keys:
            refuse_foreign(path)


def write_file(path, write: Callable[[Path], object], *, overwrite: bool) -> Path:
    """Call ``write(temporary)`` and move the result onto `path` when it succeeded."""
    with atomic_output(path, overwrite=overwrite) as temporary:
        write(temporary)
    return Path(path)
