"""CSV tables written by napari-gmm: cells safe to open in a spreadsheet, and recognised later.

A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) is read as a
formula by Excel, LibreOffice and Google Sheets (CSV injection: a file named
``=HYPERLINK(...).tif`` would become a live link); such text cells get a leading ``'``, as
OWASP advises. Numbers (``-12.5``) are left as they are.
"""

from __future__ import annotations

#: First characters that spreadsheets read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: How the headers of the tables napari-gmm writes start (the summary registers its own).
OWN_HEADERS: set[str] = set()


def safe_cell(value):
    """`value` unchanged, unless it is text a spreadsheet would run as a formula.

    Examples
    --------
    >>> safe_cell("=HYPERLINK(1)"), safe_cell("-3.5"), safe_cell(2)
    ("'=HYPERLINK(1)", '-3.5', 2)
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def register_header(columns) -> None:
    """Say that a table whose header starts with these columns is an output of napari-gmm."""
    OWN_HEADERS.add(",".join(columns))


def is_own_table(first_line: str) -> bool:
    """Whether the first line of a CSV file is the header of one of our tables."""
    header = first_line.rstrip("\r\n")
    if any(header.startswith(start) for start in OWN_HEADERS):
        return True
    return header.startswith("label,") and ",class," in header + ","  # object tables
