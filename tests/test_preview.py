"""Previews (KPI deltas before applying), plan diffs and edit records between plans."""

from __future__ import annotations

from typing import Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
from edit_world import CENTRE, RES, WORLD, account_in

from terrmap.edits import assign_cells, override_accounts
from terrmap.grid import cells_to_latlon
from terrmap.locks import lock
from terrmap.metrics import contiguity, territory_table
from terrmap.plan import Plan
from terrmap.preview import diff_plans, plan_changes, preview


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return WORLD


# --------------------------------------------------------------------------- preview


def test_preview_matches_applying_and_recomputing(world: Any) -> None:
    plan, accounts = world
    result = assign_cells(plan, accounts, plan.cells_of("T01")[:6], "T02")
    pv = preview(plan, result, accounts)
    assert pv.plan is result.plan and pv.edit is result.edit
    assert set(pv.table["territory_id"]) == {"T01", "T02"}
    before = territory_table(plan, accounts).set_index("territory_id")
    after = territory_table(result.plan, accounts).set_index("territory_id")
    for _, row in pv.table.iterrows():
        t = row["territory_id"]
        assert row["accounts_before"] == before.loc[t, "accounts"]
        assert row["accounts_after"] == after.loc[t, "accounts"]
        assert row["workload_hours_delta"] == pytest.approx(
            after.loc[t, "workload_hours"] - before.loc[t, "workload_hours"]
        )
        assert row["deviation_after"] == pytest.approx(after.loc[t, "deviation"])
    assert pv.table["accounts_delta"].sum() == 0
    assert pv.table["workload_hours_delta"].sum() == pytest.approx(0.0, abs=1e-9)
    assert pv.moved_accounts == result.edit.count("account")
    assert dict(zip(pv.table["territory_id"], pv.table["role"], strict=True)) == {
        "T01": "gives",
        "T02": "gets",
    }


def _line_plan() -> tuple[Plan, np.ndarray]:
    """T02 is a one-cell-wide line through T01 (cutting its middle splits it)."""
    centre = h3n.latlng_to_cell(*CENTRE, RES)
    cells = np.sort(np.asarray(h3n.grid_disk(centre, 4), dtype=np.uint64))
    ring = np.asarray(h3n.grid_ring(centre, 4), dtype=np.uint64)
    a, b = int(ring[0]), int(ring[len(ring) // 2])
    line = np.asarray(h3n.grid_path_cells(a, b), dtype=np.uint64)
    labels = np.isin(cells, line).astype(np.int32)
    return Plan(cells, labels, ("T01", "T02"), (None, None), RES), line


def test_preview_tells_whether_the_donor_stays_in_one_piece() -> None:
    plan, line = _line_plan()
    lat, lon = cells_to_latlon(plan.cells)
    accounts = pd.DataFrame(
        {
            "account_id": pd.array([f"A{i}" for i in range(plan.cells.size)], dtype="string"),
            "lat": lat,
            "lon": lon,
            "workload_hours": np.ones(plan.cells.size),
        }
    )
    middle = assign_cells(plan, accounts, line[len(line) // 2 : len(line) // 2 + 1], "T01")
    pv = preview(plan, middle, accounts)
    assert not pv.donors_contiguous
    assert not contiguity(middle.plan.cells, middle.plan.labels)[1]  # independent check
    end = assign_cells(plan, accounts, plan.cells_of("T01")[:1], "T02")
    assert preview(plan, end, accounts).donors_contiguous == bool(
        contiguity(end.plan.cells, end.plan.labels)[0]
    )


def test_preview_of_lock_affects_no_territory(world: Any) -> None:
    plan, accounts = world
    pv = preview(plan, lock(plan, territories=["T01"]), accounts)
    assert pv.table.empty and pv.donors_contiguous and pv.moved_accounts == 0


def test_preview_uses_rep_homes_for_travel(world: Any) -> None:
    plan, accounts = world
    plan = Plan(plan.cells, plan.labels, plan.territory_ids, ("R1", "R2", "R3", "R4"), RES)
    reps = pd.DataFrame(
        {
            "rep_id": ["R1", "R2", "R3", "R4"],
            "home_lat": [CENTRE[0]] * 4,
            "home_lon": [CENTRE[1]] * 4,
        }
    )
    far = plan.cells_of("T01")
    lat, lon = cells_to_latlon(far)
    outer = far[np.argsort(-np.hypot(lat - CENTRE[0], lon - CENTRE[1]))[:3]]
    pv = preview(plan, assign_cells(plan, accounts, outer, "T02"), accounts, reps=reps)
    row = pv.table.set_index("territory_id")
    assert row.loc["T02", "travel_km_delta"] > 0  # T02 gains far-away accounts
    assert row.loc["T01", "travel_km_delta"] < 0


# --------------------------------------------------------------------------- diff


def test_diff_counts_in_and_out(world: Any) -> None:
    plan, accounts = world
    other = assign_cells(plan, accounts, plan.cells_of("T01")[:5], "T03").plan
    other = override_accounts(other, accounts, account_in(plan, accounts, "T02", n=2), "T04").plan
    diff = diff_plans(plan, other, accounts)
    t = diff.table.set_index("territory_id")
    assert (t["accounts_b"] == t["accounts_a"] + t["accounts_in"] - t["accounts_out"]).all()
    assert np.allclose(t["workload_b"], t["workload_a"] + t["workload_in"] - t["workload_out"])
    assert t["accounts_in"].sum() == t["accounts_out"].sum() == diff.moved_accounts
    assert t.loc["T04", "accounts_in"] == 2 and t.loc["T02", "accounts_out"] == 2
    assert "account(s) moved" in diff.to_text("A", "B")
    assert diff_plans(plan, plan, accounts).moved_accounts == 0


def test_plan_changes_lists_cells_and_accounts(world: Any) -> None:
    plan, accounts = world
    result = assign_cells(plan, accounts, plan.cells_of("T01")[:5], "T03")
    edit = plan_changes(plan, result.plan, accounts=accounts, kind="revert")
    assert edit.kind == "revert"
    assert set(edit.changes) == set(result.edit.changes)
