"""Batches: inputs (files and folders) -> jobs with distinct output names -> summary CSV.

A failing input is reported on one line, recorded in the summary and skipped; the others
still run, and the exit status says that some failed. Existing outputs are never replaced
without ``--overwrite``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..io._atomic import output_group
from ..io._formats import is_image_path
from ._common import EXIT_SOME_FAILED, EXIT_USAGE
from ._safe_write import check_plan
from ._summary import SUMMARY_FIELDS, SUMMARY_NAME, check_summary, summary_path, write_summary

__all__ = ["SUMMARY_FIELDS", "SUMMARY_NAME", "Job", "expand_inputs", "plan_jobs", "run_batch",
           "summary_path", "write_summary"]

#: What the subcommands write per input, as ``<stem>_<role><suffix>``.
OUTPUT_ROLES = ("labels", "probability", "noisy", "objects", "corrected", "bias")


@dataclass(frozen=True)
class Job:
    """One input and where its outputs go (``folder / f'{stem}_<role><suffix>'``)."""

    path: Path
    folder: Path
    stem: str

    def output(self, role: str, suffix: str) -> Path:
        return self.folder / f"{self.stem}_{role}{suffix}"


def _real(path) -> Path:
    """The path with symlinks resolved; a symlink loop stays as it is (fails when read)."""
    return Path(os.path.realpath(path))


def _is_own_output(path: Path) -> bool:
    return _stem(path).endswith(tuple(f"_{role}" for role in OUTPUT_ROLES))


def expand_inputs(inputs, *, report: bool = False) -> list[Path]:
    """Files as given, folders as their images (sorted; earlier outputs left out).

    A path a reader handles (a file, or a folder format such as a zarr store) is one
    input; any other folder contributes its image files (with `report`, the other files
    skipped are named on stderr). Repeated inputs count once. Paths that do not exist are
    kept (``run_batch`` refuses them before any work).
    """
    found = []
    for text in inputs:
        path = Path(text)
        if path.is_dir() and not is_image_path(path):
            children = sorted(p for p in path.iterdir() if not p.name.startswith("."))
            images = [p for p in children if is_image_path(p)]
            found += [p for p in images if not _is_own_output(p)]
            skipped = [p.name for p in children if p not in images and p.name != SUMMARY_NAME]
            if report and skipped:
                more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
                print(f"napari-gmm: note: skipped {len(skipped)} file(s) in {path} that are "
                      f"not images: {', '.join(skipped[:5])}{more}", file=sys.stderr)
        else:
            found.append(path)
    unique = {}
    for path in found:
        unique.setdefault(_real(path), path)
    return list(unique.values())


def plan_jobs(paths, out_dir: Path | None) -> list[Job]:
    """Give every input an output folder and a stem no other input in that folder has.

    Inputs whose outputs would share a folder and a stem are told apart by their suffix
    (``a_tif``, ``a_png``), else by their parent folder (``dir1_a``, ``dir2_a``), else
    by both, else by a number.
    """
    folders = [out_dir if out_dir is not None else p.parent for p in paths]
    stems = [_stem(p) for p in paths]
    groups = defaultdict(list)
    for i, key in enumerate(zip(folders, stems, strict=True)):
        groups[key].append(i)
    taken = set(groups)
    for (folder, stem), members in groups.items():
        if len(members) == 1:
            continue
        for rename in (_by_suffix, _by_parent, lambda p, s: _by_suffix(p, _by_parent(p, s))):
            names = [rename(paths[i], stem) for i in members]
            if len(set(names)) == len(names) and not taken & {(folder, n) for n in names}:
                break
        else:
            names = [f"{stem}_{n}" for n in range(1, len(members) + 1)]
        for i, name in zip(members, names, strict=True):
            stems[i] = name
            taken.add((folder, name))
    return [Job(p, f, s) for p, f, s in zip(paths, folders, stems, strict=True)]


def _stem(path: Path) -> str:
    """The name without its format suffix (``a.tif``, ``a.ome.tif`` -> ``a``)."""
    name = path.name
    for double in (".ome.tif", ".ome.tiff", ".ome.zarr", ".nii.gz"):
        if name.lower().endswith(double):
            return name[: -len(double)]
    return path.stem or name


def _by_suffix(path: Path, stem: str) -> str:
    suffix = "".join(path.suffixes).lstrip(".").replace(".", "_").lower()
    return f"{stem}_{suffix}" if suffix else stem


def _by_parent(path: Path, stem: str) -> str:
    return f"{_real(path).parent.name}_{stem}"


def check_outputs(job: Job, outputs, overwrite: bool) -> None:
    """Refuse to write over the input, or over existing files without `overwrite`."""
    for out in outputs:
        if out is None:
            continue
        if _real(out) == _real(job.path):
            raise ValueError(f"the output {out} would replace the input; choose another name.")
        if not overwrite and Path(out).exists():
            raise FileExistsError(
                f"the output {out} exists; pass --overwrite to replace it, or --out-dir."
            )


def _one_line(err: BaseException, path: Path) -> str:
    text = " ".join(str(err).split())
    if not isinstance(err, (ValueError, TypeError, OSError, MemoryError)):
        text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    text = text or type(err).__name__
    return text if str(path) in text else f"{path}: {text}"


def _refuse_missing(inputs) -> None:
    missing = [text for text in inputs if not os.path.lexists(text)]
    if missing:
        raise FileNotFoundError(
            f"no such input: {', '.join(missing)} (nothing was written; check the names)."
        )


def run_batch(args, process, plan=None, protect=()) -> int:
    """Run ``process(job) -> dict`` (summary columns) on every input; write the summary.

    ``plan(job)`` lists ``(what, path)`` of the input's outputs: they are checked together
    before any work (``cli/_safe_write.py``), against the inputs and the other files the
    run reads (`protect`: a model, scribbles). Any exception of one input (a corrupt file
    raises many kinds) is reported on one line, recorded in the summary's ``error``
    column, and the batch carries on; KeyboardInterrupt stops it. Returns 0 when every
    input succeeded, :data:`EXIT_SOME_FAILED` otherwise, and :data:`EXIT_USAGE` when no
    input was given at all (e.g. only empty folders).

    Raises
    ------
    FileNotFoundError, ValueError
        Before any work: an input does not exist, or the outputs collide (exit status 2).
    """
    _refuse_missing(args.inputs)
    paths = expand_inputs(args.inputs, report=not args.quiet)
    if not paths:
        print(f"napari-gmm: error: no image found in {', '.join(args.inputs)}", file=sys.stderr)
        return EXIT_USAGE
    jobs = plan_jobs(paths, args.out_dir)
    summary = summary_path(args, jobs)
    planned = [("the summary", summary)]
    for job in jobs if plan is not None else ():
        planned += plan(job)
    sources = [*paths, *(Path(p) for p in protect if p is not None)]
    check_plan(sources, planned, overwrite=False)
    check_summary(summary)
    if args.overwrite:
        check_plan(sources, planned[1:], overwrite=True)
    rows, failed = [], 0
    for job in jobs:
        start = time.perf_counter()
        try:
            with (
                warnings.catch_warnings(record=True) as caught,
                output_group(overwrite=args.overwrite),
            ):  # the outputs of one input appear together, or none does
                warnings.simplefilter("always")
                row = process(job)
        # a batch survives any bad file: decoders raise zlib.error, struct.error,
        # ZeroDivisionError, KeyError... on corrupt input; the type is in the message
        except Exception as err:  # noqa: BLE001
            failed += 1
            message = _one_line(err, job.path)
            print(f"napari-gmm: error: {message}", file=sys.stderr)
            row = {"error": message}
        else:
            for w in caught:
                if not issubclass(w.category, DeprecationWarning):
                    text = " ".join(str(w.message).split())
                    print(f"napari-gmm: warning: {job.path}: {text}", file=sys.stderr)
        rows.append({"file": str(job.path), "time_s": f"{time.perf_counter() - start:.3f}", **row})
    write_summary(summary, rows, overwrite=args.overwrite)
    if not args.quiet:
        done = len(jobs) - failed
        print(f"{done} of {len(jobs)} input(s) done, {failed} failed; summary: {summary}")
    return EXIT_SOME_FAILED if failed else 0
