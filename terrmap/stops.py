"""Candidate stops for a route: located, timed, valued and pre-checked.

Turns an accounts frame into the stops the sequencer sees (home is node 0, stop ``k`` is
node ``k + 1``): coordinates, service minutes, priority and time window in minutes from
the shift start. Stops that no day could serve even on their own (no location, no road
connection, a window out of reach, a visit longer than the shift allows) are dropped
*before* solving, each with its reason; after solving, :func:`explain_drops` turns the
sequencer's diagnosis into sentences a rep understands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from terrmap._columns import check_visit_window
from terrmap._problems import Collector
from terrmap.errors import InputError, Problem, TerrmapError
from terrmap.network import RoadNetwork, snap_points
from terrmap.sequencing import Instance, explain_dropped
from terrmap.travel import Travel, pair_minutes
from terrmap.validate import MAX_PROBLEMS_PER_CHECK
from terrmap.visits import DayConfig, visit_priority

__all__ = [
    "DroppedStop",
    "ReasonCode",
    "Stops",
    "Windows",
    "account_windows",
    "candidate_stops",
    "check_accounts",
    "drop_infeasible",
    "explain_drops",
    "snap_warnings",
    "to_instance",
    "window_labels",
]

ReasonCode = Literal["no_location", "unreachable", "time_window", "no_time", "priority", "detour"]
#: ``{account_id: (open, close)}``: the visit must start inside the window.
Windows = Mapping[str, tuple[dt.time, dt.time]]


@dataclass(frozen=True)
class DroppedStop:
    """A candidate that was not scheduled, and why."""

    account_id: str
    code: ReasonCode
    reason: str
    priority: float
    extra_min: float | None = None


def check_accounts(accounts: pd.DataFrame) -> None:
    missing = [c for c in ("account_id", "lat", "lon") if c not in accounts.columns]
    if missing:
        raise InputError(
            [Problem(None, c, None, "column missing", f"add a '{c}' column") for c in missing],
            source="accounts",
        )
    dup = accounts["account_id"].astype(str).duplicated(keep=False)
    if dup.any():
        ids = sorted(set(accounts.loc[dup, "account_id"].astype(str)))[:10]
        raise InputError(
            [
                Problem(
                    None, "account_id", ", ".join(ids), "duplicate account ids", "make ids unique"
                )
            ],
            source="accounts",
        )


@dataclass(frozen=True)
class Stops:
    """Candidate stops in solver order (stop ``k`` is node ``k + 1``; node 0 is home).

    ``open_min`` / ``close_min`` are minutes from the shift start (``-inf`` / ``inf`` for
    no window); ``visit`` numbers repeated visits of one account in a week (1, 2, ...).
    """

    ids: list[str]
    names: list[str | None]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    service_min: npt.NDArray[np.float64]
    priority: npt.NDArray[np.float64]
    open_min: npt.NDArray[np.float64]
    close_min: npt.NDArray[np.float64]
    visit: npt.NDArray[np.int64]

    def take(self, keep: npt.NDArray[np.int64]) -> Stops:
        """The stops at positions ``keep``, in that order."""
        return Stops(
            ids=[self.ids[i] for i in keep],
            names=[self.names[i] for i in keep],
            **{
                f: getattr(self, f)[keep]
                for f in ("lat", "lon", "service_min", "priority", "open_min", "close_min", "visit")
            },
        )


def _window_text(shift_start: dt.datetime, lo: float, hi: float) -> str:
    if not np.isfinite(lo):
        return f"before {_clock(shift_start, hi)}"
    if not np.isfinite(hi):
        return f"after {_clock(shift_start, lo)}"
    return f"between {_clock(shift_start, lo)} and {_clock(shift_start, hi)}"


def _clock(shift_start: dt.datetime, minutes: float) -> str:
    return (shift_start + dt.timedelta(minutes=float(minutes))).strftime("%H:%M")


def _window_minutes(
    ids: list[str], windows: Windows | None, start: dt.time
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    lo, hi = np.full(len(ids), -np.inf), np.full(len(ids), np.inf)
    if not windows:
        return lo, hi
    unknown = sorted(set(windows) - set(ids))
    bad = sorted(k for k, (a, b) in windows.items() if a > b)
    problems = (
        [
            Problem(
                None,
                "windows",
                ", ".join(unknown[:10]),
                "time windows for unknown accounts",
                "give windows only for the candidate accounts",
            )
        ]
        if unknown
        else []
    )
    problems += [
        Problem(None, "windows", k, "window opens after it closes", "swap open and close")
        for k in bad
    ]
    if problems:
        raise InputError(problems, source="time windows")
    base = dt.datetime.combine(dt.date.min, start)
    pos = {a: i for i, a in enumerate(ids)}
    for k, (a, b) in windows.items():
        lo[pos[k]] = (dt.datetime.combine(dt.date.min, a) - base).total_seconds() / 60.0
        hi[pos[k]] = (dt.datetime.combine(dt.date.min, b) - base).total_seconds() / 60.0
    return lo, hi


def account_windows(accounts: pd.DataFrame) -> dict[str, tuple[dt.time, dt.time]]:
    """Visit windows from the accounts' ``visit_from`` / ``visit_until`` columns.

    A blank side leaves that side open (midnight / 23:59). Accounts without either
    column, or with both blank, have no window.

    Raises
    ------
    InputError
        A cell that is not a time of day, or a window closing before it opens.
    """
    src = {c: c for c in ("visit_from", "visit_until") if c in accounts.columns}
    if not src:
        return {}
    # The loader's own check: the same parsing, messages and row numbers as a file gets.
    col = Collector(np.arange(2, len(accounts) + 2), MAX_PROBLEMS_PER_CHECK)
    opens, closes = check_visit_window(accounts.reset_index(drop=True), src, col)
    if col.problems:
        raise InputError(col.problems, source="visit windows")
    ids = accounts["account_id"].astype(str).to_numpy()
    given = (opens.notna() | closes.notna()).to_numpy()
    lo, hi = opens.fillna("00:00").to_numpy(str), closes.fillna("23:59").to_numpy(str)
    return {ids[i]: (dt.time.fromisoformat(lo[i]), dt.time.fromisoformat(hi[i]))
            for i in np.flatnonzero(given)}  # fmt: skip


def window_labels(accounts: pd.DataFrame) -> pd.Series:
    """Each account's visit window as text ("08:00-11:30", "from 10:00", "until 14:00", "").

    Indexed like ``accounts``; see :func:`account_windows` for what the columns mean.
    """
    ids = accounts["account_id"].astype(str)
    labels = {}
    for aid, (a, b) in account_windows(accounts).items():
        if b >= dt.time(23, 59):
            labels[aid] = f"from {a:%H:%M}"
        elif a == dt.time(0, 0):
            labels[aid] = f"until {b:%H:%M}"
        else:
            labels[aid] = f"{a:%H:%M}-{b:%H:%M}"
    return ids.map(lambda aid: labels.get(aid, ""))


def candidate_stops(
    accounts: pd.DataFrame,
    date: dt.date,
    c: DayConfig,
    windows: Windows | None,
    priority: pd.Series | None,
    start: dt.time,
) -> tuple[Stops, list[DroppedStop], list[str]]:
    """All located accounts as stops, highest priority first; unlocated ones dropped.

    ``windows=None`` takes the accounts' own visit windows (:func:`account_windows`).
    """
    info = visit_priority(accounts, date=date, config=c)
    pri = info["priority"] if priority is None else pd.to_numeric(priority).reindex(accounts.index)
    ids = accounts["account_id"].astype(str).tolist()
    lat = pd.to_numeric(accounts["lat"], errors="coerce").to_numpy(float, na_value=np.nan)
    lon = pd.to_numeric(accounts["lon"], errors="coerce").to_numpy(float, na_value=np.nan)
    names = (
        accounts["name"].astype(object).where(accounts["name"].notna(), None).tolist()
        if ("name" in accounts)
        else [None] * len(ids)
    )
    given = account_windows(accounts) if windows is None else windows
    open_min, close_min = _window_minutes(ids, given, start)
    p = pri.fillna(0.0).to_numpy(float)
    located = np.isfinite(lat) & np.isfinite(lon)
    dropped = [
        DroppedStop(ids[i], "no_location", "no location: latitude/longitude missing", float(p[i]))
        for i in np.flatnonzero(~located)
    ]
    warnings = []
    if "approximate" in accounts:
        approx = accounts["approximate"].fillna(False).to_numpy(bool) & located
        if approx.any():
            warnings.append(
                f"{int(approx.sum())} stop(s) are placed at ZIP centroids, so their drive "
                "times are approximate"
            )
    everything = Stops(
        ids,
        names,
        lat,
        lon,
        info["service_min"].to_numpy(float),
        p,
        open_min,
        close_min,
        np.ones(len(ids), dtype=np.int64),
    )
    order = np.flatnonzero(located)
    order = order[np.lexsort((np.array(ids, dtype=object)[order], -p[order]))]
    return everything.take(order), dropped, warnings


def drop_infeasible(
    stops: Stops,
    home: tuple[float, float],
    horizons: Sequence[float],
    travel: Travel,
    c: DayConfig,
    shift_start: dt.datetime,
) -> tuple[Stops, list[DroppedStop]]:
    """Drop stops no day can serve even alone; keep the best ``max_candidates`` of the rest.

    Raises
    ------
    TerrmapError
        When home lies outside the road network (farther than ``c.max_snap_m``).
    """
    n = len(stops.ids)
    pts_lat, pts_lon = np.r_[home[0], stops.lat], np.r_[home[1], stops.lon]
    outside = _outside_network(travel, pts_lat, pts_lon, c.max_snap_m, home)
    idx = np.arange(1, n + 1)
    out = pair_minutes(travel, pts_lat, pts_lon, np.zeros(n, np.int64), idx)
    back = pair_minutes(travel, pts_lat, pts_lon, idx, np.zeros(n, np.int64))
    out[outside > 0], back[outside > 0] = np.inf, np.inf
    begin = np.maximum(out, stops.open_min)
    finish = begin + stops.service_min + back
    horizon = max(horizons)
    dropped: list[DroppedStop] = []
    ok = np.zeros(n, dtype=bool)
    for i in range(n):
        if outside[i] > 0:
            name = travel.name if isinstance(travel, RoadNetwork) else ""
            why = (
                f"unreachable: outside road network '{name}' ({outside[i] / 1000:,.1f} km "
                "from its nearest road)"
            )
            dropped.append(DroppedStop(stops.ids[i], "unreachable", why, float(stops.priority[i])))
            continue
        d = _alone_reason(stops, i, out[i], begin[i], finish[i], horizon, shift_start)
        if d is None:
            ok[i] = True
        else:
            dropped.append(d)
    keep = np.flatnonzero(ok)
    for i in keep[c.max_candidates :]:
        dropped.append(
            DroppedStop(
                stops.ids[i],
                "priority",
                f"lower priority than kept stops: not among the {c.max_candidates} "
                "highest-priority accounts that fit the day",
                float(stops.priority[i]),
            )
        )
    return stops.take(keep[: c.max_candidates]), dropped


def _outside_network(
    travel: Travel,
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    max_snap_m: float,
    home: tuple[float, float],
) -> npt.NDArray[np.float64]:
    """Snap metres of each stop beyond ``max_snap_m`` (0 inside); raises for home."""
    if not isinstance(travel, RoadNetwork):
        return np.zeros(lat.size - 1)
    _, snap = snap_points(travel, lat, lon)
    if snap[0] > max_snap_m:
        raise TerrmapError(
            f"home ({home[0]:.5f}, {home[1]:.5f}) is {snap[0] / 1000:,.1f} km from the nearest "
            f"road of network '{travel.name}' (limit {max_snap_m / 1000:g} km). Fix: load a "
            "road network that covers the territory, or plan with the straight-line estimate"
        )
    return np.where(snap[1:] > max_snap_m, snap[1:], 0.0)


def _alone_reason(
    stops: Stops,
    i: int,
    out: float,
    begin: float,
    finish: float,
    horizon: float,
    shift_start: dt.datetime,
) -> DroppedStop | None:
    aid, pri = stops.ids[i], float(stops.priority[i])
    if not np.isfinite(finish):
        return DroppedStop(aid, "unreachable", "unreachable: no road connection from home", pri)
    if begin > stops.close_min[i] + 1e-6:
        return DroppedStop(
            aid,
            "time_window",
            f"outside its time window: earliest arrival {_clock(shift_start, out)} is after "
            f"it closes at {_clock(shift_start, stops.close_min[i])}",
            pri,
        )
    if finish <= horizon + 1e-6:
        return None
    extra = float(finish - horizon)
    if stops.open_min[i] > out:
        why = (
            f"outside its time window: it opens at {_clock(shift_start, stops.open_min[i])}, "
            f"too late to visit and be home by {_clock(shift_start, horizon)}"
        )
        return DroppedStop(aid, "time_window", why, pri, extra)
    why = (
        f"not enough time: would need {extra:.0f} min more even as the only stop "
        f"({out:.0f} min drive out, {stops.service_min[i]:.0f} min on site)"
    )
    return DroppedStop(aid, "no_time", why, pri, extra)


def snap_warnings(
    stops: Stops, snap_m: npt.NDArray[np.float64], travel: Travel, c: DayConfig
) -> list[str]:
    """Warn about points far from the road network (likely outside the extract)."""
    far = np.flatnonzero(snap_m > c.snap_warning_m)
    if far.size == 0 or not isinstance(travel, RoadNetwork):
        return []
    worst = int(far[np.argmax(snap_m[far])])
    label = "home" if worst == 0 else stops.ids[worst - 1]
    return [
        f"{far.size} point(s) lie more than {c.snap_warning_m:,.0f} m from the nearest road of "
        f"network '{travel.name}' (farthest: {label} at {snap_m[worst] / 1000:.1f} km); their "
        f"drive times include that straight stretch at {travel.snap_kph:.0f} km/h — check "
        "that the network covers them"
    ]


def to_instance(
    stops: Stops,
    minutes: npt.NDArray[np.float64],
    horizons: Sequence[float],
    allowed: tuple[tuple[int, tuple[int, ...]], ...] = (),
) -> Instance:
    zero = np.zeros(1)
    return Instance(
        minutes=minutes,
        service_min=np.r_[zero, stops.service_min],
        open_min=np.r_[zero, np.maximum(stops.open_min, 0.0)],
        close_min=np.r_[np.array([max(horizons)]), stops.close_min],
        priority=np.r_[zero, stops.priority],
        horizons_min=tuple(float(h) for h in horizons),
        allowed=allowed,
    )


def explain_drops(
    inst: Instance,
    stops: Stops,
    routes: list[tuple[int, ...]],
    what: str,
    shift_start: dt.datetime,
) -> list[DroppedStop]:
    """A :class:`DroppedStop` with a sentence for every stop the solver left out."""
    kept = [inst.priority[n] for r in routes for n in r] or [np.inf]
    out = []
    for node, code, extra in explain_dropped(inst, routes):
        i = node - 1
        visit = "" if stops.visit[i] == 1 else f"visit {stops.visit[i]} this week: "
        if code == "time_window":
            window = _window_text(shift_start, stops.open_min[i], stops.close_min[i])
            why = (
                f"outside its time window: with the higher-value stops kept, no place in the "
                f"{what}'s route reaches it {window}"
            )
        elif code == "detour":
            why = "left out by the search although it fits (extra 0 min); try 'improve'"
        elif code == "priority":
            rel = (
                "lower priority than"
                if stops.priority[i] < min(kept)
                else "no higher priority than"
            )
            why = (
                f"{rel} kept stops ({stops.priority[i]:.1f} vs {min(kept):.1f} and up); "
                f"the {what} is full: fitting it would need {extra:.0f} min more"
            )
        else:
            why = (
                f"not enough time: would need {extra:.0f} min more; making room would mean "
                "dropping stops worth at least as much"
            )
        out.append(DroppedStop(stops.ids[i], code, visit + why, float(stops.priority[i]), extra))
    return out
