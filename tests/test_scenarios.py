"""What-if scenarios: rosters, hire placement, travel, comparison, live re-planning."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from voronoi import voronoi_plan

from terrmap.errors import InputError
from terrmap.scenarios import (
    Hire,
    PlanSnapshot,
    Scenario,
    compare_plans,
    curve_row,
    hire_location,
    place_hires,
    run_scenario,
    scenario_roster,
    snapshot,
    travel_hours,
)
from terrmap.scoring import ScoringConfig


@pytest.fixture(scope="module")
def base(sample_accounts: pd.DataFrame, sample_reps: pd.DataFrame) -> PlanSnapshot:
    plan = voronoi_plan(sample_accounts, sample_reps)
    return snapshot(plan, sample_accounts, sample_reps, scoring=ScoringConfig())


def test_snapshot_adds_travel_and_covered_opportunity(base: PlanSnapshot) -> None:
    t = base.table
    assert (t["travel_hours"] > 0).all()
    over = t["workload_hours"] > t["capacity_hours"]
    assert np.allclose(t.loc[~over, "opportunity_within_capacity"], t.loc[~over, "opportunity"])
    assert (t.loc[over, "opportunity_within_capacity"] < t.loc[over, "opportunity"]).all()
    k = base.kpis
    assert k["territories"] == len(t)
    assert k["opportunity_within_capacity"] <= k["opportunity"] + 1e-6


def test_travel_matches_the_travel_model_and_grows_with_distance(sample_reps) -> None:
    from terrmap.travel_load import monthly_travel_hours

    rep = sample_reps.iloc[[0]]
    rep_id = str(rep["rep_id"].iloc[0])
    home = (float(rep["home_lat"].iloc[0]), float(rep["home_lon"].iloc[0]))

    def hours(offset: float) -> float:
        acc = pd.DataFrame(
            {
                "lat": home[0] + offset + np.array([0.0, 0.01, 0.02]),
                "lon": np.full(3, home[1]),
                "tier": pd.array([1, 2, 3], dtype="Int8"),
                "workload_hours": [1.0, 1.0, 1.0],
            }
        )
        got = travel_hours(acc, pd.Series([rep_id] * 3, dtype="string"), rep,
                           scoring=ScoringConfig())  # fmt: skip
        visits = np.asarray(ScoringConfig().visits_per_month)
        want = monthly_travel_hours(home, acc["lat"], acc["lon"], visits).total_hours
        assert got[rep_id] == pytest.approx(want)
        return float(got[rep_id])

    assert 0 < hours(0.1) < hours(0.5) < hours(1.0)


def test_leaving_hires_and_capacity(base: PlanSnapshot, sample_reps: pd.DataFrame) -> None:
    sc = Scenario(
        leaving=("R03",),
        hires=(Hire("New rep (Erie)", 42.13, -80.08, 100.0),),
        capacity_hours=150.0,
        capacity_by_rep=(("R01", 90.0),),
    )
    roster = scenario_roster(sample_reps, sc, accounts=base.accounts, territory=base.assignment)
    ids = roster["rep_id"].astype(str).tolist()
    assert "R03" not in ids and "HIRE-1" in ids and len(roster) == len(sample_reps)
    caps = dict(zip(ids, roster["capacity_hours"], strict=True))
    assert caps["R01"] == 90.0 and caps["HIRE-1"] == 150.0 and caps["R02"] == 150.0
    hire = roster[roster["rep_id"] == "HIRE-1"].iloc[0]
    assert hire["home_lat"] == 42.13 and hire["name"] == "New rep (Erie)"
    # Erie is nearest to the Buffalo rep: the hire joins that district for roll-ups.
    buffalo = sample_reps.set_index("rep_id").loc["R02"]
    assert (hire["region"], hire["district"]) == (buffalo["region"], buffalo["district"])
    assert roster.loc[roster["rep_id"] == "R01", "district"].item() == "PA"


def test_team_size_removes_least_loaded_or_adds_hires(base: PlanSnapshot, sample_reps) -> None:
    smaller = scenario_roster(sample_reps, Scenario(team_size=10), accounts=base.accounts,
                              territory=base.assignment)  # fmt: skip
    assert len(smaller) == 10
    util = base.table.set_index("territory_id")["utilisation"]
    dropped = set(sample_reps["rep_id"].astype(str)) - set(smaller["rep_id"].astype(str))
    assert dropped == set(util.nsmallest(2).index)
    larger = scenario_roster(sample_reps, Scenario(team_size=14), accounts=base.accounts,
                             territory=base.assignment)  # fmt: skip
    assert len(larger) == 14
    assert larger["rep_id"].astype(str).str.startswith("HIRE-").sum() == 2
    assert larger["rep_id"].is_unique


def test_hires_go_where_load_per_rep_is_heaviest(base: PlanSnapshot, sample_reps) -> None:
    hires = place_hires(base.accounts, base.assignment, sample_reps, 1)
    busiest = str(base.table.set_index("territory_id")["utilisation"].idxmax())
    in_busiest = (base.assignment == busiest).fillna(False).to_numpy(bool)
    lat = base.accounts.loc[in_busiest, "lat"]
    lon = base.accounts.loc[in_busiest, "lon"]
    assert lat.min() <= hires[0].lat <= lat.max() and lon.min() <= hires[0].lon <= lon.max()
    assert hires[0].capacity_hours == float(sample_reps["capacity_hours"].median())


def test_unknown_reps_are_reported_together(base: PlanSnapshot, sample_reps) -> None:
    sc = Scenario(leaving=("NOPE",), capacity_by_rep=(("GHOST", 10.0),), team_size=0)
    with pytest.raises(InputError) as info:
        scenario_roster(sample_reps, sc, accounts=base.accounts, territory=base.assignment)
    assert {p.value for p in info.value.problems} == {"NOPE", "GHOST", "0"}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("06103", "ZIP 06103"),
        ("Hartford, CT", "Hartford, CT"),
        ("41.5, -72.5", "41.5000, -72.5000"),
    ],
)
def test_hire_location_forms(text: str, label: str) -> None:
    lat, lon, got = hire_location(text)
    assert got == label
    assert 41.0 < lat < 42.0 and -73.0 < lon < -72.0


@pytest.mark.parametrize("text", ["00000", "Atlantis, ZZ", "91, 10", "somewhere", ""])
def test_hire_location_rejects_bad_text(text: str) -> None:
    with pytest.raises(InputError) as info:
        hire_location(text)
    assert info.value.problems[0].fix


def test_compare_counts_moves_per_rep(base: PlanSnapshot) -> None:
    plan = base.plan
    # Move every cell of the first territory to the second one.
    moved_cells = plan.cells_of(plan.territory_ids[0])
    other = plan.reassign_cells(moved_cells, plan.territory_ids[1])
    after = snapshot(other, base.accounts, base.reps, scoring=base.scoring)
    diff = compare_plans(base, after)
    n_first = int(base.table["accounts"].iloc[0])
    assert diff.accounts_moved == n_first
    per = diff.per_rep.set_index("territory_id")
    assert per.loc[plan.territory_ids[0], "moved_out"] == n_first
    assert per.loc[plan.territory_ids[1], "moved_in"] == n_first
    assert per["moved_in"].sum() == per["moved_out"].sum() == n_first
    kpis = diff.kpis.set_index("metric")
    assert kpis.loc["max_deviation", "after"] > kpis.loc["max_deviation", "before"]
    assert np.allclose(kpis["delta"], kpis["after"] - kpis["before"])


def test_compare_with_itself_is_quiet(base: PlanSnapshot) -> None:
    diff = compare_plans(base, base)
    assert diff.accounts_moved == 0
    assert (diff.kpis["delta"] == 0).all()
    assert Scenario().is_baseline and not Scenario(team_size=3).is_baseline


def test_curve_row(base: PlanSnapshot) -> None:
    row = curve_row(12, base)
    assert row["reps"] == 12
    assert 0 < row["share_within_capacity"] <= 1
    assert row["max_utilisation"] >= row["mean_utilisation"]


def test_scenario_is_a_hashable_cache_key() -> None:
    sc = Scenario(hires=(Hire("x", 1.0, 2.0),), leaving=("R01",))
    assert hash(sc) == hash(dataclasses.replace(sc))
    assert sc != dataclasses.replace(sc, leaving=())


@pytest.fixture(scope="module")
def engine_base(sample_accounts: pd.DataFrame, sample_reps: pd.DataFrame) -> PlanSnapshot:
    from terrmap.design import build_plan

    plan = build_plan(sample_accounts, sample_reps, random_state=0)
    return snapshot(plan, sample_accounts, sample_reps, scoring=ScoringConfig())


def _detached_patch(plan_cells: np.ndarray) -> tuple[float, float]:
    """Centre of the smallest island of the study area (a patch apart from the rest)."""
    from scipy.sparse.csgraph import connected_components

    from terrmap.grid import adjacency, cells_to_latlon

    _, island = connected_components(adjacency(plan_cells), directed=False)
    smallest = np.argmin(np.bincount(island))
    lat, lon = cells_to_latlon(plan_cells[island == smallest])
    return float(lat.mean()), float(lon.mean())


def test_new_territories_start_apart_and_on_ground_that_holds_them(
    engine_base: PlanSnapshot, sample_accounts: pd.DataFrame
) -> None:
    """Regression: two hires at one spot shared a start cell, and a hire beside a
    detached patch started on it; either way a new territory stayed empty (-99%)."""
    from terrmap.design import DesignConfig

    lat, lon = _detached_patch(engine_base.plan.cells)
    hires = (
        Hire("Twin A", 42.20, -71.28, 140.0),
        Hire("Twin B", 42.20, -71.28, 140.0),
        Hire("By the patch", lat, lon, 140.0),
    )
    result = run_scenario(
        sample_accounts, engine_base, Scenario(hires=hires), design=DesignConfig()
    )
    report = result.plan.report
    assert report is not None and report.tolerance_met, report.binding_constraint
    table = result.table.set_index("territory_id")
    for rep_id in ("HIRE-1", "HIRE-2", "HIRE-3"):
        assert abs(table.loc[rep_id, "deviation"]) <= 0.02
        assert bool(table.loc[rep_id, "contiguous"])


def test_an_added_rep_gets_the_ground_around_their_home(
    engine_base: PlanSnapshot, sample_accounts: pd.DataFrame
) -> None:
    """Regression: a new territory was seeded at a random far cell, not at the hire's home."""
    from terrmap.design import DesignConfig
    from terrmap.grid import latlon_to_cells

    for lat, lon in (
        (42.13, -80.08),
        (41.76, -72.68),
        (44.48, -73.21),
    ):  # Erie, Hartford, Burlington
        sc = Scenario(hires=(Hire("New rep", lat, lon, 140.0),))
        result = run_scenario(sample_accounts, engine_base, sc, design=DesignConfig())
        plan = result.plan
        home = latlon_to_cells(np.array([lat]), np.array([lon]), plan.resolution)
        assert plan.territory_ids[plan.territory_of_cells(home)[0]] == "HIRE-1", (lat, lon)


def test_neighbour_scenarios_match_what_the_sliders_send() -> None:
    from terrmap.scenarios import neighbour_scenarios

    grid = {"capacity_range": (40.0, 220.0), "capacity_step": 5.0}
    now = Scenario()
    ahead = neighbour_scenarios(now, team=12, capacity=142.5, **grid)
    # The browser shows 142.5 but steps from 145 on the slider's grid: 150 and 140.
    assert ahead == [
        Scenario(team_size=13),
        Scenario(team_size=11),
        Scenario(capacity_hours=150.0),
        Scenario(capacity_hours=140.0),
    ]
    moved = Scenario(team_size=13, capacity_hours=150.0)
    ahead = neighbour_scenarios(moved, team=12, capacity=142.5, capacity_first=True, **grid)
    assert ahead[:2] == [
        Scenario(team_size=13, capacity_hours=155.0),
        Scenario(team_size=13, capacity_hours=145.0),
    ]
    # Back at the current size the team change disappears (None), as the controls report.
    assert Scenario(capacity_hours=150.0) in ahead
    edge = neighbour_scenarios(
        Scenario(team_size=1, capacity_hours=220.0), team=12, capacity=142.5, **grid
    )
    assert Scenario(team_size=0, capacity_hours=220.0) not in edge
    assert all((s.capacity_hours or 0) <= 220.0 for s in edge)
