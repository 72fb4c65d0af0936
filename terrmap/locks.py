"""Locks: cells, accounts and whole territories that no edit and no engine run moves.

A territory is locked when every one of its cells is locked; locking a territory locks
its cells and the accounts overridden into it. Locking and unlocking are edits like any
other (an :class:`~terrmap.edits.EditResult` with a ``lock`` / ``unlock`` record), so
they appear in the history and the audit log and can be undone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from terrmap._plan_lookup import (
    account_id_array,
    account_state,
    cell_positions,
    hex_id,
    known_accounts,
    locked_cell_array,
    locked_territories,
    territory_index,
)
from terrmap.edits import Change, Edit, EditResult
from terrmap.plan import Plan

__all__ = ["lock", "lock_all", "locked_territories", "unlock", "unlock_all"]


def _set_locks(
    plan: Plan,
    accounts: pd.DataFrame | None,
    *,
    cells: ArrayLike,
    account_ids: Iterable[str],
    territories: Iterable[str],
    locking: bool,
) -> EditResult:
    pos = cell_positions(plan, cells)
    tids = [plan.territory_ids[territory_index(plan, t)] for t in dict.fromkeys(territories)]
    terr_cells = {t: plan.cells_of(t) for t in tids}
    cell_set = {int(c) for c in plan.cells[pos].tolist()}
    for arr in terr_cells.values():
        cell_set.update(int(c) for c in arr.tolist())
    into = {a for a, t in plan.overrides.items() if t in tids}
    named = known_accounts(accounts, account_ids) if accounts is not None else account_ids
    acc_set = set(map(str, named)) | into
    if locking:
        new_cells, new_accs = plan.locked_cells | cell_set, plan.locked_accounts | acc_set
    else:
        new_cells, new_accs = plan.locked_cells - cell_set, plan.locked_accounts - acc_set
    changes = _lock_changes(
        plan, accounts, pos, terr_cells, sorted(acc_set - into), locking=locking
    )
    new = replace(plan, locked_cells=frozenset(new_cells), locked_accounts=frozenset(new_accs))
    return EditResult(new, Edit("lock" if locking else "unlock", changes))


def _lock_changes(
    plan: Plan,
    accounts: pd.DataFrame | None,
    pos: NDArray[np.int64],
    terr_cells: Mapping[str, NDArray[np.uint64]],
    named_accounts: Sequence[str],
    *,
    locking: bool,
) -> tuple[Change, ...]:
    """Record only what changes state: whole territories, single cells, named accounts.

    ``before`` and ``after`` of each change are the territory the item is in.
    """
    locked_now = locked_cell_array(plan)
    changes = [
        Change("territory", t, t, t)
        for t, arr in terr_cells.items()
        if (np.isin(arr, locked_now) != locking).any()
    ]
    whole = [plan.index_of(t) for t in terr_cells]
    for i in pos.tolist():
        if (int(plan.cells[i]) in plan.locked_cells) != locking and plan.labels[i] not in whole:
            tid = plan.territory_ids[plan.labels[i]]
            changes.append(Change("cell", hex_id(plan.cells[i]), tid, tid))
    where = _account_territories(plan, accounts, named_accounts)
    changes += [
        Change("account", a, where.get(a), where.get(a))
        for a in named_accounts
        if (a in plan.locked_accounts) != locking
    ]
    return tuple(changes)


def _account_territories(
    plan: Plan, accounts: pd.DataFrame | None, ids: Sequence[str]
) -> dict[str, str | None]:
    if accounts is None or not ids:
        return {a: plan.overrides.get(a) for a in ids}
    present = set(account_id_array(accounts).tolist())
    state = account_state(plan, accounts, [a for a in ids if a in present])
    return {a: (state["now"].get(a) if a in present else None) for a in ids}


def lock(
    plan: Plan,
    *,
    cells: ArrayLike = (),
    account_ids: Iterable[str] = (),
    territories: Iterable[str] = (),
    accounts: pd.DataFrame | None = None,
) -> EditResult:
    """Lock cells, accounts and whole territories in one step.

    Locking a territory locks all its cells and the accounts overridden into it.
    ``accounts`` (optional) only names the territory of locked accounts in the record.
    """
    return _set_locks(
        plan, accounts, cells=cells, account_ids=account_ids, territories=territories, locking=True
    )


def unlock(
    plan: Plan,
    *,
    cells: ArrayLike = (),
    account_ids: Iterable[str] = (),
    territories: Iterable[str] = (),
    accounts: pd.DataFrame | None = None,
) -> EditResult:
    """Unlock cells, accounts and whole territories in one step (see :func:`lock`)."""
    return _set_locks(
        plan,
        accounts,
        cells=cells,
        account_ids=account_ids,
        territories=territories,
        locking=False,
    )


def lock_all(plan: Plan) -> EditResult:
    """Lock every cell and every overridden account (nothing moves until unlocked)."""
    return lock(plan, territories=plan.territory_ids)


def unlock_all(plan: Plan) -> EditResult:
    """Remove every lock (cells and accounts, including locks that came with the data)."""
    had = np.unique(plan.labels[np.isin(plan.cells, locked_cell_array(plan))])
    tids = [plan.territory_ids[i] for i in had.tolist()]
    changes = tuple(Change("territory", t, t, t) for t in tids) + tuple(
        Change("account", a, plan.overrides.get(a), plan.overrides.get(a))
        for a in sorted(plan.locked_accounts)
    )
    new = replace(plan, locked_cells=frozenset(), locked_accounts=frozenset())
    return EditResult(new, Edit("unlock", changes))
