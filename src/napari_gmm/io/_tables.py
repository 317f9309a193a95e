"""CSV tables written by napari-gmm: cells safe to open in a spreadsheet, and recognised later.

A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) is read as a
formula by Excel, LibreOffice and Google Sheets (CSV injection: a file named
``=HYPERLINK(...).tif`` would become a live link); such text cells get a leading ``'``, as
OWASP advises. Numbers (``-12.5``) are left as they are.
"""

from __future__ import annotations

#: First characters that spreadsheets read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Headers of the tables napari-gmm writes (the summary registers its own).
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
    """Say that a table with these columns is an output of napari-gmm."""
    OWN_HEADERS.add(",".join(columns))


def is_own_table(first_line: str) -> bool:
    """Whether the first line of a CSV file is the header of one of our tables."""
    header = first_line.rstrip("\r\n")
    return header in OWN_HEADERS or (header.startswith("label,") and ",class," in header + ",")
