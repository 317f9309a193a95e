"""NIfTI-1/2 images (``.nii``, ``.nii.gz``) in and out, through nibabel.

Reading keeps the array in the file's voxel order (``i, j, k`` = axes ``X, Y, Z``, then
``T`` and a fifth, vector axis read as channels ``C``), the voxel size from the header
(``pixdim``, in the header's unit: smoothing weighs neighbours by it), and the affine and
header themselves, so outputs written with :func:`write_nifti_like` line up with the input
in any viewer (same affine, qform/sform codes and units). Labels are written with the
NIfTI label intent, probabilities as float32.

nibabel is an optional dependency (``pip install "napari-gmm[formats]"``); it is imported
only when a NIfTI file is read or written.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ._types import LoadedImage

#: Suffixes of NIfTI files (lower case).
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: nibabel's unit names -> the unit strings of :class:`LoadedImage`.
_UNITS = {"mm": "mm", "micron": "µm", "meter": "m"}
#: ... and back.
_NIFTI_UNITS = {"mm": "mm", "µm": "micron", "um": "micron", "m": "meter"}
#: NIFTI_INTENT_LABEL: the values are labels (viewers show them as a label map).
_INTENT_LABEL = 1002
INSTALL_HINT = 'NIfTI files need nibabel: pip install "napari-gmm[formats]" (or nibabel).'


def is_nifti(path: Path) -> bool:
    """Whether `path` is a file named like a NIfTI image."""
    return Path(path).name.lower().endswith(NIFTI_SUFFIXES)


def _nibabel():
    try:
        import nibabel
    except ImportError:
        raise ValueError(INSTALL_HINT) from None
    return nibabel


def nifti_axes(ndim: int) -> str:
    """Axis letters of a NIfTI array of `ndim` axes (``XYZ``, ``T``, ``C``, then unknown)."""
    return "XYZTC"[:ndim] + "Q" * max(0, ndim - 5)


def read_nifti(path: Path) -> LoadedImage:
    """Read a NIfTI image with its axes, voxel size, unit, affine and header.

    Raises
    ------
    ValueError
        If nibabel is missing or the file is not a readable NIfTI image.
    """
    nib = _nibabel()
    path = Path(path)
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
        header = img.header
        zooms = tuple(float(z) for z in header.get_zooms())
        xyz_unit, t_unit = header.get_xyzt_units()
    except (OSError, ValueError, EOFError, nib.filebasedimages.ImageFileError) as err:
        raise ValueError(
            f"Cannot read {path} as a NIfTI image ({type(err).__name__}: {err})."
        ) from err
    axes = nifti_axes(data.ndim)
    if data.dtype.names:  # RGB(A) NIfTI: a structured dtype, one field per sample
        data = np.stack([data[name] for name in data.dtype.names], axis=-1)
        axes += "S"
    spacing = {a: z for a, z in zip("XYZ", zooms, strict=False) if z > 0}
    if data.ndim >= 4 and len(zooms) > 3 and zooms[3] > 0:
        spacing["T"] = zooms[3]
    extra = {"affine": img.affine, "header": header, "time_unit": t_unit}
    return LoadedImage(data, axes, spacing, _UNITS.get(xyz_unit), "nifti", path, extra)


def _affine_from_spacing(axes: str | None, like: LoadedImage | None) -> np.ndarray:
    """A scaling affine for non-NIfTI inputs: the pixel size of the first three axes."""
    affine = np.eye(4)
    if like is None or axes is None:
        return affine
    spatial = [a for a in axes if a in "XYZ"][:3]
    for i, axis in enumerate(spatial):
        affine[i, i] = float(like.spacing.get(axis, 1.0))
    return affine


def write_nifti_like(path, array, axes: str | None, like: LoadedImage | None = None, *,
                     compressed: bool | None = None) -> Path:
    """Write `array` as NIfTI (gzipped unless `compressed` is False, or the name ends in
    ``.nii`` when it is None) with the geometry of `like`.

    The bytes are written by name-independent code, so a temporary name (atomic writes)
    gets the same file as the final one.

    A NIfTI input gives its affine, header (qform/sform codes, units, voxel size) to the
    output; other inputs give a scaling affine of their pixel sizes and unit. Integer
    outputs carry the label intent; bool is written as uint8.
    """
    nib = _nibabel()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if like is not None and like.kind == "nifti":
        header = like.extra["header"].copy()
        kind = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
        img = kind(array, like.extra["affine"], header)
        img.header.set_xyzt_units(*like.extra["header"].get_xyzt_units())
    else:
        img = nib.Nifti1Image(array, _affine_from_spacing(axes, like))
        unit = _NIFTI_UNITS.get(like.unit if like is not None else None, "unknown")
        img.header.set_xyzt_units(xyz=unit)
    out = img.header
    out.set_data_dtype(array.dtype)
    out.set_slope_inter(1.0, 0.0)  # the values as they are, not rescaled
    out["cal_min"], out["cal_max"] = 0.0, 0.0
    out.set_intent(_INTENT_LABEL if array.dtype.kind in "iu" else 0)
    out["descrip"] = b"napari-gmm"
    if compressed is None:
        compressed = not path.name.lower().endswith(".nii")
    data = img.to_bytes()  # one-file NIfTI (header and data)
    path.write_bytes(gzip.compress(data, compresslevel=6) if compressed else data)
    return path
