"""A rep's day and week: which accounts to visit, in which order, and why others wait.

:func:`plan_day` ranks the candidate accounts (:func:`terrmap.visits.visit_priority`:
tier, how overdue, opportunity), builds one travel matrix (road network or estimate, see
:mod:`terrmap.travel`) and orders the stops with OR-Tools (:mod:`terrmap.sequencing`):
service times, optional time windows, the shift from home back home, and every stop
droppable with a penalty proportional to its priority. The solver maximises the total
priority visited, then minimises drive time, so an over-full day drops the least
valuable stops instead of failing; every dropped stop carries its reason.

:func:`plan_week` plans the accounts due this week over five days at once (one vehicle
per day), so visit frequencies are met where the hours allow.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from terrmap.errors import InputError, Problem
from terrmap.sequencing import Instance, schedule_route, solve_instance
from terrmap.stops import (
    DroppedStop,
    Stops,
    Windows,
    candidate_stops,
    check_accounts,
    drop_infeasible,
    explain_drops,
    snap_warnings,
    to_instance,
)
from terrmap.travel import Travel, travel_matrix, travel_model_name
from terrmap.visits import DayConfig, due_visits

__all__ = [
    "DayConfig",
    "DayPlan",
    "DroppedStop",
    "PlannedStop",
    "WeekPlan",
    "plan_day",
    "plan_week",
]

Search = Literal["fast", "improve"]


@dataclass(frozen=True)
class PlannedStop:
    """One visit in a day plan (times are local wall-clock times)."""

    order: int
    account_id: str
    name: str | None
    lat: float
    lon: float
    arrival: dt.datetime
    start: dt.datetime
    departure: dt.datetime
    drive_min: float
    wait_min: float
    service_min: float
    priority: float
    snap_m: float


@dataclass(frozen=True)
class DayPlan:
    """A rep's day: ordered stops from home back home, totals, and the dropped stops.

    ``drive_min``, ``service_min`` and ``idle_min`` (waiting for time windows) are totals;
    ``return_drive_min`` is the last leg home. ``model`` names the travel model.
    """

    date: dt.date
    home: tuple[float, float]
    shift_start: dt.datetime
    shift_end: dt.datetime
    depart: dt.datetime
    back: dt.datetime
    stops: tuple[PlannedStop, ...]
    return_drive_min: float
    dropped: tuple[DroppedStop, ...]
    considered: tuple[str, ...]
    drive_min: float
    service_min: float
    idle_min: float
    model: str
    search: Search
    seconds: float
    warnings: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The stops as a table (one row per stop, in visiting order)."""
        cols = list(PlannedStop.__dataclass_fields__)
        return pd.DataFrame([[getattr(s, c) for c in cols] for s in self.stops], columns=cols)

    def dropped_frame(self) -> pd.DataFrame:
        """The dropped stops as a table."""
        cols = ["account_id", "code", "reason", "priority", "extra_min"]
        return pd.DataFrame([[getattr(d, c) for c in cols] for d in self.dropped], columns=cols)


@dataclass(frozen=True)
class WeekPlan:
    """Five (or ``len(days)``) day plans meeting the week's due visits where hours allow."""

    days: tuple[DayPlan, ...]
    dropped: tuple[DroppedStop, ...]
    required_visits: int
    planned_visits: int
    drive_min: float
    service_min: float
    model: str
    seconds: float


@dataclass(frozen=True)
class _DayContext:
    """What every day of a plan shares."""

    home: tuple[float, float]
    model: str
    search: Search
    snap_m: npt.NDArray[np.float64]


def _build_day(
    inst: Instance,
    stops: Stops,
    route: tuple[int, ...],
    day: dt.date,
    start: dt.time,
    horizon: float,
    ctx: _DayContext,
) -> DayPlan:
    shift_start = dt.datetime.combine(day, start)

    def at(minutes: float) -> dt.datetime:
        return shift_start + dt.timedelta(minutes=float(minutes))

    sched = schedule_route(inst, route)
    # Leave home later rather than wait at the first stop (the finish time is unchanged).
    delay = sched.begin[0] - sched.arrive[0] if route else 0.0
    planned, prev = [], 0
    for k, node in enumerate(route):
        arrive = sched.begin[0] if k == 0 else sched.arrive[k]
        i = node - 1
        planned.append(
            PlannedStop(
                order=k + 1,
                account_id=stops.ids[i],
                name=stops.names[i],
                lat=float(stops.lat[i]),
                lon=float(stops.lon[i]),
                arrival=at(arrive),
                start=at(sched.begin[k]),
                departure=at(sched.begin[k] + stops.service_min[i]),
                drive_min=float(inst.minutes[prev, node]),
                wait_min=float(sched.begin[k] - arrive),
                service_min=float(stops.service_min[i]),
                priority=float(stops.priority[i]),
                snap_m=float(ctx.snap_m[node]),
            )
        )
        prev = node
    back_leg = float(inst.minutes[prev, 0]) if route else 0.0
    return DayPlan(
        date=day,
        home=ctx.home,
        shift_start=shift_start,
        shift_end=at(horizon),
        depart=at(delay),
        back=at(sched.end if route else 0.0),
        stops=tuple(planned),
        return_drive_min=back_leg,
        dropped=(),
        considered=(),
        drive_min=float(sum(s.drive_min for s in planned) + back_leg),
        service_min=float(sum(s.service_min for s in planned)),
        idle_min=float(sum(s.wait_min for s in planned)),
        model=ctx.model,
        search=ctx.search,
        seconds=0.0,
    )


def plan_day(
    accounts: pd.DataFrame,
    *,
    home: tuple[float, float],
    date: dt.date,
    hours: float = 8.0,
    start: dt.time = dt.time(8, 0),
    travel: Travel = None,
    config: DayConfig | None = None,
    windows: Windows | None = None,
    priority: pd.Series | None = None,
    search: Search = "fast",
    time_limit_s: float = 3.0,
) -> DayPlan:
    """Choose and order a rep's visits for one day, starting and ending at home.

    Parameters
    ----------
    accounts
        Candidate accounts (usually the rep's territory): ``account_id``, ``lat``, ``lon``
        and optionally ``name``, ``tier``, ``last_activity``, ``opportunity``,
        ``approximate``.
    home
        ``(lat, lon)`` the day starts and ends at.
    date
        The day (decides how overdue accounts are; dates the timestamps).
    hours
        Length of the shift, from leaving home to being back.
    start
        Time the shift starts.
    travel
        Road network or estimate model (``None``: the default estimate).
    config
        Priorities and service times; see :class:`DayConfig`.
    windows
        Optional ``{account_id: (open, close)}``: the visit must *start* in the window.
        ``None`` takes them from the accounts' ``visit_from`` / ``visit_until``
        columns (no window where both are blank); ``{}`` ignores them.
    priority
        Optional priorities (index aligned with ``accounts``) replacing
        :func:`visit_priority`.
    search
        ``"fast"``: cheapest-arc first solution plus local search to a local optimum
        (interactive). ``"improve"``: guided local search for ``time_limit_s`` seconds.
    time_limit_s
        Search time for ``"improve"`` (a safety cap for ``"fast"``).

    Returns
    -------
    DayPlan
        Ordered stops with arrival times and drive minutes per leg, totals, and every
        candidate not visited with its reason.
    """
    t0 = time.perf_counter()
    c = config or DayConfig()
    check_accounts(accounts)
    _check_shift(hours, start)
    shift_start = dt.datetime.combine(date, start)
    stops, dropped, warnings = candidate_stops(accounts, date, c, windows, priority, start)
    stops, more = drop_infeasible(stops, home, [hours * 60.0], travel, c, shift_start)
    mat = travel_matrix(travel, np.r_[home[0], stops.lat], np.r_[home[1], stops.lon])
    warnings += snap_warnings(stops, mat.snap_m, travel, c)
    inst = to_instance(stops, mat.minutes, [hours * 60.0])
    routes = solve_instance(inst, search=search, time_limit_s=time_limit_s)
    ctx = _DayContext(home, travel_model_name(travel), search, mat.snap_m)
    day = _build_day(inst, stops, routes[0], date, start, hours * 60.0, ctx)
    return replace(
        day,
        dropped=tuple(dropped + more + explain_drops(inst, stops, routes, "day", shift_start)),
        considered=tuple(stops.ids),
        warnings=tuple(warnings),
        seconds=time.perf_counter() - t0,
    )


def _check_shift(hours: float, start: dt.time) -> None:
    start_min = start.hour * 60 + start.minute + start.second / 60
    if hours > 0 and start_min + hours * 60 <= 24 * 60:
        return
    raise InputError(
        [
            Problem(
                None,
                "hours",
                str(hours),
                f"a shift starting at {start:%H:%M} must last more than 0 h and end by midnight",
                "shorten the shift or start earlier",
            )
        ],
        source="day plan",
    )


def plan_week(
    accounts: pd.DataFrame,
    *,
    home: tuple[float, float],
    week_start: dt.date,
    days: int = 5,
    hours: float = 8.0,
    start: dt.time = dt.time(8, 0),
    travel: Travel = None,
    config: DayConfig | None = None,
    windows: Windows | None = None,
    search: Search = "fast",
    time_limit_s: float = 10.0,
) -> WeekPlan:
    """Plan ``days`` consecutive days so the accounts due this week get their visits.

    An account is due when, by the last day, more time will have passed since its last
    activity than its visit interval (``30.4 / visits_per_month`` days), or when it has no
    last activity. Accounts visited more than weekly (interval under 7 days) need
    ``round(7 / interval)`` visits, on different days. All days are solved together (one
    OR-Tools vehicle per day), so nearby accounts share a day; what does not fit is
    dropped, lowest priority first, each with its reason. Visit windows (``windows``, or
    the accounts' ``visit_from`` / ``visit_until``) hold on every day, as in
    :func:`plan_day`.
    """
    t0 = time.perf_counter()
    c = config or DayConfig()
    check_accounts(accounts)
    _check_shift(hours, start)
    need = due_visits(accounts, week_start=week_start, days=days, config=c)
    need_of = dict(zip(accounts["account_id"].astype(str), need.tolist(), strict=True))
    shift_start = dt.datetime.combine(week_start, start)
    stops, dropped, warnings = candidate_stops(accounts, week_start, c, windows, None, start)
    dropped = [d for d in dropped if need_of[d.account_id] > 0]
    stops = stops.take(np.flatnonzero([need_of[a] > 0 for a in stops.ids]).astype(np.int64))
    horizons = [hours * 60.0] * days
    stops, more = drop_infeasible(stops, home, horizons, travel, c, shift_start)
    stops, allowed = _repeat_visits(stops, need_of, days)
    mat = travel_matrix(travel, np.r_[home[0], stops.lat], np.r_[home[1], stops.lon])
    warnings += snap_warnings(stops, mat.snap_m, travel, c)
    inst = to_instance(stops, mat.minutes, horizons, allowed)
    routes = solve_instance(inst, search=search, time_limit_s=time_limit_s)
    ctx = _DayContext(home, travel_model_name(travel), search, mat.snap_m)
    plans = tuple(
        _build_day(inst, stops, r, week_start + dt.timedelta(days=d), start, horizons[d], ctx)
        for d, r in enumerate(routes)
    )
    all_dropped = tuple(dropped + more + explain_drops(inst, stops, routes, "week", shift_start))
    return WeekPlan(
        days=tuple(
            replace(p, considered=tuple(stops.ids), warnings=tuple(warnings)) for p in plans
        ),
        dropped=all_dropped,
        required_visits=int(need.sum()),
        planned_visits=sum(len(p.stops) for p in plans),
        drive_min=float(sum(p.drive_min for p in plans)),
        service_min=float(sum(p.service_min for p in plans)),
        model=ctx.model,
        seconds=time.perf_counter() - t0,
    )


def _repeat_visits(
    stops: Stops, need: Mapping[str, int], days: int
) -> tuple[Stops, tuple[tuple[int, tuple[int, ...]], ...]]:
    """Keep accounts needing visits; spread an account's several visits over the week.

    Visit ``k`` of ``v`` may only go on days ``[k * days // v, (k + 1) * days // v)``, so
    the visits land on different days, in order and spaced (e.g. Mon-Tue and Wed-Fri).
    """
    rows: list[int] = []
    visit: list[int] = []
    allowed: list[tuple[int, tuple[int, ...]]] = []
    for i, aid in enumerate(stops.ids):
        v = int(need.get(aid, 0))
        for k in range(v):
            if v > 1:
                window = tuple(range(k * days // v, (k + 1) * days // v))
                allowed.append((len(rows) + 1, window))  # node = position + 1
            rows.append(i)
            visit.append(k + 1)
    out = stops.take(np.asarray(rows, dtype=np.int64))
    return replace(out, visit=np.asarray(visit, dtype=np.int64)), tuple(allowed)
