"""Exports of a plan as bytes: CRM assignments, territory polygons, KPI table.

Every function returns ``bytes`` ready for a download button or a file write, and
takes only data and the plan (no Streamlit). Territory polygons are dissolved from
the plan's H3 cells and written in WGS84 (RFC 7946 GeoJSON; GeoPackage and KML
through GDAL/pyogrio).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

if TYPE_CHECKING:
    from terrmap.plan import Plan

__all__ = [
    "CRM_COLUMNS",
    "assignments_csv",
    "assignments_frame",
    "kpi_csv",
    "territories_frame",
    "territories_geojson",
    "territories_gpkg",
    "territories_kml",
]

#: Columns of the CRM-ready assignment file, in order.
CRM_COLUMNS: tuple[str, ...] = ("account_id", "territory_id", "rep_id", "rep_name")


def _rep_names(plan: Plan, reps: pd.DataFrame | None) -> dict[str, str]:
    """Territory id -> rep name (or rep id when the roster has no name)."""
    names: dict[str, str] = {}
    lookup: Mapping[str, str] = {}
    if reps is not None and len(reps):
        named = reps["name"].astype("string").fillna(reps["rep_id"].astype("string"))
        lookup = dict(zip(reps["rep_id"].astype(str), named.astype(str), strict=True))
    for tid, rep in zip(plan.territory_ids, plan.rep_ids, strict=True):
        if rep is not None:
            names[tid] = lookup.get(rep, rep)
    return names


def assignments_frame(
    plan: Plan, accounts: pd.DataFrame, reps: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The territory of record of every account, with its rep.

    Parameters
    ----------
    plan
        The plan (account overrides and split cells are honoured by ``plan.assign``).
    accounts
        The accounts the plan was built on (``account_id``, ``lat``, ``lon``).
    reps
        The rep roster, for ``rep_name``.

    Returns
    -------
    pandas.DataFrame
        ``account_id, territory_id, rep_id, rep_name`` in the accounts' order; accounts
        outside the plan's study area have empty territory and rep.
    """
    territory = plan.assign(accounts).astype("string")
    rep_of = {tid: rep for tid, rep in zip(plan.territory_ids, plan.rep_ids, strict=True) if rep}
    names = _rep_names(plan, reps)
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"].astype("string").to_numpy(),
            "territory_id": territory.to_numpy(),
            "rep_id": territory.map(rep_of).astype("string").to_numpy(),
            "rep_name": territory.map(names).astype("string").to_numpy(),
        }
    )


def assignments_csv(plan: Plan, accounts: pd.DataFrame, reps: pd.DataFrame | None = None) -> bytes:
    """CRM-ready CSV (UTF-8, header ``account_id,territory_id,rep_id,rep_name``).

    Parameters
    ----------
    plan, accounts, reps
        As in :func:`assignments_frame`.

    Returns
    -------
    bytes
    """
    frame = assignments_frame(plan, accounts, reps)
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def territories_frame(plan: Plan, table: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """One row per territory: its dissolved polygon and (optionally) its KPIs.

    Parameters
    ----------
    plan
        The plan.
    table
        ``terrmap.metrics.territory_table`` output; its columns are joined on
        ``territory_id``.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, columns ``territory_id``, ``rep_id``, the KPI columns, geometry.
    """
    shapes = plan.territory_shapes()
    frame = pd.DataFrame(
        {
            "territory_id": list(plan.territory_ids),
            "rep_id": pd.array(list(plan.rep_ids), dtype="string"),
        }
    )
    if table is not None and len(table):
        extra = table.drop(columns=[c for c in ("rep_id",) if c in table.columns])
        frame = frame.merge(extra, on="territory_id", how="left")
    for col in frame.columns:
        if frame[col].dtype == bool or str(frame[col].dtype) == "boolean":
            frame[col] = frame[col].astype("Int8")  # GDAL drivers lack a bool type
    return gpd.GeoDataFrame(
        frame, geometry=[shapes[tid] for tid in frame["territory_id"]], crs="EPSG:4326"
    )


def territories_geojson(territories: gpd.GeoDataFrame) -> bytes:
    """RFC 7946 GeoJSON (WGS84, no legacy ``crs`` member) of :func:`territories_frame`."""
    text: str = territories.to_json(to_wgs84=True, drop_id=True, na="null")
    return text.encode("utf-8")


def _via_gdal(territories: gpd.GeoDataFrame, *, driver: str, suffix: str) -> bytes:
    # A real file: not every GDAL driver writes to an in-memory buffer.
    with tempfile.TemporaryDirectory(prefix="terrmap-export-") as tmp:
        path = Path(tmp) / f"territories{suffix}"
        territories.to_crs(4326).to_file(path, driver=driver, layer="territories")
        return path.read_bytes()


def territories_gpkg(territories: gpd.GeoDataFrame) -> bytes:
    """GeoPackage (layer ``territories``) of :func:`territories_frame`."""
    return _via_gdal(territories, driver="GPKG", suffix=".gpkg")


def territories_kml(territories: gpd.GeoDataFrame) -> bytes:
    """KML of :func:`territories_frame` (one placemark per territory, named by id)."""
    named = territories.copy()
    named.insert(0, "Name", named["territory_id"].astype(str))
    return _via_gdal(named, driver="KML", suffix=".kml")


def kpi_csv(table: pd.DataFrame) -> bytes:
    """The per-territory KPI table as UTF-8 CSV (numbers rounded for reading)."""
    buffer = io.StringIO()
    table.round(3).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")
