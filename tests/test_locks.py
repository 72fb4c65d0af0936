"""Locks: cells, accounts and whole territories, in one step, and all at once."""

from __future__ import annotations

from typing import Any

import h3.api.numpy_int as h3n
import pandas as pd
import pytest
from edit_world import WORLD, K, account_in

from terrmap.edits import Change, LockedError, assign_cells, override_accounts
from terrmap.errors import TerrmapError
from terrmap.locks import lock, lock_all, locked_territories, unlock, unlock_all
from terrmap.plan import Plan


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return WORLD


def test_lock_and_unlock_in_one_step(world: Any) -> None:
    plan, accounts = world
    acc = account_in(plan, accounts, "T03")
    over = override_accounts(plan, accounts, acc, "T02").plan
    result = lock(over, territories=["T02"], cells=plan.cells_of("T01")[:2], accounts=accounts)
    locked = result.plan
    assert set(plan.cells_of("T02").tolist()) <= locked.locked_cells
    assert acc[0] in locked.locked_accounts  # overridden into a locked territory
    assert result.edit.count("territory") == 1 and result.edit.count("cell") == 2
    again = unlock(locked, territories=["T02"], cells=plan.cells_of("T01")[:2])
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


def test_lock_records_only_what_changes_state(world: Any) -> None:
    plan, _ = world
    cells = plan.cells_of("T01")[:5]
    first = lock(plan, cells=cells[:3])
    again = lock(first.plan, cells=cells)
    assert again.edit.count("cell") == 2
    assert {c.key for c in again.edit.changes} == {h3n.int_to_str(int(c)) for c in cells[3:]}
    assert all(c.before == c.after == "T01" for c in again.edit.changes)
    assert again.plan.locked_cells == frozenset(cells.tolist())
    assert not lock(again.plan, cells=cells).edit.changes  # nothing left to lock


def test_locking_names_unknown_accounts(world: Any) -> None:
    plan, accounts = world
    with pytest.raises(TerrmapError, match=r"not in the accounts data: NOPE"):
        lock(plan, account_ids=["NOPE"], accounts=accounts)
    acc = account_in(plan, accounts, "T02")
    result = lock(plan, account_ids=acc, accounts=accounts)
    assert result.edit.changes == (Change("account", acc[0], "T02", "T02"),)


def test_a_territory_is_locked_when_every_cell_is(world: Any) -> None:
    plan, _ = world
    t01 = plan.cells_of("T01")
    almost = lock(plan, cells=t01[:-1]).plan
    assert "T01" not in locked_territories(almost)
    assert locked_territories(lock(almost, cells=t01[-1:]).plan) == ("T01",)
    assert locked_territories(plan) == ()
