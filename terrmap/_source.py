"""Input sources: raw bytes from paths and uploads, format detection, the raw table.

Every reader returns a :class:`RawTable`: the cells as read, the row number the user
sees for each row, and the reading decisions and unreadable rows to report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd

from terrmap.errors import InputError, Problem
from terrmap.schema import Kind, normalize_header

__all__ = [
    "FORMAT_NAMES",
    "GEOMETRY_COLUMNS",
    "Format",
    "RawTable",
    "RowLabel",
    "Source",
    "calamine_available",
    "detect_format",
    "empty_file",
    "file_problem",
    "pick_named",
    "reason",
    "source_bytes",
    "unique_headers",
]

Source = str | os.PathLike[str] | bytes | IO[bytes] | pd.DataFrame
Format = Literal["csv", "excel", "parquet", "geojson", "gpkg", "frame"]
RowLabel = Literal["row", "feature", "record"]

#: Columns a reader adds for point geometry (GeoJSON, GeoPackage, GeoParquet).
GEOMETRY_COLUMNS = ("lat (from geometry)", "lon (from geometry)")
FORMAT_NAMES: Mapping[Format, str] = {
    "csv": "CSV",
    "excel": "an Excel workbook",
    "parquet": "Parquet",
    "geojson": "GeoJSON",
    "gpkg": "a GeoPackage",
    "frame": "a table",
}
_EXTENSIONS: Mapping[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".geoparquet": "parquet",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
}
# Spreadsheet formats only python-calamine reads (openpyxl reads .xlsx/.xlsm only).
_CALAMINE_ONLY: Mapping[str, str] = {
    ".xls": "legacy Excel 97-2003 (.xls)",
    ".xlsb": "binary Excel (.xlsb)",
    ".ods": "OpenDocument (.ods)",
}
_UNSUPPORTED: Mapping[str, str] = {
    ".shp": "shapefile",
    ".zip": "ZIP archive",
    ".kml": "KML",
}


@dataclass(frozen=True)
class RawTable:
    """A table as read from a file, before any checking.

    Attributes
    ----------
    frame
        The cells (text for CSV; native types for the other formats), file headers.
    rows
        The row number the user sees for each frame row.
    row_label
        ``"row"``, ``"feature"`` or ``"record"``.
    format
        The format read.
    source
        File name.
    notes
        Reading decisions (encoding, delimiter, sheet, layer, blank rows skipped).
    problems
        Rows that could not be read at all (wrong number of fields, non-point
        geometry); they are not in ``frame``, or are marked by ``problem_rows``.
    problem_rows
        Frame positions of the rows in ``problems`` that *are* in the frame.
    decimal_comma
        True when numbers use a decimal comma (``;``-delimited CSV).
    """

    frame: pd.DataFrame
    rows: np.ndarray
    row_label: RowLabel
    format: Format
    source: str
    notes: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    problem_rows: tuple[int, ...] = ()
    decimal_comma: bool = False


def file_problem(source: str, message: str, fix: str) -> InputError:
    """An error about the whole file (no row, no column)."""
    return InputError([Problem(None, None, None, message, fix)], source=source)


def empty_file(source: str) -> InputError:
    """The error for a file without any content."""
    return file_problem(
        source,
        "the file is empty",
        "export the table again with a header row and at least one data row",
    )


def source_bytes(
    source: str | os.PathLike[str] | bytes | IO[bytes], filename: str | None
) -> tuple[bytes, str]:
    """The raw bytes and a display name of ``source``."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        name = filename or path.name
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise file_problem(str(path), f"the file {what}", "check the path and file name")
        try:
            return path.read_bytes(), name
        except OSError as exc:
            raise file_problem(
                str(path),
                f"the file cannot be read ({exc.strerror})",
                "check the file's permissions",
            ) from exc
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), filename or "<upload>"
    name = filename or str(getattr(source, "name", "") or "<upload>")
    if hasattr(source, "getvalue"):
        data = source.getvalue()
    else:
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read()
    if not isinstance(data, bytes | bytearray):
        raise file_problem(
            name, "the upload is text, not bytes", "open the file in binary mode ('rb')"
        )
    return bytes(data), name


def calamine_available() -> bool:
    """Whether python-calamine (fast Excel/ODS reader) is installed."""
    import importlib.util

    return importlib.util.find_spec("python_calamine") is not None


def detect_format(data: bytes, name: str) -> Format:
    """The format of ``data``: from its signature first, then from the extension of ``name``.

    Raises
    ------
    InputError
        The format is not supported, or the content contradicts a binary extension.
    """
    ext = Path(name.lower().removesuffix(".gz")).suffix
    ole = data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls container
    if ext in _UNSUPPORTED or ((ole or ext in _CALAMINE_ONLY) and not calamine_available()):
        what = _UNSUPPORTED.get(ext) or _CALAMINE_ONLY.get(ext, "legacy Excel 97-2003 (.xls)")
        raise file_problem(
            name,
            f"{what} files are not supported",
            "save the file as .xlsx, CSV, GeoJSON or GeoPackage",
        )
    if data[:4] == b"PK\x03\x04" or ole:
        return "excel"
    if data[:4] == b"PAR1":
        return "parquet"
    if data[:16] == b"SQLite format 3\x00":
        return "gpkg"
    if _EXTENSIONS.get(ext) in ("parquet", "excel", "gpkg") or ext in _CALAMINE_ONLY:
        raise file_problem(
            name,
            f"the file is not a valid {ext} file (its first bytes do not match the format)",
            "re-export the file, or check its name",
        )
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") and (b'"features"' in data[: 1 << 20] or ext in (".geojson", ".json")):
        return "geojson"
    return _EXTENSIONS.get(ext, "csv")


def reason(exc: Exception, name: str) -> str:
    """A parser's message, without GDAL's in-memory paths and trailing dots."""
    text = re.sub(r"/vsimem/\S+?(?=['\s]|$)", name, str(exc).strip()).split("; It might")[0]
    return text.rstrip(". ") or type(exc).__name__


def unique_headers(names: list[str]) -> tuple[list[str], list[str]]:
    """Name blank headers ``column N`` and number repeats ``name (2)``; returns notes."""
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(names, start=1):
        base = raw or f"column {i}"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base} ({seen[base]})")
    notes = [
        f"The header '{h}' appears {k} times; the later copies are read as '{h} (2)'"
        f"{'...' if k > 2 else ''} and the first one is used."
        for h, k in seen.items()
        if k > 1
    ]
    return out, notes


def pick_named(names: Sequence[str], kind: Kind | None) -> str:
    """The sheet or layer named after ``kind`` ("Accounts", "rep_roster"), else the first."""
    wanted = {"accounts": "account", "reps": "rep"}.get(kind or "", "\0")
    return next((s for s in names if normalize_header(s).startswith(wanted)), names[0])
