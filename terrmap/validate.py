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
* Duplicate ids: every row after the first with the same id is a problem whose message
  names all rows involved; ``drop_invalid`` therefore keeps the first occurrence.
* A location comes from lat/lon, or from the ZIP centre when both coordinates are
  blank (flagged ``approximate``). Wrong coordinates are reported, never silently
  replaced by the ZIP.
* At most :data:`MAX_PROBLEMS_PER_CHECK` problems are listed one by one per check and
  column; the rest are summarised in one more problem that counts them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from terrmap import postal
from terrmap.errors import Problem
from terrmap.schema import (
    BOOL_FALSE,
    BOOL_TRUE,
    DEFAULT_CAPACITY_HOURS,
    HOURS_PER_MONTH_MAX,
    SEGMENT_ALIASES,
    TIER_ALIASES,
    ColumnMatch,
    Kind,
    column_specs,
    match_columns,
    normalize_header,
    suggest_column,
)

__all__ = ["MAX_PROBLEMS_PER_CHECK", "Checked", "check_accounts", "check_reps", "format_report"]

#: Problems listed one by one per check and column before the rest are summarised.
MAX_PROBLEMS_PER_CHECK = 1000
#: Coordinates further than this from their own ZIP's centre are a problem.
ZIP_MISMATCH_KM = 300.0
_NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "-", "--", "nat"})
_EARTH_KM = 6371.0088
_NUM_RE = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
_DMS_RE = re.compile(
    r"^\s*([+-]?\d+(?:\.\d+)?)\s*[°d:\s]\s*(?:(\d+(?:\.\d+)?)\s*['′m:\s]\s*)?"
    r"(?:(\d+(?:\.\d+)?)\s*(?:[\"″s]|'')?\s*)?([NSEWnsew])?\s*$"
)
_HEMI_RE = re.compile(r"^\s*([NSEWnsew])?\s*([+-]?\d+(?:\.\d+)?)\s*°?\s*([NSEWnsew])?\s*$")

Message = str | Callable[[np.ndarray], Sequence[str]]


@dataclass(frozen=True)
class Checked:
    """Result of checking one table.

    Attributes
    ----------
    frame
        The canonical frame for *all* rows (bad rows included; their bad cells are
        NA), canonical columns first in schema order, then the file's extra columns.
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


class _Collector:
    """Collects problems for whole boolean masks at a time."""

    def __init__(self, rows: np.ndarray, limit: int) -> None:
        self.rows = rows
        self.limit = limit
        self.bad = np.zeros(len(rows), dtype=bool)
        self.problems: list[Problem] = []
        self.file: list[Problem] = []
        self.notes: list[str] = []

    def add(
        self, mask: np.ndarray, column: str, raw: pd.Series | None, message: Message, fix: Message
    ) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        self.bad[idx] = True
        shown = idx[: self.limit]
        values = _cells_text(raw, shown) if raw is not None else [None] * len(shown)
        msgs = message(shown) if callable(message) else [message] * len(shown)
        fixes = fix(shown) if callable(fix) else [fix] * len(shown)
        for i, v, m, f in zip(shown, values, msgs, fixes, strict=True):
            self.problems.append(Problem(int(self.rows[i]), column, v, m, f))
        if idx.size > self.limit:
            rest = self.rows[idx[self.limit :]]
            head = ", ".join(str(r) for r in rest[:10]) + (", ..." if rest.size > 10 else "")
            self.problems.append(
                Problem(
                    int(rest[0]),
                    column,
                    None,
                    f"{rest.size:,} more rows have the same problem ({msgs[0]}): rows {head}",
                    fixes[0],
                )
            )

    def missing(self, canonical: str, columns: Sequence[str], kind: Kind, why: str) -> None:
        near = suggest_column(canonical, columns, kind=kind)
        fix = (
            f"rename column '{near}' to '{canonical}' or choose it on the Data page"
            if near
            else f"add a '{canonical}' column ({why})"
        )
        self.file.append(
            Problem(None, canonical, None, f"required column '{canonical}' is missing", fix)
        )


# --------------------------------------------------------------------------- cells


def _cell_text(value: object) -> str | None:
    """One cell as text; None when blank."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        number = float(value)
        if np.isnan(number):
            return None
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.isoformat()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip()
    return text or None


def _cells_text(raw: pd.Series, idx: np.ndarray) -> list[str | None]:
    return [(_cell_text(v) or "") for v in raw.iloc[idx].tolist()]


def _factor(raw: pd.Series, *, na_tokens: bool = True) -> tuple[np.ndarray, list[str | None]]:
    """Codes and the distinct values as text (blank -> None; also "NA", "-", ... if asked)."""
    codes, uniques = pd.factorize(raw)
    texts = [_cell_text(u) for u in np.asarray(uniques, dtype=object)]
    if not na_tokens:
        return codes, texts
    return codes, [t if t is None or t.lower() not in _NA_TOKENS else None for t in texts]


def _take(
    codes: np.ndarray, values: Sequence[object] | np.ndarray, fill: object, dtype: str
) -> np.ndarray:
    table = np.asarray([*values, fill], dtype=dtype)
    out: np.ndarray = table[codes]  # code -1 picks the trailing fill
    return out


def _text(raw: pd.Series, *, na_tokens: bool = False) -> pd.Series:
    """Stripped text (pandas ``str`` dtype), NaN where blank; ids keep leading zeros.

    With ``na_tokens``, "NA", "N/A", "-", "none", ... are blank too (owners, industries);
    ids and names are kept exactly as written.
    """
    if isinstance(raw.dtype, pd.StringDtype):
        s = raw.str.strip()
        if na_tokens:
            codes, uniques = pd.factorize(s)
            is_na = np.append(pd.Index(uniques).str.lower().isin(list(_NA_TOKENS)), True)
            return s.where(~is_na[codes])
        return s.where(s != "")
    if raw.dtype.kind in "iu":
        return raw.astype("str")
    codes, texts = _factor(raw, na_tokens=na_tokens)
    return pd.Series(_take(codes, texts, None, "object"), index=raw.index, dtype="str")


def _blank(raw: pd.Series) -> np.ndarray:
    if isinstance(raw.dtype, pd.StringDtype):
        s = raw.str.strip().str.lower()
        return np.asarray(s.isna() | s.isin(list(_NA_TOKENS)), dtype=bool)
    return np.asarray(raw.isna(), dtype=bool)


def _clean_number_text(s: pd.Series, *, decimal_comma: bool) -> pd.Series:
    s = s.str.replace(r"[\s\u00a0\u202f$€£¥]", "", regex=True)
    if decimal_comma:
        s = s.str.replace(r"\.(?=\d{3}(?:\D|$))", "", regex=True).str.replace(",", ".")
    else:
        grouped = s.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?").fillna(False).astype(bool)
        s = s.where(~grouped, s.str.replace(",", ""))
    return s


def _plain_numbers(text: pd.Series) -> np.ndarray:
    """Cells that are plain decimal numbers, parsed by Arrow; NaN elsewhere."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text, from_pandas=True)
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.large_string())
    plain = pc.match_substring_regex(arr, _NUM_RE)
    trimmed = pc.utf8_trim_whitespace(arr)
    values = pc.cast(pc.if_else(plain, trimmed, pa.scalar(None, trimmed.type)), pa.float64())
    return np.array(values.to_numpy(zero_copy_only=False), dtype=float)


def _to_float(
    raw: pd.Series, *, decimal_comma: bool = False, percent: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse numbers. Returns ``(values, bad, percent_mask)``; blank cells are NaN."""
    n = len(raw)
    no = np.zeros(n, dtype=bool)
    if raw.dtype.kind in "biuf" or isinstance(raw.dtype, pd.BooleanDtype):
        if raw.dtype.kind == "b" or isinstance(raw.dtype, pd.BooleanDtype):
            return np.full(n, np.nan), np.asarray(raw.notna(), dtype=bool), no
        vals = np.array(raw.to_numpy(dtype=float, na_value=np.nan), dtype=float)
        return vals, np.isinf(vals), no
    text = raw.astype("str") if not isinstance(raw.dtype, pd.StringDtype) else raw
    vals = _plain_numbers(text)
    bad = np.isnan(vals) & np.asarray(text.notna(), dtype=bool)
    if bad.any():  # blank-like tokens ("NA", "-", "  ") are blank, not bad
        idx = np.flatnonzero(bad)
        bad[idx] = ~_blank(text.iloc[idx])
    pct = no.copy()
    if bad.any():
        idx = np.flatnonzero(bad)
        sub = text.iloc[idx].str.strip()
        is_pct = np.asarray(sub.str.endswith("%"), dtype=bool) if percent else no[idx]
        sub = sub.str.rstrip("%") if percent else sub
        parsed = pd.to_numeric(
            _clean_number_text(sub, decimal_comma=decimal_comma), errors="coerce"
        ).to_numpy(dtype=float, na_value=np.nan)
        parsed = np.where(is_pct, parsed / 100.0, parsed)
        vals[idx] = parsed
        pct[idx] = is_pct & ~np.isnan(parsed)
        bad[idx] = np.isnan(parsed)
    bad |= np.isinf(vals)
    return vals, bad, pct


def _parse_coordinate(text: str, axis: str) -> float:
    """Parse ``40.7 N``, ``74°0'21.6"W`` and the like; NaN when not a coordinate."""
    for rx, groups in ((_HEMI_RE, None), (_DMS_RE, True)):
        m = rx.match(text)
        if not m:
            continue
        if groups is None:
            hemi = (m.group(1) or m.group(3) or "").upper()
            value = float(m.group(2))
        else:
            deg, mins, secs, hemi = m.group(1), m.group(2), m.group(3), (m.group(4) or "").upper()
            sign = -1.0 if deg.startswith("-") else 1.0
            value = sign * (abs(float(deg)) + float(mins or 0) / 60 + float(secs or 0) / 3600)
        if hemi and hemi not in ("NS" if axis == "lat" else "EW"):
            return float("nan")
        return -abs(value) if hemi in ("S", "W") else value
    return float("nan")


def _to_coordinate(
    raw: pd.Series, axis: str, *, decimal_comma: bool
) -> tuple[np.ndarray, np.ndarray]:
    vals, bad, _ = _to_float(raw, decimal_comma=decimal_comma)
    if bad.any() and raw.dtype.kind not in "biuf":
        idx = np.flatnonzero(bad)
        parsed = np.array([_parse_coordinate(t or "", axis) for t in _cells_text(raw, idx)])
        vals[idx] = parsed
        bad[idx] = np.isnan(parsed)
    return vals, bad


def _to_datetime(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse dates (distinct values only).

    Returns ``(datetime64[ns] values, bad, early, late)``: dates before 1900 are
    ``early``, after 2200 ``late``; both become NaT (which keeps them inside
    ``datetime64[ns]``).
    """
    if raw.dtype.kind == "M" or isinstance(raw.dtype, pd.DatetimeTZDtype):
        dt = pd.Series(raw)
        if isinstance(dt.dtype, pd.DatetimeTZDtype):
            dt = dt.dt.tz_convert("UTC").dt.tz_localize(None)
        values, early, late = _in_range(dt.to_numpy().astype("datetime64[us]"))
        return values, np.zeros(len(raw), dtype=bool), early, late
    codes, texts = _factor(raw)
    uniq = pd.Series(
        [t if t is not None and not t.isdigit() else None for t in texts], dtype="object"
    )
    parsed = pd.to_datetime(uniq, format="ISO8601", errors="coerce", utc=True)
    parsed = parsed.dt.tz_localize(None)
    for fmt in ("%m/%d/%Y", "%m/%d/%y", "mixed"):
        rest = parsed.isna() & uniq.notna()
        if not rest.any():
            break
        parsed[rest] = pd.to_datetime(uniq[rest], format=fmt, errors="coerce")
    values_u, early_u, late_u = _in_range(parsed.to_numpy().astype("datetime64[us]"))
    given = np.array([t is not None for t in texts], dtype=bool)
    bad_u = given & np.isnat(values_u) & ~early_u & ~late_u
    out = np.append(values_u, np.datetime64("NaT", "ns"))[codes]
    pick = [np.append(m, False)[codes] for m in (bad_u, early_u, late_u)]
    return out, pick[0], pick[1], pick[2]


def _in_range(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blank out dates outside 1900..2200; returns ``(datetime64[ns], early, late)``."""
    known = ~np.isnat(values)
    early = known & (values < np.datetime64("1900-01-01"))
    late = known & (values > np.datetime64("2200-01-01"))
    values = values.copy()
    values[early | late] = np.datetime64("NaT")
    return values.astype("datetime64[ns]"), early, late


def _to_bool(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if raw.dtype.kind == "b":
        values = np.array(raw.to_numpy(dtype=bool, na_value=False), dtype=bool)
        return values, np.zeros(len(raw), dtype=bool)
    codes, texts = _factor(raw)
    keys = [None if t is None else t.lower().removesuffix(".0") for t in texts]
    truth = [k in BOOL_TRUE for k in keys]
    bad = [k is not None and k not in BOOL_TRUE and k not in BOOL_FALSE for k in keys]
    return _take(codes, truth, False, "bool"), _take(codes, bad, False, "bool")


def _lookup(
    raw: pd.Series, table: Mapping[str, object]
) -> tuple[np.ndarray, list[object], np.ndarray]:
    """Map normalised distinct values through ``table``: ``(codes, mapped, bad)``."""
    codes, texts = _factor(raw)
    keys = [None if t is None else normalize_header(t.removesuffix(".0")) for t in texts]
    mapped = [None if k is None else table.get(k) for k in keys]
    bad_u = [k is not None and m is None for k, m in zip(keys, mapped, strict=True)]
    return codes, mapped, _take(codes, bad_u, False, "bool")


def _haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray | float, lon2: np.ndarray | float
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(np.asarray(lon2) - lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


# ------------------------------------------------------------------------ location


@dataclass(frozen=True)
class _Where:
    """Canonical names of one table's location columns."""

    lat: str
    lon: str
    zip: str
    what: str  # "account" / "rep home", for messages


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _check_ranges(
    lat: np.ndarray, lon: np.ndarray, cols: tuple[str, str], frame: pd.DataFrame, col: _Collector
) -> np.ndarray:
    """Range, swap, (0, 0) and Antarctica checks; returns the rows flagged."""
    lat_c, lon_c = cols
    has_lat, has_lon = np.isfinite(lat), np.isfinite(lon)
    with np.errstate(invalid="ignore"):
        lat_out = has_lat & (np.abs(lat) > 90)
        lon_out = has_lon & (np.abs(lon) > 180)
        swapped = lat_out & (np.abs(lat) <= 180) & has_lon & (np.abs(lon) <= 90)
    col.add(
        swapped,
        lat_c,
        frame[lat_c],
        lambda i: [
            f"latitude {_fmt(lat[j])} is outside -90..90 while longitude "
            f"{_fmt(lon[j])} would be a valid latitude: lat and lon look swapped"
            for j in i
        ],
        "swap the lat and lon values (or the two column headers)",
    )
    far = lat_out & ~swapped
    col.add(
        far,
        lat_c,
        frame[lat_c],
        "latitude is outside -90..90",
        lambda i: [
            "the value looks like projected metres: convert to WGS84 degrees"
            if abs(lat[j]) > 1000
            else "use decimal degrees between -90 and 90"
            for j in i
        ],
    )
    far_lon = lon_out & ~swapped
    col.add(
        far_lon,
        lon_c,
        frame[lon_c],
        "longitude is outside -180..180",
        lambda i: [
            "the value looks like projected metres: convert to WGS84 degrees"
            if abs(lon[j]) > 1000
            else "use decimal degrees between -180 and 180"
            for j in i
        ],
    )
    in_range = has_lat & has_lon & ~lat_out & ~lon_out
    zero = in_range & (lat == 0) & (lon == 0)
    col.add(
        zero,
        lat_c,
        frame[lat_c],
        "(0, 0) is a placeholder ('null island'), not a location",
        "enter the real coordinates, or clear both and give a ZIP",
    )
    polar = in_range & ~zero & (lat < -60)
    col.add(
        polar,
        lat_c,
        frame[lat_c],
        lambda i: [
            f"latitude {_fmt(lat[j])} is in Antarctica"
            + (
                f"; with longitude {_fmt(lon[j])} lat and lon look swapped"
                if abs(lon[j]) <= 90
                else ""
            )
            for j in i
        ],
        lambda i: [
            "swap the lat and lon values"
            if abs(lon[j]) <= 90
            else "check the value and its sign (south is negative)"
            for j in i
        ],
    )
    flagged: np.ndarray = lat_out | lon_out | zero | polar
    region: np.ndarray = _check_region(lat, lon, in_range & ~flagged, cols, frame, col)
    return np.asarray(flagged | region, dtype=bool)


def _check_region(
    lat: np.ndarray,
    lon: np.ndarray,
    ok: np.ndarray,
    cols: tuple[str, str],
    frame: pd.DataFrame,
    col: _Collector,
) -> np.ndarray:
    """Points far from all others that land among them once swapped or sign-flipped."""
    out = np.zeros(len(lat), dtype=bool)
    if ok.sum() < 10:
        return out
    clat, clon = float(np.median(lat[ok])), float(np.median(lon[ok]))
    idx = np.flatnonzero(ok)
    dist = _haversine_km(lat[idx], lon[idx], clat, clon)
    limit = max(2.0 * float(np.quantile(dist, 0.9)), 300.0)
    far = idx[dist > limit]
    if far.size == 0:
        return out
    la, lo = lat[far], lon[far]
    variants = (
        ("swap", lo, la, np.abs(lo) <= 90),
        ("lon", la, -lo, lo != 0),
        ("lat", -la, lo, la != 0),
    )
    kind = np.full(far.size, "", dtype=object)
    for name, vlat, vlon, valid in variants:
        near = valid & (_haversine_km(vlat, vlon, clat, clon) <= limit) & (kind == "")
        kind[near] = name
    d_far = dict(zip(far.tolist(), dist[dist > limit].tolist(), strict=True))
    for name, column, text, fix in (
        ("swap", cols[0], "lat and lon look swapped", "swap the lat and lon values"),
        ("lon", cols[1], "the longitude's sign looks wrong", "flip the sign (west is negative)"),
        ("lat", cols[0], "the latitude's sign looks wrong", "flip the sign (south is negative)"),
    ):
        rows = far[kind == name]
        mask = np.zeros(len(lat), dtype=bool)
        mask[rows] = True
        col.add(
            mask,
            column,
            frame[column],
            _far_messages(lat, lon, d_far, text),
            fix,
        )
        out |= mask
    return out


def _far_messages(
    lat: np.ndarray, lon: np.ndarray, dist: Mapping[int, float], text: str
) -> Callable[[np.ndarray], list[str]]:
    def messages(idx: np.ndarray) -> list[str]:
        return [
            f"point ({_fmt(lat[j])}, {_fmt(lon[j])}) is {dist[int(j)]:,.0f} km from the "
            f"other rows; {text}"
            for j in idx
        ]

    return messages


def _check_location(
    frame: pd.DataFrame,
    src: Mapping[str, str],
    col: _Collector,
    where: _Where,
    *,
    kind: Kind,
    decimal_comma: bool,
) -> tuple[np.ndarray, np.ndarray, pd.Series, np.ndarray]:
    """Parse and check lat/lon/ZIP; returns ``(lat, lon, zip, approximate)``."""
    n = len(frame)
    lat_c, lon_c, zip_c = src.get(where.lat), src.get(where.lon), src.get(where.zip)
    lat, lon = np.full(n, np.nan), np.full(n, np.nan)
    zips = pd.Series(np.full(n, np.nan), dtype="str")
    approx = np.zeros(n, dtype=bool)
    cols = [str(c) for c in frame.columns]
    if lat_c is None and lon_c is None and zip_c is None:
        col.file.append(
            Problem(
                None,
                where.lat,
                None,
                f"no location columns: need '{where.lat}' and '{where.lon}' or '{where.zip}'",
                _location_fix(where, cols, kind),
            )
        )
        return lat, lon, zips, approx
    if (lat_c is None) != (lon_c is None):
        col.missing(
            where.lon if lon_c is None else where.lat,
            cols,
            kind,
            "latitude and longitude come in pairs",
        )
    bad_lat, bad_lon = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if lat_c is not None:
        lat, bad_lat = _to_coordinate(frame[lat_c], "lat", decimal_comma=decimal_comma)
        col.add(
            bad_lat,
            lat_c,
            frame[lat_c],
            "latitude is not a number",
            "write decimal degrees, e.g. 40.7128",
        )
    if lon_c is not None:
        lon, bad_lon = _to_coordinate(frame[lon_c], "lon", decimal_comma=decimal_comma)
        col.add(
            bad_lon,
            lon_c,
            frame[lon_c],
            "longitude is not a number",
            "write decimal degrees, e.g. -74.006",
        )
    has_lat, has_lon = np.isfinite(lat), np.isfinite(lon)
    fix_half = "fill in both coordinates, or clear both and give a ZIP"
    if lat_c is not None and lon_c is not None:
        col.add(
            has_lat & ~has_lon & ~bad_lon,
            lon_c,
            frame[lon_c],
            "longitude is blank but latitude is given",
            fix_half,
        )
        col.add(
            has_lon & ~has_lat & ~bad_lat,
            lat_c,
            frame[lat_c],
            "latitude is blank but longitude is given",
            fix_half,
        )
        flagged = _check_ranges(lat, lon, (lat_c, lon_c), frame, col)
    else:
        flagged = np.zeros(n, dtype=bool)
    blank = ~has_lat & ~has_lon & ~bad_lat & ~bad_lon
    if zip_c is not None:
        zips, approx, given = _locate_by_zip(
            frame, zip_c, blank, has_lat & has_lon & ~flagged, lat, lon, col
        )
        blank &= ~given
    first = lat_c or zip_c or where.zip
    col.add(
        blank,
        first,
        None,
        f"no location: the {where.what}'s coordinates and ZIP are blank",
        f"give '{where.lat}' and '{where.lon}', or a 5-digit US ZIP in '{where.zip}'",
    )
    return lat, lon, zips, approx


def _location_fix(where: _Where, cols: Sequence[str], kind: Kind) -> str:
    near = [
        c
        for c in (suggest_column(w, cols, kind=kind) for w in (where.lat, where.lon, where.zip))
        if c
    ]
    if near:
        return f"rename {', '.join(repr(c) for c in near)} or choose them on the Data page"
    return (
        f"add '{where.lat}' and '{where.lon}' columns (decimal degrees) or a '{where.zip}' column"
    )


def _locate_by_zip(
    frame: pd.DataFrame,
    zip_c: str,
    blank: np.ndarray,
    good: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    col: _Collector,
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Fill blank coordinates from ZIP centres (in place).

    Returns ``(zip, approximate, given)``; ``given`` marks rows with a non-blank ZIP.
    """
    raw = frame[zip_c]
    codes, texts = _factor(raw)
    norm = postal.normalize_zip(pd.Series(texts, dtype="str"))
    zlat_u, zlon_u, found_u = postal.zips_to_latlon(norm)
    given_u = np.array([t is not None for t in texts], dtype=bool)
    malformed = _take(codes, given_u & norm.isna().to_numpy(dtype=bool), False, "bool")
    unknown = _take(codes, given_u & norm.notna().to_numpy(dtype=bool) & ~found_u, False, "bool")
    zlat = _take(codes, zlat_u.tolist(), np.nan, "float64")
    zlon = _take(codes, zlon_u.tolist(), np.nan, "float64")
    zips = pd.Series(
        _take(codes, norm.where(norm.notna(), None).tolist(), None, "object"), dtype="str"
    )
    given = _take(codes, given_u, False, "bool")
    use = blank & given
    col.add(
        use & malformed,
        zip_c,
        raw,
        "not a 5-digit US ZIP code",
        "write a 5-digit ZIP such as 02134, or give lat/lon",
    )
    col.add(
        use & unknown,
        zip_c,
        raw,
        "ZIP code not found in the US ZIP list",
        "check the ZIP, or give lat/lon",
    )
    approx = use & ~np.isnan(zlat)
    lat[approx], lon[approx] = zlat[approx], zlon[approx]
    ignored = ~use & (malformed | unknown)
    if ignored.any():
        rows = ", ".join(str(r) for r in col.rows[ignored][:10])
        col.notes.append(
            f"{_count(int(ignored.sum()), 'ZIP code')} in '{zip_c}' not known as US ZIPs "
            f"(rows {rows}{', ...' if ignored.sum() > 10 else ''}); those rows "
            "are placed by their coordinates."
        )
    check = good & ~np.isnan(zlat)
    dist = np.full(len(lat), np.nan)
    dist[check] = _haversine_km(lat[check], lon[check], zlat[check], zlon[check])
    with np.errstate(invalid="ignore"):
        off = check & (dist > ZIP_MISMATCH_KM)
    col.add(
        off,
        zip_c,
        raw,
        lambda i: [
            f"ZIP {zips.iloc[j]} is centred {dist[j]:,.0f} km from this row's "
            f"coordinates ({_fmt(lat[j])}, {_fmt(lon[j])})"
            for j in i
        ],
        "correct the coordinates or the ZIP (or clear the ZIP)",
    )
    return zips, approx, given


# ------------------------------------------------------------------------- columns


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _rows_text(rows: Sequence[object], limit: int = 20) -> str:
    head = ", ".join(str(r) for r in rows[:limit])
    return head + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _check_ids(
    frame: pd.DataFrame,
    src: Mapping[str, str],
    col: _Collector,
    *,
    canonical: str,
    kind: Kind,
    what: str,
) -> pd.Series:
    c = src.get(canonical)
    if c is None:
        col.missing(canonical, [str(x) for x in frame.columns], kind, f"a unique id per {what}")
        return pd.Series(np.full(len(frame), np.nan), dtype="str")
    ids = _text(frame[c])
    blank = ids.isna().to_numpy(dtype=bool)
    col.add(blank, c, frame[c], f"{canonical} is blank", f"give every {what} a unique id")
    later = ids.duplicated(keep="first").to_numpy(dtype=bool) & ~blank
    if later.any():
        idx = np.flatnonzero(ids.duplicated(keep=False).to_numpy(dtype=bool) & ~blank)
        groups = pd.Series(col.rows[idx]).groupby(ids.iloc[idx].to_numpy(dtype=object)).agg(list)
        col.add(
            later,
            c,
            frame[c],
            lambda i: [
                f"{canonical} {ids.iloc[j]!r} is used by more than one row "
                f"(rows {_rows_text(groups[ids.iloc[j]])})"
                for j in i
            ],
            f"give each {what} its own id, or delete the duplicate rows",
        )
    return ids


def _check_number(
    frame: pd.DataFrame,
    c: str | None,
    col: _Collector,
    *,
    decimal_comma: bool,
    positive: bool = False,
    high: float | None = None,
    example: str = "12",
) -> np.ndarray:
    """Parse a non-negative (or positive) number column, optionally capped at ``high``."""
    if c is None:
        return np.full(len(frame), np.nan)
    raw = frame[c]
    vals, bad, _ = _to_float(raw, decimal_comma=decimal_comma)
    col.add(bad, c, raw, "not a number", f"write a plain number, e.g. {example}")
    with np.errstate(invalid="ignore"):
        low = vals <= 0 if positive else vals < 0
        col.add(
            low,
            c,
            raw,
            "must be greater than 0" if positive else "must not be negative",
            f"write a {'positive' if positive else 'non-negative'} number, e.g. {example}",
        )
        if high is not None:
            col.add(
                vals > high,
                c,
                raw,
                f"more than {high:g}, the hours in a month",
                "write hours per month, not per year",
            )
    return vals


def _check_win_rate(
    frame: pd.DataFrame, c: str | None, col: _Collector, *, decimal_comma: bool
) -> np.ndarray:
    if c is None:
        return np.full(len(frame), np.nan)
    raw = frame[c]
    vals, bad, pct = _to_float(raw, decimal_comma=decimal_comma, percent=True)
    fix = "write a fraction such as 0.35 or a percentage such as 35%"
    col.add(bad, c, raw, "win_rate is not a number", fix)
    plain = np.isfinite(vals) & ~pct
    pv = vals[plain]
    if pv.size and 1 < pv.max() <= 100 and pv.min() >= 0 and (pv > 1).sum() >= (pv > 0).sum() / 2:
        vals[plain] = pv / 100.0
        col.notes.append(f"'{c}' holds percentages (largest {pv.max():g}); divided by 100.")
    with np.errstate(invalid="ignore"):
        col.add((vals < 0) | (vals > 1), c, raw, "win_rate must be between 0 and 1", fix)
    return vals


def _check_lookup(
    frame: pd.DataFrame,
    c: str | None,
    col: _Collector,
    table: Mapping[str, object],
    *,
    message: str,
    fix: str,
) -> tuple[np.ndarray, list[object]]:
    """Map a categorical column; returns ``(codes, mapped distinct values)``."""
    if c is None:
        return np.full(len(frame), -1, dtype=np.intp), []
    codes, mapped, bad = _lookup(frame[c], table)
    col.add(bad, c, frame[c], message, fix)
    return codes, mapped


def _check_owner(
    frame: pd.DataFrame, c: str | None, col: _Collector, rep_ids: Collection[str] | None
) -> pd.Series:
    if c is None:
        return pd.Series(np.full(len(frame), np.nan), dtype="str")
    owner = _text(frame[c], na_tokens=True)
    if rep_ids is None:
        return owner
    roster = sorted({str(r).strip() for r in rep_ids})
    codes, uniques = pd.factorize(owner)
    unknown_u = ~pd.Index(uniques).isin(roster)
    bad = np.append(unknown_u, False)[codes]
    names = np.asarray(uniques, dtype=object)

    def fixes(i: np.ndarray) -> list[str]:
        out = []
        for j in i:
            near = _nearest(str(names[codes[j]]), roster)
            hint = f"did you mean '{near}'? " if near else ""
            out.append(
                f"{hint}use a rep_id from the roster ({_rows_text(roster, 8)}) or leave it blank"
            )
        return out

    col.add(bad, c, frame[c], "owner is not a rep_id in the rep roster", fixes)
    return owner


def _nearest(value: str, options: Sequence[str]) -> str | None:
    import difflib

    near = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return near[0] if near else None


def _check_date(
    frame: pd.DataFrame, c: str | None, col: _Collector, *, future_ok: bool
) -> np.ndarray:
    if c is None:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[ns]")
    raw = frame[c]
    vals, bad, early, late = _to_datetime(raw)
    col.add(bad, c, raw, "not a date", "write dates as YYYY-MM-DD, e.g. 2024-05-31")
    col.add(early, c, raw, "date before 1900", "check the year, or leave the cell blank")
    if future_ok:
        col.add(late, c, raw, "date after 2200", "check the year, or leave the cell blank")
    else:
        tomorrow = np.datetime64(pd.Timestamp.now("UTC").tz_localize(None) + pd.Timedelta(days=1))
        col.add(
            late | (vals > tomorrow),
            c,
            raw,
            "date is in the future",
            "check the date; the last activity cannot be later than today",
        )
    return vals


def _check_bool(frame: pd.DataFrame, c: str | None, col: _Collector) -> np.ndarray:
    if c is None:
        return np.zeros(len(frame), dtype=bool)
    vals, bad = _to_bool(frame[c])
    col.add(
        bad, c, frame[c], "not a yes/no value", "use true/false, yes/no or 1/0 (blank means false)"
    )
    return vals


# -------------------------------------------------------------------------- tables


def _start(
    frame: pd.DataFrame,
    rows: np.ndarray | None,
    kind: Kind,
    column_map: Mapping[str, str | None] | None,
    limit: int,
) -> tuple[pd.DataFrame, _Collector, ColumnMatch, dict[str, str]]:
    frame = frame.reset_index(drop=True)
    rows = np.arange(2, len(frame) + 2) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows) != len(frame):
        raise ValueError(f"rows has {len(rows)} entries for {len(frame)} frame rows")
    col = _Collector(rows, limit)
    match = match_columns(frame.columns, kind=kind, column_map=column_map)
    col.file.extend(match.problems)
    col.notes.extend(match.notes)
    return frame, col, match, {canonical: c for c, canonical in match.mapping.items()}


def _finish(
    frame: pd.DataFrame,
    data: dict[str, object],
    kind: Kind,
    col: _Collector,
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
            result[str(c)] = frame[c].to_numpy()
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
    ids = _check_ids(frame, src, col, canonical="account_id", kind="accounts", what="account")
    where = _Where("lat", "lon", "zip", "account")
    lat, lon, zips, approx = _check_location(
        frame, src, col, where, kind="accounts", decimal_comma=decimal_comma
    )
    seg_codes, seg = _check_lookup(
        frame,
        src.get("segment"),
        col,
        SEGMENT_ALIASES,
        message="unknown segment",
        fix="use SMB, MM or ENT (or leave it blank)",
    )
    tier_codes, tiers = _check_lookup(
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
        "name": _optional_text(frame, src.get("name")),
        "lat": lat,
        "lon": lon,
        "zip": zips,
        "approximate": approx | _check_bool(frame, src.get("approximate"), col),
        "industry": _optional_text(frame, src.get("industry"), na_tokens=True),
        "segment": _take(seg_codes, seg, None, "object"),
        "employees": _check_number(
            frame, src.get("employees"), col, decimal_comma=dc, example="250"
        ),
        "acv": _check_number(frame, src.get("acv"), col, decimal_comma=dc, example="12000"),
        "win_rate": _check_win_rate(frame, src.get("win_rate"), col, decimal_comma=dc),
        "tier": _take(tier_codes, [np.nan if t is None else t for t in tiers], np.nan, "float64"),
        "workload_hours": _check_number(
            frame,
            src.get("workload_hours"),
            col,
            decimal_comma=dc,
            high=HOURS_PER_MONTH_MAX,
            example="4.5",
        ),
        "owner": _check_owner(frame, src.get("owner"), col, rep_ids),
        "last_activity": _check_date(frame, src.get("last_activity"), col, future_ok=False),
        "locked": _check_bool(frame, src.get("locked"), col),
    }
    if approx.any():
        col.notes.append(
            f"{_count(int(approx.sum()), 'account')} placed at ZIP centroids (approximate)."
        )
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
    ids = _check_ids(frame, src, col, canonical="rep_id", kind="reps", what="rep")
    where = _Where("home_lat", "home_lon", "home_zip", "rep home")
    lat, lon, zips, approx = _check_location(
        frame, src, col, where, kind="reps", decimal_comma=decimal_comma
    )
    name = _optional_text(frame, src.get("name"))
    no_name = name.isna() & ids.notna()
    if no_name.any():
        name = name.where(~no_name, ids)
        col.notes.append(
            f"{_count(int(no_name.sum()), 'rep')} without a name; the rep_id is shown."
        )
    capacity = _check_number(
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
            f"{_count(int(unset.sum()), 'rep')} without capacity_hours; the default "
            f"{DEFAULT_CAPACITY_HOURS:g} hours/month is used."
        )
    seg_codes, seg = _check_lookup(
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
        "approximate": approx | _check_bool(frame, src.get("approximate"), col),
        "capacity_hours": capacity,
        "segment": _take(seg_codes, [s or None for s in seg], None, "object"),
        "industries": _industries(frame, src.get("industries")),
        "start_date": _check_date(frame, src.get("start_date"), col, future_ok=True),
    }
    if approx.any():
        col.notes.append(
            f"{_count(int(approx.sum()), 'rep home')} placed at ZIP centroids (approximate)."
        )
    return _finish(frame, data, "reps", col, match, keep_extra)


def _optional_text(frame: pd.DataFrame, c: str | None, *, na_tokens: bool = False) -> pd.Series:
    if c is None:
        return pd.Series(np.full(len(frame), np.nan), dtype="str")
    return _text(frame[c], na_tokens=na_tokens)


def _industries(frame: pd.DataFrame, c: str | None) -> np.ndarray:
    if c is None:
        return np.full(len(frame), None, dtype=object)
    codes, texts = _factor(frame[c])
    joined = []
    for t in texts:
        parts = [p.strip() for p in re.split(r"[;,|/]", t or "") if p.strip()]
        joined.append(";".join(dict.fromkeys(parts)) or None)
    return _take(codes, joined, None, "object")


def format_report(
    problems: Sequence[Problem], *, source: str | None = None, row_label: str = "row"
) -> str:
    """Problems as plain text, one line per problem, with a count first.

    Parameters
    ----------
    problems
        The problems, e.g. ``InputError.problems`` or ``LoadResult.dropped``.
    source
        File name for the heading.
    row_label
        What row numbers count: ``"row"`` (header = row 1), ``"feature"`` (GeoJSON /
        GeoPackage) or ``"record"`` (Parquet).
    """
    n = len(problems)
    head = f"{source}: " if source else ""
    lines = [f"{head}{n} problem{'s' if n != 1 else ''} found" if n else f"{head}no problems"]
    for p in problems:
        where = [f"{row_label} {p.row}"] if p.row is not None else []
        where += [f"column '{p.column}'"] if p.column is not None else []
        value = f" (value: {p.value!r})" if p.value is not None else ""
        lines.append(f"  {', '.join(where) or 'file'}: {p.message}{value}. Fix: {p.fix}")
    return "\n".join(lines)
