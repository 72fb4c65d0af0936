"""Account-level placement: the last resort when cells are too coarse to balance (private).

Accounts that share one point (a ZIP centroid, an office tower) cannot be split by any
finer grid. When the cell-level search leaves a territory outside its band, single
accounts are placed in a neighbouring territory as overrides — the
ground stays where it is — choosing those that fix the most imbalance for the least
extra distance. Every placement is reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from terrmap._transfer import plan_transfers
from terrmap.metrics import haversine_km, weighted_centroids
from terrmap.plan import Plan

__all__ = ["place_accounts"]


def place_accounts(
    plan: Plan,
    accounts: pd.DataFrame,
    weight: NDArray[np.float64],
    fine: NDArray[np.uint64],
    adj: sparse.csr_matrix,
    tol: float,
    *,
    locked: NDArray[np.bool_],
    limit: int | None = None,
    max_steps: int = 5000,
) -> tuple[dict[str, str], list[str]]:
    """Overrides that bring territories into ``tol`` by moving single accounts.

    At most ``limit`` accounts are placed (None: no limit).

    Returns
    -------
    tuple
        New overrides (account id -> territory id) and the ids placed.
    """
    k = plan.k
    index = {t: i for i, t in enumerate(plan.territory_ids)}
    assigned = plan.assign(accounts, fine_cells=fine).map(index).fillna(-1)
    lab: NDArray[np.int64] = np.array(assigned.to_numpy(np.int64), dtype=np.int64)
    ground = plan.account_cells(accounts, fine_cells=fine)
    ok = (lab >= 0) & (ground != 0) & ~locked
    loads = np.bincount(lab[lab >= 0], weight[lab >= 0], minlength=k).astype(np.float64)
    targets = np.asarray(plan.params["target_shares"], float) * loads.sum()
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    clat, clon = weighted_centroids(lat, lon, np.maximum(weight, 1e-9), lab, n_territories=k)
    ids = accounts["account_id"].astype(str).to_numpy()
    edges = sparse.coo_matrix(adj)
    la, lb = plan.labels[edges.row], plan.labels[edges.col]
    border = la != lb
    pairs = np.unique(la[border].astype(np.int64) * k + lb[border])
    neighbours = [pairs[pairs // k == i] % k for i in range(k)]
    placed: dict[str, str] = {}
    # First the least-transfer plan between neighbouring territories, carried out with
    # the accounts nearest the receiver; then single fixes for what is left.
    ea, eb = pairs // k, pairs % k
    amount = plan_transfers(loads, targets, 0.9 * tol, ea, eb)
    for j in np.argsort(-amount, kind="stable").tolist():
        if amount[j] <= 0:
            break
        f, t = int(ea[j]), int(eb[j])
        mine = np.flatnonzero(ok & (lab == f))
        extra = haversine_km(lat[mine], lon[mine], clat[t], clon[t]) - haversine_km(
            lat[mine], lon[mine], clat[f], clon[f]
        )
        need = float(amount[j])
        for i in mine[np.argsort(extra, kind="stable")].tolist():
            if need <= weight[i] / 2 or (limit is not None and len(placed) >= limit):
                break
            need -= weight[i]
            loads[f] -= weight[i]
            loads[t] += weight[i]
            lab[i] = t
            placed[str(ids[i])] = plan.territory_ids[t]
    stuck: set[int] = set()
    for _ in range(max_steps):
        if limit is not None and len(placed) >= limit:
            break
        dev = loads / targets - 1.0
        excess = np.maximum(np.abs(dev) - tol, 0.0)
        excess[list(stuck)] = 0.0
        a = int(np.argmax(excess))
        if excess[a] <= 0:
            break
        cand = _candidates(a, dev, lab, ok, neighbours)
        move = _best(cand, loads, targets, tol, lab, weight, lat, lon, clat, clon)
        if move is None:
            stuck.add(a)
            continue
        j, t = move
        f = int(lab[j])
        loads[f] -= weight[j]
        loads[t] += weight[j]
        lab[j] = t
        placed[str(ids[j])] = plan.territory_ids[t]
        stuck.clear()
    return placed, list(placed)


def _candidates(
    a: int,
    dev: NDArray[np.float64],
    lab: NDArray[np.int64],
    ok: NDArray[np.bool_],
    neighbours: list[NDArray[np.int64]],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(account index, territory) moves between ``a`` and the territories it borders.

    The account's cell need not touch the border (its neighbours may be across empty
    ground); the distance tie-break in :func:`_best` prefers the nearest.
    """
    nbrs = neighbours[a]
    if dev[a] > 0:  # an account of ``a`` to a neighbouring territory
        own = np.flatnonzero(ok & (lab == a))
        return np.repeat(own, nbrs.size), np.tile(nbrs, own.size)
    theirs = np.flatnonzero(ok & np.isin(lab, nbrs))  # a neighbour's account into ``a``
    return theirs, np.full(theirs.size, a, dtype=np.int64)


def _best(
    cand: tuple[NDArray[np.int64], NDArray[np.int64]],
    loads: NDArray[np.float64],
    targets: NDArray[np.float64],
    tol: float,
    lab: NDArray[np.int64],
    weight: NDArray[np.float64],
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    clat: NDArray[np.float64],
    clon: NDArray[np.float64],
) -> tuple[int, int] | None:
    """The move that lowers the band penalty most; ties go to the least extra distance."""
    j, t = cand
    if j.size == 0:
        return None
    f = lab[j]
    w = weight[j]
    pen = _penalty(loads[f] - w, targets[f], tol) + _penalty(loads[t] + w, targets[t], tol)
    gain = _penalty(loads[f], targets[f], tol) + _penalty(loads[t], targets[t], tol) - pen
    extra = haversine_km(lat[j], lon[j], clat[t], clon[t]) - haversine_km(
        lat[j], lon[j], clat[f], clon[f]
    )
    good = (gain > 1e-15) & np.isfinite(extra)
    if not good.any():
        return None
    order = np.lexsort((extra[good], -np.round(gain[good], 12)))
    best = int(np.flatnonzero(good)[order[0]])
    return int(j[best]), int(t[best])


def _penalty(
    load: NDArray[np.float64], target: NDArray[np.float64], tol: float
) -> NDArray[np.float64]:
    ex = np.maximum(np.abs(load / target - 1.0) - tol, 0.0)
    return np.asarray(ex * ex, dtype=np.float64)
