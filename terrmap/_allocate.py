"""Location-allocation core of the territory engine (private).

Cells carry a weight and a position; K seeds carry a demand (their target load).
``allocate`` solves the capacitated assignment as a sparse min-cost flow (OR-Tools):
each cell ships its weight to one of its few nearest seeds at a cost of its distance
(plus a stability charge for leaving a prior territory); every seed receives
exactly its demand. A basic solution splits at most K-1 cells, which are rounded to
their largest share. ``capacitated_kmeans`` alternates allocation and seed updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

from terrmap.geodesy import EARTH_RADIUS_KM

__all__ = [
    "Allocation",
    "allocate",
    "bisection_seeds",
    "capacitated_kmeans",
    "centroids",
    "initial_seeds",
    "match_to_homes",
    "spread",
    "sq_distances",
    "to_xyz",
]

_SUPPLY_UNITS = 10_000_000  # total weight scaled to integers for the flow
_COST_UNITS = 10_000  # one "typical cell-to-seed distance" in integer cost units
_COST_CAP = 5_000_000


@dataclass(frozen=True)
class Allocation:
    """Result of one allocation: label per cell (-1 for weightless cells) and shares."""

    labels: NDArray[np.int64]
    split_cells: int
    objective: float


def to_xyz(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points on the sphere as 3-D km coordinates (chord distance ~ great-circle)."""
    la, lo = np.radians(lat), np.radians(lon)
    xyz = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)
    return np.asarray(xyz * EARTH_RADIUS_KM, dtype=np.float64)


def sq_distances(x: NDArray[np.float64], seeds: NDArray[np.float64]) -> NDArray[np.float64]:
    """Squared km distances, shape (len(x), len(seeds))."""
    d2 = (x * x).sum(1)[:, None] + (seeds * seeds).sum(1)[None, :] - 2.0 * x @ seeds.T
    return np.asarray(np.maximum(d2, 0.0), dtype=np.float64)


def centroids(
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    labels: NDArray[np.int64],
    k: int,
    fallback: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Weighted centroids projected back onto the sphere (``fallback`` for empty ones)."""
    ok = labels >= 0
    sums = np.stack([np.bincount(labels[ok], x[ok, j] * w[ok], minlength=k) for j in range(3)], 1)
    norm = np.linalg.norm(sums, axis=1)
    out = fallback.copy()
    good = norm > 0
    out[good] = sums[good] / norm[good, None] * EARTH_RADIUS_KM
    return out


def initial_seeds(
    x: NDArray[np.float64], w: NDArray[np.float64], k: int, random_state: int
) -> NDArray[np.float64]:
    """Weighted k-means++ seeds refined by weighted Lloyd iterations (sklearn)."""
    pos = w > 0
    pts, wts = x[pos], w[pos]
    if len(pts) < k:
        raise ValueError(f"{k} territories need at least {k} weighted cells, got {len(pts)}")
    km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=60, random_state=random_state)
    km.fit(pts, sample_weight=wts)
    centers = np.asarray(km.cluster_centers_, dtype=np.float64)
    norm = np.linalg.norm(centers, axis=1)
    return np.asarray(centers / norm[:, None] * EARTH_RADIUS_KM, dtype=np.float64)


def bisection_seeds(
    x: NDArray[np.float64], w: NDArray[np.float64], shares: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Seeds from recursive weighted bisection along the principal axis.

    The points are cut into ``len(shares)`` groups whose weights follow ``shares``
    (split in halves recursively at the weighted quantile); the seeds are the group
    centroids. Unlike unconstrained k-means, dense metros get as many seeds as their
    load calls for, so the capacitated iterations start near a balanced optimum.
    """
    out = np.zeros((shares.size, 3))
    stack = [(np.flatnonzero(w > 0), np.arange(shares.size))]
    while stack:
        idx, group = stack.pop()
        if group.size == 1 or idx.size <= 1:
            c = (x[idx] * w[idx, None]).sum(0)
            out[group] = c / max(np.linalg.norm(c), 1e-12) * EARTH_RADIUS_KM
            continue
        half = group.size // 2
        frac = shares[group[:half]].sum() / shares[group].sum()
        pts, wts = x[idx], w[idx]
        centre = (pts * wts[:, None]).sum(0) / wts.sum()
        d = pts - centre
        cov = (d * wts[:, None]).T @ d
        axis = np.linalg.eigh(cov)[1][:, -1]
        order = np.argsort(d @ axis, kind="stable")
        cum = np.cumsum(wts[order])
        cut = int(np.searchsorted(cum, frac * cum[-1]))
        cut = min(max(cut, 1), idx.size - 1)
        stack.append((idx[order[:cut]], group[:half]))
        stack.append((idx[order[cut:]], group[half:]))
    return out


def match_to_homes(
    seeds: NDArray[np.float64],
    homes: NDArray[np.float64],
    shares: NDArray[np.float64] | None = None,
) -> NDArray[np.int64]:
    """Permutation ``p`` so that rep ``p[j]`` takes seed ``j`` at least total km.

    With ``shares`` (the target each seed was placed for, indexed like the reps), a
    rep is matched to a seed placed for a different target only when unavoidable.
    """
    d = np.sqrt(sq_distances(seeds, homes))
    if shares is not None:
        rel = shares / shares.mean()
        d = d + 1e6 * np.abs(rel[:, None] - rel[None, :])
    rows, cols = linear_sum_assignment(d)
    perm = np.empty(len(seeds), dtype=np.int64)
    perm[rows] = cols
    return perm


def _integer_split(total: int, shares: NDArray[np.float64]) -> NDArray[np.int64]:
    """Integers proportional to ``shares`` summing exactly to ``total``."""
    raw = shares / shares.sum() * total
    out = np.floor(raw).astype(np.int64)
    rest = int(total - out.sum())
    if rest > 0:
        out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return np.asarray(out, dtype=np.int64)


def allocate(
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    seeds: NDArray[np.float64],
    demand: NDArray[np.float64],
    *,
    neighbours: int = 6,
    locked: NDArray[np.int64] | None = None,
    prior: NDArray[np.int64] | None = None,
    stability: float = 0.0,
    slack: float = 0.0,
    move_weight: NDArray[np.float64] | None = None,
) -> Allocation:
    """Capacitated assignment of weighted cells to seeds (sparse min-cost flow).

    Parameters
    ----------
    x, w
        Cell positions (km xyz) and weights; weightless cells get label -1.
    seeds, demand
        Seed positions and the weight each must receive (rescaled to the total).
    neighbours
        Arcs per cell to its nearest seeds (more are added if a seed starves).
    locked
        Territory a cell must go to, or -1.
    prior
        Previous territory of each cell (-1: none); leaving it costs ``stability``
        typical cell-to-seed distances per unit of weight.
    move_weight
        What a move costs per cell (e.g. its account count): the stability charge
        is proportional to it (default: to the cell's weight).
    slack
        Each seed may receive ``demand * (1 ± slack)`` instead of exactly its demand
        (used with a prior plan: nothing moves that the band does not require).
    """
    k = len(seeds)
    n = len(x)
    lock = np.full(n, -1, np.int64) if locked is None else locked
    pri = np.full(n, -1, np.int64) if prior is None else prior
    occ = np.flatnonzero(w > 0)
    # Linear distance: the flow minimises workload-weighted km (what compactness
    # measures); squared distance gave ~2-5% less compact plans on the samples.
    dist = np.sqrt(sq_distances(x[occ], seeds))
    scale = float(np.median(dist.min(axis=1))) or 1.0
    cost = dist / scale
    if stability > 0:
        p = pri[occ]
        moved = (p[:, None] >= 0) & (np.arange(k)[None, :] != p[:, None])
        # Charge per account moved, not per unit of weight: the cap counts accounts.
        per = np.ones(occ.size) if move_weight is None else move_weight[occ] / w[occ]
        per = per / max(float(np.average(per, weights=w[occ])), 1e-12)
        cost = cost + stability * moved * per[:, None]
    lk = lock[occ]
    cost[lk >= 0] = np.inf
    cost[np.flatnonzero(lk >= 0), lk[lk >= 0]] = 0.0
    m = min(max(neighbours, 1), k)
    while True:
        result = _solve_flow(occ, w, cost, demand, m, slack)
        if result is not None or m >= k:
            break
        m = min(2 * m, k)
    if result is None:
        raise RuntimeError("min-cost flow found no allocation even with every arc")
    labels = np.full(n, -1, np.int64)
    labels[occ] = result[0]
    return Allocation(labels=labels, split_cells=result[1], objective=result[2] * scale)


def _solve_flow(
    occ: NDArray[np.int64],
    w: NDArray[np.float64],
    cost: NDArray[np.float64],
    demand: NDArray[np.float64],
    m: int,
    slack: float,
) -> tuple[NDArray[np.int64], int, float] | None:
    """One flow solve with ``m`` arcs per cell; None when a seed starves (use more arcs).

    Network: cell -> seed arcs (cost), seed -> sink arcs (the band above the lower
    bound), and a costly cell -> hub -> seed escape that keeps every solve feasible;
    weight using the escape means the sparse arcs were too few.
    """
    n, k = cost.shape
    nn = np.argpartition(cost, m - 1, axis=1)[:, :m] if m < k else np.tile(np.arange(k), (n, 1))
    c = np.take_along_axis(cost, nn, 1)
    arc_ok = np.isfinite(c)
    supply = _integer_split(_SUPPLY_UNITS, w[occ])
    total = int(supply.sum())
    dem = _integer_split(total, np.maximum(demand, 0.0) + 1e-12)
    low = np.floor(dem * (1.0 - slack)).astype(np.int64)
    high = np.ceil(dem * (1.0 + slack)).astype(np.int64)
    rows = np.repeat(np.arange(n), m)[arc_ok.ravel()]
    cols = nn.ravel()[arc_ok.ravel()]
    ci = np.minimum(np.round(c[arc_ok] * _COST_UNITS), _COST_CAP).astype(np.int64)
    hub, sink = n + k, n + k + 1
    big = _COST_CAP * 4
    tails = np.concatenate([rows, n + np.arange(k), np.arange(n), np.full(k, hub)])
    heads = np.concatenate([n + cols, np.full(k, sink), np.full(n, hub), n + np.arange(k)])
    caps = np.concatenate([supply[rows], high - low, supply, high])
    costs = np.concatenate([ci, np.zeros(k, np.int64), np.full(n, big), np.zeros(k, np.int64)])
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64), costs
    )
    supplies = np.concatenate([supply, -low, [0, -(total - int(low.sum()))]])
    smcf.set_nodes_supplies(np.arange(n + k + 2, dtype=np.int32), supplies.astype(np.int64))
    if smcf.solve() != smcf.OPTIMAL:  # flows() must not be read after a failed solve
        return None
    flows = np.asarray(smcf.flows(np.asarray(arcs, dtype=np.int32)), dtype=np.int64)
    if flows[len(rows) + k : len(rows) + k + n].sum() > 0 and m < k:
        return None  # some weight had to use the hub: sparse arcs too few
    share = np.zeros((n, k), dtype=np.int64)
    np.add.at(share, (rows, cols), flows[: len(rows)])
    labels = np.argmax(share, axis=1).astype(np.int64)
    stranded = share.sum(1) == 0  # only possible when locks leave no capacity
    labels[stranded] = np.argmin(cost[stranded], axis=1)
    split = int(((share > 0).sum(1) > 1).sum())
    objective = float((share * np.where(np.isfinite(cost), cost, 0)).sum()) / _SUPPLY_UNITS
    return labels, split, objective


def spread(
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    labels: NDArray[np.int64],
    k: int,
    centres: NDArray[np.float64] | None = None,
) -> float:
    """Weighted mean km from each cell to its territory's centroid (lower = compact).

    With ``centres`` (one point per territory, e.g. the reps' homes) the distance is
    measured to those points instead.
    """
    ok = labels >= 0
    c = centroids(x, w, labels, k, np.zeros((k, 3))) if centres is None else centres
    d = np.linalg.norm(x[ok] - c[labels[ok]], axis=1)
    return float((d * w[ok]).sum() / max(float(w[ok].sum()), 1e-12))


def capacitated_kmeans(
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    seeds: NDArray[np.float64],
    demand: NDArray[np.float64],
    *,
    fixed_seeds: bool,
    iterations: int,
    neighbours: int = 6,
    locked: NDArray[np.int64] | None = None,
    prior: NDArray[np.int64] | None = None,
    stability: float = 0.0,
    slack: float = 0.0,
    move_weight: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64], int]:
    """Alternate allocation and centroid updates (unless seeds are fixed).

    Returns
    -------
    tuple
        Labels (-1 for weightless cells), final seed positions, rounds run.
    """
    labels = np.full(len(x), -1, np.int64)
    k = len(seeds)
    rounds = 0
    for rounds in range(1, max(iterations, 1) + 1):  # noqa: B007 - rounds is reported
        alloc = allocate(
            x,
            w,
            seeds,
            demand,
            neighbours=neighbours,
            locked=locked,
            prior=prior,
            stability=stability,
            slack=slack,
            move_weight=move_weight,
        )
        changed = float(w[alloc.labels != labels].sum()) / max(float(w.sum()), 1e-12)
        labels = alloc.labels
        if fixed_seeds:
            break
        seeds = centroids(x, w, labels, k, seeds)
        if changed < 0.002:
            break
    return labels, seeds, rounds
