"""Read accounts and rep rosters from CSV, Excel, Parquet, GeoJSON or GeoPackage.

A source is a path, raw bytes, a binary file-like object (a Streamlit upload; its
``name`` or the ``filename`` argument tells the format) or a DataFrame already in
memory. The format is recognised from the content first (ZIP/Excel, Parquet and
SQLite/GeoPackage signatures, a leading ``{`` for GeoJSON) and from the file name
otherwise. CSV text may be UTF-8 (with or without BOM), UTF-16 with BOM or
Windows-1252/Latin-1, delimited by ``,`` ``;`` tab or ``|``; every cell is read as
text so ids and ZIPs keep their leading zeros.

Row numbers in problems are those the user sees: for CSV and Excel the sheet row
(header = row 1), for GeoJSON/GeoPackage the feature number and for Parquet the
record number (both starting at 1).

Examples
--------
>>> result = load_accounts("data/samples/accounts.csv")  # doctest: +SKIP
>>> result.frame.columns[:4].tolist()  # doctest: +SKIP
['account_id', 'name', 'lat', 'lon']
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd

from terrmap.errors import InputError, Problem
from terrmap.schema import Kind, normalize_header
from terrmap.validate import Checked, check_accounts, check_reps, format_report

__all__ = [
    "Format",
    "LoadResult",
    "RawTable",
    "Source",
    "describe",
    "load_accounts",
    "load_reps",
    "read_table",
    "validate_file",
]

Source = str | os.PathLike[str] | bytes | IO[bytes] | pd.DataFrame
Format = Literal["csv", "excel", "parquet", "geojson", "gpkg", "frame"]
RowLabel = Literal["row", "feature", "record"]

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
_DELIMITERS = (",", ";", "\t", "|")
_GEOMETRY_COLUMNS = ("lat (from geometry)", "lon (from geometry)")


@dataclass(frozen=True)
class LoadResult:
    """A loaded, validated table.

    Attributes
    ----------
    frame
        The canonical frame (see :mod:`terrmap.schema` for columns and dtypes), with a
        fresh ``RangeIndex``.
    dropped
        Problems of the rows that ``drop_invalid=True`` removed (empty otherwise).
    notes
        Things the loader decided that the user should know (encoding, ZIP-placed
        accounts, defaults applied, columns ignored, ...).
    source
        The file name (or ``"<DataFrame>"``).
    row_label
        What the row numbers in ``dropped`` count: ``"row"``, ``"feature"`` or
        ``"record"``.
    column_map
        The matching used, file column -> canonical name (to prefill the Data page).
    """

    frame: pd.DataFrame
    dropped: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = "<DataFrame>"
    row_label: str = "row"
    column_map: dict[str, str] = field(default_factory=dict)


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


# --------------------------------------------------------------------------- bytes


def _file_problem(source: str, message: str, fix: str) -> InputError:
    return InputError([Problem(None, None, None, message, fix)], source=source)


def _source_bytes(
    source: str | os.PathLike[str] | bytes | IO[bytes], filename: str | None
) -> tuple[bytes, str]:
    """The raw bytes and a display name of ``source``."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        name = filename or path.name
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise _file_problem(str(path), f"the file {what}", "check the path and file name")
        try:
            return path.read_bytes(), name
        except OSError as exc:
            raise _file_problem(
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
        raise _file_problem(
            name, "the upload is text, not bytes", "open the file in binary mode ('rb')"
        )
    return bytes(data), name


def _calamine() -> bool:
    """Whether python-calamine (fast Excel/ODS reader) is installed."""
    import importlib.util

    return importlib.util.find_spec("python_calamine") is not None


def _detect_format(data: bytes, name: str) -> Format:
    ext = Path(name.lower().removesuffix(".gz")).suffix
    ole = data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls container
    if ext in _UNSUPPORTED or ((ole or ext in _CALAMINE_ONLY) and not _calamine()):
        what = _UNSUPPORTED.get(ext) or _CALAMINE_ONLY.get(ext, "legacy Excel 97-2003 (.xls)")
        raise _file_problem(
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
        raise _file_problem(
            name,
            f"the file is not a valid {ext} file (its first bytes do not match the format)",
            "re-export the file, or check its name",
        )
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") and (b'"features"' in data[: 1 << 20] or ext in (".geojson", ".json")):
        return "geojson"
    return _EXTENSIONS.get(ext, "csv")


# ----------------------------------------------------------------------------- CSV


def _decode(data: bytes, name: str) -> tuple[bytes, str | None]:
    """UTF-8 bytes of the text and a note when it was not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:], None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16").encode("utf-8"), "Read as UTF-16 text."
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text, enc = data.decode("cp1252"), "Windows-1252 (Latin-1)"
        except UnicodeDecodeError:
            text, enc = data.decode("latin-1"), "Latin-1 (ISO-8859-1)"
        return text.encode("utf-8"), f"Read as {enc} text: the file is not valid UTF-8."
    return data, None


def _sniff_delimiter(header: str) -> str:
    counts = {d: _count_unquoted(header, d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _count_unquoted(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


def _read_csv(data: bytes, name: str) -> RawTable:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if name.lower().endswith(".gz"):
        import gzip

        data = gzip.decompress(data)
    data, enc_note = _decode(data, name)
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].decode("utf-8").rstrip("\r")
    if not data or data.isspace():
        raise _file_problem(
            name,
            "the file is empty",
            "export the table again with a header row and at least one data row",
        )
    delimiter = "\t" if name.lower().endswith((".tsv", ".tab")) else _sniff_delimiter(first)
    headers, header_notes = _header_names(first, delimiter)
    bad: list[tuple[int | None, int, int, str]] = []

    def on_bad(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    def read(threads: bool) -> pa.Table:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(
                use_threads=threads, column_names=headers, skip_rows=1, block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_bad,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(headers, pa.string()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    table = read(True)
    if bad:  # numbers of skipped lines are only known in a single-threaded read
        bad.clear()
        table = read(False)
    frame = table.to_pandas()
    frame.columns = headers
    skipped = np.array(sorted(b[0] for b in bad if b[0] is not None), dtype=np.int64)
    every = np.arange(2, 2 + len(frame) + len(bad), dtype=np.int64)
    rows = np.setdiff1d(every, skipped, assume_unique=True) if bad else every
    problems = tuple(
        Problem(
            num,
            None,
            text[:80],
            f"the row has {got} values but the header has {want} columns",
            f"check for a missing or extra '{_show(delimiter)}' (quote values that contain it)",
        )
        for num, want, got, text in bad
    )
    notes = [n for n in (enc_note,) if n] + header_notes
    if delimiter != ",":
        notes.append(
            f"Columns are separated by '{_show(delimiter)}'"
            + ("; numbers use a decimal comma." if delimiter == ";" else ".")
        )
    return RawTable(
        frame,
        rows[: len(frame)],
        "row",
        "csv",
        name,
        tuple(notes),
        problems,
        decimal_comma=delimiter == ";",
    )


def _show(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def _header_names(line: str, delimiter: str) -> tuple[list[str], list[str]]:
    import csv

    cells = next(csv.reader([line], delimiter=delimiter), [])
    return _unique_headers([c.strip() for c in cells])


def _unique_headers(names: list[str]) -> tuple[list[str], list[str]]:
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


# ------------------------------------------------------------------ other formats


def _sheet_values(data: bytes, kind: Kind | None) -> tuple[list[str], str, list[Sequence[object]]]:
    """Sheet names, the sheet picked (named after ``kind`` if any) and its rows from row 1."""
    wanted = {"accounts": "account", "reps": "rep"}.get(kind or "", "\0")

    def choose(sheets: list[str]) -> str:
        return next((s for s in sheets if normalize_header(s).startswith(wanted)), sheets[0])

    if _calamine():  # ~10x faster than openpyxl, and reads .xls/.xlsb/.ods too
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = list(book.sheet_names)
        pick = choose(sheets)
        rows: list[Sequence[object]] = list(
            book.get_sheet_by_name(pick).to_python(skip_empty_area=False)
        )
        return sheets, pick, rows
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles and data validation
        book_x = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = list(book_x.sheetnames)
        pick = choose(sheets)
        return sheets, pick, list(book_x[pick].iter_rows(values_only=True))
    finally:
        book_x.close()


def _read_excel(data: bytes, name: str, kind: Kind | None) -> RawTable:
    sheets, pick, values = _sheet_values(data, kind)
    notes = (
        [f"Read sheet '{pick}' (the workbook has {len(sheets)} sheets)."] if len(sheets) > 1 else []
    )
    filled = [i for i, r in enumerate(values) if any(_filled(v) for v in r)]
    if not filled:
        raise _file_problem(
            name, f"sheet '{pick}' is empty", "put a header row and the data on the first sheet"
        )
    start, stop = filled[0], filled[-1] + 1  # trailing empty (formatted) rows are not data
    width = max(len(r) for r in values[start:stop])
    header = values[start]
    headers, header_notes = _unique_headers(
        [_header_text(header[i] if i < len(header) else None) for i in range(width)]
    )
    body = [
        tuple(None if v == "" else v for v in r) + (None,) * (width - len(r))
        for r in values[start + 1 : stop]
    ]
    frame = pd.DataFrame.from_records(body, columns=headers, coerce_float=False).astype(object)
    rows = np.arange(start + 2, start + 2 + len(frame), dtype=np.int64)
    return RawTable(frame, rows, "row", "excel", name, (*notes, *header_notes))


def _filled(value: object) -> bool:
    return value is not None and str(value).strip() != ""


def _header_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_parquet(data: bytes, name: str) -> RawTable:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    meta = table.schema.metadata or {}
    if b"geo" in meta:
        import geopandas as gpd

        gdf = gpd.read_parquet(io.BytesIO(data))
        return _from_geoframe(gdf, name, "parquet", "record", [])
    frame = table.to_pandas()
    frame = frame.reset_index(
        drop=frame.index.name is None and isinstance(frame.index, pd.RangeIndex)
    )
    return RawTable(frame, np.arange(1, len(frame) + 1, dtype=np.int64), "record", "parquet", name)


def _read_geo(data: bytes, name: str, fmt: Format, kind: Kind | None) -> RawTable:
    import pyogrio

    notes: list[str] = []
    layer = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if fmt == "gpkg":
            layers = [str(row[0]) for row in pyogrio.list_layers(io.BytesIO(data))]
            if not layers:
                raise _file_problem(
                    name, "the GeoPackage has no layers", "export the accounts as a point layer"
                )
            wanted = {"accounts": "account", "reps": "rep"}.get(kind or "", "\0")
            layer = next((x for x in layers if normalize_header(x).startswith(wanted)), layers[0])
            if len(layers) > 1:
                notes.append(f"Read layer '{layer}' (the GeoPackage has {len(layers)} layers).")
        gdf = pyogrio.read_dataframe(io.BytesIO(data), layer=layer, datetime_as_string=True)
    notes += [
        f"Reader warning: {_reason(Exception(w.message), name)}."
        for w in caught
        if "non conformant file extension" not in str(w.message)  # bytes have no extension
    ]
    return _from_geoframe(gdf, name, fmt, "feature", notes)


def _from_geoframe(
    gdf: pd.DataFrame, name: str, fmt: Format, label: RowLabel, notes: list[str]
) -> RawTable:
    """Attribute table plus point geometry as ``lat/lon (from geometry)`` columns."""
    import geopandas as gpd
    import shapely

    rows = np.arange(1, len(gdf) + 1, dtype=np.int64)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        return RawTable(pd.DataFrame(gdf), rows, label, fmt, name, tuple(notes))
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        notes.append(f"Reprojected from {gdf.crs.to_string()} to WGS84 (EPSG:4326).")
        gdf = gdf.to_crs(4326)
    geom = gdf.geometry.to_numpy()
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    types = shapely.get_type_id(geom)
    point = types == 0
    x = np.where(point, shapely.get_x(geom), np.nan)
    y = np.where(point, shapely.get_y(geom), np.nan)
    frame[_GEOMETRY_COLUMNS[0]] = y
    frame[_GEOMETRY_COLUMNS[1]] = x
    other = np.flatnonzero(~point & (types >= 0) & ~shapely.is_empty(geom))
    names = shapely.get_type_id(geom[other])
    kinds = [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ]
    problems = tuple(
        Problem(
            int(rows[i]),
            "geometry",
            kinds[int(t)] if 0 <= t < len(kinds) else "geometry",
            f"the geometry is a {kinds[int(t)] if 0 <= t < len(kinds) else 'shape'}, not a point",
            "give each feature a point geometry (or lat/lon properties)",
        )
        for i, t in zip(other, names, strict=True)
    )
    return RawTable(
        frame, rows, label, fmt, name, tuple(notes), problems, tuple(int(i) for i in other)
    )


def read_table(
    source: Source, *, filename: str | None = None, kind: Kind | None = None
) -> RawTable:
    """Read a file into a :class:`RawTable` without checking its content.

    Parameters
    ----------
    source
        Path, bytes, binary file-like object or DataFrame.
    filename
        The file name when ``source`` is a buffer (its extension helps tell the
        format), or a display name.
    kind
        ``"accounts"`` or ``"reps"``: picks a sheet or layer named after it.

    Raises
    ------
    InputError
        The file is missing, empty, has no data rows, or cannot be read as its format.
    """
    if isinstance(source, pd.DataFrame):
        n = len(source)
        return RawTable(
            source.reset_index(drop=True),
            np.arange(2, n + 2, dtype=np.int64),
            "row",
            "frame",
            filename or "<DataFrame>",
        )
    data, name = _source_bytes(source, filename)
    if not data or data.isspace():
        raise _file_problem(
            name,
            "the file is empty",
            "export the table again with a header row and at least one data row",
        )
    fmt = _detect_format(data, name)
    try:
        if fmt == "csv":
            raw = _read_csv(data, name)
        elif fmt == "excel":
            raw = _read_excel(data, name, kind)
        elif fmt == "parquet":
            raw = _read_parquet(data, name)
        else:
            raw = _read_geo(data, name, fmt, kind)
    except InputError:
        raise
    except Exception as exc:  # a parser rejecting the bytes is an input problem
        raise _file_problem(
            name,
            f"the file cannot be read as {_FORMAT_NAMES[fmt]}: {_reason(exc, name)}",
            "check that the file is complete and really is "
            f"{_FORMAT_NAMES[fmt]} (re-export it if needed)",
        ) from exc
    return _drop_blank_rows(raw)


def _reason(exc: Exception, name: str) -> str:
    """A parser's message, without GDAL's in-memory paths and trailing dots."""
    text = re.sub(r"/vsimem/\S+?(?=['\s]|$)", name, str(exc).strip()).split("; It might")[0]
    return text.rstrip(". ") or type(exc).__name__


_FORMAT_NAMES: Mapping[Format, str] = {
    "csv": "CSV",
    "excel": "an Excel workbook",
    "parquet": "Parquet",
    "geojson": "GeoJSON",
    "gpkg": "a GeoPackage",
    "frame": "a table",
}


def _drop_blank_rows(raw: RawTable) -> RawTable:
    frame = raw.frame
    if len(frame.columns) and len(frame):
        blank = np.ones(len(frame), dtype=bool)
        for c in frame.columns:
            col = frame[c]
            if col.dtype == object or isinstance(col.dtype, pd.StringDtype):
                text = col.astype("str").str.strip()
                empty = np.asarray(text.isna() | (text == ""), dtype=bool)
            else:
                empty = np.asarray(col.isna(), dtype=bool)
            blank &= empty
            if not blank.any():
                break
        keep_pos = set(raw.problem_rows)
        blank &= ~np.isin(np.arange(len(frame)), list(keep_pos))
        if blank.any():
            shown = ", ".join(str(r) for r in raw.rows[blank][:10])
            k, label = int(blank.sum()), raw.row_label
            note = (
                f"{k} empty {label}{'s' if k > 1 else ''} skipped ({label}{'s' if k > 1 else ''}"
                f" {shown}{', ...' if k > 10 else ''})."
            )
            old_to_new = np.cumsum(~blank) - 1
            raw = RawTable(
                frame[~blank].reset_index(drop=True),
                raw.rows[~blank],
                raw.row_label,
                raw.format,
                raw.source,
                (*raw.notes, note),
                raw.problems,
                tuple(int(old_to_new[i]) for i in raw.problem_rows),
                raw.decimal_comma,
            )
    if len(raw.frame) == 0 and not raw.problems:
        raise _file_problem(
            raw.source,
            "the file has a header but no data rows",
            "add the data rows below the header",
        )
    return raw


# ------------------------------------------------------------------------- loading


def _with_geometry(
    raw: RawTable, column_map: Mapping[str, str | None] | None, names: tuple[str, str]
) -> tuple[pd.DataFrame, dict[str, str | None], list[str]]:
    """Feed point geometry to the lat/lon columns unless the attributes have them."""
    from terrmap.schema import match_columns

    cmap: dict[str, str | None] = dict(column_map or {})
    frame = raw.frame
    if not all(c in frame.columns for c in _GEOMETRY_COLUMNS):
        return frame, cmap, []
    kind: Kind = "accounts" if names[0] == "lat" else "reps"
    attrs = [c for c in frame.columns if c not in _GEOMETRY_COLUMNS]
    user = {k: v for k, v in cmap.items() if k not in _GEOMETRY_COLUMNS}
    found = set(match_columns(attrs, kind=kind, column_map=user).mapping.values())
    if set(names) & found:
        cmap.update(dict.fromkeys(_GEOMETRY_COLUMNS, None))
        return (
            frame,
            cmap,
            [f"Used the {names[0]}/{names[1]} attribute columns; the point geometry was ignored."],
        )
    cmap.setdefault(_GEOMETRY_COLUMNS[0], names[0])
    cmap.setdefault(_GEOMETRY_COLUMNS[1], names[1])
    return frame, cmap, []


def _result(
    raw: RawTable, checked: Checked, drop_invalid: bool, extra_notes: list[str]
) -> LoadResult:
    label = raw.row_label
    shown = raw.source if label == "row" else f"{raw.source} (rows are {label} numbers)"
    bad = checked.bad.copy()
    bad[list(raw.problem_rows)] = True
    # A non-point geometry is already reported; its empty lat/lon need no second problem.
    shapes = {int(raw.rows[i]) for i in raw.problem_rows}
    found = [
        p for p in checked.problems if p.row not in shapes or p.column not in _GEOMETRY_COLUMNS
    ]
    row_problems = sorted([*raw.problems, *found], key=lambda p: p.row or 0)
    if checked.file_problems or (row_problems and not drop_invalid):
        raise InputError([*checked.file_problems, *row_problems], source=shown)
    notes = [*raw.notes, *extra_notes, *checked.notes]
    frame = checked.frame
    if row_problems:
        n_dropped = int(bad.sum()) + len(raw.problems) - len(raw.problem_rows)
        frame = frame[~bad].reset_index(drop=True)
        if len(frame) == 0:
            every = Problem(
                None,
                None,
                None,
                f"every {label} has a problem; nothing is left to load",
                "fix the problems listed",
            )
            raise InputError([every, *row_problems], source=shown)
        notes.append(f"Dropped {n_dropped:,} {label}s with problems; kept {len(frame):,}.")
    return LoadResult(
        frame,
        row_problems if drop_invalid else [],
        notes,
        raw.source,
        label,
        dict(checked.mapping.mapping),
    )


def load_accounts(
    source: Source,
    *,
    filename: str | None = None,
    column_map: Mapping[str, str | None] | None = None,
    rep_ids: Collection[str] | None = None,
    drop_invalid: bool = False,
    keep_extra: bool = True,
) -> LoadResult:
    """Read and validate an accounts file.

    Parameters
    ----------
    source
        Path, bytes, binary file-like object (e.g. a Streamlit upload) or DataFrame.
    filename
        File name when ``source`` is a buffer; tells the format and names the source.
    column_map
        The user's column choices, file column -> canonical name (``None`` ignores a
        column); everything else is matched automatically (:mod:`terrmap.schema`).
    rep_ids
        The rep roster; when given, every ``owner`` must be one of these ids.
    drop_invalid
        Drop the rows that have problems (listed in ``LoadResult.dropped``) instead of
        raising. Problems with the file itself (missing columns, unreadable file)
        still raise.
    keep_extra
        Keep the file's unrecognised columns after the canonical ones.

    Returns
    -------
    LoadResult
        ``frame`` has the canonical account columns (``terrmap.schema.ACCOUNT_COLUMNS``).

    Raises
    ------
    InputError
        Listing every problem found, each with row, column, value and fix.
    """
    raw = read_table(source, filename=filename, kind="accounts")
    frame, cmap, notes = _with_geometry(raw, column_map, ("lat", "lon"))
    checked = check_accounts(
        frame,
        rows=raw.rows,
        column_map=cmap,
        rep_ids=rep_ids,
        decimal_comma=raw.decimal_comma,
        keep_extra=keep_extra,
    )
    return _result(raw, checked, drop_invalid, notes)


def load_reps(
    source: Source,
    *,
    filename: str | None = None,
    column_map: Mapping[str, str | None] | None = None,
    drop_invalid: bool = False,
    keep_extra: bool = True,
) -> LoadResult:
    """Read and validate a rep roster (``rep_id``, home location, capacity, ...).

    Parameters and errors as in :func:`load_accounts`; ``frame`` has the canonical rep
    columns (``terrmap.schema.REP_COLUMNS``), with blank capacities set to
    :data:`terrmap.schema.DEFAULT_CAPACITY_HOURS` (noted).
    """
    raw = read_table(source, filename=filename, kind="reps")
    frame, cmap, notes = _with_geometry(raw, column_map, ("home_lat", "home_lon"))
    checked = check_reps(
        frame,
        rows=raw.rows,
        column_map=cmap,
        decimal_comma=raw.decimal_comma,
        keep_extra=keep_extra,
    )
    return _result(raw, checked, drop_invalid, notes)


def validate_file(
    path: Source,
    *,
    reps_path: Source | None = None,
    drop_invalid: bool = False,
) -> tuple[LoadResult, LoadResult | None]:
    """Load an accounts file (and optionally its rep roster) for ``terrmap validate``.

    The roster is read first so that owners are checked against it. When both files
    have problems, one :class:`InputError` lists them all, each message prefixed with
    its file name.

    Returns
    -------
    tuple
        ``(accounts, reps)``; ``reps`` is None without ``reps_path``.
    """
    errors: list[InputError] = []
    reps: LoadResult | None = None
    if reps_path is not None:
        try:
            reps = load_reps(reps_path, drop_invalid=drop_invalid)
        except InputError as exc:
            errors.append(exc)
    rep_ids = None if reps is None else reps.frame["rep_id"].tolist()
    try:
        accounts = load_accounts(path, rep_ids=rep_ids, drop_invalid=drop_invalid)
    except InputError as exc:
        errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        merged = [
            Problem(p.row, p.column, p.value, f"[{e.source}] {p.message}", p.fix)
            for e in errors
            for p in e.problems
        ]
        raise InputError(merged, source=" and ".join(str(e.source) for e in errors))
    return accounts, reps


def describe(result: LoadResult) -> str:
    """A short text report of a successful load: counts, notes and dropped rows."""
    lines = [f"{result.source}: {len(result.frame):,} rows loaded"]
    lines += [f"  note: {n}" for n in result.notes]
    if result.dropped:
        lines.append(
            format_report(
                result.dropped, source=f"{result.source} dropped", row_label=result.row_label
            )
        )
    return "\n".join(lines)
