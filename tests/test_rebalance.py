"""Rebalance the rest: locks, overrides and painted cells hold; re-gridding keeps them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from edit_world import K, account_in, where_is, world
from hypothesis import given, settings
from hypothesis import strategies as st

from terrmap.edits import assign_cells, override_accounts
from terrmap.errors import InfeasibleError, TerrmapError
from terrmap.grid import cell_resolution
from terrmap.history import History
from terrmap.locks import lock
from terrmap.plan import Plan
from terrmap.rebalance import rebalance


@pytest.fixture(scope="module")
def designed() -> tuple[Plan, pd.DataFrame]:
    """An engine-made plan of 4 territories over 600 accounts."""
    from terrmap.design import DesignConfig, build_plan

    _, accounts = world(600, seed=3)
    plan = build_plan(accounts, k=K, config=DesignConfig(tolerance=0.05), random_state=0)
    return plan, accounts


def test_rebalance_holds_locks_overrides_and_painted_cells(designed: Any) -> None:
    plan, accounts = designed
    t1 = plan.cells_of("T01")
    h = History.start(plan)
    h = h.apply(lock(h.current, territories=["T04"]))
    h = h.apply(assign_cells(h.current, accounts, t1[:12], "T02"))  # unbalances T01/T02
    movers = account_in(h.current, accounts, "T03", n=3)
    h = h.apply(override_accounts(h.current, accounts, movers, "T01"))
    pinned = account_in(h.current, accounts, "T02", n=2)
    h = h.apply(lock(h.current, account_ids=pinned))
    current = h.current
    rb = rebalance(current, accounts, keep_cells=h.edited_cells())
    new = rb.plan
    held = np.fromiter(current.locked_cells, np.uint64)
    assert np.array_equal(new.territory_of_cells(held), current.territory_of_cells(held))
    assert (new.territory_of_cells(t1[:12]) == current.territory_of_cells(t1[:12])).all()
    assert where_is(new, accounts, movers) == ["T01"] * 3
    assert where_is(new, accounts, pinned) == where_is(current, accounts, pinned)
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
    movers = account_in(plan, accounts, "T02", n=4)
    over = override_accounts(plan, accounts, movers, "T03").plan
    locked = lock(over, cells=over.cells_of("T01")[:5]).plan
    on_locked = accounts[
        np.isin(locked.account_cells(accounts), over.cells_of("T01")[:5])
        & ~accounts["account_id"].isin(movers).to_numpy()
    ]["account_id"].tolist()
    rb = rebalance(locked, accounts, resolution=plan.resolution + 1)
    new = rb.plan
    assert new.resolution == plan.resolution + 1
    assert set(cell_resolution(new.cells).tolist()) >= {plan.resolution + 1}
    assert where_is(new, accounts, movers) == ["T03"] * 4
    assert {new.overrides[a] for a in movers} == {"T03"}
    assert set(where_is(new, accounts, on_locked)) <= {"T01"}
    assert new.locked_cells and set(
        new.territory_of_cells(np.fromiter(new.locked_cells, np.uint64)).tolist()
    ) == {0}


def test_rebalance_needs_the_roster_of_a_rep_plan(designed: Any) -> None:
    plan, accounts = designed
    with_reps = Plan(
        plan.cells, plan.labels, plan.territory_ids, ("A", "B", "C", "D"), plan.resolution
    )
    with pytest.raises(TerrmapError, match=r"needs the rep roster"):
        rebalance(with_reps, accounts)


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
        new = rebalance(locked, accounts).plan
    except InfeasibleError as exc:  # the engine may refuse, with the numbers
        assert exc.numbers or str(exc)
        return
    held = np.fromiter(locked.locked_cells, np.uint64)
    assert np.array_equal(new.territory_of_cells(held), locked.territory_of_cells(held))
    assert where_is(new, accounts, ids) == where_is(locked, accounts, ids)
    assert not np.array_equal(new.labels, locked.labels)  # it did rebalance the rest
