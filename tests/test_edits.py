"""Hand edits as pure functions: select, paint, override, lock, preview, diff, undo/redo."""

from __future__ import annotations

from typing import Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from terrmap import edits
from terrmap.edits import (
    Change,
    Edit,
    History,
    LockedError,
    assign_cells,
    cell_at,
    cells_in_geometry,
    clear_overrides,
    diff_plans,
    lock,
    lock_all,
    locked_territories,
    override_accounts,
    plan_changes,
    preview,
    select_from_payload,
    unlock,
    unlock_all,
)
from terrmap.errors import InfeasibleError, TerrmapError
from terrmap.grid import cell_resolution, cells_to_latlon, latlon_to_cells
from terrmap.metrics import contiguity, territory_table
from terrmap.plan import Plan

RES = 7
CENTRE = (40.0, -75.0)
K = 4


def _world(n_accounts: int = 300, seed: int = 0) -> tuple[Plan, pd.DataFrame]:
    """A disk of res-7 cells cut into K wedge territories; accounts near cell centres."""
    rng = np.random.default_rng(seed)
    centre = h3n.latlng_to_cell(*CENTRE, RES)
    cells = np.sort(np.asarray(h3n.grid_disk(centre, 5), dtype=np.uint64))
    lat, lon = cells_to_latlon(cells)
    angle = np.arctan2(lat - CENTRE[0], lon - CENTRE[1])
    labels = (((angle + np.pi) / (2 * np.pi)) * K).astype(int) % K
    tids = tuple(f"T{i + 1:02d}" for i in range(K))
    plan = Plan(cells, labels, tids, (None,) * K, RES, params={"balance": "workload"})
    pick = rng.integers(0, cells.size, n_accounts)
    accounts = pd.DataFrame(
        {
            "account_id": pd.array([f"A{i:04d}" for i in range(n_accounts)], dtype="string"),
            "lat": lat[pick] + rng.normal(0, 2e-4, n_accounts),
            "lon": lon[pick] + rng.normal(0, 2e-4, n_accounts),
            "workload_hours": rng.uniform(0.5, 6.0, n_accounts),
            "opportunity": rng.uniform(1e3, 5e4, n_accounts),
            "tier": pd.array(rng.integers(1, 4, n_accounts), dtype="Int8"),
        }
    )
    return plan, accounts


WORLD = _world()


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return WORLD


def _cells_of(plan: Plan, tid: str) -> np.ndarray:
    return plan.cells_of(tid)


def _account_in(plan: Plan, accounts: pd.DataFrame, tid: str, *, n: int = 1) -> list[str]:
    where = plan.assign(accounts)
    return list(accounts.loc[(where == tid).to_numpy(), "account_id"].astype(str)[:n])


# --------------------------------------------------------------------------- select


def test_cell_at_finds_the_cell_under_a_point(world: Any) -> None:
    plan, _ = world
    lat, lon = cells_to_latlon(plan.cells[10:11])
    assert cell_at(plan, float(lat[0]), float(lon[0])) == int(plan.cells[10])
    assert cell_at(plan, 10.0, 10.0) is None


def test_lasso_selects_cells_whose_centre_is_inside(world: Any) -> None:
    plan, _ = world
    lat, lon = cells_to_latlon(plan.cells)
    box = shapely.box(CENTRE[1] - 0.05, CENTRE[0] - 0.04, CENTRE[1] + 0.05, CENTRE[0] + 0.04)
    expected = plan.cells[shapely.contains_xy(box, lon, lat)]
    assert expected.size > 3
    geometry = shapely.geometry.mapping(box)
    feature = {"type": "Feature", "properties": {}, "geometry": geometry}
    for shape in (geometry, feature, box):
        got = cells_in_geometry(plan, shape)
        assert np.array_equal(np.sort(got), np.sort(expected))


def test_huge_or_broken_shapes(world: Any) -> None:
    plan, _ = world
    continent = shapely.box(-125.0, 25.0, -66.0, 49.0)  # clipped to the plan first
    assert np.array_equal(np.sort(cells_in_geometry(plan, continent)), plan.cells)
    assert cells_in_geometry(plan, {"type": "Polygon", "coordinates": []}).size == 0
    assert (
        cells_in_geometry(plan, {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}).size == 0
    )
    assert cells_in_geometry(plan, shapely.box(10, 10, 11, 11)).size == 0  # far away
    assert select_from_payload(plan, {"properties": {"h3": "not-a-hex"}}).size == 0
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[-75.1, 39.9], [-74.9, 40.1], [-74.9, 39.9], [-75.1, 40.1], [-75.1, 39.9]]
        ],
    }
    assert cells_in_geometry(plan, bowtie).size > 0  # self-crossing lasso is repaired


def test_small_rectangle_selects_the_cell_under_it(world: Any) -> None:
    plan, _ = world
    lat, lon = cells_to_latlon(plan.cells[20:21])
    tiny = shapely.box(lon[0] - 1e-4, lat[0] - 1e-4, lon[0] + 1e-4, lat[0] + 1e-4)
    assert cells_in_geometry(plan, tiny).tolist() == [int(plan.cells[20])]


def _split(plan: Plan, index: int) -> Plan:
    """The plan with one cell replaced by its seven children (adaptive resolution)."""
    parent = int(plan.cells[index])
    kids = np.asarray(h3n.cell_to_children(parent, RES + 1), dtype=np.uint64)
    keep = plan.cells != parent
    cells = np.concatenate([plan.cells[keep], kids])
    labels = np.concatenate([plan.labels[keep], np.full(kids.size, plan.labels[index])])
    return Plan(cells, labels, plan.territory_ids, plan.rep_ids, RES, params=plan.params)


def test_mixed_resolution_selection_and_paint(world: Any) -> None:
    plan, accounts = world
    mixed = _split(plan, 30)
    assert set(cell_resolution(mixed.cells).tolist()) == {RES, RES + 1}
    kids = mixed.cells[cell_resolution(mixed.cells) == RES + 1]
    lat, lon = cells_to_latlon(kids[:1])
    assert cell_at(mixed, float(lat[0]), float(lon[0])) == int(kids[0])
    hull = shapely.MultiPoint(np.column_stack(cells_to_latlon(kids)[::-1])).buffer(1e-3)
    picked = cells_in_geometry(mixed, hull)
    assert set(kids.tolist()) <= set(picked.tolist())
    # Painting the parent id moves the child under its centre only.
    other = next(t for t in mixed.territory_ids if t != mixed.territory_ids[mixed.labels[0]])
    target = next(t for t in mixed.territory_ids if t != mixed.territory_ids[plan.labels[30]])
    result = assign_cells(mixed, accounts, [int(plan.cells[30])], target)
    assert result.edit.count("cell") == 1
    assert int(result.edit.changes[0].key, 16) in kids.tolist()
    assert other  # the plan has more than one territory


def test_payloads_from_the_map(world: Any) -> None:
    plan, _ = world
    cell = int(plan.cells[5])
    click = {
        "type": "Feature",
        "properties": {"h3": h3n.int_to_str(cell), "territory_id": "T01"},
        "geometry": {"type": "Polygon", "coordinates": []},
    }
    assert select_from_payload(plan, click).tolist() == [cell]
    lat, lon = cells_to_latlon(plan.cells[5:6])
    point = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Point", "coordinates": [lon[0], lat[0]]},
    }
    assert select_from_payload(plan, point).tolist() == [cell]
    assert select_from_payload(plan, {"lat": lat[0], "lng": lon[0]}).tolist() == [cell]
    box = shapely.box(lon[0] - 0.1, lat[0] - 0.1, lon[0] + 0.1, lat[0] + 0.1)
    drawing = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(box)}
    assert cell in select_from_payload(plan, drawing).tolist()
    assert select_from_payload(plan, None).size == 0
    outside = {
        "type": "Feature",
        "properties": {"h3": h3n.int_to_str(h3n.latlng_to_cell(0, 0, RES))},
    }
    assert select_from_payload(plan, outside).size == 0


# --------------------------------------------------------------------------- paint


def test_paint_moves_cells_and_the_accounts_on_them(world: Any) -> None:
    plan, accounts = world
    donor = _cells_of(plan, "T01")[:4]
    result = assign_cells(plan, accounts, donor, "T03")
    assert (result.plan.territory_of_cells(donor) == plan.index_of("T03")).all()
    before, after = plan.assign(accounts), result.plan.assign(accounts)
    moved = set(accounts.loc[(before != after).to_numpy(), "account_id"])
    recorded = {c.key for c in result.edit.changes if c.item == "account"}
    assert moved == recorded and moved
    assert {(c.before, c.after) for c in result.edit.changes} == {("T01", "T03")}
    untouched = ~np.isin(plan.cells, donor)
    assert np.array_equal(result.plan.labels[untouched], plan.labels[untouched])
    assert result.edit.summary().startswith("assign: 4 cells")


def test_paint_into_own_territory_is_a_no_op(world: Any) -> None:
    plan, accounts = world
    result = assign_cells(plan, accounts, _cells_of(plan, "T02")[:3], "T02")
    assert result.plan is plan and not result.changed
    assert History.start(plan).apply(result).cursor == 0


def test_paint_to_unknown_territory_names_the_choices(world: Any) -> None:
    plan, accounts = world
    with pytest.raises(TerrmapError, match=r"no territory 'T99'.*T01, T02, T03, T04"):
        assign_cells(plan, accounts, plan.cells[:1], "T99")


def test_locked_cells_are_skipped_and_reported(world: Any) -> None:
    plan, accounts = world
    cells = _cells_of(plan, "T01")[:5]
    locked = lock(plan, cells=cells[:2]).plan
    result = assign_cells(locked, accounts, cells, "T02")
    assert result.edit.count("cell") == 3
    assert {c.key for c in result.edit.skipped} == {h3n.int_to_str(int(c)) for c in cells[:2]}
    assert (result.plan.territory_of_cells(cells[:2]) == plan.index_of("T01")).all()
    with pytest.raises(LockedError, match=r"all 2 selected cell\(s\) are locked"):
        assign_cells(locked, accounts, cells[:2], "T02")


def test_locked_territory_refuses_cells_in_and_out(world: Any) -> None:
    plan, accounts = world
    locked = lock(plan, territories=["T02"]).plan
    assert locked_territories(locked) == ("T02",)
    with pytest.raises(LockedError, match=r"territory T02 is locked"):
        assign_cells(locked, accounts, _cells_of(plan, "T01")[:2], "T02")
    with pytest.raises(LockedError):
        assign_cells(locked, accounts, _cells_of(plan, "T02")[:2], "T01")
    with pytest.raises(LockedError):
        override_accounts(locked, accounts, _account_in(plan, accounts, "T01"), "T02")


def test_locked_account_stays_when_its_cell_is_painted(world: Any) -> None:
    plan, accounts = world
    acc = _account_in(plan, accounts, "T01")[0]
    cell = int(plan.account_cells(accounts[accounts["account_id"] == acc])[0])
    locked = lock(plan, account_ids=[acc]).plan
    result = assign_cells(locked, accounts, [cell], "T04")
    assert result.plan.assign(accounts)[(accounts["account_id"] == acc).to_numpy()].iloc[0] == "T01"
    assert Change("account", acc, "T01", "T04") in result.edit.skipped
    assert result.plan.overrides[acc] == "T01"


# --------------------------------------------------------------------------- overrides


def test_override_moves_one_account_and_back_removes_it(world: Any) -> None:
    plan, accounts = world
    acc = _account_in(plan, accounts, "T01")[0]
    moved = override_accounts(plan, accounts, [acc], "T03")
    where = moved.plan.assign(accounts)
    mask = (accounts["account_id"] == acc).to_numpy()
    assert where[mask].iloc[0] == "T03"
    assert (where[~mask] == plan.assign(accounts)[~mask]).all()
    assert moved.edit.changes == (Change("account", acc, "T01", "T03"),)
    back = override_accounts(moved.plan, accounts, [acc], "T01")
    assert acc not in back.plan.overrides and back.plan.equals(plan)


def test_override_rejects_unknown_accounts_and_respects_locks(world: Any) -> None:
    plan, accounts = world
    with pytest.raises(TerrmapError, match=r"1 account id\(s\) are not in the accounts data: NOPE"):
        override_accounts(plan, accounts, ["NOPE"], "T02")
    acc = _account_in(plan, accounts, "T01", n=2)
    locked = lock(plan, account_ids=acc[:1]).plan
    result = override_accounts(locked, accounts, acc, "T02")
    assert [c.key for c in result.edit.changes] == acc[1:]
    assert [c.key for c in result.edit.skipped] == acc[:1]
    with pytest.raises(LockedError):
        override_accounts(locked, accounts, acc[:1], "T02")


def test_override_survives_painting_its_cell(world: Any) -> None:
    plan, accounts = world
    acc = _account_in(plan, accounts, "T01")[0]
    cell = plan.account_cells(accounts[accounts["account_id"] == acc])
    over = override_accounts(plan, accounts, [acc], "T02").plan
    painted = assign_cells(over, accounts, cell, "T04").plan
    mask = (accounts["account_id"] == acc).to_numpy()
    assert painted.assign(accounts)[mask].iloc[0] == "T02"


def test_clear_overrides(world: Any) -> None:
    plan, accounts = world
    accs = _account_in(plan, accounts, "T01", n=3)
    over = override_accounts(plan, accounts, accs, "T02").plan
    over = lock(over, account_ids=accs[:1]).plan
    cleared = clear_overrides(over, accounts)
    assert set(cleared.plan.overrides) == set(accs[:1])
    assert {c.key for c in cleared.edit.changes} == set(accs[1:])
    assert all((c.before, c.after) == ("T02", "T01") for c in cleared.edit.changes)


# --------------------------------------------------------------------------- locks


def test_lock_and_unlock_in_one_step(world: Any) -> None:
    plan, accounts = world
    acc = _account_in(plan, accounts, "T03")
    over = override_accounts(plan, accounts, acc, "T02").plan
    result = lock(over, territories=["T02"], cells=_cells_of(plan, "T01")[:2], accounts=accounts)
    locked = result.plan
    assert set(_cells_of(plan, "T02").tolist()) <= locked.locked_cells
    assert acc[0] in locked.locked_accounts  # overridden into a locked territory
    assert result.edit.count("territory") == 1 and result.edit.count("cell") == 2
    again = unlock(locked, territories=["T02"], cells=_cells_of(plan, "T01")[:2])
    assert not again.plan.locked_cells and not again.plan.locked_accounts
    assert again.edit.kind == "unlock"


def test_lock_all_unlock_all(world: Any) -> None:
    plan, accounts = world
    everything = lock_all(plan).plan
    assert everything.locked_cells == frozenset(plan.cells.tolist())
    assert set(locked_territories(everything)) == set(plan.territory_ids)
    with pytest.raises(LockedError):
        assign_cells(everything, accounts, plan.cells[:3], "T01")
    freed = unlock_all(everything)
    assert not freed.plan.locked_cells
    assert freed.edit.count("territory") == K


# --------------------------------------------------------------------------- preview


def test_preview_matches_applying_and_recomputing(world: Any) -> None:
    plan, accounts = world
    result = assign_cells(plan, accounts, _cells_of(plan, "T01")[:6], "T02")
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
    far = _cells_of(plan, "T01")
    lat, lon = cells_to_latlon(far)
    outer = far[np.argsort(-np.hypot(lat - CENTRE[0], lon - CENTRE[1]))[:3]]
    pv = preview(plan, assign_cells(plan, accounts, outer, "T02"), accounts, reps=reps)
    row = pv.table.set_index("territory_id")
    assert row.loc["T02", "travel_km_delta"] > 0  # T02 gains far-away accounts
    assert row.loc["T01", "travel_km_delta"] < 0


# --------------------------------------------------------------------------- diff


def test_diff_counts_in_and_out(world: Any) -> None:
    plan, accounts = world
    other = assign_cells(plan, accounts, _cells_of(plan, "T01")[:5], "T03").plan
    other = override_accounts(other, accounts, _account_in(plan, accounts, "T02", n=2), "T04").plan
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
    result = assign_cells(plan, accounts, _cells_of(plan, "T01")[:5], "T03")
    edit = plan_changes(plan, result.plan, accounts=accounts, kind="revert")
    assert edit.kind == "revert"
    assert set(edit.changes) == set(result.edit.changes)


# --------------------------------------------------------------------------- history


def test_undo_redo_over_the_whole_history(world: Any) -> None:
    plan, accounts = world
    h = History.start(plan)
    steps = [
        lambda p: assign_cells(p, accounts, _cells_of(plan, "T01")[:3], "T02"),
        lambda p: override_accounts(p, accounts, _account_in(plan, accounts, "T03"), "T04"),
        lambda p: lock(p, territories=["T04"]),
        lambda p: assign_cells(p, accounts, _cells_of(plan, "T03")[:2], "T01"),
    ]
    for step in steps:
        h = h.apply(step(h.current))
    assert h.cursor == 4 and [e.kind for e in h.applied()] == [
        "assign",
        "override",
        "lock",
        "assign",
    ]
    seen = [h.current]
    while h.can_undo:
        record = h.undo_record()
        assert record.kind == "undo"
        h = h.undo()
        seen.append(h.current)
    assert h.current is plan
    assert not h.can_undo
    with pytest.raises(TerrmapError, match="nothing to undo"):
        h.undo()
    for expected in reversed(seen[:-1]):
        h = h.redo()
        assert h.current is expected
    assert not h.can_redo
    assert h.goto(2).current is seen[2]
    # a new edit after undoing drops the undone steps
    branched = h.goto(1).apply(lock_all(h.goto(1).current))
    assert len(branched.plans) == 3 and not branched.can_redo
    assert len(branched.edited_cells()) == 3


def test_undo_record_inverts_the_edit(world: Any) -> None:
    plan, accounts = world
    h = History.start(plan).apply(assign_cells(plan, accounts, _cells_of(plan, "T01")[:2], "T02"))
    record = h.undo_record()
    assert {(c.before, c.after) for c in record.changes} == {("T02", "T01")}
    assert h.redo_record if h.can_redo else True


@given(
    picks=st.lists(st.integers(0, 90), min_size=1, max_size=25, unique=True),
    target=st.sampled_from(["T01", "T02", "T03", "T04"]),
    locked=st.lists(st.integers(0, 90), max_size=6, unique=True),
)
def test_paint_then_undo_restores_exactly(picks: list[int], target: str, locked: list[int]) -> None:
    plan, accounts = WORLD
    plan = lock(plan, cells=plan.cells[locked]).plan if locked else plan
    try:
        result = assign_cells(plan, accounts, plan.cells[picks], target)
    except LockedError:
        assert np.isin(plan.cells[picks], plan.cells[locked]).any()
        return
    h = History.start(plan).apply(result)
    if not result.changed:  # everything picked was already in the target
        assert result.plan is plan and h.cursor == 0
        return
    assert h.undo().current.equals(plan)
    # Painting every moved cell back to where it was gives an equal plan too.
    back = result.plan
    for before in {c.before for c in result.edit.changes if c.item == "cell"}:
        keys = [
            int(c.key, 16) for c in result.edit.changes if c.item == "cell" and c.before == before
        ]
        assert before is not None
        back = assign_cells(back, accounts, keys, before).plan
    assert back.equals(plan)
    # Every cell still has exactly one territory; locked cells never moved.
    assert result.plan.cells.size == plan.cells.size
    keep = np.isin(plan.cells, plan.cells[locked])
    assert np.array_equal(result.plan.labels[keep], plan.labels[keep])
    # Accounts are conserved: the preview's deltas sum to zero.
    pv = preview(plan, result, accounts)
    assert pv.table["accounts_delta"].sum() == 0


@given(
    accs=st.lists(st.integers(0, 299), min_size=1, max_size=10, unique=True),
    target=st.sampled_from(["T01", "T02", "T03", "T04"]),
)
def test_override_then_undo_and_inverse(accs: list[int], target: str) -> None:
    plan, accounts = WORLD
    ids = [f"A{i:04d}" for i in accs]
    result = override_accounts(plan, accounts, ids, target)
    assert (
        result.plan.assign(accounts)[accounts["account_id"].isin(ids).to_numpy()] == target
    ).all()
    h = History.start(plan).apply(result)
    assert h.cursor == (1 if result.changed else 0)
    assert (h.undo() if h.can_undo else h).current.equals(plan)
    cleared = clear_overrides(result.plan, accounts).plan
    assert cleared.equals(plan)


def test_edit_record_json_round_trip() -> None:
    edit = Edit("assign", (Change("cell", "872a13400ffffff", "T01", "T02"),), (), "note")
    assert Edit.from_dict(edit.to_dict()) == edit
    with pytest.raises(TerrmapError, match="unknown edit kind"):
        Edit.from_dict({"kind": "teleport"})
    assert edits.Edit("create").summary() == "create"


def test_latlon_helpers_agree(world: Any) -> None:
    plan, accounts = world
    cells = latlon_to_cells(accounts["lat"], accounts["lon"], RES)
    assert np.isin(cells, plan.cells).all()


# --------------------------------------------------------------------------- rebalance


@pytest.fixture(scope="module")
def designed() -> tuple[Plan, pd.DataFrame]:
    """An engine-made plan of 4 territories over 600 accounts."""
    from terrmap.design import DesignConfig, build_plan

    _, accounts = _world(600, seed=3)
    plan = build_plan(accounts, k=K, config=DesignConfig(tolerance=0.05), random_state=0)
    return plan, accounts


def _where(plan: Plan, accounts: pd.DataFrame, ids: list[str]) -> list[str]:
    mask = accounts["account_id"].isin(ids).to_numpy()
    found = plan.assign(accounts)[mask]
    order = dict(zip(accounts["account_id"][mask], found, strict=True))
    return [order[a] for a in ids]


def test_rebalance_holds_locks_overrides_and_painted_cells(designed: Any) -> None:
    plan, accounts = designed
    t1 = plan.cells_of("T01")
    h = History.start(plan)
    h = h.apply(lock(h.current, territories=["T04"]))
    h = h.apply(assign_cells(h.current, accounts, t1[:12], "T02"))  # unbalances T01/T02
    movers = _account_in(h.current, accounts, "T03", n=3)
    h = h.apply(override_accounts(h.current, accounts, movers, "T01"))
    pinned = _account_in(h.current, accounts, "T02", n=2)
    h = h.apply(lock(h.current, account_ids=pinned))
    current = h.current
    rb = edits.rebalance(current, accounts, keep_cells=h.edited_cells())
    new = rb.plan
    held = np.fromiter(current.locked_cells, np.uint64)
    assert np.array_equal(new.territory_of_cells(held), current.territory_of_cells(held))
    assert (new.territory_of_cells(t1[:12]) == current.territory_of_cells(t1[:12])).all()
    assert _where(new, accounts, movers) == ["T01"] * 3
    assert _where(new, accounts, pinned) == _where(current, accounts, pinned)
    assert new.locked_cells == current.locked_cells  # bookkeeping as the user left it
    assert new.locked_accounts >= current.locked_accounts
    assert set(movers) <= set(new.overrides)
    # what would move is reported consistently, before anything is applied
    assert rb.diff.moved_accounts == rb.edit.count("account") == rb.preview.moved_accounts
    assert h.current is current
    assert rb.edit.kind == "rebalance" and "max deviation" in rb.edit.note
    applied = h.apply(rb.preview)
    assert applied.current is new and applied.undo().current is current


def test_rebalance_regrids_and_overrides_survive(designed: Any) -> None:
    plan, accounts = designed
    movers = _account_in(plan, accounts, "T02", n=4)
    over = override_accounts(plan, accounts, movers, "T03").plan
    locked = lock(over, cells=over.cells_of("T01")[:5]).plan
    on_locked = accounts[
        np.isin(locked.account_cells(accounts), over.cells_of("T01")[:5])
        & ~accounts["account_id"].isin(movers).to_numpy()
    ]["account_id"].tolist()
    rb = edits.rebalance(locked, accounts, resolution=plan.resolution + 1)
    new = rb.plan
    assert new.resolution == plan.resolution + 1
    assert set(cell_resolution(new.cells).tolist()) >= {plan.resolution + 1}
    assert _where(new, accounts, movers) == ["T03"] * 4
    assert {new.overrides[a] for a in movers} == {"T03"}
    assert set(_where(new, accounts, on_locked)) <= {"T01"}
    assert new.locked_cells and set(
        new.territory_of_cells(np.fromiter(new.locked_cells, np.uint64)).tolist()
    ) == {0}


def test_rebalance_needs_the_roster_of_a_rep_plan(designed: Any) -> None:
    plan, accounts = designed
    with_reps = Plan(
        plan.cells, plan.labels, plan.territory_ids, ("A", "B", "C", "D"), plan.resolution
    )
    with pytest.raises(TerrmapError, match=r"needs the rep roster"):
        edits.rebalance(with_reps, accounts)


@settings(max_examples=8)
@given(
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=12, unique=True),
    territory=st.sampled_from([None, "T01", "T02", "T03", "T04"]),
    accs=st.lists(st.integers(0, 599), max_size=5, unique=True),
)
def test_locks_survive_rebalance(
    designed: Any, picks: list[int], territory: str | None, accs: list[int]
) -> None:
    plan, accounts = designed
    half = plan.cells_of("T01")
    plan = assign_cells(plan, accounts, half[: half.size // 2], "T02").plan  # the engine must work
    cells = plan.cells[[p % plan.cells.size for p in picks]]
    ids = [f"A{i:04d}" for i in accs]
    locked = lock(
        plan, cells=cells, territories=[territory] if territory else [], account_ids=ids
    ).plan
    try:
        new = edits.rebalance(locked, accounts).plan
    except InfeasibleError as exc:  # the engine may refuse, with the numbers
        assert exc.numbers or str(exc)
        return
    held = np.fromiter(locked.locked_cells, np.uint64)
    assert np.array_equal(new.territory_of_cells(held), locked.territory_of_cells(held))
    assert _where(new, accounts, ids) == _where(locked, accounts, ids)
    assert not np.array_equal(new.labels, locked.labels)  # it did rebalance the rest
