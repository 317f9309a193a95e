"""Outputs that are complete or absent: temporary names, exclusive commits, own-output marks.

Every output is written under a hidden temporary name beside its target
(``.<name>.napari-gmm-partial-<pid>-<token>``: no reader or folder listing takes it for an
image) and renamed onto the target only when complete. The rename happens under an
exclusive lock of the output folder (``fcntl.flock`` on the folder itself; the kernel
releases it when a process dies, even by kill -9), so two runs writing into one folder never
interleave: without ``overwrite`` the second commit finds the target and refuses. A failed
write removes its temporary; one killed outright leaves it behind, and the next run in that
folder removes temporaries whose process is gone. With ``overwrite`` only an earlier
output of napari-gmm is replaced, recognised by its mark (:func:`is_own_output`).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import secrets
import shutil
from pathlib import Path

#: Written into every output (TIFF ``Software`` tag, zarr attribute) to recognise it later.
MARK = "napari-gmm"
#: Part of every temporary name (``.<target name>.napari-gmm-partial-<pid>-<token>``).
PARTIAL = ".napari-gmm-partial-"
_PARTIAL_RE = re.compile(r"^\..+\.napari-gmm-(?:partial|old)-(\d+)-[0-9a-f]+$")


class NotOwnOutputError(ValueError):
    """An existing path that napari-gmm did not write: it is never replaced or deleted."""


def temporary_name(target, kind: str = "partial") -> Path:
    """A fresh hidden name beside `target` for writing it (or moving an old copy aside)."""
    target = Path(target)
    token = secrets.token_hex(4)
    return target.parent / f".{target.name}.napari-gmm-{kind}-{os.getpid()}-{token}"


def remove_path(path: Path) -> None:
    """Remove a temporary file or folder of ours (nothing if it is gone)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(folder) -> list[Path]:
    """Remove the temporaries left in `folder` by napari-gmm runs that died (kill -9, power
    loss): names of ours whose process no longer exists. Returns what was removed."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _PARTIAL_RE.match(entry.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            remove_path(entry)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def folder_lock(folder):
    """Hold the exclusive lock of an output folder (waits for another run's commit)."""
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)  # the folder itself: no lock file is left behind
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def is_own_output(path) -> bool:
    """Whether `path` is a complete output of napari-gmm (which ``overwrite`` may replace).

    TIFF files carry ``Software: napari-gmm``, zarr stores a ``napari-gmm`` attribute,
    model files ``"format": "napari-gmm model"``, summary tables their header, object tables
    the mark in their header comment. Anything else (another program's file, a folder of
    other files, a device) is not ours.
    """
    path = Path(path)
    try:
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            return False
        suffix = path.suffix.lower()
        if path.is_dir():
            return suffix == ".zarr" and _zarr_marked(path)
        if suffix in (".tif", ".tiff"):
            return _tiff_marked(path)
        if suffix == ".json":
            return _model_marked(path)
        if suffix == ".csv":
            return _csv_marked(path)
        if path.name.lower().endswith((".nii", ".nii.gz")):
            return _nifti_marked(path)
    except (OSError, ValueError, KeyError, TypeError, ImportError):
        return False
    return False


def _tiff_marked(path: Path) -> bool:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags.get("Software")
        return tag is not None and str(tag.value).startswith(MARK)


def _zarr_marked(path: Path) -> bool:
    for name in ("zarr.json", ".zattrs"):
        meta = path / name
        if meta.is_file() and meta.stat().st_size < 1_000_000:
            data = json.loads(meta.read_text())
            attrs = data.get("attributes", {}) if name == "zarr.json" else data
            if isinstance(attrs, dict) and MARK in attrs:
                return True
    return False


def _nifti_marked(path: Path) -> bool:
    import nibabel

    header = nibabel.load(str(path)).header
    return bytes(header["descrip"]).rstrip(b"\0").startswith(MARK.encode())


def _model_marked(path: Path) -> bool:
    if path.stat().st_size > 32 * 2**20:
        return False
    data = json.loads(path.read_text())
    return isinstance(data, dict) and data.get("format") == "napari-gmm model"


def _csv_marked(path: Path) -> bool:
    from ._tables import is_own_table

    with path.open(encoding="utf-8", errors="replace") as f:
        return is_own_table(f.readline(4096))


def commit(temporary, target, *, overwrite: bool) -> Path:
    """Move a complete temporary onto `target`, exclusively (under the folder lock).

    Raises
    ------
    FileExistsError
        If `target` exists and `overwrite` is False (another run may have just written it).
    NotOwnOutputError
        If `target` exists and is not an output of napari-gmm.
    """
    commit_all([(Path(temporary), Path(target))], overwrite=overwrite)
    return Path(target)


def commit_all(pairs, *, overwrite: bool) -> None:
    """Move several complete temporaries onto their targets together: all targets are
    checked first, under the locks of their folders, then all are renamed (the outputs of
    one input appear together, or none does)."""
    folders = sorted({str(target.parent) for _, target in pairs})
    with contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(folder_lock(folder))
        for _, target in pairs:
            if os.path.lexists(target):
                if not overwrite:
                    raise FileExistsError(
                        f"the output {target} exists (written meanwhile?); pass --overwrite "
                        "to replace it, or --out-dir."
                    )
                refuse_foreign(target)
        for temporary, target in pairs:
            _move(temporary, target)


def _move(temporary: Path, target: Path) -> None:
    if not os.path.lexists(target):
        os.rename(temporary, target)
    elif target.is_dir() and not target.is_symlink():
        old = temporary_name(target, "old")
        os.rename(target, old)
        os.rename(temporary, target)
        remove_path(old)
    else:
        os.replace(temporary, target)


def refuse_foreign(target) -> None:
    """Raise :class:`NotOwnOutputError` when an existing `target` is not ours."""
    if os.path.lexists(target) and not is_own_output(target):
        what = "a folder" if Path(target).is_dir() else "a file"
        raise NotOwnOutputError(
            f"--overwrite refused: {target} is {what} that napari-gmm did not write (no "
            "napari-gmm mark), so it is not replaced; choose another output name or "
            "--out-dir, or remove it yourself."
        )


#: The outputs of the current input, committed together (see :func:`output_group`).
_GROUP: contextvars.ContextVar = contextvars.ContextVar("napari_gmm_output_group", default=None)


@contextlib.contextmanager
def output_group(*, overwrite: bool = False):
    """Collect the outputs written inside the block and commit them together at its end.

    Inside, :func:`atomic_output` leaves each complete temporary in place; when the block
    succeeds they are renamed onto their targets together (:func:`commit_all`), when it
    fails (or a commit is refused) they are all removed.
    """
    pairs: list = []
    token = _GROUP.set(pairs)
    try:
        yield pairs
        _GROUP.reset(token)
        token = None
        commit_all(pairs, overwrite=overwrite)
    except BaseException:
        for temporary, _ in pairs:
            remove_path(temporary)
        raise
    finally:
        if token is not None:
            _GROUP.reset(token)


def pending_path(target) -> Path:
    """Where `target` can be read now: its complete temporary while the current output group
    waits to commit it (:func:`output_group`), else `target` itself."""
    target = Path(target)
    for temporary, final in _GROUP.get() or ():
        if Path(final) == target:
            return Path(temporary)
    return target


@contextlib.contextmanager
def atomic_output(target, *, overwrite: bool = False):
    """Yield a temporary path to write `target` to; commit it if the block succeeds.

    Inside :func:`output_group` the commit waits for the group's end. On any failure
    (including KeyboardInterrupt) the temporary is removed and the target is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target.parent)
    temporary = temporary_name(target)
    group = _GROUP.get()
    try:
        yield temporary
        if group is None:
            commit(temporary, target, overwrite=overwrite)
        else:
            group.append((temporary, target))
    except BaseException:
        remove_path(temporary)
        raise
