"""Which cells and accounts a map gesture picks: a click, a drawn lasso or rectangle.

Pure functions from a :class:`~terrmap.plan.Plan` and a GeoJSON payload (what
``st_folium`` returns) to H3 cells or account ids; the moves in :mod:`terrmap.edits`
take what these return. Mixed-resolution plans (heavy cells split into children) are
handled at each of their resolutions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import h3
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from terrmap._plan_lookup import account_id_array
from terrmap.grid import cell_resolution, cells_to_latlon, latlon_to_cells, locate_cells
from terrmap.plan import Plan

__all__ = ["accounts_in_geometry", "cell_at", "cells_in_geometry", "select_from_payload"]


def cell_at(plan: Plan, lat: float, lon: float) -> int | None:
    """The plan cell (any of its resolutions) that holds a point, or None outside it."""
    finest = int(cell_resolution(plan.cells).max()) if plan.cells.size else plan.resolution
    fine = latlon_to_cells([lat], [lon], finest)
    pos = int(locate_cells(plan.cells, fine)[0])
    return int(plan.cells[pos]) if pos >= 0 else None


def _cells_under(plan: Plan, lat: float, lon: float) -> NDArray[np.uint64]:
    """The plan cell under a point as an array of one cell, or none outside the plan."""
    cell = cell_at(plan, lat, lon)
    return np.array([] if cell is None else [cell], dtype=np.uint64)


def _geometry_of(shape: Any) -> Any:
    if isinstance(shape, Mapping):
        if shape.get("type") == "Feature":
            return shape.get("geometry")
        if shape.get("type") == "FeatureCollection":
            return shapely.union_all(
                [shapely.geometry.shape(f["geometry"]) for f in shape.get("features", [])]
            )
    return shape


def _shape_of(geometry: Any) -> shapely.Geometry | None:
    """A shapely geometry from GeoJSON (geometry, Feature, collection) or shapely; None if bad."""
    geom = _geometry_of(geometry)
    if geom is None:
        return None
    try:
        shape = shapely.geometry.shape(geom) if isinstance(geom, Mapping) else geom
    except (ValueError, TypeError, KeyError, IndexError, shapely.errors.GEOSException):
        return None  # a half-drawn or foreign shape selects nothing
    if not isinstance(shape, shapely.Geometry) or shape.is_empty:
        return None
    return shape if shape.is_valid else shapely.make_valid(shape)


def _extent(plan: Plan) -> shapely.Geometry:
    """The box around the plan's cell centres, grown by two of its largest cells."""
    lat, lon = cells_to_latlon(plan.cells)
    coarsest = int(cell_resolution(plan.cells).min())
    pad = 2 * h3.average_hexagon_edge_length(coarsest, unit="km") / 111.0
    pad_lon = pad / max(np.cos(np.radians(np.abs(lat).max())), 0.05)
    return shapely.box(lon.min() - pad_lon, lat.min() - pad, lon.max() + pad_lon, lat.max() + pad)


def cells_in_geometry(plan: Plan, geometry: Any) -> NDArray[np.uint64]:
    """Plan cells whose centre lies inside a drawn shape (lasso, rectangle, circle).

    ``geometry`` is a GeoJSON geometry dict (lng/lat order), a Feature or
    FeatureCollection (their geometry is used) or a shapely geometry. Mixed-resolution
    plans are filled at each of their resolutions. A shape smaller than one cell
    selects the cell under its centre, so a small rectangle is never a silent no-op.
    """
    none = np.empty(0, dtype=np.uint64)
    shape = _shape_of(geometry)
    if shape is None or shape.geom_type not in ("Polygon", "MultiPolygon") or not plan.cells.size:
        return none
    # Clip to the study area first: a shape drawn over half a continent at a fine
    # resolution would otherwise enumerate millions of cells.
    shape = shape.intersection(_extent(plan))
    if shape.is_empty or shape.geom_type not in ("Polygon", "MultiPolygon"):
        return none
    picked: list[NDArray[np.uint64]] = []
    for res in np.unique(cell_resolution(plan.cells)).tolist():
        inside = np.asarray(h3n.geo_to_cells(shape, int(res)), dtype=np.uint64)
        picked.append(inside[np.isin(inside, plan.cells)])
    found = np.unique(np.concatenate(picked)) if picked else np.empty(0, np.uint64)
    if found.size == 0:
        point = shape.representative_point()
        return _cells_under(plan, point.y, point.x)
    return found


def select_from_payload(plan: Plan, payload: Mapping[str, Any] | None) -> NDArray[np.uint64]:
    """Cells picked on the map from a ``st_folium`` payload (``last_active_drawing``).

    A clicked hex Feature carries its H3 index in ``properties.h3`` (or ``cell``); a
    drawn shape carries a Polygon geometry and no ``h3`` property; a point (marker or
    click) selects the cell under it. Anything else selects nothing.
    """
    if not payload:
        return np.empty(0, dtype=np.uint64)
    props = payload.get("properties") or {}
    key = props.get("h3") or props.get("cell")
    if key is not None:
        try:
            cell = int(h3.str_to_int(key)) if isinstance(key, str) else int(key)
        except (ValueError, TypeError):
            return np.empty(0, dtype=np.uint64)  # not one of our hexes
        pos = int(locate_cells(plan.cells, np.array([cell], dtype=np.uint64))[0])
        return plan.cells[[pos]] if pos >= 0 else np.empty(0, dtype=np.uint64)
    geom = _geometry_of(payload)
    if isinstance(geom, Mapping) and geom.get("type") == "Point":
        lon, lat = geom["coordinates"][:2]
        return _cells_under(plan, float(lat), float(lon))
    if isinstance(geom, Mapping) and "lat" in geom and "lng" in geom:  # last_clicked
        return _cells_under(plan, float(geom["lat"]), float(geom["lng"]))
    return cells_in_geometry(plan, geom)


def accounts_in_geometry(accounts: pd.DataFrame, geometry: Any) -> list[str]:
    """Account ids whose location lies inside a drawn shape (for account-level moves)."""
    shape = _shape_of(geometry)
    if shape is None:
        return []
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    inside = shapely.contains_xy(shape, lon, lat)
    return list(account_id_array(accounts)[inside])
