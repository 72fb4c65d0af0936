"""What an edit or another plan would change, before anything is applied.

:func:`preview` gives the KPI deltas (accounts, workload, opportunity, travel,
deviation, contiguity) of the territories an edit touches; :func:`diff_plans` the
per-territory accounts and workload in/out between two plans; :func:`plan_changes`
the edit record that turns one plan into another (what the store logs for a save or a
revert without a record of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from terrmap._plan_lookup import account_id_array, account_labels, hex_id, reps_by_id
from terrmap.edits import Change, Edit, EditKind, EditResult
from terrmap.errors import TerrmapError
from terrmap.grid import adjacency
from terrmap.metrics import (  # the balance weights and targets territory_table uses
    balance_weights,
    contiguity,
    deviations,
    haversine_km,
    target_shares,
    territory_loads,
    weighted_centroids,
)
from terrmap.plan import Plan

__all__ = ["PlanDiff", "Preview", "diff_plans", "plan_changes", "preview"]


@dataclass(frozen=True)
class Preview:
    """What an edit would do, computed before it is applied.

    Attributes
    ----------
    plan, edit
        The plan after the edit and its record (apply with ``History.apply(preview)``).
    table
        One row per affected territory: ``territory_id, role`` (gives / gets / both),
        then ``_before``, ``_after`` and ``_delta`` of ``accounts``, ``workload_hours``,
        ``opportunity``, ``travel_km`` (workload-weighted mean km from the rep's home,
        or from the territory's centre when there is no home), ``deviation_before`` /
        ``deviation_after`` (from target, in the plan's balance metric) and
        ``contiguous_before`` / ``contiguous_after``.
    donors_contiguous
        Whether every territory that gives something away is still in one piece.
    moved_accounts
        Accounts whose territory changes.
    """

    plan: Plan
    edit: Edit
    table: pd.DataFrame
    donors_contiguous: bool
    moved_accounts: int

    @property
    def result(self) -> EditResult:
        """The edit as an :class:`EditResult` (to apply it)."""
        return EditResult(self.plan, self.edit)


def _latlon(accounts: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)


def _travel_weights(accounts: pd.DataFrame) -> NDArray[np.float64]:
    """Workload per account; equal weights when there is no workload at all."""
    work = balance_weights(accounts, "workload")
    return work if work.sum() > 0 else np.ones(len(accounts))


def _homes(
    plan: Plan, accounts: pd.DataFrame, labels: NDArray[np.int64], reps: pd.DataFrame | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rep home per territory; the workload centre of the territory where there is none."""
    w = _travel_weights(accounts)
    lat, lon = _latlon(accounts)
    ok = np.isfinite(lat) & np.isfinite(lon)
    clat, clon = weighted_centroids(
        lat[ok], lon[ok], w[ok], np.where(ok, labels, -1)[ok], n_territories=plan.k
    )
    if reps is not None and {"rep_id", "home_lat", "home_lon"} <= set(reps.columns):
        home = reps_by_id(reps)
        rid = pd.Series([r if r is not None else "" for r in plan.rep_ids])
        hlat = pd.to_numeric(rid.map(home["home_lat"]), errors="coerce").to_numpy(float)
        hlon = pd.to_numeric(rid.map(home["home_lon"]), errors="coerce").to_numpy(float)
        has = np.isfinite(hlat) & np.isfinite(hlon)
        clat, clon = np.where(has, hlat, clat), np.where(has, hlon, clon)
    return clat, clon


def _kpis(
    plan: Plan,
    accounts: pd.DataFrame,
    labels: NDArray[np.int64],
    homes: tuple[NDArray[np.float64], NDArray[np.float64]],
    adj: sparse.csr_matrix,
) -> pd.DataFrame:
    k = plan.k
    work = balance_weights(accounts, "workload")
    balance = str(plan.params.get("balance", "workload"))
    bal = territory_loads(balance_weights(accounts, balance), labels, n_territories=k)
    lat, lon = _latlon(accounts)
    ok = (labels >= 0) & np.isfinite(lat) & np.isfinite(lon)
    w = _travel_weights(accounts)
    dist = haversine_km(lat[ok], lon[ok], homes[0][labels[ok]], homes[1][labels[ok]])
    num = np.bincount(labels[ok], dist * w[ok], minlength=k)
    den = np.bincount(labels[ok], w[ok], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        travel = num / den
    return pd.DataFrame(
        {
            "accounts": territory_loads(np.ones(len(accounts)), labels, n_territories=k).astype(
                int
            ),
            "workload_hours": territory_loads(work, labels, n_territories=k),
            "opportunity": territory_loads(
                balance_weights(accounts, "opportunity"), labels, n_territories=k
            ),
            "travel_km": travel,
            "deviation": deviations(bal, target_shares(plan) * bal.sum()),
            "contiguous": contiguity(plan.cells, plan.labels, n_territories=k, adj=adj),
        },
        index=pd.Index(plan.territory_ids, name="territory_id"),
    )


def _delta_table(
    affected: list[str],
    gives: set[str | None],
    gets: set[str | None],
    kb: pd.DataFrame,
    ka: pd.DataFrame,
) -> pd.DataFrame:
    """Before, after and delta of each KPI for the affected territories."""
    table = pd.DataFrame({"territory_id": pd.array(affected, dtype="string")})
    table["role"] = [
        "both" if t in gives and t in gets else ("gives" if t in gives else "gets")
        for t in affected
    ]
    for col in ("accounts", "workload_hours", "opportunity", "travel_km"):
        table[f"{col}_before"] = kb.loc[affected, col].to_numpy()
        table[f"{col}_after"] = ka.loc[affected, col].to_numpy()
        table[f"{col}_delta"] = table[f"{col}_after"] - table[f"{col}_before"]
    for col in ("deviation", "contiguous"):
        table[f"{col}_before"] = kb.loc[affected, col].to_numpy()
        table[f"{col}_after"] = ka.loc[affected, col].to_numpy()
    return table


def preview(
    plan: Plan,
    result: EditResult,
    accounts: pd.DataFrame,
    *,
    reps: pd.DataFrame | None = None,
    adj: sparse.csr_matrix | None = None,
) -> Preview:
    """KPI deltas of the territories an edit touches, before it is applied.

    Parameters
    ----------
    plan
        The plan as it is now.
    result
        The edit to preview, e.g. ``assign_cells(plan, accounts, cells, "T03")``.
    accounts
        The scored accounts.
    reps
        The roster (for rep homes in the travel figure); optional.
    adj
        ``terrmap.grid.adjacency(plan.cells)`` if the caller caches it (saves time on
        large plans); computed when omitted.
    """
    after = result.plan
    if after.territory_ids != plan.territory_ids:
        raise TerrmapError("an edit must keep the territories; compare such plans with diff_plans")
    same = after.cells is plan.cells or np.array_equal(after.cells, plan.cells)
    cells = plan.account_cells(accounts)
    lab_b = account_labels(plan, accounts, cells)
    lab_a = account_labels(after, accounts, cells if same else None)
    adj_b = adjacency(plan.cells) if adj is None else adj
    homes = _homes(plan, accounts, lab_b, reps)
    kb = _kpis(plan, accounts, lab_b, homes, adj_b)
    ka = _kpis(after, accounts, lab_a, homes, adj_b if same else adjacency(after.cells))
    gives = {c.before for c in result.edit.changes if c.before != c.after} - {None}
    gets = {c.after for c in result.edit.changes if c.before != c.after} - {None}
    moved = lab_a != lab_b
    gives |= {plan.territory_ids[i] for i in np.unique(lab_b[moved & (lab_b >= 0)])}
    gets |= {plan.territory_ids[i] for i in np.unique(lab_a[moved & (lab_a >= 0)])}
    affected = [t for t in plan.territory_ids if t in gives | gets]
    table = _delta_table(affected, gives, gets, kb, ka)
    donors = [t for t in affected if t in gives]
    donors_ok = bool(ka.loc[donors, "contiguous"].all()) if donors else True
    return Preview(after, result.edit, table, donors_ok, int(moved.sum()))


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class PlanDiff:
    """How plan B differs from plan A over the same accounts.

    Attributes
    ----------
    table
        One row per territory in either plan: ``territory_id, accounts_a, accounts_b,
        accounts_in, accounts_out, workload_a, workload_b, workload_in, workload_out``.
    moves
        One row per moved account: ``account_id, from_territory, to_territory,
        workload_hours`` (``<NA>`` = outside both plans' study area).
    """

    table: pd.DataFrame
    moves: pd.DataFrame

    @property
    def moved_accounts(self) -> int:
        """Number of accounts whose territory differs."""
        return len(self.moves)

    @property
    def moved_workload(self) -> float:
        """Workload hours (per month) that changed hands."""
        return float(self.moves["workload_hours"].sum())

    def to_text(self, name_a: str = "A", name_b: str = "B") -> str:
        """A plain-text report (for the command line)."""
        shown = self.table.copy()
        for col in ("workload_a", "workload_b", "workload_in", "workload_out"):
            shown[col] = shown[col].round(1)
        head = (
            f"{name_a} -> {name_b}: {self.moved_accounts:,} account(s) moved, "
            f"{self.moved_workload:,.1f} workload hours/month changed hands"
        )
        return head + "\n" + shown.to_string(index=False)


def diff_plans(a: Plan, b: Plan, accounts: pd.DataFrame) -> PlanDiff:
    """Per-territory accounts and workload in/out from plan ``a`` to plan ``b``."""
    ta = a.assign(accounts).astype("string")
    tb = b.assign(accounts).astype("string")
    moved = (ta.fillna("") != tb.fillna("")).to_numpy()
    work = pd.Series(balance_weights(accounts, "workload"), index=accounts.index)
    moves = pd.DataFrame(
        {
            "account_id": accounts["account_id"].astype("string")[moved].to_numpy(),
            "from_territory": ta[moved].to_numpy(),
            "to_territory": tb[moved].to_numpy(),
            "workload_hours": work[moved].to_numpy(),
        }
    )
    ids = list(dict.fromkeys([*a.territory_ids, *b.territory_ids]))

    def per(series: pd.Series, weights: pd.Series) -> NDArray[np.float64]:
        return weights.groupby(series).sum().reindex(ids).fillna(0.0).to_numpy(float)

    ones = pd.Series(1.0, index=accounts.index)
    mw, mo = work[moved], ones[moved]
    table = pd.DataFrame(
        {
            "territory_id": pd.array(ids, dtype="string"),
            "accounts_a": per(ta, ones).astype(int),
            "accounts_b": per(tb, ones).astype(int),
            "accounts_in": per(tb[moved], mo).astype(int),
            "accounts_out": per(ta[moved], mo).astype(int),
            "workload_a": per(ta, work),
            "workload_b": per(tb, work),
            "workload_in": per(tb[moved], mw),
            "workload_out": per(ta[moved], mw),
        }
    )
    return PlanDiff(table, moves)


def plan_changes(
    before: Plan,
    after: Plan,
    *,
    accounts: pd.DataFrame | None = None,
    kind: EditKind = "rebalance",
    note: str = "",
) -> Edit:
    """The edit record that turns ``before`` into ``after`` (cells and accounts moved).

    Cells are compared on ``after``'s grid (so a re-gridded plan is compared cell by
    cell at its own resolution). With ``accounts`` every account that changes
    territory is listed; without them, the accounts whose override changed.
    """
    names = np.array([*before.territory_ids, None], dtype=object)
    prev = names[before.territory_of_cells(after.cells)]
    now = np.array(after.territory_ids, dtype=object)[after.labels]
    diff = np.flatnonzero(prev != now)
    changes = [Change("cell", hex_id(after.cells[i]), prev[i], now[i]) for i in diff.tolist()]
    if accounts is not None:
        ta = before.assign(accounts).astype("string").fillna("")
        tb = after.assign(accounts).astype("string").fillna("")
        ids = account_id_array(accounts)
        moved = np.flatnonzero((ta != tb).to_numpy())
        changes += [
            Change("account", ids[i], ta.iloc[i] or None, tb.iloc[i] or None)
            for i in moved.tolist()
        ]
    else:
        keys = sorted(set(before.overrides) | set(after.overrides))
        changes += [
            Change("account", a, before.overrides.get(a), after.overrides.get(a))
            for a in keys
            if before.overrides.get(a) != after.overrides.get(a)
        ]
    return Edit(kind, tuple(changes), (), note)
