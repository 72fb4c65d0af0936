"""Boundary local search of the territory engine (private).

``balance`` moves border cells between neighbouring territories until every territory
is inside its band(s): each step takes the territory furthest outside its band and
applies the move (out of it or into it) that lowers the total band penalty at the
smallest compactness cost per unit of improvement, never cutting the donor in two.
``polish`` then makes compactness-improving border moves that keep every band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from terrmap._contiguity import Bands, neighbour_pairs, removable

__all__ = ["MoveBudget", "balance", "polish"]


@dataclass
class MoveBudget:
    """Hard cap on accounts moved away from a baseline territory."""

    base: NDArray[np.int64]
    accounts: NDArray[np.float64]
    cap: float
    moved: float
    blocked: bool = False  # a useful move was refused because of the cap

    def allows(self, cell: int, src: int, dst: int) -> bool:
        """Would this move keep the accounts moved within the cap? (notes refusals)"""
        b = self.base[cell]
        dm = float(self.accounts[cell]) * (float(dst != b) - float(src != b))
        if self.moved + dm <= self.cap:
            return True
        self.blocked = True
        return False

    def delta(
        self, cells: NDArray[np.int64], src: NDArray[np.int64], dst: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Change in accounts moved for each candidate move."""
        b = self.base[cells]
        return np.asarray(
            self.accounts[cells] * ((dst != b).astype(float) - (src != b).astype(float)),
            dtype=np.float64,
        )


def _candidates(
    adj: sparse.csr_matrix, labels: NDArray[np.int64], a: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Border moves touching territory ``a``: out of it and into it."""
    cells_a = np.flatnonzero(labels == a)
    src, dst = neighbour_pairs(adj, cells_a)
    f = labels[dst] != a
    src, dst = src[f], dst[f]
    cell = np.concatenate([src, dst])
    frm = np.concatenate([np.full(src.size, a), labels[dst]])
    to = np.concatenate([labels[dst], np.full(dst.size, a)])
    key = np.unique(cell * (int(to.max(initial=0)) + 1) + to, return_index=True)[1]
    return cell[key], frm[key], to[key]


def _compact_cost(
    x: NDArray[np.float64],
    wc: NDArray[np.float64],
    seeds: NDArray[np.float64],
    cell: NDArray[np.int64],
    frm: NDArray[np.int64],
    to: NDArray[np.int64],
) -> NDArray[np.float64]:
    xc = x[cell]
    d_to = ((xc - seeds[to]) ** 2).sum(1)
    d_from = ((xc - seeds[frm]) ** 2).sum(1)
    return np.asarray(wc[cell] * (d_to - d_from), dtype=np.float64)


def _apply(
    labels: NDArray[np.int64], counts: NDArray[np.int64], bands: Bands, c: int, f: int, t: int
) -> None:
    labels[c] = t
    counts[f] -= 1
    counts[t] += 1
    bands.move(c, f, t)


@dataclass
class _State:
    """Mutable search state shared by the moves of one run."""

    adj: sparse.csr_matrix
    lab: NDArray[np.int64]
    counts: NDArray[np.int64]
    bands: Bands
    x: NDArray[np.float64]
    seeds: NDArray[np.float64]
    wc: NDArray[np.float64]
    locked: NDArray[np.bool_]
    budget: MoveBudget | None

    def best_move(
        self, a: int, *, improving: bool, tabu: set[int] | None = None, tries: int = 40
    ) -> tuple[int, int, int] | None:
        """Best connectivity-safe border move touching ``a``.

        ``improving``: only moves that lower the total penalty, ranked by compactness
        cost per unit of improvement. Otherwise (ejection chains) any move that fixes
        part of ``a``'s own excess and avoids ``tabu`` territories, least damage first.
        """
        cell, frm, to = _candidates(self.adj, self.lab, a)
        keep = ~self.locked[cell]
        if tabu:
            other = np.where(frm == a, to, frm)
            keep &= ~np.isin(other, list(tabu))
        cell, frm, to = cell[keep], frm[keep], to[keep]
        dp = self.bands.delta(cell, frm, to)
        if self.budget is not None:
            dm = self.budget.delta(cell, frm, to)
            ok = self.budget.moved + dm <= self.budget.cap
            if not ok.all() and (dp[~ok] < -1e-15).any():
                self.budget.blocked = True
            cell, frm, to, dp = cell[ok], frm[ok], to[ok], dp[ok]
        dc = _compact_cost(self.x, self.wc, self.seeds, cell, frm, to)
        if improving:
            good = dp < -1e-15
            cell, frm, to, dp, dc = cell[good], frm[good], to[good], dp[good], dc[good]
            order = np.argsort(dc / -dp, kind="stable")[:tries]
        else:
            own = self.bands.own_delta(a, cell, frm, to)
            good = own < -1e-15
            cell, frm, to, dp, dc = cell[good], frm[good], to[good], dp[good], dc[good]
            order = np.lexsort((dc, np.round(dp, 12)))[:tries]
        ranked = [
            (int(cell[j]), int(frm[j]), int(to[j]))
            for j in order.tolist()
            if self.counts[frm[j]] > 1
        ]
        # The cheap local connectivity test settles most; the territory-wide search
        # only for the best few (it costs a breadth-first search each).
        for c, f, t in ranked:
            if removable(self.adj, self.lab, c, local_only=True):
                return c, f, t
        for c, f, t in ranked[:3]:
            if removable(self.adj, self.lab, c):
                return c, f, t
        return None

    def apply(self, c: int, f: int, t: int) -> None:
        """Make a move (labels, counts, loads, move budget)."""
        if self.budget is not None:
            one = np.array([c])
            self.budget.moved += float(self.budget.delta(one, np.array([f]), np.array([t]))[0])
        _apply(self.lab, self.counts, self.bands, c, f, t)

    def chain(self, a: int, max_hops: int = 12) -> int:
        """Ejection chain from stuck territory ``a``: pass the excess on, hop by hop.

        Each hop fixes the current territory with the least-damaging move to a
        territory not yet in the chain, which may push that one out of its band; the
        chain ends when nobody new is out of band. Kept only if the total penalty
        fell; otherwise undone. Returns the moves kept.
        """
        start = float(self.bands.territory_penalty().sum())
        made: list[tuple[int, int, int]] = []
        tabu = {a}
        current = a
        for _ in range(max_hops):
            move = self.best_move(current, improving=False, tabu=tabu)
            if move is None:
                break
            self.apply(*move)
            made.append(move)
            other = move[2] if move[1] == current else move[1]
            tabu.add(other)
            if self.bands.territory_penalty()[other] <= 0:
                break
            current = other
        if made and float(self.bands.territory_penalty().sum()) < start - 1e-15:
            return len(made)
        for c, f, t in reversed(made):
            self.apply(c, t, f)
        return 0


def balance(
    adj: sparse.csr_matrix,
    labels: NDArray[np.int64],
    bands: Bands,
    *,
    x: NDArray[np.float64],
    seeds: NDArray[np.float64],
    wc: NDArray[np.float64],
    locked: NDArray[np.bool_],
    budget: MoveBudget | None = None,
    max_steps: int = 200_000,
) -> tuple[NDArray[np.int64], int]:
    """Move border cells until every band holds or no improving move is left.

    Greedy improving moves first; a territory with none left tries an ejection
    chain (:meth:`_State.chain`) before it is given up on.

    Returns
    -------
    tuple
        New labels and the number of moves made.
    """
    k = len(bands.targets)
    st = _State(
        adj, labels.copy(), np.bincount(labels, minlength=k).astype(np.int64), bands,
        x, seeds, wc, locked, budget,
    )  # fmt: skip
    stuck = np.zeros(k, dtype=bool)
    moves = 0
    for _ in range(max_steps):
        pen = np.where(stuck, 0.0, bands.territory_penalty())
        a = int(np.argmax(pen))
        if pen[a] <= 0:
            break
        move = st.best_move(a, improving=True)
        if move is not None:
            st.apply(*move)
            moves += 1
            stuck[:] = False
            continue
        made = st.chain(a)
        moves += made
        if made:
            stuck[:] = False
        else:
            stuck[a] = True
    return st.lab, moves


def polish(
    adj: sparse.csr_matrix,
    labels: NDArray[np.int64],
    bands: Bands,
    *,
    x: NDArray[np.float64],
    seeds: NDArray[np.float64],
    wc: NDArray[np.float64],
    locked: NDArray[np.bool_],
    budget: MoveBudget | None = None,
    sweeps: int = 3,
) -> tuple[NDArray[np.int64], int]:
    """Compactness-improving border moves that keep every territory's band penalty."""
    lab = labels.copy()
    k = len(bands.targets)
    counts = np.bincount(lab, minlength=k).astype(np.int64)
    coo = adj.tocoo()
    rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
    moves = 0
    for _ in range(sweeps):
        border = lab[rows] != lab[cols]
        cell, to = rows[border], lab[cols[border]]
        key = np.unique(cell * (int(to.max(initial=0)) + 1) + to, return_index=True)[1]
        cell, to = cell[key], to[key]
        frm = lab[cell]
        keep = ~locked[cell]
        cell, frm, to = cell[keep], frm[keep], to[keep]
        dc = _compact_cost(x, wc, seeds, cell, frm, to)
        imp = dc < 0
        cell, frm, to, dc = cell[imp], frm[imp], to[imp], dc[imp]
        applied = 0
        for j in np.argsort(dc, kind="stable").tolist():
            c, f, t = int(cell[j]), int(frm[j]), int(to[j])
            if lab[c] != f or counts[f] <= 1 or not _touches(adj, lab, c, t):
                continue
            if not bands.keeps(c, f, t):
                continue
            one, fa, ta = np.array([c]), np.array([f]), np.array([t])
            if budget is not None and float(budget.delta(one, fa, ta)[0]) > 0:
                continue  # polishing never moves an account off its baseline territory
            if not removable(adj, lab, c):
                continue
            if budget is not None:
                budget.moved += float(budget.delta(one, fa, ta)[0])
            _apply(lab, counts, bands, c, f, t)
            applied += 1
        moves += applied
        if applied == 0:
            break
    return lab, moves


def _touches(adj: sparse.csr_matrix, labels: NDArray[np.int64], cell: int, t: int) -> bool:
    """Does ``cell`` border territory ``t`` right now (labels change during a sweep)?"""
    nb = adj.indices[adj.indptr[cell] : adj.indptr[cell + 1]]
    return bool((labels[nb] == t).any())
