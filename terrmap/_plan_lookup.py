"""Lookups the edit modules share: territories, cells, locks and accounts of a plan.

Private to :mod:`terrmap.edits`, :mod:`terrmap.locks`, :mod:`terrmap.selection`,
:mod:`terrmap.preview` and :mod:`terrmap.rebalance`; the public names are re-exported
there (``locked_territories`` by :mod:`terrmap.locks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from terrmap.errors import TerrmapError
from terrmap.grid import locate_cells
from terrmap.plan import Plan

__all__ = [
    "account_id_array",
    "account_labels",
    "account_state",
    "cell_positions",
    "hex_id",
    "known_accounts",
    "locked_cell_array",
    "locked_territories",
    "reps_by_id",
    "territory_index",
]


def hex_id(cell: int) -> str:
    """The H3 index as the hex string used in edit records and map payloads."""
    return str(h3n.int_to_str(int(cell)))


def territory_index(plan: Plan, territory_id: str) -> int:
    """Index of a territory, or a :class:`TerrmapError` naming the ones there are."""
    try:
        return plan.index_of(str(territory_id))
    except KeyError:
        known = ", ".join(plan.territory_ids)
        raise TerrmapError(
            f"there is no territory {territory_id!r} in this plan. Fix: pick one of {known}."
        ) from None


def locked_cell_array(plan: Plan) -> NDArray[np.uint64]:
    """The plan's locked cells as an array (for ``np.isin``)."""
    return np.fromiter(plan.locked_cells, dtype=np.uint64, count=len(plan.locked_cells))


def locked_territories(plan: Plan) -> tuple[str, ...]:
    """Territories whose every cell is locked (a territory with no cells is never locked)."""
    if not plan.locked_cells:
        return ()
    locked = np.isin(plan.cells, locked_cell_array(plan))
    total = np.bincount(plan.labels, minlength=plan.k)
    held = np.bincount(plan.labels[locked], minlength=plan.k)
    return tuple(t for t, n, m in zip(plan.territory_ids, total, held, strict=True) if n and n == m)


def cell_positions(plan: Plan, cells: ArrayLike) -> NDArray[np.int64]:
    """Sorted unique positions in ``plan.cells`` of the plan cells holding ``cells``.

    Cells may be given at any resolution; cells outside the study area are ignored.
    """
    pos = locate_cells(plan.cells, np.atleast_1d(np.asarray(cells, dtype=np.uint64)))
    return np.unique(pos[pos >= 0])


def account_id_array(accounts: pd.DataFrame) -> NDArray[np.str_]:
    """The account ids as a plain string array."""
    return np.asarray(accounts["account_id"].astype(str).to_numpy(), dtype=str)


def account_labels(
    plan: Plan, accounts: pd.DataFrame, account_cells: NDArray[np.uint64] | None = None
) -> NDArray[np.int64]:
    """Territory index per account (overrides win; -1 outside the study area).

    ``account_cells`` (from ``plan.account_cells``) saves locating the accounts again.
    """
    cells = plan.account_cells(accounts) if account_cells is None else account_cells
    lab = plan.territory_of_cells(cells)
    if plan.overrides:
        index = {t: i for i, t in enumerate(plan.territory_ids)}
        over = {a: index[t] for a, t in plan.overrides.items()}
        ov = pd.Series(account_id_array(accounts)).map(over).to_numpy(float, na_value=np.nan)
        has = ~np.isnan(ov)
        lab = lab.copy()
        lab[has] = ov[has].astype(np.int64)
    return lab


def known_accounts(accounts: pd.DataFrame, wanted_ids: Iterable[str]) -> list[str]:
    """The wanted ids (deduplicated, in order); raises naming any not in ``accounts``."""
    wanted = list(dict.fromkeys(str(a) for a in wanted_ids))
    unknown = sorted(set(wanted) - set(account_id_array(accounts).tolist()))
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise TerrmapError(
            f"{len(unknown)} account id(s) are not in the accounts data: {shown}. "
            "Fix: pick accounts from the current dataset."
        )
    return wanted


def account_state(plan: Plan, accounts: pd.DataFrame, wanted: Sequence[str]) -> pd.DataFrame:
    """For the wanted accounts (in order): current territory, its cell's, cell locked.

    Columns ``now`` and ``ground`` hold territory ids (None outside the study area),
    ``cell_locked`` whether the account's cell is locked; indexed by account id.
    """
    sub = accounts[accounts["account_id"].astype(str).isin(wanted)]
    sub = sub.drop_duplicates("account_id")
    cells = plan.account_cells(sub)
    ground = plan.territory_of_cells(cells)
    now = account_labels(plan, sub, cells)
    names = np.array([*plan.territory_ids, None], dtype=object)
    state = pd.DataFrame(
        {
            "now": names[now],
            "ground": names[ground],
            "cell_locked": np.isin(cells, locked_cell_array(plan)),
        },
        index=account_id_array(sub),
    )
    return state.reindex(list(wanted))


def reps_by_id(reps: pd.DataFrame) -> pd.DataFrame:
    """The roster indexed by ``rep_id`` (as str), first row of each rep."""
    return reps.drop_duplicates("rep_id").set_index(reps["rep_id"].drop_duplicates().astype(str))
