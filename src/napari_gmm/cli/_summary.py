"""The summary CSV of a batch: one file per output folder, rows appended run after run.

``napari-gmm-summary.csv`` in the output folder (or ``--summary PATH``) gathers one row per
input. A rerun appends its rows to a summary napari-gmm wrote (so nothing piles up as
``summary-2``, ``summary-3``... and no earlier row is lost); ``--overwrite`` starts it
afresh. A file of that name that is not a napari-gmm summary is never touched (exit
status 2). Rows are appended under the folder's lock (the table rewritten under a temporary
name and renamed), so two runs into one folder keep every row and a full disk never leaves
half a row; text cells that a spreadsheet would run as a formula are escaped.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..io._atomic import folder_lock, temporary_name
from ..io._tables import register_header, safe_cell

#: Columns of the summary table.
SUMMARY_FIELDS = ("file", "K", "converged", "n_iter", "BIC", "time_s", "error", "labels",
                  "n_objects", "class_names")
#: The columns every napari-gmm summary starts with (later versions add columns).
_FIRST_FIELDS = "file,K,converged,n_iter,BIC,time_s,error,labels"
SUMMARY_NAME = "napari-gmm-summary.csv"
register_header(_FIRST_FIELDS.split(","))


def _is_summary(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            header = f.readline(4096)
    except OSError:
        return False
    return header.startswith(_FIRST_FIELDS)


def summary_path(args, jobs) -> Path:
    """--summary, else napari-gmm-summary.csv in the output folder (of the first input)."""
    if args.summary is not None:
        path = Path(args.summary)
    else:
        folder = args.out_dir if args.out_dir is not None else jobs[0].folder
        path = Path(folder) / SUMMARY_NAME
    return path


def check_summary(path: Path) -> None:
    """Refuse a summary path that exists and is not a summary napari-gmm wrote."""
    if os.path.lexists(path) and not (path.is_file() and _is_summary(path)):
        raise ValueError(
            f"the summary {path} exists and is not a napari-gmm summary table; it is never "
            "replaced or appended to. Name another file with --summary PATH."
        )


def _render(rows: list[dict]) -> str:
    """The table as CSV text, text cells escaped (escaping is idempotent: earlier rows,
    escaped when first written, are unchanged)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=SUMMARY_FIELDS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: safe_cell(row.get(key) or "") for key in SUMMARY_FIELDS}
                     for row in rows)
    return text.getvalue()


def write_summary(path, rows: list[dict], *, overwrite: bool = False) -> Path:
    """Append the rows (in input order) to a summary, or start one (`overwrite`: afresh).

    Raises
    ------
    ValueError
        If `path` meanwhile became a file that is not a napari-gmm summary.
    """
    path = Path(path)
    with folder_lock(path.parent):
        exists = os.path.lexists(path)
        if exists and not (path.is_file() and _is_summary(path)):
            raise ValueError(f"the summary {path} is not a napari-gmm summary; not written.")
        text = _render(rows)
        if exists and not overwrite:  # the earlier rows, then ours
            with path.open(encoding="utf-8", errors="replace", newline="") as f:
                earlier = list(csv.DictReader(f))  # columns of older versions: kept
            text = _render([*earlier, *rows])
        # the whole table is rewritten under a temporary name and renamed: a full disk
        # or a kill leaves the previous table intact, never half a row
        temporary = temporary_name(path)
        try:
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    return path
