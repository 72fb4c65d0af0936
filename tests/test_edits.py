"""Hand edits as pure functions: paint cells, override accounts, the edit record."""

from __future__ import annotations

import json
from typing import Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
from edit_world import WORLD, account_in

from terrmap.edits import (
    Change,
    Edit,
    LockedError,
    assign_cells,
    clear_overrides,
    override_accounts,
)
from terrmap.errors import TerrmapError
from terrmap.history import History
from terrmap.locks import lock, locked_territories
from terrmap.plan import Plan


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return WORLD


# --------------------------------------------------------------------------- paint


def test_paint_moves_cells_and_the_accounts_on_them(world: Any) -> None:
    plan, accounts = world
    donor = plan.cells_of("T01")[:4]
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
    result = assign_cells(plan, accounts, plan.cells_of("T02")[:3], "T02")
    assert result.plan is plan and not result.changed
    assert History.start(plan).apply(result).cursor == 0


def test_paint_to_unknown_territory_names_the_choices(world: Any) -> None:
    plan, accounts = world
    with pytest.raises(TerrmapError, match=r"no territory 'T99'.*T01, T02, T03, T04"):
        assign_cells(plan, accounts, plan.cells[:1], "T99")


def test_locked_cells_are_skipped_and_reported(world: Any) -> None:
    plan, accounts = world
    cells = plan.cells_of("T01")[:5]
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
        assign_cells(locked, accounts, plan.cells_of("T01")[:2], "T02")
    with pytest.raises(LockedError):
        assign_cells(locked, accounts, plan.cells_of("T02")[:2], "T01")
    with pytest.raises(LockedError):
        override_accounts(locked, accounts, account_in(plan, accounts, "T01"), "T02")


def test_locked_account_stays_when_its_cell_is_painted(world: Any) -> None:
    plan, accounts = world
    acc = account_in(plan, accounts, "T01")[0]
    cell = int(plan.account_cells(accounts[accounts["account_id"] == acc])[0])
    locked = lock(plan, account_ids=[acc]).plan
    result = assign_cells(locked, accounts, [cell], "T04")
    assert result.plan.assign(accounts)[(accounts["account_id"] == acc).to_numpy()].iloc[0] == "T01"
    assert Change("account", acc, "T01", "T04") in result.edit.skipped
    assert result.plan.overrides[acc] == "T01"


# --------------------------------------------------------------------------- overrides


def test_override_moves_one_account_and_back_removes_it(world: Any) -> None:
    plan, accounts = world
    acc = account_in(plan, accounts, "T01")[0]
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
    acc = account_in(plan, accounts, "T01", n=2)
    locked = lock(plan, account_ids=acc[:1]).plan
    result = override_accounts(locked, accounts, acc, "T02")
    assert [c.key for c in result.edit.changes] == acc[1:]
    assert [c.key for c in result.edit.skipped] == acc[:1]
    with pytest.raises(LockedError):
        override_accounts(locked, accounts, acc[:1], "T02")


def test_override_survives_painting_its_cell(world: Any) -> None:
    plan, accounts = world
    acc = account_in(plan, accounts, "T01")[0]
    cell = plan.account_cells(accounts[accounts["account_id"] == acc])
    over = override_accounts(plan, accounts, [acc], "T02").plan
    painted = assign_cells(over, accounts, cell, "T04").plan
    mask = (accounts["account_id"] == acc).to_numpy()
    assert painted.assign(accounts)[mask].iloc[0] == "T02"


def test_clear_overrides(world: Any) -> None:
    plan, accounts = world
    accs = account_in(plan, accounts, "T01", n=3)
    over = override_accounts(plan, accounts, accs, "T02").plan
    over = lock(over, account_ids=accs[:1]).plan
    cleared = clear_overrides(over, accounts)
    assert set(cleared.plan.overrides) == set(accs[:1])
    assert {c.key for c in cleared.edit.changes} == set(accs[1:])
    assert all((c.before, c.after) == ("T02", "T01") for c in cleared.edit.changes)


# --------------------------------------------------------------------------- records


def test_edit_record_json_round_trip(world: Any) -> None:
    plan, accounts = world
    edit = Edit("assign", (Change("cell", "872a13400ffffff", "T01", "T02"),), (), "note")
    assert Edit.from_dict(edit.to_dict()) == edit
    painted = assign_cells(plan, accounts, plan.cells[:3], "T01").edit
    assert painted.changes and Edit.from_dict(json.loads(json.dumps(painted.to_dict()))) == painted
    with pytest.raises(TerrmapError, match="unknown edit kind"):
        Edit.from_dict({"kind": "teleport"})
    with pytest.raises(TerrmapError, match="unknown edit item"):
        Change.from_dict({"item": "region", "key": "x"})
    assert Edit("create").summary() == "create"


def test_edit_summary_reads_like_a_history_line() -> None:
    cells = tuple(Change("cell", f"c{i}", "T01", "T03") for i in range(2))
    accs = (Change("account", "A1", "T01", "T03"),)
    held = (Change("cell", "c9", "T01", "T03"),)
    edit = Edit("assign", cells + accs, held, "by hand")
    assert edit.summary() == "assign: 2 cells, 1 account -> T03 (1 locked item skipped) — by hand"
    assert Edit("lock").summary() == "lock: no changes"
    undo = edit.inverted()
    assert undo.kind == "undo" and {(c.before, c.after) for c in undo.changes} == {("T03", "T01")}
