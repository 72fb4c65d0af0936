"""Undo/redo over the whole edit history; paint or override then undo restores exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from edit_world import WORLD, account_in
from hypothesis import given
from hypothesis import strategies as st

from terrmap.edits import LockedError, assign_cells, clear_overrides, override_accounts
from terrmap.errors import TerrmapError
from terrmap.history import History
from terrmap.locks import lock, lock_all
from terrmap.plan import Plan
from terrmap.preview import preview


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return WORLD


def test_undo_redo_over_the_whole_history(world: Any) -> None:
    plan, accounts = world
    h = History.start(plan)
    steps = [
        lambda p: assign_cells(p, accounts, plan.cells_of("T01")[:3], "T02"),
        lambda p: override_accounts(p, accounts, account_in(plan, accounts, "T03"), "T04"),
        lambda p: lock(p, territories=["T04"]),
        lambda p: assign_cells(p, accounts, plan.cells_of("T03")[:2], "T01"),
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
    h = History.start(plan).apply(assign_cells(plan, accounts, plan.cells_of("T01")[:2], "T02"))
    record = h.undo_record()
    assert {(c.before, c.after) for c in record.changes} == {("T02", "T01")}
    with pytest.raises(TerrmapError, match="nothing to redo"):
        h.redo_record()
    undone = h.undo()
    redo = undone.redo_record()
    assert redo.kind == "redo" and redo.changes == h.edits[0].changes
    with pytest.raises(TerrmapError, match="nothing to undo"):
        undone.undo_record()


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
