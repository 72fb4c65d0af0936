"""Check a raw accounts or reps table and turn it into the canonical frame.

Every check is vectorised over the whole table; Python loops run only over the rows
that have a problem and over *distinct* values (the few hundred distinct dates or
segment spellings). All problems are collected; :mod:`terrmap.load` then raises one
:class:`~terrmap.errors.InputError`, or drops the bad rows when asked to.

Decisions worth knowing (also in the user docs):

* ``win_rate`` is a fraction 0..1. ``"35%"`` is read as 0.35. A column whose values
  are mostly above 1 and all within 0..100 is read as percentages (divided by 100,
  with a note); otherwise a value above 1 is a problem.
* Numbers may carry currency symbols and thousands separators (``"$1,250.50"``); in a
  ``;``-delimited CSV the decimal separator is a comma (``"40,71"``). Coordinates may
  be written ``40.7128 N`` / ``74.006 W`` or as degrees-minutes-seconds.
* Dates: ISO 8601 first, then US month-first (``05/31/2024``), then other unambiguous
  spellings (``31.05.2024``, ``May 31, 2024``). A ``last_activity`` in the future is a
  problem; a future ``start_date`` (a planned hire) is not.
* Visit windows: ``visit_from`` / ``visit_until`` are times of day (``09:30``,
  ``2:30 pm``, ``14h``, a spreadsheet's day fraction), stored as ``HH:MM``; a window
  that closes before it opens is a problem.
* Duplicate ids: every row after the first with the same id is a problem whose message
  names all rows involved; ``drop_invalid`` therefore keeps the first occurrence.
* A location comes from lat/lon, or from the ZIP centre when both coordinates are
  blank (flagged ``approximate``). Wrong coordinates are reported, never silently
  replaced by the ZIP.
* At most :data:`MAX_PROBLEMS_PER_CHECK` problems are listed one by one per check and
  column; the rest are summarised in one more problem that counts them.

The cell parsers are in :mod:`terrmap._cells`, the location checks in
:mod:`terrmap._locate`, the other column checks in :mod:`terrmap._columns` and the
problem collector in :mod:`terrmap._problems`; this module puts them together.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from terrmap._cells import take, take_text
from terrmap._columns import (
    check_bool,
    check_date,
    check_ids,
    check_lookup,
    check_number,
    check_owner,
    check_visit_window,
    check_win_rate,
    industries,
    optional_text,
)
from terrmap._locate import ZIP_MISMATCH_KM, Where, check_location
from terrmap._problems import Collector, count_text, format_report
from terrmap.errors import Problem
from terrmap.schema import (
    DEFAULT_CAPACITY_HOURS,
    HOURS_PER_MONTH_MAX,
    SEGMENT_ALIASES,
    TIER_ALIASES,
    ColumnMatch,
    Kind,
    column_specs,
    match_columns,
)

__all__ = [
    "MAX_PROBLEMS_PER_CHECK",
    "ZIP_MISMATCH_KM",
    "Checked",
    "check_accounts",
    "check_reps",
    "format_report",
]

#: Problems listed one by one per check and column before the rest are summarised.
MAX_PROBLEMS_PER_CHECK = 1000
_TEXT = pd.Series(dtype="str").dtype  # the default text dtype the readers give


@dataclass(frozen=True)
class Checked:
    """Result of checking one table.

    Attributes
    ----------
    frame
        The canonical frame for *all* rows (use ``bad`` to leave out the rows with
        problems), canonical columns in schema order, then the file's extra columns.
    problems
        Row problems, sorted by row.
    bad
        Boolean per frame row: True where the row has at least one problem.
    file_problems
        Problems that concern the whole file (missing or ambiguous columns).
    notes
        What the checks decided that the user should know.
    mapping
        The column matching used.
    """

    frame: pd.DataFrame
    problems: tuple[Problem, ...]
    bad: np.ndarray
    file_problems: tuple[Problem, ...]
    notes: tuple[str, ...]
    mapping: ColumnMatch


def _start(
    frame: pd.DataFrame,
    rows: np.ndarray | None,
    kind: Kind,
    column_map: Mapping[str, str | None] | None,
    limit: int,
) -> tuple[pd.DataFrame, Collector, ColumnMatch, dict[str, str]]:
    frame = frame.reset_index(drop=True)
    rows = np.arange(2, len(frame) + 2) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows) != len(frame):
        raise ValueError(f"rows has {len(rows)} entries for {len(frame)} frame rows")
    col = Collector(rows, limit)
    match = match_columns(frame.columns, kind=kind, column_map=column_map)
    col.file.extend(match.problems)
    col.notes.extend(match.notes)
    return frame, col, match, {canonical: c for c, canonical in match.mapping.items()}


def _finish(
    frame: pd.DataFrame,
    data: dict[str, object],
    kind: Kind,
    col: Collector,
    match: ColumnMatch,
    keep_extra: bool,
) -> Checked:
    out: dict[str, object] = {}
    for spec in column_specs(kind):
        value = data[spec.name]
        if isinstance(value, pd.Series):
            out[spec.name] = value.reset_index(drop=True).astype(cast(Any, spec.dtype))
        else:
            out[spec.name] = pd.Series(pd.array(cast(Any, value), dtype=spec.dtype))
    result = pd.DataFrame(out)
    if keep_extra:
        taken = set(match.mapping) | set(match.ignored)
        extra = [c for c in frame.columns if c not in taken and str(c) not in out]
        clash = [c for c in frame.columns if c not in taken and str(c) in out]
        if clash:
            col.notes.append(
                f"Column(s) {', '.join(map(repr, clash))} ignored: the name is "
                "taken by a canonical column fed from another column."
            )
        for c in extra:
            column = frame[c]
            # Text as read stays as it is (no round trip through Python objects).
            result[str(c)] = column.array if column.dtype == _TEXT else column.to_numpy()
    order = {id(p): i for i, p in enumerate(col.problems)}
    problems = sorted(col.problems, key=lambda p: (p.row or 0, order[id(p)]))
    return Checked(result, tuple(problems), col.bad, tuple(col.file), tuple(col.notes), match)


def check_accounts(
    frame: pd.DataFrame,
    *,
    rows: np.ndarray | None = None,
    column_map: Mapping[str, str | None] | None = None,
    rep_ids: Collection[str] | None = None,
    decimal_comma: bool = False,
    keep_extra: bool = True,
    limit: int = MAX_PROBLEMS_PER_CHECK,
) -> Checked:
    """Check a raw accounts table (any dtypes) and build the canonical frame.

    Parameters
    ----------
    frame
        The table as read, one row per account, the file's own headers.
    rows
        The row number the user sees for each frame row (default: header is row 1,
        so the first data row is row 2).
    column_map
        The user's column choices, file column -> canonical name (see
        :func:`terrmap.schema.match_columns`).
    rep_ids
        The rep roster; when given, every ``owner`` must be one of them.
    decimal_comma
        Read ``40,71`` as 40.71 (set for ``;``-delimited CSV files).
    keep_extra
        Keep columns that match no canonical column, after the canonical ones.
    limit
        Problems listed one by one per check and column.
    """
    frame, col, match, src = _start(frame, rows, "accounts", column_map, limit)
    ids = check_ids(frame, src, col, canonical="account_id", kind="accounts", what="account")
    where = Where("lat", "lon", "zip", "account")
    lat, lon, zips, approx = check_location(
        frame, src, col, where, kind="accounts", decimal_comma=decimal_comma
    )
    seg_codes, seg = check_lookup(
        frame,
        src.get("segment"),
        col,
        SEGMENT_ALIASES,
        message="unknown segment",
        fix="use SMB, MM or ENT (or leave it blank)",
    )
    tier_codes, tiers = check_lookup(
        frame,
        src.get("tier"),
        col,
        TIER_ALIASES,
        message="unknown tier",
        fix="use 1, 2 or 3 (also T1, Tier 1 or A/B/C), or leave it blank to derive it",
    )
    dc = decimal_comma
    data: dict[str, object] = {
        "account_id": ids,
        "name": optional_text(frame, src.get("name")),
        "lat": lat,
        "lon": lon,
        "zip": zips,
        "approximate": approx | check_bool(frame, src.get("approximate"), col),
        "industry": optional_text(frame, src.get("industry"), na_tokens=True),
        "segment": take_text(seg_codes, [str(s) if s else None for s in seg]),
        "employees": check_number(
            frame, src.get("employees"), col, decimal_comma=dc, example="250"
        ),
        "acv": check_number(frame, src.get("acv"), col, decimal_comma=dc, example="12000"),
        "win_rate": check_win_rate(frame, src.get("win_rate"), col, decimal_comma=dc),
        "tier": take(tier_codes, [np.nan if t is None else t for t in tiers], np.nan, "float64"),
        "workload_hours": check_number(
            frame,
            src.get("workload_hours"),
            col,
            decimal_comma=dc,
            high=HOURS_PER_MONTH_MAX,
            example="4.5",
        ),
        "owner": check_owner(frame, src.get("owner"), col, rep_ids),
        "last_activity": check_date(frame, src.get("last_activity"), col, future_ok=False),
        "locked": check_bool(frame, src.get("locked"), col),
    }
    data["visit_from"], data["visit_until"] = check_visit_window(frame, src, col)
    _note_zip_placed(col, approx, where)
    return _finish(frame, data, "accounts", col, match, keep_extra)


def check_reps(
    frame: pd.DataFrame,
    *,
    rows: np.ndarray | None = None,
    column_map: Mapping[str, str | None] | None = None,
    decimal_comma: bool = False,
    keep_extra: bool = True,
    limit: int = MAX_PROBLEMS_PER_CHECK,
) -> Checked:
    """Check a raw rep roster and build the canonical reps frame.

    Blank ``capacity_hours`` get :data:`~terrmap.schema.DEFAULT_CAPACITY_HOURS` and a
    blank ``name`` shows the ``rep_id`` (both noted). Parameters as in
    :func:`check_accounts`.
    """
    frame, col, match, src = _start(frame, rows, "reps", column_map, limit)
    ids = check_ids(frame, src, col, canonical="rep_id", kind="reps", what="rep")
    where = Where("home_lat", "home_lon", "home_zip", "rep home")
    lat, lon, zips, approx = check_location(
        frame, src, col, where, kind="reps", decimal_comma=decimal_comma
    )
    name = optional_text(frame, src.get("name"))
    no_name = name.isna() & ids.notna()
    if no_name.any():
        name = name.where(~no_name, ids)
        col.notes.append(
            f"{count_text(int(no_name.sum()), 'rep')} without a name; the rep_id is shown."
        )
    capacity = check_number(
        frame,
        src.get("capacity_hours"),
        col,
        decimal_comma=decimal_comma,
        positive=True,
        high=HOURS_PER_MONTH_MAX,
        example="140",
    )
    unset = np.isnan(capacity) & ~col.bad
    if unset.any():
        capacity[unset] = DEFAULT_CAPACITY_HOURS
        col.notes.append(
            f"{count_text(int(unset.sum()), 'rep')} without capacity_hours; the default "
            f"{DEFAULT_CAPACITY_HOURS:g} hours/month is used."
        )
    seg_codes, seg = check_lookup(
        frame,
        src.get("segment"),
        col,
        {**SEGMENT_ALIASES, "all": "", "any": ""},
        message="unknown segment",
        fix="use SMB, MM or ENT (blank or 'all' = any segment)",
    )
    data: dict[str, object] = {
        "rep_id": ids,
        "name": name,
        "home_lat": lat,
        "home_lon": lon,
        "home_zip": zips,
        "approximate": approx | check_bool(frame, src.get("approximate"), col),
        "capacity_hours": capacity,
        "segment": take_text(seg_codes, [str(s) if s else None for s in seg]),
        "industries": industries(frame, src.get("industries")),
        "start_date": check_date(frame, src.get("start_date"), col, future_ok=True),
        "region": optional_text(frame, src.get("region"), na_tokens=True),
        "district": optional_text(frame, src.get("district"), na_tokens=True),
    }
    _note_zip_placed(col, approx, where)
    return _finish(frame, data, "reps", col, match, keep_extra)


def _note_zip_placed(col: Collector, approx: np.ndarray, where: Where) -> None:
    if approx.any():
        col.notes.append(
            f"{count_text(int(approx.sum()), where.what)} placed at ZIP centroids (approximate)."
        )
