"""Plan quality measures: balance, contiguity, compactness, disruption.

Array-level functions take plain arrays so the engine, the benchmark and the tests
measure peers and terrmap the same way; ``territory_table`` and ``plan_health`` apply
them to a plan and its accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from terrmap.geodesy import haversine_km
from terrmap.grid import adjacency

if TYPE_CHECKING:
    from terrmap.plan import Plan

__all__ = [
    "BALANCE_COLUMNS",
    "balance_weights",
    "coefficient_of_variation",
    "compactness_km",
    "contiguity",
    "deviations",
    "haversine_km",
    "max_abs_deviation",
    "moved_accounts",
    "plan_health",
    "rollup",
    "rollup_change",
    "target_shares",
    "territory_compactness_km",
    "territory_loads",
    "territory_table",
    "weighted_centroids",
]

#: Balance metric name -> column of the accounts frame ("accounts" counts rows).
BALANCE_COLUMNS = {"workload": "workload_hours", "opportunity": "opportunity", "accounts": None}


def deviations(loads: ArrayLike, targets: ArrayLike) -> NDArray[np.float64]:
    """Relative deviation ``load / target - 1`` per territory."""
    lo, ta = np.asarray(loads, float), np.asarray(targets, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(ta > 0, lo / ta - 1.0, np.where(lo > 0, np.inf, 0.0))
    return np.asarray(dev, dtype=np.float64)


def max_abs_deviation(loads: ArrayLike, targets: ArrayLike) -> float:
    """Largest ``|load / target - 1|`` over territories (0 for none)."""
    dev = deviations(loads, targets)
    return float(np.abs(dev).max()) if dev.size else 0.0


def coefficient_of_variation(loads: ArrayLike, targets: ArrayLike) -> float:
    """Coefficient of variation of ``load / target`` over territories."""
    ratio = deviations(loads, targets) + 1.0
    if ratio.size == 0 or not np.isfinite(ratio).all() or ratio.mean() == 0:
        return 0.0 if ratio.size == 0 else float("nan")
    return float(ratio.std() / ratio.mean())


def _as_k(labels: NDArray[np.int64], n_territories: int | None) -> int:
    return int(
        n_territories if n_territories is not None else (labels.max() + 1 if labels.size else 0)
    )


def territory_loads(
    weights: ArrayLike, labels: ArrayLike, *, n_territories: int | None = None
) -> NDArray[np.float64]:
    """Sum of ``weights`` per territory (labels < 0 are ignored)."""
    lab = np.asarray(labels, dtype=np.int64)
    w = np.asarray(weights, dtype=float)
    ok = lab >= 0
    return np.bincount(lab[ok], w[ok], minlength=_as_k(lab, n_territories)).astype(float)


def _unit_vectors(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


def weighted_centroids(
    lat: ArrayLike,
    lon: ArrayLike,
    weights: ArrayLike,
    labels: ArrayLike,
    *,
    n_territories: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weighted spherical centroid (lat, lon) of each territory (NaN when empty)."""
    lab = np.asarray(labels, dtype=np.int64)
    k = _as_k(lab, n_territories)
    ok = lab >= 0
    xyz = _unit_vectors(np.asarray(lat, float)[ok], np.asarray(lon, float)[ok])
    w = np.asarray(weights, dtype=float)[ok]
    sums = np.stack([np.bincount(lab[ok], xyz[:, j] * w, minlength=k) for j in range(3)], axis=1)
    norm = np.linalg.norm(sums, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = sums / norm[:, None]
    clat = np.degrees(np.arcsin(np.clip(c[:, 2], -1, 1)))
    clon = np.degrees(np.arctan2(c[:, 1], c[:, 0]))
    return clat, clon


def territory_compactness_km(
    lat: ArrayLike,
    lon: ArrayLike,
    weights: ArrayLike,
    labels: ArrayLike,
    *,
    n_territories: int | None = None,
) -> NDArray[np.float64]:
    """Per territory: weighted mean great-circle km to its weighted centroid."""
    lab = np.asarray(labels, dtype=np.int64)
    k = _as_k(lab, n_territories)
    w = np.asarray(weights, dtype=float)
    clat, clon = weighted_centroids(lat, lon, w, lab, n_territories=k)
    ok = lab >= 0
    d = haversine_km(
        np.asarray(lat, float)[ok], np.asarray(lon, float)[ok], clat[lab[ok]], clon[lab[ok]]
    )
    num = np.bincount(lab[ok], d * w[ok], minlength=k)
    den = np.bincount(lab[ok], w[ok], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(num / den, dtype=np.float64)


def compactness_km(lat: ArrayLike, lon: ArrayLike, weights: ArrayLike, labels: ArrayLike) -> float:
    """Weighted mean great-circle km from each point to its territory's weighted centroid.

    Lower is more compact. Points with a label below 0 are ignored.
    """
    lab = np.asarray(labels, dtype=np.int64)
    w = np.asarray(weights, dtype=float)
    per = territory_compactness_km(lat, lon, w, lab)
    den = territory_loads(w, lab, n_territories=per.size)
    used = den > 0
    return float((per[used] * den[used]).sum() / den[used].sum()) if used.any() else 0.0


def contiguity(
    cells: ArrayLike,
    labels: ArrayLike,
    *,
    n_territories: int | None = None,
    adj: sparse.csr_matrix | None = None,
) -> NDArray[np.bool_]:
    """Per territory: is it connected on the H3 adjacency graph?

    A territory may have several parts only where they lie on different islands of
    the cell set (separate connected components of the study area).
    """
    lab = np.asarray(labels, dtype=np.int64)
    k = _as_k(lab, n_territories)
    a = adjacency(cells) if adj is None else adj
    coo = a.tocoo()
    same = lab[coo.row] == lab[coo.col]
    inner = sparse.csr_matrix((coo.data[same], (coo.row[same], coo.col[same])), shape=a.shape)
    _, island = connected_components(a, directed=False)
    _, part = connected_components(inner, directed=False)
    ok = np.ones(k, dtype=bool)
    if lab.size == 0:
        return ok
    pairs = pd.DataFrame({"lab": lab, "island": island, "part": part})
    counts = pairs.groupby("lab").agg(islands=("island", "nunique"), parts=("part", "nunique"))
    bad = counts.index[counts["parts"] > counts["islands"]].to_numpy()
    ok[bad[(bad >= 0) & (bad < k)]] = False
    return ok


def moved_accounts(plan: Plan, baseline: Plan, accounts: pd.DataFrame) -> NDArray[np.object_]:
    """Account ids whose territory differs between ``baseline`` and ``plan``."""
    now = plan.assign(accounts).fillna("")
    before = baseline.assign(accounts).fillna("")
    diff = (now != before).to_numpy()
    return np.asarray(accounts["account_id"].astype(str).to_numpy()[diff], dtype=object)


def balance_weights(accounts: pd.DataFrame, balance: str) -> NDArray[np.float64]:
    col = BALANCE_COLUMNS.get(balance)
    if col is None:
        return np.ones(len(accounts), dtype=float)
    if col not in accounts.columns:
        return np.zeros(len(accounts), dtype=float)
    vals = pd.to_numeric(accounts[col], errors="coerce").to_numpy(float, na_value=np.nan)
    return np.asarray(np.nan_to_num(vals, nan=0.0), dtype=np.float64)


def _labels_of(
    plan: Plan, accounts: pd.DataFrame, assignment: pd.Series | None = None
) -> NDArray[np.int64]:
    ids = plan.assign(accounts) if assignment is None else assignment
    index = {t: i for i, t in enumerate(plan.territory_ids)}
    return np.asarray(ids.map(index).fillna(-1).to_numpy(np.int64), dtype=np.int64)


def target_shares(plan: Plan) -> NDArray[np.float64]:
    shares = plan.params.get("target_shares")
    if shares is None or len(shares) != plan.k:
        return np.full(plan.k, 1.0 / max(plan.k, 1))
    arr = np.asarray(shares, dtype=float)
    return np.asarray(arr / arr.sum(), dtype=np.float64)


def territory_table(
    plan: Plan,
    accounts: pd.DataFrame,
    reps: pd.DataFrame | None = None,
    *,
    assignment: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per territory with its load, target, deviation, capacity and shape.

    Columns: ``territory_id, rep_id, rep_name, accounts, tier1, tier2, tier3,
    workload_hours, opportunity, target, deviation, capacity_hours, utilisation,
    compactness_km, contiguous, cells``. ``target`` and ``deviation`` are in the plan's
    balance metric (``plan.params["balance"]``, default workload). ``assignment``:
    ``plan.assign(accounts)`` when the caller already has it.
    """
    k = plan.k
    lab = _labels_of(plan, accounts, assignment)
    work = balance_weights(accounts, "workload")
    balance = str(plan.params.get("balance", "workload"))
    bal = balance_weights(accounts, balance)
    tier = pd.to_numeric(
        accounts.get("tier", pd.Series(np.nan, index=accounts.index)), errors="coerce"
    )
    tier_arr = tier.to_numpy(float, na_value=np.nan)
    loads = territory_loads(bal, lab, n_territories=k)
    targets = target_shares(plan) * loads.sum()
    cw = work if work.sum() > 0 else np.ones(len(accounts))
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    table = pd.DataFrame(
        {
            "territory_id": pd.array(plan.territory_ids, dtype="string"),
            "rep_id": pd.array(list(plan.rep_ids), dtype="string"),
            "accounts": territory_loads(np.ones(len(accounts)), lab, n_territories=k).astype(int),
            **{
                f"tier{t}": territory_loads(tier_arr == t, lab, n_territories=k).astype(int)
                for t in (1, 2, 3)
            },
            "workload_hours": territory_loads(work, lab, n_territories=k),
            "opportunity": territory_loads(
                balance_weights(accounts, "opportunity"), lab, n_territories=k
            ),
            "target": targets,
            "deviation": deviations(loads, targets),
            "compactness_km": territory_compactness_km(lat, lon, cw, lab, n_territories=k),
            "contiguous": contiguity(plan.cells, plan.labels, n_territories=k),
            "cells": np.bincount(plan.labels, minlength=k),
        }
    )
    return _add_rep_columns(table, reps)


def _add_rep_columns(table: pd.DataFrame, reps: pd.DataFrame | None) -> pd.DataFrame:
    names = pd.Series(pd.NA, index=table.index, dtype="string")
    cap = pd.Series(np.nan, index=table.index, dtype=float)
    if reps is not None and len(reps):
        r = reps.drop_duplicates("rep_id").set_index(
            reps["rep_id"].drop_duplicates().astype("string")
        )
        if "name" in r.columns:
            names = table["rep_id"].map(r["name"].astype("string")).astype("string")
        if "capacity_hours" in r.columns:
            cap = pd.to_numeric(table["rep_id"].map(r["capacity_hours"]), errors="coerce").astype(
                float
            )
    table.insert(2, "rep_name", names)
    table["capacity_hours"] = cap
    with np.errstate(divide="ignore", invalid="ignore"):
        table["utilisation"] = table["workload_hours"] / cap.where(cap > 0)
    cols = [
        "territory_id", "rep_id", "rep_name", "accounts", "tier1", "tier2", "tier3",
        "workload_hours", "opportunity", "target", "deviation", "capacity_hours",
        "utilisation", "compactness_km", "contiguous", "cells",
    ]  # fmt: skip
    return table[cols]


def rollup(
    table: pd.DataFrame,
    reps: pd.DataFrame | None,
    *,
    levels: Sequence[str] = ("region", "district"),
) -> pd.DataFrame | None:
    """The territory table summed up the reps' hierarchy (region > district).

    One row per group of the ``levels`` the roster fills (a rep with a blank level, or
    a territory without a rep, counts as ``"(none)"``): ``territories, accounts,
    workload_hours, opportunity, capacity_hours, utilisation``, ``max_deviation`` (the
    largest |deviation| among its territories), ``contiguous`` (how many are) and
    ``travel_hours`` when the table has it. None when no level is filled.
    """
    if reps is None or not len(reps):
        return None
    present = [c for c in levels if c in reps.columns and reps[c].notna().any()]
    if not present:
        return None
    r = reps.drop_duplicates("rep_id")
    r = r.set_index(r["rep_id"].astype("string"))
    keys = {c: table["rep_id"].map(r[c].astype("string")).fillna("(none)") for c in present}
    frame = table.assign(**keys, max_deviation=table["deviation"].abs())
    sums = ["accounts", "workload_hours", "opportunity"] + (
        ["travel_hours"] if "travel_hours" in table.columns else []
    )
    groups = frame.groupby(present, sort=True)
    out = groups[sums].sum()
    out.insert(0, "territories", groups.size())
    out["capacity_hours"] = groups["capacity_hours"].sum(min_count=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["utilisation"] = out["workload_hours"] / out["capacity_hours"].where(
            out["capacity_hours"] > 0
        )
    out["max_deviation"] = groups["max_deviation"].max()
    out["contiguous"] = groups["contiguous"].sum().astype(int)
    return out.reset_index()


def rollup_change(
    before: tuple[pd.DataFrame, pd.DataFrame | None],
    after: tuple[pd.DataFrame, pd.DataFrame | None],
) -> pd.DataFrame | None:
    """Two roll-ups side by side: ``(territory table, reps)`` before and after a change.

    One row per group either side has, with ``territories``, ``workload_hours``,
    ``capacity_hours``, ``utilisation`` and ``max_deviation``, each as a ``_before`` /
    ``_after`` pair (a group one side lacks has 0 territories there). None when either
    roster has no region or district.
    """
    b, a = rollup(*before), rollup(*after)
    if b is None or a is None:
        return None
    keys = [c for c in ("region", "district") if c in b.columns and c in a.columns]
    if not keys:
        return None
    cols = ["territories", "workload_hours", "capacity_hours", "utilisation", "max_deviation"]
    out = b[keys + cols].merge(
        a[keys + cols], on=keys, how="outer", suffixes=("_before", "_after"), sort=True
    )
    for side in ("before", "after"):
        out[f"territories_{side}"] = out[f"territories_{side}"].fillna(0).astype(int)
    return out[keys + [f"{c}_{side}" for c in cols for side in ("before", "after")]]


def plan_health(
    plan: Plan, accounts: pd.DataFrame, *, assignment: pd.Series | None = None
) -> dict[str, Any]:
    """Plan-level checks: balance, contiguity, compactness, coverage.

    ``assignment``: ``plan.assign(accounts)`` when the caller already has it.

    Returns
    -------
    dict
        ``max_deviation``, ``cv``, ``contiguous_share``, ``compactness_km`` (weighted
        by workload), ``unassigned_accounts`` (outside every territory) and
        ``multiply_owned_accounts`` (an account id given more than one territory).
    """
    lab = _labels_of(plan, accounts, assignment)
    balance = str(plan.params.get("balance", "workload"))
    loads = territory_loads(balance_weights(accounts, balance), lab, n_territories=plan.k)
    targets = target_shares(plan) * loads.sum()
    work = balance_weights(accounts, "workload")
    cw = work if work.sum() > 0 else np.ones(len(accounts))
    contig = contiguity(plan.cells, plan.labels, n_territories=plan.k)
    owners = pd.DataFrame({"id": accounts["account_id"].astype(str).to_numpy(), "lab": lab})
    multi = owners[owners["lab"] >= 0].groupby("id")["lab"].nunique()
    return {
        "max_deviation": max_abs_deviation(loads, targets),
        "cv": coefficient_of_variation(loads, targets),
        "contiguous_share": float(contig.mean()) if contig.size else 1.0,
        "compactness_km": compactness_km(
            accounts["lat"].to_numpy(float, na_value=np.nan),
            accounts["lon"].to_numpy(float, na_value=np.nan),
            cw,
            lab,
        ),
        "unassigned_accounts": int((lab < 0).sum()),
        "multiply_owned_accounts": int((multi > 1).sum()),
    }
