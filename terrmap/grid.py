"""H3 grid: points to cells, per-cell sums, the study area, adjacency and dissolving.

Cells are H3 indexes stored as ``uint64``. A cell set may mix resolutions where heavy
cells were split into their children (adaptive resolution); every function here that
takes a cell set accepts that, as long as no cell is an ancestor of another one.

Parent and centre-child computations are done with bit operations on the H3 index
layout (resolution in bits 52-55, fifteen 3-bit digits below bit 45), so they are
vectorised; only point -> cell and neighbourhoods call into ``h3`` one cell at a time,
after deduplication.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

__all__ = [
    "MAX_RESOLUTION",
    "adjacency",
    "aggregate_cells",
    "cell_resolution",
    "cells_to_center_child",
    "cells_to_latlon",
    "cells_to_parent",
    "cells_to_shape",
    "choose_resolution",
    "latlon_to_cells",
    "locate_cells",
    "resolution_for_cells",
    "rings_for_resolution",
    "study_area",
]

#: Finest resolution the engine uses (res 10 hexagons are ~0.015 km²).
MAX_RESOLUTION = 10

_RES_SHIFT = np.uint64(52)
_RES_MASK = np.uint64(0xF) << _RES_SHIFT
_U64 = np.uint64
#: Weight columns summed per cell, and the account-frame column each comes from.
_SUMS = {"workload_hours": "workload_hours", "opportunity": "opportunity"}


def _digits_mask(res: int) -> np.uint64:
    """Bits of the digits below resolution ``res`` (all set to 7 = unused)."""
    return _U64((1 << (3 * (15 - res))) - 1)


def cell_resolution(cells: ArrayLike) -> NDArray[np.int64]:
    """Resolution of each cell (vectorised)."""
    arr = np.asarray(cells, dtype=np.uint64)
    return ((arr & _RES_MASK) >> _RES_SHIFT).astype(np.int64)


def cells_to_parent(cells: ArrayLike, res: int) -> NDArray[np.uint64]:
    """Ancestor of each cell at resolution ``res`` (cells must be at ``res`` or finer)."""
    arr = np.asarray(cells, dtype=np.uint64)
    if arr.size and int(cell_resolution(arr).min()) < res:
        raise ValueError(f"cells coarser than resolution {res} have no parent at {res}")
    out = (arr | _digits_mask(res)) & ~_RES_MASK
    return out | (_U64(res) << _RES_SHIFT)


def cells_to_center_child(cells: ArrayLike, res: int) -> NDArray[np.uint64]:
    """Centre descendant of each cell at resolution ``res`` (cells at ``res`` or coarser)."""
    arr = np.asarray(cells, dtype=np.uint64)
    cres = cell_resolution(arr)
    if arr.size and int(cres.max()) > res:
        raise ValueError(f"cells finer than resolution {res} have no child at {res}")
    out = arr.copy()
    for r in np.unique(cres):
        sel = cres == r
        # digits r+1..res become 0 (centre), digits below res stay 7.
        clear = _digits_mask(int(r)) ^ _digits_mask(res)
        out[sel] = (arr[sel] & ~clear & ~_RES_MASK) | (_U64(res) << _RES_SHIFT)
    return out


def latlon_to_cells(lat: ArrayLike, lon: ArrayLike, res: int) -> NDArray[np.uint64]:
    """H3 cell of each point at resolution ``res``.

    Identical coordinates are converted once (accounts placed at ZIP centroids share
    points). Missing or invalid coordinates give cell ``0`` (the H3 null index).

    Examples
    --------
    >>> latlon_to_cells([40.7128], [-74.0060], 7)
    array([608725951840255999], dtype=uint64)
    """
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    if la.shape != lo.shape:
        raise ValueError(f"lat and lon differ in length: {la.shape} vs {lo.shape}")
    if not 0 <= res <= 15:
        raise ValueError(f"H3 resolution must be 0..15, got {res}")
    ok = np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90) & (np.abs(lo) <= 180)
    out = np.zeros(la.shape, dtype=np.uint64)
    if not ok.any():
        return out
    # Factorising lat + i*lon is an exact, fast dedupe of coordinate pairs.
    codes, uniq = pd.factorize(la[ok] + 1j * lo[ok])
    pts = np.asarray(uniq, dtype=np.complex128)
    conv = h3n.latlng_to_cell
    cells = np.fromiter(
        (conv(a, b, res) for a, b in zip(pts.real.tolist(), pts.imag.tolist(), strict=True)),
        dtype=np.uint64,
        count=pts.size,
    )
    out[ok] = cells[codes]
    return out


#: Cell centres are looked up again on every re-plan of the same ground; h3 has no
#: vectorised call, so the per-cell call is memoised (about 40 MB when full).
_centre = lru_cache(maxsize=1 << 18)(h3n.cell_to_latlng)


def cells_to_latlon(cells: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centre (lat, lon) of each cell."""
    arr = np.asarray(cells, dtype=np.uint64)
    uniq, inverse = np.unique(arr, return_inverse=True)
    pts = np.array([_centre(c) for c in uniq.tolist()], dtype=np.float64)
    pts = pts.reshape(-1, 2)[inverse.ravel()]
    return pts[:, 0].copy(), pts[:, 1].copy()


def aggregate_cells(accounts: pd.DataFrame, res: int) -> pd.DataFrame:
    """Per-cell sums of an accounts frame at resolution ``res``.

    Parameters
    ----------
    accounts
        Accounts with ``lat``/``lon`` and, where present, ``workload_hours``,
        ``opportunity`` and ``tier`` (missing values count as zero / no tier).
    res
        H3 resolution.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell`` (uint64, sorted), columns ``accounts``, ``workload_hours``,
        ``opportunity``, ``tier1``, ``tier2``, ``tier3`` and the cell centre ``lat``,
        ``lon``. Accounts without a usable location are left out.
    """
    cells = latlon_to_cells(accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float), res)
    return _sum_by_cell(accounts, cells)


def _weight(accounts: pd.DataFrame, column: str) -> NDArray[np.float64]:
    if column not in accounts.columns:
        return np.zeros(len(accounts), dtype=np.float64)
    values = pd.to_numeric(accounts[column], errors="coerce").to_numpy(float, na_value=np.nan)
    return np.asarray(np.nan_to_num(values, nan=0.0), dtype=np.float64)


def _sum_by_cell(accounts: pd.DataFrame, cells: NDArray[np.uint64]) -> pd.DataFrame:
    keep = cells != 0
    uniq, inverse = np.unique(cells[keep], return_inverse=True)
    n = len(uniq)
    data: dict[str, Any] = {"accounts": np.bincount(inverse, minlength=n).astype(np.int64)}
    for out_col, col in _SUMS.items():
        data[out_col] = np.bincount(inverse, _weight(accounts, col)[keep], minlength=n)
    tier = _weight(accounts, "tier")[keep]
    for t in (1, 2, 3):
        data[f"tier{t}"] = np.bincount(inverse, (tier == t).astype(float), minlength=n).astype(
            np.int64
        )
    lat, lon = cells_to_latlon(uniq)
    data["lat"], data["lon"] = lat, lon
    return pd.DataFrame(data, index=pd.Index(uniq, name="cell", dtype=np.uint64))


def rings_for_resolution(res: int, km: float = 20.0) -> int:
    """Number of grid rings spanning about ``km`` kilometres at resolution ``res``."""
    spacing = h3n.average_hexagon_edge_length(res, unit="km") * np.sqrt(3.0)
    return max(1, round(float(km / spacing)))


def _neighbours(cells: NDArray[np.uint64]) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """(index of source cell, neighbouring cell) pairs, ring 1 around every cell."""
    disks = [h3n.grid_disk(int(c), 1) for c in cells.tolist()]
    sizes = np.fromiter((len(d) for d in disks), dtype=np.int64, count=len(disks))
    src = np.repeat(np.arange(len(cells), dtype=np.int64), sizes)
    nbr = np.concatenate(disks).astype(np.uint64) if disks else np.zeros(0, np.uint64)
    return src, nbr


def study_area(
    cells: ArrayLike,
    *,
    rings: int | None = None,
    km: float = 20.0,
    max_hole_cells: int | None = None,
) -> NDArray[np.uint64]:
    """Occupied cells plus the empty ground between them.

    Every cell within ``rings`` rings of an occupied cell (by default the number of
    rings spanning ``km`` at the cells' resolution) joins the area; enclosed holes of
    at most ``max_hole_cells`` cells (default: a disk of four times the buffer) are
    filled, so territories cover continuous ground without pinholes. Open gaps wider
    than twice ``km`` (sea, desert) stay out and make separate islands.

    Parameters
    ----------
    cells
        Occupied cells, all at one resolution (duplicates allowed).
    rings, km
        Buffer width in rings, or in kilometres when ``rings`` is None.
    max_hole_cells
        Largest enclosed hole (in cells) that is filled.

    Returns
    -------
    numpy.ndarray
        Sorted unique uint64 cells.
    """
    occ: NDArray[np.uint64] = np.unique(np.asarray(cells, dtype=np.uint64))
    occ = occ[occ != 0]
    if occ.size == 0:
        return occ
    res_all = np.unique(cell_resolution(occ))
    if res_all.size != 1:
        raise ValueError(f"study_area needs cells at one resolution, got {res_all.tolist()}")
    res = int(res_all[0])
    r = rings_for_resolution(res, km) if rings is None else int(rings)
    area, frontier = occ, occ
    for _ in range(r):  # grow ring by ring: every cell is expanded once
        _, nbr = _neighbours(frontier)
        frontier = np.setdiff1d(np.unique(nbr), area, assume_unique=True)
        area = np.union1d(area, frontier)
    big = 4 * r  # enclosed gaps up to ~4x the buffer across (lakes, parks) are filled
    limit = 3 * big * (big + 1) + 1 if max_hole_cells is None else max_hole_cells
    return np.union1d(area, _small_holes(area, res, limit))


def _small_holes(area: NDArray[np.uint64], res: int, limit: int) -> NDArray[np.uint64]:
    if limit <= 0:
        return np.zeros(0, dtype=np.uint64)
    shape = h3n.cells_to_h3shape(area)
    polys = list(shape.polys) if isinstance(shape, h3n.LatLngMultiPoly) else [shape]
    found = [np.zeros(0, dtype=np.uint64)]
    for poly in polys:
        for hole in poly.holes:
            inside = np.asarray(h3n.h3shape_to_cells(h3n.LatLngPoly(hole), res), dtype=np.uint64)
            if 0 < inside.size <= limit:
                found.append(inside)
    return np.setdiff1d(np.concatenate(found), area)


def locate_cells(table: NDArray[np.uint64], cells: ArrayLike) -> NDArray[np.int64]:
    """Position in ``table`` (sorted, non-overlapping cells) of the cell holding each cell.

    A query cell finer than a table cell maps to its ancestor; a coarser one maps via
    its centre child. ``-1`` where no table cell holds it.
    """
    q = np.asarray(cells, dtype=np.uint64)
    out = np.full(q.shape, -1, dtype=np.int64)
    if table.size == 0 or q.size == 0:
        return out
    valid = q != 0
    table_res = np.unique(cell_resolution(table))
    finest = int(table_res.max())
    qv = q[valid]
    qres = cell_resolution(qv)
    coarse = qres < finest
    if coarse.any():
        qv = qv.copy()
        qv[coarse] = cells_to_center_child(qv[coarse], finest)
    qres = cell_resolution(qv)
    found = np.full(qv.shape, -1, dtype=np.int64)
    for r in table_res.tolist():
        sel = (found < 0) & (qres >= r)
        if not sel.any():
            continue
        parents = cells_to_parent(qv[sel], r)
        pos = np.searchsorted(table, parents)
        pos = np.minimum(pos, table.size - 1)
        hit = table[pos] == parents
        idx = np.flatnonzero(sel)
        found[idx[hit]] = pos[hit]
    out[valid] = found
    return out


def adjacency(cells: ArrayLike) -> sparse.csr_matrix:
    """Symmetric cell adjacency (H3 neighbours; mixed resolutions allowed).

    Row/column ``i`` is ``cells[i]``. Two cells are adjacent when a ring-1 neighbour of
    one lies in (or is a descendant of) the other. Results are cached per cell set
    (reruns on the same grid are free), so treat the matrix as read-only.
    """
    return _adjacency(np.ascontiguousarray(cells, dtype=np.uint64).tobytes())


@lru_cache(maxsize=8)
def _adjacency(key: bytes) -> sparse.csr_matrix:
    arr = np.frombuffer(key, dtype=np.uint64)
    n = arr.size
    order = np.argsort(arr, kind="stable")
    table = arr[order]
    src, nbr = _neighbours(arr)
    pos = locate_cells(table, nbr)
    keep = pos >= 0
    a = src[keep]
    b = order[pos[keep]]
    keep2 = a != b
    a, b = a[keep2], b[keep2]
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    mat = sparse.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    mat.data[:] = 1  # duplicates summed; keep a 0/1 matrix
    mat.sort_indices()
    return mat


def cells_to_shape(cells: ArrayLike) -> shapely.Geometry:
    """Dissolve cells into one (Multi)Polygon in lng/lat order (GeoJSON order).

    Duplicates are dropped. Cells of one resolution dissolve exactly
    (``h3.cells_to_geo``). Mixed resolutions dissolve per resolution and are unioned:
    H3 children do not nest exactly in their parent, so the seams leave slivers,
    and interior slivers smaller than half a cell one level below the coarsest are
    closed. (Bringing everything to the finest resolution instead can mean millions
    of children.)
    """
    arr = np.unique(np.asarray(cells, dtype=np.uint64))
    arr = arr[arr != 0]
    if arr.size == 0:
        return shapely.Polygon()
    res = cell_resolution(arr)
    levels = np.unique(res)
    parts = [shapely.geometry.shape(h3n.cells_to_geo(arr[res == r])) for r in levels.tolist()]
    if len(parts) == 1:
        return parts[0]
    merged = shapely.union_all(parts)
    sliver = 0.5 * _cell_area_deg2(arr[res == levels[1]][0])
    return _close_slivers(merged, sliver)


def _cell_area_deg2(cell: np.uint64) -> float:
    ring = [(lng, lat) for lat, lng in h3n.cell_to_boundary(int(cell))]
    return float(shapely.Polygon(ring).area)


def _close_slivers(geom: shapely.Geometry, max_area: float) -> shapely.Geometry:
    polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    kept = [
        shapely.Polygon(p.exterior, [h for h in p.interiors if shapely.Polygon(h).area >= max_area])
        for p in polys
        if isinstance(p, shapely.Polygon) and p.area >= max_area
    ]
    return kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)


def choose_resolution(
    lat: ArrayLike, lon: ArrayLike, *, max_cells: int = 12_000, finest: int = 7
) -> int:
    """Base resolution whose study area stays under about ``max_cells`` cells.

    The study area is sized at resolution 5 and scaled by the cell-area ratio;
    dense cells are later split into children where balance needs it.
    """
    return resolution_for_cells(latlon_to_cells(lat, lon, 5), max_cells=max_cells, finest=finest)


def resolution_for_cells(cells: ArrayLike, *, max_cells: int = 12_000, finest: int = 7) -> int:
    """:func:`choose_resolution` for points already on cells of resolution 5 or finer."""
    arr = np.asarray(cells, dtype=np.uint64)
    arr = arr[arr != 0]
    cells5 = np.unique(cells_to_parent(arr, 5)) if arr.size else arr
    if cells5.size == 0:
        return finest
    area_km2 = study_area(cells5).size * h3n.average_hexagon_area(5, unit="km^2")
    for res in range(finest, 3, -1):
        if area_km2 / h3n.average_hexagon_area(res, unit="km^2") <= max_cells:
            return res
    return 4
