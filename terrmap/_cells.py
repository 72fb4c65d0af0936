"""Cell parsers of the input checks: text, numbers, percentages, coordinates, dates, booleans.

Every parser takes a whole column (any dtype: text from CSV, native types from Excel,
Parquet or a DataFrame) and returns NumPy arrays: the values plus boolean masks of
the cells that could not be read. Slow parsing only runs on the cells the vectorised
fast path rejects, and per-value Python work only on *distinct* values
(:func:`factor`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from terrmap.schema import BOOL_FALSE, BOOL_TRUE, normalize_header

__all__ = [
    "NA_TOKENS",
    "blank",
    "cell_text",
    "cells_text",
    "factor",
    "hhmm",
    "lookup",
    "missing_text",
    "parse_coordinate",
    "parse_time",
    "take",
    "take_text",
    "text",
    "to_bool",
    "to_coordinate",
    "to_datetime",
    "to_float",
    "to_time",
]

#: Cell spellings read as blank in value columns ("NA", "-", "null", ...), lower case.
NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "-", "--", "nat"})
_NUM_RE = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
_DMS_RE = re.compile(
    r"^\s*([+-]?\d+(?:\.\d+)?)\s*[°d:\s]\s*(?:(\d+(?:\.\d+)?)\s*['′m:\s]\s*)?"
    r"(?:(\d+(?:\.\d+)?)\s*(?:[\"″s]|'')?\s*)?([NSEWnsew])?\s*$"
)
_TIME_RE = re.compile(
    r"^\s*(\d{1,2})(?:[:.h](\d{2})(?::(\d{2}))?)?\s*(?:([ap])\.?\s*m?\.?)?\s*$", re.IGNORECASE
)
_HEMI_RE = re.compile(r"^\s*([NSEWnsew])?\s*([+-]?\d+(?:\.\d+)?)\s*°?\s*([NSEWnsew])?\s*$")


def cell_text(value: object) -> str | None:
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
    stripped = str(value).strip()
    return stripped or None


def cells_text(raw: pd.Series, idx: np.ndarray) -> list[str | None]:
    """The cells at positions ``idx`` as text ("" when blank), for problem listings."""
    return [(cell_text(v) or "") for v in raw.iloc[idx].tolist()]


def factor(raw: pd.Series, *, na_tokens: bool = True) -> tuple[np.ndarray, list[str | None]]:
    """Codes and the distinct values as text (blank -> None; also "NA", "-", ... if asked).

    Code -1 marks a missing cell (pick it with :func:`take`'s ``fill``).
    """
    codes, uniques = pd.factorize(raw)
    if isinstance(raw.dtype, pd.StringDtype):  # text cells: no per-value type dispatch
        texts: list[str | None] = [u.strip() or None for u in uniques.tolist()]
    else:
        texts = [cell_text(u) for u in np.asarray(uniques, dtype=object)]
    if not na_tokens:
        return codes, texts
    return codes, [t if t is None or t.lower() not in NA_TOKENS else None for t in texts]


def take(
    codes: np.ndarray, values: Sequence[object] | np.ndarray, fill: object, dtype: str
) -> np.ndarray:
    """``values[codes]`` as an array of ``dtype``; code -1 picks ``fill``."""
    table = np.concatenate([np.asarray(values, dtype=dtype), np.asarray([fill], dtype=dtype)])
    out: np.ndarray = table[codes]  # code -1 picks the trailing fill
    return out


def missing_text(n: int) -> pd.Series:
    """``n`` missing values as a ``str`` Series (for a column the file does not have)."""
    return pd.Series(index=pd.RangeIndex(n), dtype="str")


def take_text(codes: np.ndarray, values: Sequence[str | None] | pd.Series) -> pd.Series:
    """``values[codes]`` as a ``str`` Series; None/NA and code -1 give a missing value."""
    array = values.array if isinstance(values, pd.Series) else pd.array(list(values), dtype="str")
    return pd.Series(array.take(codes, allow_fill=True), copy=False)


def text(raw: pd.Series, *, na_tokens: bool = False) -> pd.Series:
    """Stripped text (pandas ``str`` dtype), NaN where blank; ids keep leading zeros.

    With ``na_tokens``, "NA", "N/A", "-", "none", ... are blank too (owners, industries);
    ids and names are kept exactly as written.
    """
    if isinstance(raw.dtype, pd.StringDtype):
        s = raw.str.strip()
        if na_tokens:
            codes, uniques = pd.factorize(s)
            is_na = np.append(pd.Index(uniques).str.lower().isin(list(NA_TOKENS)), True)
            return s.where(~is_na[codes])
        return s.where(s != "")
    if raw.dtype.kind in "iu":
        return raw.astype("str")
    codes, texts = factor(raw, na_tokens=na_tokens)
    return take_text(codes, texts).set_axis(raw.index)


def blank(raw: pd.Series) -> np.ndarray:
    """True where a cell is empty or a blank-like token ("NA", "-", ...)."""
    if isinstance(raw.dtype, pd.StringDtype):
        s = raw.str.strip().str.lower()
        return np.asarray(s.isna() | s.isin(list(NA_TOKENS)), dtype=bool)
    return np.asarray(raw.isna(), dtype=bool)


def _clean_number_text(s: pd.Series, *, decimal_comma: bool) -> pd.Series:
    s = s.str.replace(r"[\s\u00a0\u202f$€£¥]", "", regex=True)
    if decimal_comma:
        s = s.str.replace(r"\.(?=\d{3}(?:\D|$))", "", regex=True).str.replace(",", ".")
    else:
        grouped = s.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?").fillna(False).astype(bool)
        s = s.where(~grouped, s.str.replace(",", ""))
    return s


def _plain_numbers(texts: pd.Series) -> np.ndarray:
    """Cells that are plain decimal numbers, parsed by Arrow; NaN elsewhere."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(texts, from_pandas=True)
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.large_string())
    try:  # the common case: every cell is a clean number or empty
        return np.array(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    except pa.ArrowInvalid:
        pass
    plain = pc.match_substring_regex(arr, _NUM_RE)
    trimmed = pc.utf8_trim_whitespace(arr)
    values = pc.cast(pc.if_else(plain, trimmed, pa.scalar(None, trimmed.type)), pa.float64())
    return np.array(values.to_numpy(zero_copy_only=False), dtype=float)


def to_float(
    raw: pd.Series, *, decimal_comma: bool = False, percent: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse numbers. Returns ``(values, bad, percent_mask)``; blank cells are NaN.

    Besides plain numbers, ``"$1,250.50"`` and (with ``decimal_comma``) ``"1.250,5"``
    are read; with ``percent``, ``"35%"`` is 0.35 and flagged in ``percent_mask``.
    """
    n = len(raw)
    no = np.zeros(n, dtype=bool)
    if raw.dtype.kind in "biuf" or isinstance(raw.dtype, pd.BooleanDtype):
        if raw.dtype.kind == "b" or isinstance(raw.dtype, pd.BooleanDtype):
            return np.full(n, np.nan), np.asarray(raw.notna(), dtype=bool), no
        vals = np.array(raw.to_numpy(dtype=float, na_value=np.nan), dtype=float)
        return vals, np.isinf(vals), no
    texts = raw.astype("str") if not isinstance(raw.dtype, pd.StringDtype) else raw
    vals = _plain_numbers(texts)
    bad = np.isnan(vals) & np.asarray(texts.notna(), dtype=bool)
    if bad.any():  # blank-like tokens ("NA", "-", "  ") are blank, not bad
        idx = np.flatnonzero(bad)
        bad[idx] = ~blank(texts.iloc[idx])
    pct = no.copy()
    if bad.any():
        idx = np.flatnonzero(bad)
        sub = texts.iloc[idx].str.strip()
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


def parse_coordinate(value: str, axis: str) -> float:
    """Parse ``40.7 N``, ``74°0'21.6"W`` and the like; NaN when not a coordinate.

    ``axis`` is ``"lat"`` or ``"lon"``: a hemisphere letter of the other axis is an error.
    """
    for rx, groups in ((_HEMI_RE, None), (_DMS_RE, True)):
        m = rx.match(value)
        if not m:
            continue
        if groups is None:
            hemi = (m.group(1) or m.group(3) or "").upper()
            number = float(m.group(2))
        else:
            deg, mins, secs, hemi = m.group(1), m.group(2), m.group(3), (m.group(4) or "").upper()
            sign = -1.0 if deg.startswith("-") else 1.0
            number = sign * (abs(float(deg)) + float(mins or 0) / 60 + float(secs or 0) / 3600)
        if hemi and hemi not in ("NS" if axis == "lat" else "EW"):
            return float("nan")
        return -abs(number) if hemi in ("S", "W") else number
    return float("nan")


def to_coordinate(
    raw: pd.Series, axis: str, *, decimal_comma: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a coordinate column (decimal, hemisphere letters or DMS): ``(values, bad)``."""
    vals, bad, _ = to_float(raw, decimal_comma=decimal_comma)
    if bad.any() and raw.dtype.kind not in "biuf":
        idx = np.flatnonzero(bad)
        parsed = np.array([parse_coordinate(t or "", axis) for t in cells_text(raw, idx)])
        vals[idx] = parsed
        bad[idx] = np.isnan(parsed)
    return vals, bad


def to_datetime(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
    codes, texts = factor(raw)
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


def parse_time(value: str) -> float:
    """Minutes after midnight of a time of day; NaN when it is not one.

    Accepts ``9:30``, ``09:30:00``, ``9.30``, ``9h30``, ``9:30 am``, ``2 pm``, ``14``
    and a spreadsheet's fraction of a day (``0.375`` = 09:00).

    >>> parse_time("2:30 pm"), parse_time("0.375"), parse_time("25:00")
    (870.0, 540.0, nan)
    """
    m = _TIME_RE.match(value)
    if m is None:
        try:
            fraction = float(value)
        except ValueError:
            return float("nan")
        return round(fraction * 1440.0, 3) if 0.0 <= fraction < 1.0 else float("nan")
    hour, minute, second = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if m[4]:  # 12-hour clock
        if not 1 <= hour <= 12:
            return float("nan")
        hour = hour % 12 + (12 if m[4].lower() == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return float("nan")
    return hour * 60.0 + minute + second / 60.0


def hhmm(minutes: float) -> str:
    """Minutes after midnight as ``"HH:MM"`` (rounded to the minute).

    >>> hhmm(570.4)
    '09:30'
    """
    whole = min(round(minutes), 1439)  # 23:59:59 is 23:59, not 24:00
    return f"{whole // 60:02d}:{whole % 60:02d}"


def to_time(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Times of day as minutes after midnight (distinct values only): ``(values, bad)``."""
    codes, texts = factor(raw)
    minutes = [float("nan") if t is None else parse_time(t) for t in texts]
    bad = [t is not None and np.isnan(v) for t, v in zip(texts, minutes, strict=True)]
    return take(codes, minutes, np.nan, "float64"), take(codes, bad, False, "bool")


def to_bool(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse yes/no cells (true/false, yes/no, 1/0, x, ...): ``(values, bad)``; blank is False."""
    if raw.dtype.kind == "b":
        values = np.array(raw.to_numpy(dtype=bool, na_value=False), dtype=bool)
        return values, np.zeros(len(raw), dtype=bool)
    codes, texts = factor(raw)
    keys = [None if t is None else t.lower().removesuffix(".0") for t in texts]
    truth = [k in BOOL_TRUE for k in keys]
    bad = [k is not None and k not in BOOL_TRUE and k not in BOOL_FALSE for k in keys]
    return take(codes, truth, False, "bool"), take(codes, bad, False, "bool")


def lookup(
    raw: pd.Series, table: Mapping[str, object]
) -> tuple[np.ndarray, list[object], np.ndarray]:
    """Map normalised distinct values through ``table``: ``(codes, mapped, bad)``."""
    codes, texts = factor(raw)
    keys = [None if t is None else normalize_header(t.removesuffix(".0")) for t in texts]
    mapped = [None if k is None else table.get(k) for k in keys]
    bad_u = [k is not None and m is None for k, m in zip(keys, mapped, strict=True)]
    return codes, mapped, take(codes, bad_u, False, "bool")
