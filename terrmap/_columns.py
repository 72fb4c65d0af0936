"""Checks of the non-location columns: ids, numbers, win rates, categories, owners, dates.

Each check parses one column of the raw table (``c`` is the file's column feeding the
canonical one, None when the file has none), reports its defects to the
:class:`~terrmap._problems.Collector` and returns the parsed values, NaN/NA/NaT
where a cell is blank or bad.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from terrmap._cells import (
    factor,
    hhmm,
    lookup,
    missing_text,
    take_text,
    text,
    to_bool,
    to_datetime,
    to_float,
    to_time,
)
from terrmap._problems import Collector, rows_text
from terrmap.schema import Kind

__all__ = [
    "check_bool",
    "check_date",
    "check_ids",
    "check_lookup",
    "check_number",
    "check_owner",
    "check_visit_window",
    "check_win_rate",
    "industries",
    "optional_text",
]


def check_ids(
    frame: pd.DataFrame,
    src: Mapping[str, str],
    col: Collector,
    *,
    canonical: str,
    kind: Kind,
    what: str,
) -> pd.Series:
    """The id column as text: blank and repeated ids are problems (the first one stays)."""
    c = src.get(canonical)
    if c is None:
        col.missing(canonical, [str(x) for x in frame.columns], kind, f"a unique id per {what}")
        return missing_text(len(frame))
    ids = text(frame[c])
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
                f"(rows {rows_text(groups[ids.iloc[j]])})"
                for j in i
            ],
            f"give each {what} its own id, or delete the duplicate rows",
        )
    return ids


def check_number(
    frame: pd.DataFrame,
    c: str | None,
    col: Collector,
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
    vals, bad, _ = to_float(raw, decimal_comma=decimal_comma)
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


def check_win_rate(
    frame: pd.DataFrame, c: str | None, col: Collector, *, decimal_comma: bool
) -> np.ndarray:
    """Win rates as fractions 0..1 (``35%`` and an all-percent column are scaled)."""
    if c is None:
        return np.full(len(frame), np.nan)
    raw = frame[c]
    vals, bad, pct = to_float(raw, decimal_comma=decimal_comma, percent=True)
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


def check_lookup(
    frame: pd.DataFrame,
    c: str | None,
    col: Collector,
    table: Mapping[str, object],
    *,
    message: str,
    fix: str,
) -> tuple[np.ndarray, list[object]]:
    """Map a categorical column; returns ``(codes, mapped distinct values)``."""
    if c is None:
        return np.full(len(frame), -1, dtype=np.intp), []
    codes, mapped, bad = lookup(frame[c], table)
    col.add(bad, c, frame[c], message, fix)
    return codes, mapped


def check_owner(
    frame: pd.DataFrame, c: str | None, col: Collector, rep_ids: Collection[str] | None
) -> pd.Series:
    """Owners as text; with a roster, an owner that is not a rep_id is a problem."""
    if c is None:
        return missing_text(len(frame))
    owner = text(frame[c], na_tokens=True)
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
                f"{hint}use a rep_id from the roster ({rows_text(roster, 8)}) or leave it blank"
            )
        return out

    col.add(bad, c, frame[c], "owner is not a rep_id in the rep roster", fixes)
    return owner


def _nearest(value: str, options: Sequence[str]) -> str | None:
    import difflib

    near = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return near[0] if near else None


def check_date(
    frame: pd.DataFrame, c: str | None, col: Collector, *, future_ok: bool
) -> np.ndarray:
    """Dates as ``datetime64[ns]``; before 1900 and (unless ``future_ok``) future are bad."""
    if c is None:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[ns]")
    raw = frame[c]
    vals, bad, early, late = to_datetime(raw)
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


def check_visit_window(
    frame: pd.DataFrame, src: Mapping[str, str], col: Collector
) -> tuple[pd.Series, pd.Series]:
    """``visit_from`` / ``visit_until`` as ``"HH:MM"`` text; a reversed window is a problem."""
    minutes = {}
    for name in ("visit_from", "visit_until"):
        c = src.get(name)
        if c is None:
            minutes[name] = np.full(len(frame), np.nan)
            continue
        vals, bad = to_time(frame[c])
        col.add(bad, c, frame[c], "not a time of day", "write times as HH:MM, e.g. 09:30 or 14:00")
        minutes[name] = vals
    opens, closes = minutes["visit_from"], minutes["visit_until"]
    if "visit_until" in src:
        col.add(
            opens > closes,
            src["visit_until"],
            frame[src["visit_until"]],
            lambda i: [f"visit window closes before it opens ({hhmm(opens[j])})" for j in i],
            "swap visit_from and visit_until, or leave one blank",
        )
        closes = np.where(opens > closes, np.nan, closes)
    return _hhmm_series(opens), _hhmm_series(closes)


def _hhmm_series(minutes: np.ndarray) -> pd.Series:
    known = ~np.isnan(minutes)
    out = missing_text(minutes.size)
    out[known] = [hhmm(m) for m in minutes[known]]
    return out


def check_bool(frame: pd.DataFrame, c: str | None, col: Collector) -> np.ndarray:
    """Yes/no flags; blank is False."""
    if c is None:
        return np.zeros(len(frame), dtype=bool)
    vals, bad = to_bool(frame[c])
    col.add(
        bad, c, frame[c], "not a yes/no value", "use true/false, yes/no or 1/0 (blank means false)"
    )
    return vals


def optional_text(frame: pd.DataFrame, c: str | None, *, na_tokens: bool = False) -> pd.Series:
    """A free-text column (name, industry), stripped; NA where blank or absent."""
    if c is None:
        return missing_text(len(frame))
    return text(frame[c], na_tokens=na_tokens)


def industries(frame: pd.DataFrame, c: str | None) -> pd.Series:
    """A rep's industries, split on ``; , | /`` and joined with ``;`` (repeats dropped)."""
    if c is None:
        return missing_text(len(frame))
    codes, texts = factor(frame[c])
    joined = []
    for t in texts:
        parts = [p.strip() for p in re.split(r"[;,|/]", t or "") if p.strip()]
        joined.append(";".join(dict.fromkeys(parts)) or None)
    return take_text(codes, joined)
