"""Batches: inputs (files and folders) -> jobs with distinct output names -> summary CSV.

A failing input is reported on one line, recorded in the summary and skipped; the others
still run, and the exit status says that some failed. Existing outputs are never replaced
without ``--overwrite``.
"""

from __future__ import annotations

import csv
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..io._formats import is_image_path
from ._common import EXIT_SOME_FAILED, EXIT_USAGE

#: What the subcommands write per input, as ``<stem>_<role><suffix>``.
OUTPUT_ROLES = ("labels", "probability", "noisy", "objects", "corrected", "bias")
#: Columns of the summary table.
SUMMARY_FIELDS = ("file", "K", "converged", "n_iter", "BIC", "time_s", "error", "labels",
                  "n_objects")  # fmt: skip
SUMMARY_NAME = "napari-gmm-summary.csv"
#: Per-input failures that are reported and skipped (anything else is a bug: traceback).
INPUT_ERRORS = (ValueError, TypeError, OSError, MemoryError)


@dataclass(frozen=True)
class Job:
    """One input and where its outputs go (``folder / f'{stem}_<role><suffix>'``)."""

    path: Path
    folder: Path
    stem: str

    def output(self, role: str, suffix: str) -> Path:
        return self.folder / f"{self.stem}_{role}{suffix}"


def _is_own_output(path: Path) -> bool:
    return _stem(path).endswith(tuple(f"_{role}" for role in OUTPUT_ROLES))


def expand_inputs(inputs) -> list[Path]:
    """Files as given, folders as their images (sorted; earlier outputs left out).

    A path a reader handles (a file, or a folder format such as a zarr store) is one
    input; any other folder contributes its image files. Repeated inputs count once.
    Paths that do not exist are kept: they fail, reported, when read.
    """
    found = []
    for text in inputs:
        path = Path(text)
        if path.is_dir() and not is_image_path(path):
            children = sorted(p for p in path.iterdir() if not p.name.startswith("."))
            found += [p for p in children if is_image_path(p) and not _is_own_output(p)]
        else:
            found.append(path)
    unique = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
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
    return f"{path.resolve().parent.name}_{stem}"


def check_outputs(job: Job, outputs, overwrite: bool) -> None:
    """Refuse to write over the input, or over existing files without `overwrite`."""
    for out in outputs:
        if out is None:
            continue
        if Path(out).resolve() == job.path.resolve():
            raise ValueError(f"the output {out} would replace the input; choose another name.")
        if not overwrite and Path(out).exists():
            raise FileExistsError(
                f"the output {out} exists; pass --overwrite to replace it, or --out-dir."
            )


def summary_path(args, jobs: list[Job]) -> Path:
    """--summary, else napari-gmm-summary.csv in the output folder (first free name)."""
    if args.summary is not None:
        if args.summary.exists() and not args.overwrite:
            raise FileExistsError(
                f"the summary {args.summary} exists; pass --overwrite to replace it."
            )
        return args.summary
    folder = args.out_dir if args.out_dir is not None else jobs[0].folder
    path, n = folder / SUMMARY_NAME, 1
    while path.exists() and not args.overwrite:
        n += 1
        path = folder / f"napari-gmm-summary-{n}.csv"
    return path


def _one_line(err: BaseException, path: Path) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if str(path) in text else f"{path}: {text}"


def run_batch(args, process) -> int:
    """Run ``process(job) -> dict`` (summary columns) on every input; write the summary.

    Returns 0 when every input succeeded, :data:`EXIT_SOME_FAILED` otherwise, and
    :data:`EXIT_USAGE` when no input was given at all (e.g. only empty folders).
    """
    paths = expand_inputs(args.inputs)
    if not paths:
        print(f"napari-gmm: error: no image found in {', '.join(args.inputs)}", file=sys.stderr)
        return EXIT_USAGE
    jobs = plan_jobs(paths, args.out_dir)
    summary = summary_path(args, jobs)
    rows, failed = [], 0
    for job in jobs:
        start = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                row = process(job)
        except INPUT_ERRORS as err:
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
    write_summary(summary, rows)
    if not args.quiet:
        done = len(jobs) - failed
        print(f"{done} of {len(jobs)} input(s) done, {failed} failed; summary: {summary}")
    return EXIT_SOME_FAILED if failed else 0


def write_summary(path: Path, rows: list[dict]) -> Path:
    """The per-file table as CSV (one row per input, in input order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({key: row.get(key, "") for key in SUMMARY_FIELDS} for row in rows)
    return path
