"""What-if scenarios as pure functions: team changes, capacity, visit model, compare.

A :class:`Scenario` is a small frozen value (what the sliders say). :func:`run_scenario`
turns it into a new plan, warm-started from the baseline plan so territories move only
where the change requires it; :func:`compare_plans` reports what changed (accounts
moved, per-rep in/out, balance, travel, opportunity covered) and
:func:`headcount_curve` shows what each hire buys.

Team changes keep rep identities: "rep X leaves" removes X (the engine hands X's
ground to neighbours); a team-size target below the roster removes the least-loaded
reps, above it adds open hires placed where the load is heaviest (see
:func:`place_hires`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from terrmap.design import DesignConfig, build_plan
from terrmap.errors import InputError, Problem
from terrmap.geodesy import haversine_km
from terrmap.metrics import plan_health, territory_table
from terrmap.plan import Plan
from terrmap.scoring import ScoringConfig, score_accounts
from terrmap.travel_load import monthly_travel_hours

__all__ = [
    "Hire",
    "PlanComparison",
    "PlanSnapshot",
    "Scenario",
    "compare_plans",
    "curve_row",
    "headcount_curve",
    "hire_location",
    "neighbour_scenarios",
    "place_hires",
    "run_scenario",
    "scenario_roster",
    "snapshot",
    "travel_hours",
]

Balance = Literal["workload", "opportunity", "accounts"]


@dataclass(frozen=True)
class Hire:
    """A new rep placed at a location (an open position until named)."""

    name: str
    lat: float
    lon: float
    capacity_hours: float | None = None


@dataclass(frozen=True)
class Scenario:
    """What changes relative to the baseline (``None`` or empty = unchanged).

    Attributes
    ----------
    team_size
        Number of reps after leavers and hires; fewer removes the least-loaded reps,
        more adds open hires where load is heaviest.
    capacity_hours
        Monthly capacity of every rep.
    capacity_by_rep
        ``(rep_id, hours)`` pairs overriding single reps (after ``capacity_hours``).
    leaving
        Rep ids that leave.
    hires
        Reps added at given locations.
    visits_per_month, service_minutes
        The workload model by tier (1, 2, 3).
    tolerance, balance, resolution
        Engine settings.
    """

    team_size: int | None = None
    capacity_hours: float | None = None
    capacity_by_rep: tuple[tuple[str, float], ...] = ()
    leaving: tuple[str, ...] = ()
    hires: tuple[Hire, ...] = ()
    visits_per_month: tuple[float, float, float] | None = None
    service_minutes: tuple[float, float, float] | None = None
    tolerance: float | None = None
    balance: Balance | None = None
    resolution: int | None = None

    @property
    def is_baseline(self) -> bool:
        """True when nothing changes."""
        return self == Scenario()


@dataclass(frozen=True)
class PlanSnapshot:
    """A plan with everything the pages show about it (treat as read-only).

    Attributes
    ----------
    plan
        The plan.
    accounts
        The scored accounts it was built on.
    reps
        The roster it was built for.
    assignment
        Territory id per account (aligned to ``accounts``).
    table
        ``terrmap.metrics.territory_table`` plus ``travel_hours`` and
        ``opportunity_within_capacity`` columns.
    health
        ``terrmap.metrics.plan_health``.
    scoring
        The workload model used.
    """

    plan: Plan
    accounts: pd.DataFrame
    reps: pd.DataFrame
    assignment: pd.Series
    table: pd.DataFrame
    health: dict[str, Any]
    scoring: ScoringConfig

    @property
    def kpis(self) -> dict[str, float]:
        """Headline numbers: balance, utilisation, travel, opportunity covered."""
        t = self.table
        util = t["utilisation"].to_numpy(float, na_value=np.nan)
        return {
            "territories": float(len(t)),
            "max_deviation": float(self.health["max_deviation"]),
            "max_utilisation": float(np.nanmax(util)) if util.size else float("nan"),
            "travel_hours": float(t["travel_hours"].sum()),
            "opportunity": float(t["opportunity"].sum()),
            "opportunity_within_capacity": float(t["opportunity_within_capacity"].sum()),
            "unassigned_accounts": float(self.health["unassigned_accounts"]),
        }


def travel_hours(
    accounts: pd.DataFrame,
    territory: pd.Series,
    reps: pd.DataFrame | None,
    *,
    scoring: ScoringConfig,
    stops_per_day: float = 5.0,
) -> pd.Series:
    """Monthly drive hours per territory (``terrmap.travel_load``'s default estimate).

    Visits per month come from the tier (``scoring.visits_per_month``); visits are
    chained into days of ``stops_per_day`` stops starting and ending at the rep's home.
    Territories without a rep home use their accounts' workload-weighted centre.

    Parameters
    ----------
    accounts
        Scored accounts (``lat``, ``lon``, ``tier``, ``workload_hours``).
    territory
        Territory id per account (aligned to ``accounts``).
    reps
        The roster (``rep_id``, ``home_lat``, ``home_lon``); territory ids are rep ids.
    scoring
        Gives the visits per month by tier.
    stops_per_day
        Visits chained per day.

    Returns
    -------
    pandas.Series
        Hours per month, indexed by territory id.
    """
    tid = np.asarray(territory.astype("string").astype(object).where(territory.notna(), None))
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    ok = np.array([t is not None for t in tid]) & np.isfinite(lat) & np.isfinite(lon)
    tier = accounts["tier"].astype("Float64").to_numpy(float, na_value=3.0)
    visits = np.asarray(scoring.visits_per_month, dtype=float)[np.clip(tier, 1, 3).astype(int) - 1]
    work = np.nan_to_num(accounts["workload_hours"].to_numpy(float, na_value=0.0)) + 1e-9
    homes: dict[str, tuple[float, float]] = {}
    if reps is not None and len(reps):
        located = reps.dropna(subset=["home_lat", "home_lon"])
        homes = {
            str(r): (float(a), float(b))
            for r, a, b in zip(located["rep_id"], located["home_lat"], located["home_lon"],
                               strict=True)
        }  # fmt: skip
    out: dict[str, float] = {}
    for t in sorted({str(t) for t in tid[ok]}):
        sel = ok & (tid == t)
        home = homes.get(t) or (
            float(np.average(lat[sel], weights=work[sel])),
            float(np.average(lon[sel], weights=work[sel])),
        )
        load = monthly_travel_hours(
            home, lat[sel], lon[sel], visits[sel], stops_per_day=stops_per_day
        )
        out[t] = load.total_hours
    return pd.Series(out, dtype=float, name="travel_hours")


def snapshot(
    plan: Plan,
    accounts: pd.DataFrame,
    reps: pd.DataFrame | None,
    *,
    scoring: ScoringConfig,
) -> PlanSnapshot:
    """Compute everything shown about a plan once (assignment, KPI table, health).

    Parameters
    ----------
    plan
        The plan.
    accounts
        The scored accounts it was built on.
    reps
        The roster (may be ``None`` for a plan of K unnamed territories).
    scoring
        The workload model (for the travel estimate).

    Returns
    -------
    PlanSnapshot
    """
    assignment = plan.assign(accounts)
    table = territory_table(plan, accounts, reps, assignment=assignment).copy()
    travel = travel_hours(accounts, assignment, reps, scoring=scoring)
    table["travel_hours"] = table["territory_id"].map(travel).astype(float).fillna(0.0)
    workload = table["workload_hours"].to_numpy(float)
    capacity = table["capacity_hours"].to_numpy(float, na_value=np.nan)
    served = np.where(
        np.isfinite(capacity) & (workload > capacity), capacity / np.maximum(workload, 1e-12), 1.0
    )
    table["opportunity_within_capacity"] = table["opportunity"].to_numpy(float) * served
    empty_reps = pd.DataFrame(columns=["rep_id", "name", "home_lat", "home_lon", "capacity_hours"])
    return PlanSnapshot(
        plan=plan,
        accounts=accounts,
        reps=reps if reps is not None else empty_reps,
        assignment=assignment,
        table=table,
        health=dict(plan_health(plan, accounts, assignment=assignment)),
        scoring=scoring,
    )


def hire_location(text: str) -> tuple[float, float, str]:
    """Where "add a rep at …" points: a US ZIP, "City, ST", or "lat, lon".

    Parameters
    ----------
    text
        What the user typed.

    Returns
    -------
    tuple
        ``(lat, lon, label)``.

    Raises
    ------
    InputError
        The text is none of the three forms, or names an unknown ZIP or city.

    Examples
    --------
    >>> hire_location("41.76, -72.68")
    (41.76, -72.68, '41.7600, -72.6800')
    """
    from terrmap.postal import zip_table, zips_to_latlon

    raw = text.strip()
    fix = 'type a 5-digit ZIP ("06103"), a city and state ("Hartford, CT") or "lat, lon"'
    if re.fullmatch(r"\d{5}", raw):
        lat, lon, found = zips_to_latlon(pd.Series([raw], dtype="string"))
        if found[0]:
            return float(lat[0]), float(lon[0]), f"ZIP {raw}"
        raise InputError([Problem(None, "location", raw, "unknown US ZIP code", fix)])
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) == 2:
        try:
            lat_f, lon_f = float(parts[0]), float(parts[1])
        except ValueError:
            lat_f = lon_f = float("nan")
        if np.isfinite(lat_f) and np.isfinite(lon_f):
            if abs(lat_f) <= 90 and abs(lon_f) <= 180:
                return lat_f, lon_f, f"{lat_f:.4f}, {lon_f:.4f}"
            raise InputError([Problem(None, "location", raw, "coordinates out of range", fix)])
        table = zip_table()
        hit = table[
            (table["city"].str.upper() == parts[0].upper())
            & (table["state"].str.upper() == parts[1].upper())
        ]
        if len(hit):
            label = f"{parts[0].title()}, {parts[1].upper()}"
            return float(hit["lat"].mean()), float(hit["lon"].mean()), label
        raise InputError([Problem(None, "location", raw, "unknown city and state", fix)])
    raise InputError([Problem(None, "location", raw, "not a ZIP, city or coordinates", fix)])


def place_hires(
    accounts: pd.DataFrame,
    territory: pd.Series,
    reps: pd.DataFrame,
    n: int,
) -> list[Hire]:
    """Place ``n`` open hires where the load is heaviest.

    Each hire goes to the territory with the highest workload per rep (counting hires
    already placed there), at the workload-weighted centre of that territory's
    accounts on the far side from its rep's home -- the part a second rep would take.

    Parameters
    ----------
    accounts
        Scored accounts.
    territory
        Territory (rep) id per account in the baseline.
    reps
        The roster (``rep_id``, ``home_lat``, ``home_lon``, ``capacity_hours``).
    n
        Number of hires.

    Returns
    -------
    list of Hire
        Named "Open hire 1".."Open hire n", with the roster's median capacity.
    """
    tid = territory.astype("string").fillna("")
    work = accounts["workload_hours"].to_numpy(float, na_value=0.0)
    load = pd.Series(work).groupby(tid.to_numpy()).sum().drop(labels="", errors="ignore")
    capacity = reps.set_index(reps["rep_id"].astype(str))["capacity_hours"].astype(float)
    cap_median = float(capacity.median()) if len(capacity) else 140.0
    heads = pd.Series(1.0, index=load.index)
    hires: list[Hire] = []
    for i in range(n):
        per_head = load / (capacity.reindex(load.index).fillna(cap_median) * heads)
        if per_head.empty:
            break
        busiest = str(per_head.idxmax())
        heads[busiest] += 1.0
        lat, lon = _far_side_centre(accounts, tid.to_numpy() == busiest, reps, busiest, work)
        hires.append(Hire(name=f"Open hire {i + 1}", lat=lat, lon=lon, capacity_hours=cap_median))
    return hires


def _far_side_centre(
    accounts: pd.DataFrame, mask: np.ndarray, reps: pd.DataFrame, rep_id: str, work: np.ndarray
) -> tuple[float, float]:
    lat = accounts["lat"].to_numpy(float)[mask]
    lon = accounts["lon"].to_numpy(float)[mask]
    w = work[mask] + 1e-9
    home = reps.loc[reps["rep_id"].astype(str) == rep_id, ["home_lat", "home_lon"]].dropna()
    if len(home) and lat.size > 1:
        home_lat, home_lon = home.to_numpy(float)[0]
        km = haversine_km(home_lat, home_lon, lat, lon)
        far = km >= np.median(km)
        lat, lon, w = lat[far], lon[far], w[far]
    return float(np.average(lat, weights=w)), float(np.average(lon, weights=w))


def _hire_rows(hires: Sequence[Hire], taken: set[str], default_capacity: float) -> pd.DataFrame:
    rows = []
    for i, hire in enumerate(hires, start=1):
        rep_id = f"HIRE-{i}"
        while rep_id in taken:
            rep_id += "+"
        taken.add(rep_id)
        cap = hire.capacity_hours if hire.capacity_hours is not None else default_capacity
        rows.append((rep_id, hire.name, hire.lat, hire.lon, float(cap)))
    return pd.DataFrame(rows, columns=["rep_id", "name", "home_lat", "home_lon", "capacity_hours"])


def scenario_roster(
    reps: pd.DataFrame,
    scenario: Scenario,
    *,
    accounts: pd.DataFrame,
    territory: pd.Series,
) -> pd.DataFrame:
    """The roster after leavers, hires, a team-size target and capacity changes.

    Parameters
    ----------
    reps
        The baseline roster.
    scenario
        The changes.
    accounts, territory
        The baseline's scored accounts and their territory (rep) ids, used to pick
        which reps go and where hires are placed.

    Returns
    -------
    pandas.DataFrame
        The scenario roster (same columns; hires have ``rep_id`` ``HIRE-n``).

    Raises
    ------
    InputError
        Unknown rep ids, or a team of fewer than one rep.
    """
    known = set(reps["rep_id"].astype(str))
    unknown = [r for r in (*scenario.leaving, *dict(scenario.capacity_by_rep)) if r not in known]
    problems = [
        Problem(None, "rep_id", r, "not in the rep roster", f"pick one of {sorted(known)[:8]}")
        for r in unknown
    ]
    if scenario.team_size is not None and scenario.team_size < 1:
        problems.append(
            Problem(
                None,
                "team_size",
                str(scenario.team_size),
                "a team needs at least one rep",
                "choose 1 or more reps",
            )
        )
    if problems:
        raise InputError(problems, source="scenario")
    roster = reps[~reps["rep_id"].astype(str).isin(scenario.leaving)].copy()
    default_cap = float(reps["capacity_hours"].median()) if len(reps) else 140.0
    hires = _hire_rows(scenario.hires, set(known), default_cap)
    roster = (
        pd.concat([roster, hires.astype({"rep_id": "string", "name": "string"})], ignore_index=True)
        if len(hires)
        else roster
    )
    if scenario.team_size is not None and scenario.team_size != len(roster):
        roster = _resize(roster, scenario.team_size, accounts=accounts, territory=territory)
    if scenario.capacity_hours is not None:
        roster["capacity_hours"] = float(scenario.capacity_hours)
    for rep_id, hours in scenario.capacity_by_rep:
        roster.loc[roster["rep_id"].astype(str) == rep_id, "capacity_hours"] = float(hours)
    return _join_nearest_district(roster.reset_index(drop=True), reps)


def _join_nearest_district(roster: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """Hires take the region and district of the nearest rep's home (for roll-ups)."""
    levels = [c for c in ("region", "district") if c in reps.columns and reps[c].notna().any()]
    hired = ~roster["rep_id"].astype(str).isin(reps["rep_id"].astype(str))
    known = reps.dropna(subset=["home_lat", "home_lon"])
    if not levels or not hired.any() or known.empty:
        return roster
    klat, klon = known["home_lat"].to_numpy(float), known["home_lon"].to_numpy(float)
    lat, lon = roster["home_lat"].to_numpy(float), roster["home_lon"].to_numpy(float)
    for i in np.flatnonzero(hired.to_numpy()):
        nearest = known.iloc[int(np.argmin(haversine_km(lat[i], lon[i], klat, klon)))]
        for level in levels:
            roster.loc[i, level] = nearest[level]
    return roster


def _resize(
    roster: pd.DataFrame, size: int, *, accounts: pd.DataFrame, territory: pd.Series
) -> pd.DataFrame:
    if size < len(roster):
        work = pd.Series(accounts["workload_hours"].to_numpy(float, na_value=0.0))
        load = work.groupby(territory.astype("string").fillna("").to_numpy()).sum()
        ids = roster["rep_id"].astype(str)
        util = ids.map(load).fillna(0.0) / roster["capacity_hours"].astype(float).clip(lower=1e-9)
        keep = util.sort_values(ascending=False, kind="stable").index[:size]
        return roster.loc[sorted(keep)]
    hires = place_hires(accounts, territory, roster, size - len(roster))
    extra = _hire_rows(
        hires, set(roster["rep_id"].astype(str)), float(roster["capacity_hours"].median())
    )
    return pd.concat(
        [roster, extra.astype({"rep_id": "string", "name": "string"})], ignore_index=True
    )


def _scoring_for(base: ScoringConfig, scenario: Scenario) -> ScoringConfig:
    changes: dict[str, Any] = {}
    if scenario.visits_per_month is not None:
        changes["visits_per_month"] = tuple(float(v) for v in scenario.visits_per_month)
    if scenario.service_minutes is not None:
        changes["service_minutes"] = tuple(float(v) for v in scenario.service_minutes)
    return dataclasses.replace(base, **changes) if changes else base


def _design_for(base: DesignConfig, scenario: Scenario) -> DesignConfig:
    changes: dict[str, Any] = {}
    for name in ("tolerance", "balance", "resolution"):
        value = getattr(scenario, name)
        if value is not None:
            changes[name] = value
    return dataclasses.replace(base, **changes) if changes else base


def run_scenario(
    loaded_accounts: pd.DataFrame,
    baseline: PlanSnapshot,
    scenario: Scenario,
    *,
    design: DesignConfig,
    random_state: int = 0,
) -> PlanSnapshot:
    """Build the scenario's plan, warm-started from the baseline plan.

    Parameters
    ----------
    loaded_accounts
        The accounts as loaded (before scoring), re-scored when the workload model
        changes.
    baseline
        The baseline plan and its data.
    scenario
        What changes.
    design
        The baseline's engine settings (the scenario overrides some).
    random_state
        Seed of the engine.

    Returns
    -------
    PlanSnapshot
        The scenario plan; for an empty scenario, the baseline itself.
    """
    if scenario.is_baseline:
        return baseline
    scoring = _scoring_for(baseline.scoring, scenario)
    accounts = (
        baseline.accounts
        if scoring == baseline.scoring
        else score_accounts(loaded_accounts, scoring)
    )
    roster = scenario_roster(
        baseline.reps, scenario, accounts=baseline.accounts, territory=baseline.assignment
    )
    plan = build_plan(
        accounts,
        roster,
        config=_design_for(design, scenario),
        # The baseline both warm-starts the engine and keeps disruption low: accounts
        # move only where the change needs it.
        baseline=baseline.plan,
        locked_accounts=tuple(baseline.plan.locked_accounts),
        random_state=random_state,
    )
    return snapshot(plan, accounts, roster, scoring=scoring)


@dataclass(frozen=True)
class PlanComparison:
    """What changed from plan A (baseline) to plan B.

    Attributes
    ----------
    accounts_moved
        Accounts whose territory differs.
    per_rep
        One row per territory in either plan: ``territory_id, rep_name, accounts_before,
        accounts_after, moved_in, moved_out, workload_before, workload_after,
        utilisation_before, utilisation_after``.
    kpis
        ``metric, before, after, delta`` for the headline numbers.
    """

    accounts_moved: int
    per_rep: pd.DataFrame
    kpis: pd.DataFrame


def compare_plans(before: PlanSnapshot, after: PlanSnapshot) -> PlanComparison:
    """Accounts moved, per-rep in/out, and KPI deltas between two plans of one dataset.

    Parameters
    ----------
    before, after
        Snapshots over the same accounts (in the same order).

    Returns
    -------
    PlanComparison
    """
    a = before.assignment.astype("string").fillna("").to_numpy(dtype=object)
    b = after.assignment.astype("string").fillna("").to_numpy(dtype=object)
    moved = a != b
    ids = list(dict.fromkeys([*before.table["territory_id"], *after.table["territory_id"]]))
    out_counts = pd.Series(a[moved]).value_counts()
    in_counts = pd.Series(b[moved]).value_counts()
    tb = before.table.set_index("territory_id")
    ta = after.table.set_index("territory_id")
    names = pd.concat([tb["rep_name"], ta["rep_name"]]).astype("string")
    names = names[~names.index.duplicated(keep="last")]
    per_rep = pd.DataFrame(
        {
            "territory_id": ids,
            "rep_name": names.reindex(ids).fillna("").to_numpy(),
            "accounts_before": tb["accounts"].reindex(ids).fillna(0).astype(int).to_numpy(),
            "accounts_after": ta["accounts"].reindex(ids).fillna(0).astype(int).to_numpy(),
            "moved_in": in_counts.reindex(ids).fillna(0).astype(int).to_numpy(),
            "moved_out": out_counts.reindex(ids).fillna(0).astype(int).to_numpy(),
            "workload_before": tb["workload_hours"].reindex(ids).to_numpy(float),
            "workload_after": ta["workload_hours"].reindex(ids).to_numpy(float),
            "utilisation_before": tb["utilisation"].reindex(ids).to_numpy(float),
            "utilisation_after": ta["utilisation"].reindex(ids).to_numpy(float),
        }
    )
    kb, ka = before.kpis, after.kpis
    kpis = pd.DataFrame(
        {
            "metric": list(kb),
            "before": list(kb.values()),
            "after": [ka[k] for k in kb],
        }
    )
    kpis["delta"] = kpis["after"] - kpis["before"]
    return PlanComparison(accounts_moved=int(moved.sum()), per_rep=per_rep, kpis=kpis)


def curve_row(team_size: int, snap: PlanSnapshot) -> dict[str, float]:
    """One point of the headcount curve: utilisation and opportunity within capacity."""
    k = snap.kpis
    util = snap.table["utilisation"].to_numpy(float, na_value=np.nan)
    return {
        "reps": float(team_size),
        "max_utilisation": k["max_utilisation"],
        "mean_utilisation": float(np.nanmean(util)) if np.isfinite(util).any() else float("nan"),
        "opportunity_within_capacity": k["opportunity_within_capacity"],
        "share_within_capacity": k["opportunity_within_capacity"] / max(k["opportunity"], 1e-12),
        "max_deviation": k["max_deviation"],
    }


def headcount_curve(
    loaded_accounts: pd.DataFrame,
    baseline: PlanSnapshot,
    team_sizes: Sequence[int],
    *,
    design: DesignConfig,
    scenario: Scenario | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """For each team size: max utilisation and opportunity within capacity.

    Parameters
    ----------
    loaded_accounts, baseline, design, random_state
        As in :func:`run_scenario`.
    team_sizes
        The team sizes to evaluate.
    scenario
        Other changes held fixed while the team size varies.

    Returns
    -------
    pandas.DataFrame
        ``reps, max_utilisation, mean_utilisation, opportunity_within_capacity,
        share_within_capacity, max_deviation`` (one row per team size, ascending).
    """
    base = scenario or Scenario()
    rows = []
    for size in sorted({int(s) for s in team_sizes}):
        snap = run_scenario(
            loaded_accounts,
            baseline,
            dataclasses.replace(base, team_size=size),
            design=design,
            random_state=random_state,
        )
        rows.append(curve_row(size, snap))
    return pd.DataFrame(rows)


def neighbour_scenarios(
    scenario: Scenario,
    *,
    team: int,
    capacity: float,
    capacity_range: tuple[float, float],
    capacity_step: float,
    capacity_first: bool = False,
) -> list[Scenario]:
    """The scenarios one step either side on the rep-count and capacity sliders.

    What a dashboard computes ahead while the user looks at ``scenario``.

    Parameters
    ----------
    scenario
        The scenario shown.
    team
        The roster size it implies without a team-size change (current reps, less
        leavers, plus hires); ``scenario.team_size`` overrides it.
    capacity
        The capacity the slider shows when ``scenario.capacity_hours`` is ``None``
        (each rep keeps their own).
    capacity_range, capacity_step
        The capacity slider's range and step: a browser slider steps from its value
        rounded onto this grid.
    capacity_first
        Put the capacity steps first (the slider moved last is likeliest to move again).

    Returns
    -------
    list of Scenario
        One rep more and fewer, one capacity step up and down (within range); a value
        equal to the default is ``None``, as the controls report it.
    """
    size = scenario.team_size or team
    by_team = [
        dataclasses.replace(scenario, team_size=None if t == team else t)
        for t in (size + 1, size - 1)
        if t >= 1
    ]
    low, high = capacity_range
    now = scenario.capacity_hours or capacity
    on_grid = low + capacity_step * math.floor((now - low) / capacity_step + 0.5)
    by_capacity = [
        dataclasses.replace(scenario, capacity_hours=None if h == capacity else float(h))
        for h in (on_grid + capacity_step, on_grid - capacity_step)
        if low <= h <= high
    ]
    return by_capacity + by_team if capacity_first else by_team + by_capacity
