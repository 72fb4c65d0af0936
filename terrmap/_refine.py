"""Adaptive resolution and the cell table the engine works on (private).

A cell heavier than the balance tolerance allows is replaced by its seven H3 children
(all of them, so the ground stays covered), recursively, until it is light enough, its
accounts all stand on one fine cell, or the finest resolution is reached.
"""

from __future__ import annotations

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from terrmap.grid import cell_resolution, cells_to_latlon, locate_cells

__all__ = ["adaptive_cells", "cell_table"]


def adaptive_cells(
    base_cells: NDArray[np.uint64],
    fine: NDArray[np.uint64],
    weight: NDArray[np.float64],
    limit: float,
    *,
    max_res: int,
) -> tuple[NDArray[np.uint64], tuple[int, ...]]:
    """Split cells heavier than ``limit`` into children, level by level.

    Parameters
    ----------
    base_cells
        The study area (sorted, one resolution).
    fine
        Each account's cell at a resolution of at least ``max_res`` (0 = no location).
    weight
        Each account's weight in the balance metric.
    limit
        Heaviest weight a cell may carry.
    max_res
        Finest resolution to split to.

    Returns
    -------
    tuple
        The new sorted cell set and the cells that were split (coarsest first).
    """
    cells = np.sort(base_cells)
    split: list[int] = []
    if cells.size == 0 or not np.isfinite(limit) or limit <= 0:
        return cells, ()
    res0 = int(cell_resolution(cells).min())
    located = fine != 0
    f, wt = fine[located], weight[located]
    for r in range(res0, max_res):
        idx = locate_cells(cells, f)
        ok = idx >= 0
        load = np.bincount(idx[ok], wt[ok], minlength=cells.size)
        # distinct fine cells per cell: sort by (cell, fine) and count changes
        order = np.lexsort((f[ok], idx[ok]))
        ci, fi = idx[ok][order], f[ok][order]
        first = np.ones(ci.size, dtype=bool)
        first[1:] = (ci[1:] != ci[:-1]) | (fi[1:] != fi[:-1])
        spots = np.bincount(ci[first], minlength=cells.size)
        heavy = (load > limit) & (spots > 1) & (cell_resolution(cells) == r)
        if not heavy.any():
            break
        parents = cells[heavy]
        split.extend(parents.tolist())
        kids = [
            np.asarray(h3n.cell_to_children(int(c), r + 1), np.uint64) for c in parents.tolist()
        ]
        cells = np.sort(np.concatenate([cells[~heavy], *kids]))
    return cells, tuple(split)


def cell_table(
    cells: NDArray[np.uint64],
    fine: NDArray[np.uint64],
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    weights: pd.DataFrame,
) -> tuple[pd.DataFrame, NDArray[np.int64]]:
    """Per-cell sums of ``weights`` over the accounts standing in each cell.

    The cell position (``lat``, ``lon``) is the centroid of its accounts weighted by
    the first weight column (by count where that weight is zero), or the cell centre
    for empty cells.

    Returns
    -------
    tuple
        The table (indexed by ``cell``) and the row of each account (-1 outside).
    """
    idx = locate_cells(cells, fine)
    ok = idx >= 0
    n = cells.size
    io = idx[ok]
    data = {c: np.bincount(io, weights[c].to_numpy(float)[ok], minlength=n) for c in weights}
    clat, clon = cells_to_latlon(cells)
    first = weights.iloc[:, 0].to_numpy(float)[ok]
    for wt in (np.ones(io.size), first):  # later (preferred) weighting overwrites
        den = np.bincount(io, wt, minlength=n)
        sel = den > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mlat = np.bincount(io, wt * lat[ok], minlength=n) / den
            mlon = np.bincount(io, wt * lon[ok], minlength=n) / den
        clat = np.where(sel, mlat, clat)
        clon = np.where(sel, mlon, clon)
    table = pd.DataFrame(data, index=pd.Index(cells, name="cell", dtype=np.uint64))
    table["lat"], table["lon"] = clat, clon
    return table, idx
