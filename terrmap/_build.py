"""Helpers of ``build_plan``: roster, weights, locks, the cell set, the account report."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from terrmap._config import METRIC_COLUMNS, DesignConfig, bad_request
from terrmap._inputs import cell_graph
from terrmap._place import place_accounts
from terrmap._refine import adaptive_cells
from terrmap.grid import (
    MAX_RESOLUTION,
    cells_to_parent,
    locate_cells,
    resolution_for_cells,
    study_area,
)
from terrmap.metrics import deviations, territory_loads
from terrmap.plan import Plan

__all__ = [
    "account_report",
    "account_weights",
    "cell_set",
    "lock_targets",
    "locked_cells",
    "place",
    "territories",
    "with_locked_accounts",
]


def territories(
    reps: pd.DataFrame | None, k: int | None, cfg: DesignConfig
) -> tuple[
    tuple[str, ...], tuple[str | None, ...], NDArray[np.float64] | None, NDArray[np.float64] | None
]:
    """Territory ids, rep ids, rep homes (K, 2) and capacities from the roster or K."""
    if reps is None or len(reps) == 0:
        if k is None or k < 1:
            raise bad_request("k", "give reps or a number of territories", "pass reps or k >= 1", k)
        if cfg.targets == "capacity":
            raise bad_request(
                "targets", "targets='capacity' needs reps", "pass reps with capacity_hours"
            )
        width = max(2, len(str(k)))
        return tuple(f"T{i + 1:0{width}d}" for i in range(k)), (None,) * k, None, None
    if k is not None and k != len(reps):
        raise bad_request(
            "k", f"k disagrees with the {len(reps)} reps given", "pass reps or k, not both", k
        )
    rep_ids = tuple(str(r) for r in reps["rep_id"].astype("string"))
    homes = None
    if {"home_lat", "home_lon"} <= set(reps.columns):
        h = reps[["home_lat", "home_lon"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        homes = h if np.isfinite(h).all() else None
    if cfg.seeds == "homes" and homes is None:
        raise bad_request(
            "home_lat", "seeds='homes' needs a home for every rep", "fill home_lat/home_lon"
        )
    cap = None
    if "capacity_hours" in reps.columns:
        cap = pd.to_numeric(reps["capacity_hours"], errors="coerce").to_numpy(float)
    usable = cap is not None and bool((np.isfinite(cap) & (cap > 0)).all())
    if cfg.targets == "auto" and not usable:
        cap = None  # equal targets; capacities are not all known
    if cfg.targets == "capacity" and not usable:
        raise bad_request(
            "capacity_hours",
            "targets='capacity' needs a positive capacity for every rep",
            "fill capacity_hours (hours per month) for every rep",
        )
    return rep_ids, rep_ids, homes, cap


def account_weights(accounts: pd.DataFrame, cfg: DesignConfig) -> pd.DataFrame:
    """Metric columns per account (primary first), NaN as 0."""
    cols = [METRIC_COLUMNS[cfg.balance]]
    cols += [c for c in ("workload_hours", "opportunity", "accounts") if c not in cols]
    out = {}
    for c in cols:
        if c == "accounts":
            out[c] = np.ones(len(accounts))
        elif c in accounts.columns:
            v = pd.to_numeric(accounts[c], errors="coerce").to_numpy(float, na_value=np.nan)
            out[c] = np.nan_to_num(v, nan=0.0)
        elif c == cols[0]:
            raise bad_request(
                c,
                f"accounts lack column {c!r} needed to balance on {cfg.balance!r}",
                "score them first (terrmap.scoring.score_accounts)",
            )
        else:
            out[c] = np.zeros(len(accounts))
    return pd.DataFrame(out, index=accounts.index)


def lock_targets(
    accounts: pd.DataFrame,
    locked_accounts: tuple[str, ...],
    ids: tuple[str, ...],
    prior: Plan | None,
) -> tuple[NDArray[np.int64], list[str]]:
    """Territory index each locked account must keep (-1: not locked)."""
    acc_ids = accounts["account_id"].astype("string")
    want = np.array(acc_ids.isin(list(locked_accounts)).to_numpy(), dtype=bool)
    if "locked" in accounts.columns:
        want |= accounts["locked"].fillna(False).astype(bool).to_numpy()
    if prior is not None:
        want |= acc_ids.isin(list(prior.locked_accounts)).to_numpy()
    out = np.full(len(accounts), -1, np.int64)
    if not want.any():
        return out, []
    index = {t: i for i, t in enumerate(ids)}
    if prior is not None:
        where = prior.assign(accounts)
    elif "owner" in accounts.columns:
        where = accounts["owner"].astype("string")
    else:
        where = pd.Series(pd.NA, index=accounts.index, dtype="string")
    tid = where.map(index).to_numpy(dtype=float, na_value=np.nan)
    ok = want & np.isfinite(tid)
    out[ok] = tid[ok].astype(np.int64)
    lost = int((want & ~ok).sum())
    notes = []
    if lost:
        notes.append(
            f"{lost} locked accounts have no territory to keep (no baseline or owner "
            "among the territories); treated as unlocked"
        )
    return out, notes


def cell_set(
    fine: NDArray[np.uint64],
    weight: NDArray[np.float64],
    limit: float,
    cfg: DesignConfig,
    prior: Plan | None,
) -> tuple[NDArray[np.uint64], int, tuple[int, ...]]:
    """Study-area cells (adaptively split), base resolution, and the split cells.

    A prior plan (warm start or baseline) lends its grid when every account stands on
    it: same cells, same cached graph, and reruns stay fast.
    """
    if prior is not None and cfg.resolution in (None, prior.resolution):
        inside = locate_cells(prior.cells, fine[fine != 0])
        if (inside >= 0).all():
            split = prior.report.split_cells if prior.report else ()
            return np.asarray(prior.cells), prior.resolution, split
    res = cfg.resolution if cfg.resolution is not None else resolution_for_cells(fine)
    area = study_area(cells_to_parent(fine[fine != 0], res))
    if not cfg.split_heavy:
        return area, res, ()
    cells, split = adaptive_cells(area, fine, weight, limit, max_res=MAX_RESOLUTION)
    return cells, res, split


def locked_cells(prior: Plan | None, ids: tuple[str, ...]) -> tuple[dict[int, int], list[str]]:
    """Cell -> territory index for the prior plan's locked cells (whose territory remains)."""
    if prior is None or not prior.locked_cells:
        return {}, []
    cells = np.fromiter(prior.locked_cells, np.uint64, len(prior.locked_cells))
    lab = prior.territory_of_cells(cells)
    out = {}
    for c, j in zip(cells.tolist(), lab.tolist(), strict=True):
        if j >= 0 and prior.territory_ids[j] in ids:
            out[int(c)] = ids.index(prior.territory_ids[j])
    lost = len(cells) - len(out)
    notes = [f"{lost} locked cells belong to territories no longer in the plan; unlocked"]
    return out, notes if lost else []


def with_baseline_overrides(plan: Plan, baseline: Plan, accounts: pd.DataFrame) -> Plan:
    """Account-level decisions of the baseline (hand overrides, earlier placements) stay.

    A rerun with a baseline moves as little as it can; dropping an override would move
    its account silently. Overrides into territories that no longer exist are released.
    """
    present = set(accounts["account_id"].astype(str).tolist())
    ids = set(plan.territory_ids)
    keep = {a: t for a, t in baseline.overrides.items() if a in present and t in ids}
    if not keep:
        return plan
    return replace(plan, overrides={**keep, **plan.overrides})


def with_locked_accounts(
    plan: Plan, accounts: pd.DataFrame, lock_t: NDArray[np.int64], fine: NDArray[np.uint64]
) -> Plan:
    """Locked accounts keep their territory: an override where the ground disagrees."""
    if not (lock_t >= 0).any():
        return plan
    ground = plan.territory_of_cells(plan.account_cells(accounts, fine_cells=fine))
    ids = accounts["account_id"].astype(str).to_numpy()
    sel = (lock_t >= 0) & (ground != lock_t)
    overrides = {
        str(a): plan.territory_ids[int(t)] for a, t in zip(ids[sel], lock_t[sel], strict=True)
    }
    locked = frozenset(ids[lock_t >= 0].tolist())
    return replace(plan, overrides={**plan.overrides, **overrides}, locked_accounts=locked)


def place(
    plan: Plan,
    accounts: pd.DataFrame,
    weight: NDArray[np.float64],
    fine: NDArray[np.uint64],
    cfg: DesignConfig,
    locked: NDArray[np.bool_],
    room: int | None,
) -> Plan:
    """Place single accounts as overrides where cells were too coarse for the band.

    Each placement counts as a moved account: at most ``room`` of them (None: no cap),
    and none when the move cap is what binds.
    """
    rep = plan.report
    if rep is None or rep.tolerance_met or "max_moved" in (rep.binding_constraint or ""):
        return plan
    adj, _ = cell_graph(plan.cells.tobytes())
    overrides, placed = place_accounts(
        plan, accounts, weight, fine, adj, cfg.tolerance * 0.999, locked=locked, limit=room
    )
    if not placed:
        return plan
    new_rep = replace(rep, placed_accounts=tuple(placed))
    return replace(plan, overrides={**plan.overrides, **overrides}, report=new_rep)


def _account_deviation(
    plan: Plan,
    accounts: pd.DataFrame,
    lab: NDArray[np.int64],
    metric: str,
) -> NDArray[np.float64]:
    col = METRIC_COLUMNS[metric]
    if col == "accounts":
        w = np.ones(len(accounts))
    else:
        v = pd.to_numeric(accounts[col], errors="coerce").to_numpy(float, na_value=np.nan)
        w = np.nan_to_num(v, nan=0.0)
    shares = np.asarray(plan.params["target_shares"], dtype=float)
    loads = territory_loads(w, lab, n_territories=plan.k)
    return deviations(loads, shares * loads.sum())


def account_report(
    plan: Plan,
    accounts: pd.DataFrame,
    fine: NDArray[np.uint64],
    cfg: DesignConfig,
    baseline: Plan | None,
    split: tuple[int, ...],
    notes: list[str],
    seconds: float,
) -> Plan:
    """Re-measure the report on the accounts (overrides included); add moved accounts."""
    rep = plan.report
    if rep is None:
        raise ValueError("the engine returned a plan without a report")
    index = {t: i for i, t in enumerate(plan.territory_ids)}
    ids = plan.assign(accounts, fine_cells=fine)
    lab = np.asarray(ids.map(index).fillna(-1).to_numpy(np.int64), dtype=np.int64)
    dev = _account_deviation(plan, accounts, lab, cfg.balance)
    met = bool((np.abs(dev) <= cfg.tolerance + 1e-9).all())
    dev2 = None
    if cfg.secondary is not None:
        dev2 = _account_deviation(plan, accounts, lab, cfg.secondary)
        met = met and bool((np.abs(dev2) <= cfg.secondary_tolerance + 1e-9).all())
    moved: tuple[str, ...] = ()
    if baseline is not None:
        before = baseline.assign(accounts, fine_cells=fine).fillna("")
        diff = (ids.fillna("") != before).to_numpy()
        moved = tuple(accounts["account_id"].astype(str).to_numpy()[diff].tolist())
    warnings = list(rep.warnings) + notes
    unplaced = int((lab < 0).sum())
    if unplaced:
        warnings.append(f"{unplaced} accounts lie outside the study area (no usable location)")
    tids = plan.territory_ids
    new = replace(
        rep,
        deviation={t: float(d) for t, d in zip(tids, dev, strict=True)},
        secondary_deviation=None
        if dev2 is None
        else {t: float(d) for t, d in zip(tids, dev2, strict=True)},
        max_deviation=float(np.abs(dev).max()),
        tolerance_met=met,
        binding_constraint=rep.binding_constraint if not met else None,
        split_cells=split,
        moved_accounts=moved,
        seconds=seconds,
        warnings=tuple(warnings),
    )
    return replace(plan, report=new)
