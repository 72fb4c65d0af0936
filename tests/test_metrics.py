"""Tests for terrmap.metrics: balance, compactness, contiguity, tables."""

from __future__ import annotations

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from terrmap import metrics
from terrmap.plan import Plan


def test_haversine_known_distance():
    # New York City Hall -> Los Angeles City Hall is about 3,936 km
    d = metrics.haversine_km(40.7128, -74.0060, 34.0537, -118.2428)
    assert d == pytest.approx(3936, rel=0.005)
    assert metrics.haversine_km(10, 20, 10, 20) == 0


def test_deviation_and_cv():
    loads, targets = np.array([90.0, 100.0, 110.0]), np.array([100.0, 100.0, 100.0])
    np.testing.assert_allclose(metrics.deviations(loads, targets), [-0.1, 0.0, 0.1])
    assert metrics.max_abs_deviation(loads, targets) == pytest.approx(0.1)
    assert metrics.coefficient_of_variation(loads, targets) == pytest.approx(
        np.std([0.9, 1.0, 1.1]) / 1.0
    )
    assert metrics.max_abs_deviation([], []) == 0.0
    # a territory with load but no target is infinitely off
    assert metrics.max_abs_deviation([1.0], [0.0]) == np.inf


def test_unequal_targets():
    # a new hire at 60% capacity with 60% of the load is exactly on target
    assert metrics.max_abs_deviation([60.0, 100.0], [60.0, 100.0]) == 0.0


def test_compactness_of_single_points_is_zero_and_scales():
    lat = np.array([40.0, 40.0, 41.0, 41.0])
    lon = np.array([-75.0, -75.0, -74.0, -74.0])
    assert metrics.compactness_km(lat, lon, np.ones(4), [0, 0, 1, 1]) == pytest.approx(0, abs=1e-9)
    # two points 1 degree of latitude apart in one territory: each is ~55.6 km away
    c = metrics.compactness_km(np.array([40.0, 41.0]), np.array([-75.0, -75.0]), [1, 1], [0, 0])
    assert c == pytest.approx(111.2 / 2, rel=0.01)


def test_compactness_ignores_unassigned():
    lat, lon = np.array([40.0, 60.0]), np.array([-75.0, 0.0])
    assert metrics.compactness_km(lat, lon, [1, 1], [0, -1]) == pytest.approx(0, abs=1e-9)


@given(st.integers(0, 1000), st.permutations(list(range(5))))
def test_relabelling_changes_no_metric(seed, perm):
    rng = np.random.default_rng(seed)
    n = 60
    lat, lon = rng.uniform(40, 42, n), rng.uniform(-75, -72, n)
    w = rng.gamma(2, 2, n)
    labels = rng.integers(0, 5, n)
    relabel = np.asarray(perm)[labels]
    targets = rng.uniform(50, 150, 5)
    loads = metrics.territory_loads(w, labels, n_territories=5)
    loads2 = metrics.territory_loads(w, relabel, n_territories=5)
    targets2 = np.empty(5)
    targets2[np.asarray(perm)] = targets
    assert metrics.compactness_km(lat, lon, w, labels) == pytest.approx(
        metrics.compactness_km(lat, lon, w, relabel)
    )
    assert metrics.max_abs_deviation(loads, targets) == pytest.approx(
        metrics.max_abs_deviation(loads2, targets2)
    )
    assert metrics.coefficient_of_variation(loads, targets) == pytest.approx(
        metrics.coefficient_of_variation(loads2, targets2)
    )
    cells = h3n.grid_disk(int(h3n.latlng_to_cell(41, -74, 6)), 4)[:n]
    lab_c = labels[: cells.size]
    c1 = metrics.contiguity(cells, lab_c, n_territories=5)
    c2 = metrics.contiguity(cells, np.asarray(perm)[lab_c], n_territories=5)
    assert sorted(c1.tolist()) == sorted(c2.tolist())
    np.testing.assert_array_equal(c1, c2[np.asarray(perm)])


def _line(n: int) -> np.ndarray:
    start = int(h3n.latlng_to_cell(41.0, -74.0, 7))
    end = int(h3n.latlng_to_cell(41.0, -73.0, 7))
    return np.asarray(h3n.grid_path_cells(start, end), dtype=np.uint64)[:n]


def test_contiguity_detects_split_territory():
    cells = _line(12)
    labels = np.array([0] * 4 + [1] * 4 + [0] * 4)
    np.testing.assert_array_equal(metrics.contiguity(cells, labels), [False, True])
    labels = np.array([0] * 6 + [1] * 6)
    np.testing.assert_array_equal(metrics.contiguity(cells, labels), [True, True])


def test_contiguity_allows_parts_on_separate_islands():
    a = _line(5)
    far = int(h3n.latlng_to_cell(45.0, -70.0, 7))
    b = np.asarray(h3n.grid_disk(far, 1), dtype=np.uint64)
    cells = np.concatenate([a, b])
    labels = np.array([0] * 5 + [0] * b.size)
    assert metrics.contiguity(cells, labels).all()
    labels = np.array([0, 0, 1, 0, 0] + [1] * b.size)
    np.testing.assert_array_equal(metrics.contiguity(cells, labels), [False, True])


def _plan_and_accounts() -> tuple[Plan, pd.DataFrame]:
    cells = _line(10)
    lat, lon = (
        np.array([h3n.cell_to_latlng(int(c))[0] for c in cells]),
        np.array([h3n.cell_to_latlng(int(c))[1] for c in cells]),
    )
    plan = Plan(
        cells=cells,
        labels=np.array([0] * 5 + [1] * 5),
        territory_ids=("T01", "T02"),
        rep_ids=("R1", None),
        resolution=7,
        params={"balance": "workload", "target_shares": [0.5, 0.5]},
    )
    acc = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(10)] + ["OUT"],
            "lat": np.append(lat, 10.0),
            "lon": np.append(lon, 10.0),
            "workload_hours": [1.0] * 5 + [3.0] * 5 + [100.0],
            "opportunity": [10.0] * 11,
            "tier": pd.array([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, pd.NA], dtype="Int8"),
        }
    )
    return plan, acc


def test_territory_table():
    plan, acc = _plan_and_accounts()
    reps = pd.DataFrame({"rep_id": ["R1"], "name": ["Ann"], "capacity_hours": [10.0]})
    table = metrics.territory_table(plan, acc, reps)
    assert list(table.columns) == [
        "territory_id", "rep_id", "rep_name", "accounts", "tier1", "tier2", "tier3",
        "workload_hours", "opportunity", "target", "deviation", "capacity_hours",
        "utilisation", "compactness_km", "contiguous", "cells",
    ]  # fmt: skip
    assert table["accounts"].tolist() == [5, 5]
    assert table["workload_hours"].tolist() == [5.0, 15.0]
    assert table["target"].tolist() == [10.0, 10.0]
    np.testing.assert_allclose(table["deviation"], [-0.5, 0.5])
    assert table["rep_name"].tolist()[0] == "Ann" and pd.isna(table["rep_name"].iloc[1])
    assert table["utilisation"].iloc[0] == pytest.approx(0.5)
    assert table["contiguous"].all()
    assert table[["tier1", "tier2", "tier3"]].to_numpy().sum() == 10


def test_rollup_sums_territories_up_the_reps_hierarchy():
    plan, acc = _plan_and_accounts()
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2"],
            "capacity_hours": [10.0, 20.0],
            "region": ["East", "East"],
            "district": ["North", None],
        }
    )
    table = metrics.territory_table(plan, acc, reps)
    roll = metrics.rollup(table, reps)
    assert roll is not None
    assert roll[["region", "district"]].values.tolist() == [["(none)", "(none)"], ["East", "North"]]
    assert roll["territories"].tolist() == [1, 1]  # T02 has no rep
    assert roll["workload_hours"].tolist() == [15.0, 5.0]
    np.testing.assert_allclose(roll["max_deviation"], [0.5, 0.5])
    assert roll["utilisation"].iloc[1] == pytest.approx(0.5) and pd.isna(roll["utilisation"][0])
    by_region = metrics.rollup(table, reps, levels=("region",))
    assert by_region is not None and by_region["accounts"].sum() == 10
    assert metrics.rollup(table, reps.drop(columns=["region", "district"])) is None
    assert metrics.rollup(table, None) is None


def test_rollup_change_lines_up_groups_either_side_has():
    plan, acc = _plan_and_accounts()
    reps = pd.DataFrame({"rep_id": ["R1"], "capacity_hours": [10.0], "district": ["North"]})
    before = metrics.territory_table(plan, acc, reps)
    moved = Plan(
        cells=plan.cells, labels=plan.labels, territory_ids=("T01", "T02"), rep_ids=("R1", "R2"),
        resolution=7, params=plan.params,
    )  # fmt: skip
    after_reps = pd.concat([reps, pd.DataFrame({"rep_id": ["R2"], "district": ["South"]})])
    after = metrics.territory_table(moved, acc, after_reps)
    change = metrics.rollup_change((before, reps), (after, after_reps))
    assert change is not None
    assert change["district"].tolist() == ["(none)", "North", "South"]
    assert change["territories_before"].tolist() == [1, 1, 0]
    assert change["territories_after"].tolist() == [0, 1, 1]
    assert metrics.rollup_change((before, None), (after, after_reps)) is None


def test_plan_health():
    plan, acc = _plan_and_accounts()
    health = metrics.plan_health(plan, acc)
    assert health["max_deviation"] == pytest.approx(0.5)
    assert health["unassigned_accounts"] == 1
    assert health["multiply_owned_accounts"] == 0
    assert health["contiguous_share"] == 1.0
    assert health["compactness_km"] > 0
    dup = pd.concat([acc.iloc[[0]].assign(lat=acc["lat"].iloc[9], lon=acc["lon"].iloc[9]), acc])
    assert metrics.plan_health(plan, dup)["multiply_owned_accounts"] == 1


def test_moved_accounts():
    plan, acc = _plan_and_accounts()
    other = plan.reassign_cells(_line(10)[4:5], "T02")  # the cell account A4 stands on
    assert metrics.moved_accounts(other, plan, acc).tolist() == ["A4"]
