"""Rebalance the rest: an engine run with hand edits and locks held fixed.

:func:`rebalance` proposes a new plan with minimal disruption (the current plan is the
engine's baseline) and shows what it would move before anything is applied; apply it
with ``History.apply(rebalance(...).preview)``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from terrmap._plan_lookup import account_id_array, cell_positions, locked_cell_array, reps_by_id
from terrmap.edits import Edit, EditResult
from terrmap.errors import TerrmapError
from terrmap.grid import MAX_RESOLUTION, locate_cells
from terrmap.plan import Plan
from terrmap.preview import PlanDiff, Preview, diff_plans, plan_changes, preview

if TYPE_CHECKING:
    from terrmap.design import DesignConfig

__all__ = ["Rebalance", "rebalance"]


@dataclass(frozen=True)
class Rebalance:
    """A proposed engine run with the hand edits and locks held fixed (not yet applied).

    Attributes
    ----------
    preview
        KPI deltas of the territories that change, the proposed plan and its record
        (apply with ``History.apply(rebalance.preview)``).
    diff
        Per-territory accounts and workload in/out, and every account that would move.
    """

    preview: Preview
    diff: PlanDiff

    @property
    def plan(self) -> Plan:
        """The proposed plan."""
        return self.preview.plan

    @property
    def edit(self) -> Edit:
        """The record of what would move."""
        return self.preview.edit


def _design_config(plan: Plan, config: DesignConfig | None, resolution: int | None) -> DesignConfig:
    from terrmap.design import DesignConfig

    if config is None:
        stored = plan.params.get("config")
        known = {f.name for f in fields(DesignConfig)}
        options = {k: v for k, v in dict(stored or {}).items() if k in known}
        if "balance" in plan.params and "balance" not in options:
            options["balance"] = plan.params["balance"]
        config = DesignConfig(**options)
    if resolution is not None and resolution != config.resolution:
        config = replace(config, resolution=int(resolution))
    return config


def _roster_in_plan_order(plan: Plan, reps: pd.DataFrame | None) -> pd.DataFrame | None:
    named = [r for r in plan.rep_ids if r is not None]
    if not named:
        return None
    if reps is None:
        raise TerrmapError(
            "this plan's territories belong to reps; rebalancing it needs the rep roster. "
            "Fix: pass reps (the roster the plan was made for)."
        )
    by_id = reps_by_id(reps)
    missing = [r for r in named if r not in by_id.index]
    if missing or len(named) != plan.k:
        raise TerrmapError(
            f"the roster lacks reps {missing[:5]} of this plan. Fix: pass the roster the plan "
            "was made for (or rebuild the plan for the new roster)."
        )
    return by_id.loc[list(named)].reset_index(drop=True)


def _pinned_accounts(
    plan: Plan, accounts: pd.DataFrame, held_cells: NDArray[np.uint64]
) -> frozenset[str]:
    """Accounts standing on held cells (without an override of their own)."""
    if held_cells.size == 0:
        return frozenset()
    on_held = np.isin(plan.account_cells(accounts), held_cells)
    ids = account_id_array(accounts)
    return frozenset(ids[on_held & ~np.isin(ids, list(plan.overrides))].tolist())


def rebalance(
    plan: Plan,
    accounts: pd.DataFrame,
    reps: pd.DataFrame | None = None,
    *,
    config: DesignConfig | None = None,
    keep_cells: ArrayLike = (),
    resolution: int | None = None,
    random_state: int | None = 0,
    adj: sparse.csr_matrix | None = None,
) -> Rebalance:
    """Run the engine on the rest of the plan with edits and locks fixed, minimal disruption.

    Held fixed: locked cells and accounts, account overrides, and ``keep_cells`` (the
    cells painted by hand, e.g. ``history.edited_cells()``). The current plan is the
    baseline, so the engine moves as little as the balance needs (``config.max_moved``
    caps it). With ``resolution`` the plan is re-gridded: locked and kept cells then
    hold through their accounts, and overrides survive as they are.

    Parameters
    ----------
    config
        A ``terrmap.design.DesignConfig``; default: the one that made the plan.

    Raises
    ------
    terrmap.errors.InfeasibleError
        When the locks leave no way to meet the band (with the numbers).
    """
    from terrmap.design import build_plan

    regrid = resolution is not None and resolution != plan.resolution
    cfg = _design_config(plan, config, resolution if regrid else plan.resolution)
    roster = _roster_in_plan_order(plan, reps)
    keep = plan.cells[cell_positions(plan, keep_cells)]
    held = np.union1d(locked_cell_array(plan), keep)
    pins = frozenset(plan.overrides) | (_pinned_accounts(plan, accounts, held) if regrid else set())
    if regrid:
        held = _descendants(held, min(cfg.resolution or plan.resolution, MAX_RESOLUTION))
    base = replace(plan, locked_cells=frozenset(held.tolist()))
    new = build_plan(
        accounts,
        roster,
        k=None if roster is not None else plan.k,
        config=cfg,
        baseline=base,
        locked_accounts=tuple(sorted(pins | plan.locked_accounts)),
        random_state=random_state,
        warm_start=None if regrid else base,
    )
    new = _restore_bookkeeping(plan, new, accounts, pins, keep)
    edit = plan_changes(plan, new, accounts=accounts, kind="rebalance", note=_note(new))
    shown = preview(plan, EditResult(new, edit), accounts, reps=reps, adj=None if regrid else adj)
    return Rebalance(shown, diff_plans(plan, new, accounts))


def _descendants(cells: NDArray[np.uint64], res: int) -> NDArray[np.uint64]:
    """Held cells as their descendants down to the finest cells a finer grid may use.

    The engine pins a grid cell when any held id lies inside it, so listing every
    descendant holds all of a locked cell's ground after re-gridding, including cells
    the engine splits further (up to ``res + 3``, as the engine's adaptive grid does).
    """
    finest = min(res + 3, MAX_RESOLUTION)
    parts = [
        np.asarray(h3n.cell_to_children(int(c), finest), dtype=np.uint64)
        if int(h3n.get_resolution(int(c))) < finest
        else np.array([c], dtype=np.uint64)
        for c in cells.tolist()
    ]
    return np.concatenate(parts) if parts else cells


def _restore_bookkeeping(
    plan: Plan, new: Plan, accounts: pd.DataFrame, pins: frozenset[str], keep: NDArray[np.uint64]
) -> Plan:
    """Locks and overrides as the user set them (the engine's own pins are internal)."""
    if "locked" in accounts.columns:
        flagged = accounts["locked"].fillna(False).astype(bool).to_numpy()
        from_data = frozenset(account_id_array(accounts)[flagged].tolist())
    else:
        from_data = frozenset()
    locked_accounts = plan.locked_accounts | (new.locked_accounts & from_data)
    old_locked = locked_cell_array(plan)
    if np.array_equal(new.cells, plan.cells):
        locked_cells = frozenset(old_locked.tolist())
    else:  # re-gridded: a new cell is locked when its centre lies in a locked old cell
        pos = locate_cells(plan.cells, new.cells)
        inside = (pos >= 0) & np.isin(plan.cells[np.maximum(pos, 0)], old_locked)
        locked_cells = frozenset(new.cells[inside].tolist())
    overrides = {**new.overrides, **{a: plan.overrides[a] for a in pins if a in plan.overrides}}
    return replace(
        new, overrides=overrides, locked_cells=locked_cells, locked_accounts=locked_accounts
    )


def _note(plan: Plan) -> str:
    rep = plan.report
    if rep is None:
        return ""
    band = "within" if rep.tolerance_met else "outside"
    return (
        f"max deviation {rep.max_deviation:.1%} ({band} ±{rep.tolerance:.0%}), "
        f"{len(rep.moved_accounts)} accounts moved"
    )
