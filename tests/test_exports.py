"""Exports: CRM CSV, territory GeoJSON / GeoPackage / KML, KPI CSV."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from voronoi import voronoi_plan

from terrmap.exports import (
    CRM_COLUMNS,
    assignments_csv,
    assignments_frame,
    kpi_csv,
    territories_frame,
    territories_geojson,
    territories_gpkg,
    territories_kml,
)
from terrmap.metrics import territory_table
from terrmap.plan import Plan


@pytest.fixture(scope="module")
def plan(sample_accounts: pd.DataFrame, sample_reps: pd.DataFrame) -> Plan:
    return voronoi_plan(sample_accounts, sample_reps)


@pytest.fixture(scope="module")
def territories(plan: Plan, sample_accounts: pd.DataFrame, sample_reps: pd.DataFrame):
    return territories_frame(plan, territory_table(plan, sample_accounts, sample_reps))


def test_crm_csv_has_every_account_with_its_rep(
    plan: Plan, sample_accounts: pd.DataFrame, sample_reps: pd.DataFrame
) -> None:
    data = assignments_csv(plan, sample_accounts, sample_reps)
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert tuple(frame.columns) == CRM_COLUMNS
    assert len(frame) == len(sample_accounts)
    assert frame["account_id"].tolist() == sample_accounts["account_id"].astype(str).tolist()
    assert (frame["territory_id"] == plan.assign(sample_accounts).astype(str).to_numpy()).all()
    names = dict(
        zip(sample_reps["rep_id"].astype(str), sample_reps["name"].astype(str), strict=True)
    )
    assigned = frame[frame["territory_id"] != ""]
    assert (assigned["rep_id"] == assigned["territory_id"]).all()
    assert (assigned["rep_name"] == assigned["rep_id"].map(names)).all()
    assert not data.startswith(b"\xef\xbb\xbf")  # plain UTF-8, no BOM


def test_crm_frame_honours_overrides(plan: Plan, sample_accounts: pd.DataFrame) -> None:
    acc = str(sample_accounts["account_id"].iloc[0])
    other = next(t for t in plan.territory_ids if t != plan.assign(sample_accounts).iloc[0])
    frame = assignments_frame(plan.with_overrides({acc: other}), sample_accounts)
    assert frame.loc[0, "territory_id"] == other
    assert frame.loc[0, "rep_name"] == other  # no roster: the rep id stands in for a name


def test_territories_frame_is_wgs84_with_kpis(territories: gpd.GeoDataFrame, plan: Plan) -> None:
    assert territories.crs.to_epsg() == 4326
    assert list(territories["territory_id"]) == list(plan.territory_ids)
    assert {"workload_hours", "utilisation", "deviation", "rep_name"} <= set(territories.columns)
    assert territories.geometry.is_valid.all()
    total = shapely.union_all(territories.geometry.to_numpy())
    # Territories tile the study area without overlaps.
    assert shapely.area(territories.geometry.to_numpy()).sum() == pytest.approx(
        total.area, rel=1e-6
    )


def test_geojson_is_rfc7946(territories: gpd.GeoDataFrame) -> None:
    doc = json.loads(territories_geojson(territories))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert len(doc["features"]) == len(territories)
    first = doc["features"][0]
    assert first["properties"]["territory_id"] == territories["territory_id"].iloc[0]
    lon, lat = np.asarray(first["geometry"]["coordinates"][0] if first["geometry"]["type"]
                          == "Polygon" else first["geometry"]["coordinates"][0][0])[0]  # fmt: skip
    assert -80 < lon < -69 and 38 < lat < 46  # lng/lat order, northeastern US


def test_geopackage_round_trips(territories: gpd.GeoDataFrame, tmp_path) -> None:
    path = tmp_path / "territories.gpkg"
    path.write_bytes(territories_gpkg(territories))
    back = gpd.read_file(path, layer="territories")
    assert list(back["territory_id"]) == list(territories["territory_id"])
    assert back.crs.to_epsg() == 4326
    assert np.allclose(
        shapely.area(back.geometry.to_numpy()), shapely.area(territories.geometry.to_numpy())
    )


def test_kml_has_a_placemark_per_territory(territories: gpd.GeoDataFrame) -> None:
    text = territories_kml(territories).decode("utf-8")
    assert text.count("<Placemark") == len(territories)
    for tid in territories["territory_id"]:
        assert f"<name>{tid}</name>" in text


def test_kpi_csv_round_trips(plan: Plan, sample_accounts: pd.DataFrame) -> None:
    table = territory_table(plan, sample_accounts)
    back = pd.read_csv(io.BytesIO(kpi_csv(table)))
    assert list(back.columns) == list(table.columns)
    assert back["accounts"].sum() == table["accounts"].sum()
    assert np.allclose(back["workload_hours"], table["workload_hours"], atol=1e-3)
