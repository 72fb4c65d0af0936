"""Minimal-disruption realignment of an existing plan (private).

When a baseline plan must absorb a change (a rep leaves, a capacity shifts), re-solving
the allocation moves cells near every border. Instead, ``plan_transfers`` solves a small
min-cost flow on the *territory* graph — how much load each territory must pass to each
neighbour so that every territory ends inside its band, moving as little as possible —
and ``realise`` carries each transfer out by moving the border cells of the donor that
suit the receiver best, one connectivity-safe cell at a time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow
from scipy import sparse

from terrmap._contiguity import neighbour_pairs, removable
from terrmap._search import MoveBudget

__all__ = ["plan_transfers", "realise", "territory_edges"]

_UNITS = 10_000_000


def territory_edges(
    adj: sparse.csr_matrix, labels: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Directed pairs (a, b) of territories that share a border."""
    coo = adj.tocoo()
    a, b = labels[coo.row], labels[coo.col]
    diff = (a != b) & (a >= 0) & (b >= 0)
    k = int(max(a.max(initial=0), b.max(initial=0))) + 1
    key = np.unique(a[diff].astype(np.int64) * k + b[diff])
    return key // k, key % k


def plan_transfers(
    loads: NDArray[np.float64],
    targets: NDArray[np.float64],
    slack: float,
    ea: NDArray[np.int64],
    eb: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Load to pass along each border ``ea[j] -> eb[j]`` (least total transfer).

    Every territory ends within ``targets * (1 ± slack)``; where the border graph
    cannot reach that (islands), the transfers do what they can.
    """
    k = loads.size
    scale = _UNITS / max(float(loads.sum()), 1e-12)
    sup = np.round(loads * scale).astype(np.int64)
    total = int(sup.sum())
    low = np.floor(targets * (1 - slack) * scale).astype(np.int64)
    high = np.ceil(targets * (1 + slack) * scale).astype(np.int64)
    if low.sum() > total:
        low = np.floor(low * (total / low.sum())).astype(np.int64)
    high = np.maximum(high, low)
    sink, hub = k, k + 1
    big = 10**6
    tails = np.concatenate([ea, np.arange(k), np.arange(k), np.full(k, hub)])
    heads = np.concatenate([eb, np.full(k, sink), np.full(k, hub), np.arange(k)])
    caps = np.concatenate(
        [np.full(ea.size, total), high - low, np.full(k, total), np.full(k, total)]
    )
    costs = np.concatenate(
        [np.full(ea.size, 1000), np.zeros(k, np.int64), np.full(k, big), np.zeros(k, np.int64)]
    )
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32),
        heads.astype(np.int32),
        caps.astype(np.int64),
        costs.astype(np.int64),
    )
    supply = np.concatenate([sup - low, [-(total - int(low.sum())), 0]]).astype(np.int64)
    smcf.set_nodes_supplies(np.arange(k + 2, dtype=np.int32), supply)
    if smcf.solve() != smcf.OPTIMAL:
        return np.zeros(ea.size)
    flows = np.asarray(smcf.flows(np.asarray(arcs, dtype=np.int32)), dtype=np.float64)
    return flows[: ea.size] / scale


def realise(
    adj: sparse.csr_matrix,
    labels: NDArray[np.int64],
    w: NDArray[np.float64],
    x: NDArray[np.float64],
    seeds: NDArray[np.float64],
    locked: NDArray[np.bool_],
    ea: NDArray[np.int64],
    eb: NDArray[np.int64],
    amount: NDArray[np.float64],
    budget: MoveBudget | None = None,
) -> tuple[NDArray[np.int64], int]:
    """Move border cells ``a -> b`` worth about ``amount`` for each planned transfer.

    Larger transfers go first; cells nearest the receiver's seed (relative to the
    donor's) move first; a cell moves only if its donor stays connected and the
    transfer is not overshot by more than half the cell.
    """
    lab = labels.copy()
    counts = np.bincount(lab[lab >= 0], minlength=seeds.shape[0])
    moves = 0
    for j in np.argsort(-amount, kind="stable").tolist():
        need = float(amount[j])
        a, b = int(ea[j]), int(eb[j])
        for _ in range(2000):  # empty ground may have to move before weighted cells
            if need <= 0:
                break
            moved, n = _move_layer(adj, lab, counts, w, x, seeds, locked, a, b, need, budget)
            if n == 0:
                break
            need -= moved
            moves += n
    return lab, moves


def _move_layer(
    adj: sparse.csr_matrix,
    lab: NDArray[np.int64],
    counts: NDArray[np.int64],
    w: NDArray[np.float64],
    x: NDArray[np.float64],
    seeds: NDArray[np.float64],
    locked: NDArray[np.bool_],
    a: int,
    b: int,
    need: float,
    budget: MoveBudget | None,
) -> tuple[float, int]:
    """Move part of ``a``'s border with ``b`` into ``b``; return (weight, cells) moved.

    The quarter of the border cells nearest ``b``'s seed (relative to ``a``'s) are
    taken in that order, each only while ``need`` is left and if ``a`` stays
    connected without it; the territory-wide connectivity search runs only when no
    cell passes the local test. (The border is recomputed on the next call, so the
    transfer grows from the side facing ``b``.)
    """
    src, dst = neighbour_pairs(adj, np.flatnonzero(lab == a))
    cand = np.unique(src[lab[dst] == b])
    cand = cand[~locked[cand] & (w[cand] <= 2 * need)]
    if cand.size == 0 or counts[a] <= 1:
        return 0.0, 0
    gain = ((x[cand] - seeds[b]) ** 2).sum(1) - ((x[cand] - seeds[a]) ** 2).sum(1)
    ordered = cand[np.argsort(gain, kind="stable")].tolist()
    moved, n = 0.0, 0

    def take(cell: int) -> None:
        nonlocal moved, n
        n += 1
        if budget is not None:
            budget.moved += float(budget.delta(np.array([cell]), np.array([a]), np.array([b]))[0])
        lab[cell] = b
        counts[a] -= 1
        counts[b] += 1
        moved += float(w[cell]) if w[cell] > 0 else 1e-12

    for cell in ordered[: max(4, len(ordered) // 4)]:
        if need - moved <= 0 or counts[a] <= 1:
            break
        if w[cell] > 2 * (need - moved) or (budget is not None and not budget.allows(cell, a, b)):
            continue
        if removable(adj, lab, cell, local_only=True):
            take(cell)
    if moved == 0.0:
        usable = [c for c in ordered if budget is None or budget.allows(c, a, b)]
        pick = next((c for c in usable[:3] if removable(adj, lab, c)), None)
        if pick is not None:
            take(pick)
    return moved, n
