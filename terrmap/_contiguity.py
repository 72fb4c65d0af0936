"""Contiguity repair and boundary local search of the territory engine (private).

All functions work on cell indices with a CSR adjacency. Territories may have several
parts only on different islands (connected components of the study area).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra

__all__ = ["Bands", "fill_unlabelled", "label_components", "neighbour_pairs", "repair_contiguity"]


def neighbour_pairs(
    adj: sparse.csr_matrix, cells: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """All (cell, neighbour) index pairs for ``cells`` (vectorised CSR slicing)."""
    indptr = adj.indptr
    starts, ends = indptr[cells], indptr[cells + 1]
    counts = (ends - starts).astype(np.int64)
    total = int(counts.sum())
    src = np.repeat(cells, counts)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    dst = adj.indices[np.repeat(starts, counts) + offsets].astype(np.int64)
    return src, dst


def fill_unlabelled(
    dist_adj: sparse.csr_matrix,
    labels: NDArray[np.int64],
    x: NDArray[np.float64],
    seeds: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Give each unlabelled cell the label of the nearest labelled cell along the graph.

    ``dist_adj`` carries km between cell centres. Cells on islands without any
    labelled cell take the nearest seed.
    """
    out = labels.copy()
    have = np.flatnonzero(out >= 0)
    todo = out < 0
    if not todo.any():
        return out
    if have.size:
        _, _, sources = dijkstra(
            dist_adj, directed=False, indices=have, min_only=True, return_predecessors=True
        )
        reach = todo & (sources >= 0)
        out[reach] = out[sources[reach]]
    rest = np.flatnonzero(out < 0)
    if rest.size:
        d2 = ((x[rest, None, :] - seeds[None, :, :]) ** 2).sum(-1)
        out[rest] = np.argmin(d2, axis=1)
    return out


def label_components(adj: sparse.csr_matrix, labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Connected component of each cell within its own territory."""
    coo = adj.tocoo()
    same = labels[coo.row] == labels[coo.col]
    inner = sparse.csr_matrix(
        (np.ones(int(same.sum()), np.int8), (coo.row[same], coo.col[same])), shape=adj.shape
    )
    _, comp = connected_components(inner, directed=False)
    return np.asarray(comp, dtype=np.int64)


def repair_contiguity(
    adj: sparse.csr_matrix,
    labels: NDArray[np.int64],
    island: NDArray[np.int64],
    w: NDArray[np.float64],
    locked: NDArray[np.bool_],
    *,
    max_rounds: int = 30,
) -> NDArray[np.int64]:
    """Keep each territory's heaviest part per island; give other parts to a neighbour.

    A detached part goes to the neighbouring territory it shares most borders with.
    Locked cells keep their label (a part holding one is left as is).
    """
    lab = labels.copy()
    for _ in range(max_rounds):
        comp = label_components(adj, lab)
        frame = pd.DataFrame(
            {"comp": comp, "lab": lab, "island": island, "w": w, "n": 1, "locked": locked}
        )
        parts = frame.groupby("comp").agg(
            lab=("lab", "first"),
            island=("island", "first"),
            w=("w", "sum"),
            n=("n", "sum"),
            locked=("locked", "any"),
        )
        parts = parts.sort_values(["lab", "island", "w", "n"], ascending=[True, True, False, False])
        main = ~parts.duplicated(["lab", "island"], keep="first")
        orphans = parts.index[~main.to_numpy() & ~parts["locked"].to_numpy()].to_numpy()
        if orphans.size == 0:
            break
        is_orphan = np.zeros(comp.max() + 1, dtype=bool)
        is_orphan[orphans] = True
        cells = np.flatnonzero(is_orphan[comp])
        src, dst = neighbour_pairs(adj, cells)
        foreign = lab[dst] != lab[src]
        edges = pd.DataFrame({"comp": comp[src[foreign]], "to": lab[dst[foreign]]})
        if edges.empty:
            break
        counts = edges.value_counts().reset_index(name="k")
        counts = counts.sort_values(["comp", "k", "to"], ascending=[True, False, True])
        best = counts.drop_duplicates("comp").set_index("comp")["to"]
        new = best.reindex(comp[cells]).to_numpy(dtype=float, na_value=np.nan)
        ok = ~np.isnan(new)
        lab[cells[ok]] = new[ok].astype(np.int64)
    return lab


@dataclass
class Bands:
    """Balance state of the local search: loads, targets and tolerance bands."""

    w: NDArray[np.float64]
    targets: NDArray[np.float64]
    tol: float
    loads: NDArray[np.float64]
    w2: NDArray[np.float64] | None = None
    targets2: NDArray[np.float64] | None = None
    tol2: float = 0.0
    loads2: NDArray[np.float64] | None = None

    def penalty(
        self, k: NDArray[np.int64], d1: NDArray[np.float64], d2: NDArray[np.float64] | None
    ) -> NDArray[np.float64]:
        """Penalty of territories ``k`` after adding ``d1`` (and ``d2``) to their loads."""
        dev = (self.loads[k] + d1) / self.targets[k] - 1.0
        ex = np.maximum(np.abs(dev) - self.tol, 0.0)
        pen = 100.0 * ex * ex
        if self.loads2 is not None and self.targets2 is not None and d2 is not None:
            dev2 = (self.loads2[k] + d2) / np.maximum(self.targets2[k], 1e-12) - 1.0
            ex2 = np.maximum(np.abs(dev2) - self.tol2, 0.0)
            pen = pen + ex2 * ex2
        return np.asarray(pen, dtype=np.float64)

    def territory_penalty(self) -> NDArray[np.float64]:
        """Current penalty of every territory."""
        k = np.arange(len(self.targets))
        zero = np.zeros(len(k))
        return self.penalty(k, zero, zero if self.w2 is not None else None)

    def delta(
        self, cells: NDArray[np.int64], src: NDArray[np.int64], dst: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Change of total penalty when each ``cells[j]`` moves ``src[j]`` -> ``dst[j]``."""
        wi = self.w[cells]
        w2 = self.w2[cells] if self.w2 is not None else None
        zero = np.zeros(len(cells))
        z2 = zero if w2 is not None else None
        neg2 = -w2 if w2 is not None else None
        before = self.penalty(src, zero, z2) + self.penalty(dst, zero, z2)
        after = self.penalty(src, -wi, neg2) + self.penalty(dst, wi, w2)
        return after - before

    def own_delta(
        self, a: int, cells: NDArray[np.int64], src: NDArray[np.int64], dst: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Change of territory ``a``'s own penalty for each move touching it."""
        sign = np.where(dst == a, 1.0, -1.0)
        d1 = sign * self.w[cells]
        d2 = sign * self.w2[cells] if self.w2 is not None else None
        ka = np.full(len(cells), a, dtype=np.int64)
        z2 = np.zeros(len(cells)) if d2 is not None else None
        return self.penalty(ka, d1, d2) - self.penalty(ka, np.zeros(len(cells)), z2)

    def _pen1(self, k: int, load: float, load2: float | None) -> float:
        ex = max(abs(load / float(self.targets[k]) - 1.0) - self.tol, 0.0)
        pen = 100.0 * ex * ex
        if load2 is not None and self.targets2 is not None:
            ex2 = max(abs(load2 / max(float(self.targets2[k]), 1e-12) - 1.0) - self.tol2, 0.0)
            pen += ex2 * ex2
        return pen

    def keeps(self, cell: int, src: int, dst: int) -> bool:
        """Neither territory's penalty rises if ``cell`` moves ``src`` -> ``dst`` (scalar)."""
        wi = float(self.w[cell])
        two = self.loads2 is not None and self.w2 is not None
        w2 = float(self.w2[cell]) if two and self.w2 is not None else 0.0
        ls, ld = float(self.loads[src]), float(self.loads[dst])
        l2s = float(self.loads2[src]) if two and self.loads2 is not None else None
        l2d = float(self.loads2[dst]) if two and self.loads2 is not None else None
        after_s = self._pen1(src, ls - wi, None if l2s is None else l2s - w2)
        after_d = self._pen1(dst, ld + wi, None if l2d is None else l2d + w2)
        return (
            after_s <= self._pen1(src, ls, l2s) + 1e-18
            and after_d <= self._pen1(dst, ld, l2d) + 1e-18
        )

    def move(self, cell: int, src: int, dst: int) -> None:
        """Apply a move to the loads."""
        self.loads[src] -= self.w[cell]
        self.loads[dst] += self.w[cell]
        if self.loads2 is not None and self.w2 is not None:
            self.loads2[src] -= self.w2[cell]
            self.loads2[dst] += self.w2[cell]


def removable(
    adj: sparse.csr_matrix,
    labels: NDArray[np.int64],
    cell: int,
    budget: int = 600,
    *,
    local_only: bool = False,
) -> bool:
    """Can ``cell`` leave its territory without cutting the rest of it in two?

    Its neighbours in the territory must stay linked without it: first tried within
    two grid steps of the cell (almost always decisive), then — unless
    ``local_only`` — by a bounded search of the territory (``budget`` cells; beyond
    that the move is refused).
    """
    lab = labels[cell]
    indptr, indices = adj.indptr, adj.indices
    nb = indices[indptr[cell] : indptr[cell + 1]]
    nb = nb[labels[nb] == lab]
    if nb.size <= 1:
        return True
    ring2 = set(nb.tolist())
    for u in nb.tolist():
        near = indices[indptr[u] : indptr[u + 1]]
        ring2.update(near[labels[near] == lab].tolist())
    ring2.discard(cell)
    if _reaches(indices, indptr, int(nb[0]), set(nb.tolist()), ring2.__contains__, cell, budget):
        return True
    return not local_only and _reaches(
        indices, indptr, int(nb[0]), set(nb.tolist()), lambda v: labels[v] == lab, cell, budget
    )


def _reaches(
    indices: NDArray[np.int32],
    indptr: NDArray[np.int32],
    start: int,
    targets: set[int],
    allowed: Callable[[int], bool],
    banned: int,
    budget: int,
) -> bool:
    """Breadth-first search from ``start`` through ``allowed`` cells: all targets found?"""
    seen = {start, banned}
    queue = deque([start])
    left = len(targets) - 1
    while queue and len(seen) < budget:
        u = queue.popleft()
        for v in indices[indptr[u] : indptr[u + 1]].tolist():
            if v not in seen and allowed(v):
                seen.add(v)
                queue.append(v)
                if v in targets:
                    left -= 1
                    if left == 0:
                        return True
    return False
