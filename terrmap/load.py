"""Load accounts and rep rosters from CSV, Excel, Parquet, GeoJSON or GeoPackage.

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

This module is the public face of the data layer: :func:`read_table` (from
:mod:`terrmap._readers`) reads a file, :mod:`terrmap.validate` checks it, and the
loaders below put the two together.

Examples
--------
>>> result = load_accounts("data/samples/accounts.csv")  # doctest: +SKIP
>>> result.frame.columns[:4].tolist()  # doctest: +SKIP
['account_id', 'name', 'lat', 'lon']
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import pandas as pd

from terrmap._readers import read_table
from terrmap._source import GEOMETRY_COLUMNS, Format, RawTable, Source
from terrmap.errors import InputError, Problem
from terrmap.schema import Kind, match_columns
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


def _with_geometry(
    raw: RawTable, column_map: Mapping[str, str | None] | None, names: tuple[str, str]
) -> tuple[pd.DataFrame, dict[str, str | None], list[str]]:
    """Feed point geometry to the lat/lon columns unless the attributes have them."""
    cmap: dict[str, str | None] = dict(column_map or {})
    frame = raw.frame
    if not all(c in frame.columns for c in GEOMETRY_COLUMNS):
        return frame, cmap, []
    kind: Kind = "accounts" if names[0] == "lat" else "reps"
    attrs = [c for c in frame.columns if c not in GEOMETRY_COLUMNS]
    user = {k: v for k, v in cmap.items() if k not in GEOMETRY_COLUMNS}
    found = set(match_columns(attrs, kind=kind, column_map=user).mapping.values())
    if set(names) & found:
        cmap.update(dict.fromkeys(GEOMETRY_COLUMNS, None))
        return (
            frame,
            cmap,
            [f"Used the {names[0]}/{names[1]} attribute columns; the point geometry was ignored."],
        )
    cmap.setdefault(GEOMETRY_COLUMNS[0], names[0])
    cmap.setdefault(GEOMETRY_COLUMNS[1], names[1])
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
    found = [p for p in checked.problems if p.row not in shapes or p.column not in GEOMETRY_COLUMNS]
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
