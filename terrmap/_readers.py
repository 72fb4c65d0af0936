"""Read any supported file into a :class:`~terrmap._source.RawTable`.

Excel workbooks are read with python-calamine when installed (about ten times faster,
and it reads .xls/.xlsb/.ods too), else with openpyxl; Parquet with pyarrow
(GeoParquet through geopandas); GeoJSON and GeoPackage with pyogrio. Point geometry
becomes the ``lat/lon (from geometry)`` columns, reprojected to WGS84. Delimited text
is in :mod:`terrmap._delimited`.

Row numbers are those the user sees: for CSV and Excel the sheet row (header = row 1),
for GeoJSON/GeoPackage the feature number and for Parquet the record number (both
starting at 1).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from terrmap import _source
from terrmap._delimited import read_delimited
from terrmap._problems import head_text
from terrmap._source import (
    FORMAT_NAMES,
    GEOMETRY_COLUMNS,
    Format,
    RawTable,
    RowLabel,
    Source,
    detect_format,
    empty_file,
    file_problem,
    pick_named,
    reason,
    source_bytes,
    unique_headers,
)
from terrmap.errors import InputError, Problem
from terrmap.schema import Kind

__all__ = ["read_table"]

# Shapely's geometry type ids, in order.
_SHAPES = (
    "Point",
    "LineString",
    "LinearRing",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
    "GeometryCollection",
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
    data, name = source_bytes(source, filename)
    if not data or data.isspace():
        raise empty_file(name)
    fmt = detect_format(data, name)
    try:
        if fmt == "csv":
            raw = read_delimited(data, name)
        elif fmt == "excel":
            raw = _read_excel(data, name, kind)
        elif fmt == "parquet":
            raw = _read_parquet(data, name)
        else:
            raw = _read_geo(data, name, fmt, kind)
    except InputError:
        raise
    except Exception as exc:  # a parser rejecting the bytes is an input problem
        raise file_problem(
            name,
            f"the file cannot be read as {FORMAT_NAMES[fmt]}: {reason(exc, name)}",
            "check that the file is complete and really is "
            f"{FORMAT_NAMES[fmt]} (re-export it if needed)",
        ) from exc
    return _drop_blank_rows(raw)


def _drop_blank_rows(raw: RawTable) -> RawTable:
    """Leave out rows whose cells are all blank (noted), keeping the user's row numbers."""
    frame = raw.frame
    if len(frame.columns) and len(frame):
        blank = _blank_rows(frame)
        blank[list(raw.problem_rows)] = False  # unreadable rows are reported, not skipped
        if blank.any():
            k, label = int(blank.sum()), raw.row_label
            note = (
                f"{k} empty {label}{'s' if k > 1 else ''} skipped ({label}{'s' if k > 1 else ''}"
                f" {head_text(raw.rows[blank])})."
            )
            old_to_new = np.cumsum(~blank) - 1
            raw = replace(
                raw,
                frame=frame[~blank].reset_index(drop=True),
                rows=raw.rows[~blank],
                notes=(*raw.notes, note),
                problem_rows=tuple(int(old_to_new[i]) for i in raw.problem_rows),
            )
    if len(raw.frame) == 0 and not raw.problems:
        raise file_problem(
            raw.source,
            "the file has a header but no data rows",
            "add the data rows below the header",
        )
    return raw


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """True for rows whose every cell is empty or whitespace."""
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
    return blank


def _sheet_values(data: bytes, kind: Kind | None) -> tuple[list[str], str, list[Sequence[object]]]:
    """Sheet names, the sheet picked (named after ``kind`` if any) and its rows from row 1."""
    if _source.calamine_available():  # ~10x faster than openpyxl, and reads .xls/.xlsb/.ods too
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = list(book.sheet_names)
        pick = pick_named(sheets, kind)
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
        pick = pick_named(sheets, kind)
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
        raise file_problem(
            name, f"sheet '{pick}' is empty", "put a header row and the data on the first sheet"
        )
    start, stop = filled[0], filled[-1] + 1  # trailing empty (formatted) rows are not data
    width = max(len(r) for r in values[start:stop])
    header = values[start]
    headers, header_notes = unique_headers(
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

    if b"geo" in (pq.read_schema(io.BytesIO(data)).metadata or {}):  # GeoParquet
        import geopandas as gpd

        gdf = gpd.read_parquet(io.BytesIO(data))
        return _from_geoframe(gdf, name, "parquet", "record", [])
    frame = pq.read_table(io.BytesIO(data)).to_pandas()
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
                raise file_problem(
                    name, "the GeoPackage has no layers", "export the accounts as a point layer"
                )
            layer = pick_named(layers, kind)
            if len(layers) > 1:
                notes.append(f"Read layer '{layer}' (the GeoPackage has {len(layers)} layers).")
        gdf = pyogrio.read_dataframe(io.BytesIO(data), layer=layer, datetime_as_string=True)
    notes += [
        f"Reader warning: {reason(Exception(w.message), name)}."
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
    frame[GEOMETRY_COLUMNS[0]] = y
    frame[GEOMETRY_COLUMNS[1]] = x
    other = np.flatnonzero(~point & (types >= 0) & ~shapely.is_empty(geom))
    problems = tuple(
        Problem(
            int(rows[i]),
            "geometry",
            _SHAPES[types[i]] if types[i] < len(_SHAPES) else "geometry",
            f"the geometry is a {_SHAPES[types[i]] if types[i] < len(_SHAPES) else 'shape'}, "
            "not a point",
            "give each feature a point geometry (or lat/lon properties)",
        )
        for i in other
    )
    return RawTable(
        frame, rows, label, fmt, name, tuple(notes), problems, tuple(int(i) for i in other)
    )
