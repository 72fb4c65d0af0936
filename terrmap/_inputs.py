"""The arrays the engine solves on, built from a cell table (private)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from terrmap import _allocate as alloc
from terrmap._config import METRIC_COLUMNS, DesignConfig
from terrmap.grid import adjacency, locate_cells

__all__ = ["Inputs", "cell_graph", "distance_graph", "metric", "prepare"]


@lru_cache(maxsize=6)
def cell_graph(key: bytes) -> tuple[sparse.csr_matrix, NDArray[np.int64]]:
    """Adjacency and island id of a cell set (cached: reruns reuse the grid)."""
    cells = np.frombuffer(key, dtype=np.uint64)
    adj = adjacency(cells)
    _, island = connected_components(adj, directed=False)
    island = np.asarray(island, dtype=np.int64)
    island.setflags(write=False)
    return adj, island


def distance_graph(adj: sparse.csr_matrix, x: NDArray[np.float64]) -> sparse.csr_matrix:
    coo = adj.tocoo()
    d = np.linalg.norm(x[coo.row] - x[coo.col], axis=1) + 1e-6
    return sparse.csr_matrix((d, (coo.row, coo.col)), shape=adj.shape)


@dataclass(frozen=True)
class Inputs:
    """Arrays the solver works on (internal)."""

    cells: NDArray[np.uint64]
    x: NDArray[np.float64]
    w: NDArray[np.float64]
    w2: NDArray[np.float64] | None
    acc: NDArray[np.float64]
    targets: NDArray[np.float64]
    targets2: NDArray[np.float64] | None
    fixed: NDArray[np.float64]
    fixed2: NDArray[np.float64] | None
    locked: NDArray[np.int64]
    adj: sparse.csr_matrix
    island: NDArray[np.int64]


def metric(cells: pd.DataFrame, name: str) -> NDArray[np.float64]:
    col = METRIC_COLUMNS[name]
    if col not in cells.columns:
        raise ValueError(f"cell table lacks column {col!r} needed to balance on {name!r}")
    vals = pd.to_numeric(cells[col], errors="coerce").to_numpy(float, na_value=np.nan)
    if (np.nan_to_num(vals) < 0).any():
        raise ValueError(f"column {col!r} has negative values")
    return np.asarray(np.nan_to_num(vals, nan=0.0), dtype=np.float64)


def _fixed(fixed: pd.DataFrame | None, name: str, k: int) -> NDArray[np.float64]:
    col = METRIC_COLUMNS[name]
    if fixed is None or col not in fixed.columns:
        return np.zeros(k)
    vals = fixed[col].to_numpy(float)
    if vals.size != k:
        raise ValueError(f"fixed loads have {vals.size} rows for {k} territories")
    return np.asarray(vals, dtype=np.float64)


def prepare(
    cells: pd.DataFrame,
    targets: ArrayLike,
    config: DesignConfig,
    locked: Mapping[int, int] | None,
    fixed: pd.DataFrame | None,
) -> Inputs:
    shares = np.asarray(targets, dtype=float)
    k = shares.size
    if k < 1 or not np.isfinite(shares).all() or (shares <= 0).any():
        raise ValueError(f"targets must be {k} positive numbers, got {shares.tolist()[:10]}")
    cell_ids = np.asarray(cells.index.to_numpy(), dtype=np.uint64)
    if cell_ids.size > 1 and (np.diff(cell_ids.astype(np.uint64)) == 0).any():
        raise ValueError("cell table has duplicate cells")
    w = metric(cells, config.balance)
    fx = _fixed(fixed, config.balance, k)
    tgt = shares / shares.sum() * (w.sum() + fx.sum())
    w2 = metric(cells, config.secondary) if config.secondary else None
    fx2 = _fixed(fixed, config.secondary, k) if config.secondary else None
    tgt2 = (
        shares / shares.sum() * (w2.sum() + fx2.sum())
        if w2 is not None and fx2 is not None
        else None
    )
    lock = np.full(cell_ids.size, -1, dtype=np.int64)
    if locked:
        pos = locate_cells(np.sort(cell_ids), np.fromiter(locked.keys(), np.uint64, len(locked)))
        order = np.argsort(cell_ids, kind="stable")
        vals = np.fromiter(locked.values(), np.int64, len(locked))
        lock[order[pos[pos >= 0]]] = vals[pos >= 0]
    adj, island = cell_graph(cell_ids.tobytes())
    x = alloc.to_xyz(cells["lat"].to_numpy(float), cells["lon"].to_numpy(float))
    acc = metric(cells, "accounts") if "accounts" in cells.columns else np.zeros(cell_ids.size)
    return Inputs(cell_ids, x, w, w2, acc, tgt, tgt2, fx, fx2, lock, adj, island)
