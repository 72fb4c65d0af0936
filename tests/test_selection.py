"""Selection from the map: the cell under a click, lasso and rectangle, payloads."""

from __future__ import annotations

from typing import Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
import shapely
from edit_world import CENTRE, RES, WORLD

from terrmap.edits import assign_cells
from terrmap.grid import cell_resolution, cells_to_latlon, latlon_to_cells
from terrmap.plan import Plan
from terrmap.selection import (
    accounts_in_geometry,
    cell_at,
    cells_in_geometry,
    select_from_payload,
)


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return WORLD


def test_cell_at_finds_the_cell_under_a_point(world: Any) -> None:
    plan, _ = world
    lat, lon = cells_to_latlon(plan.cells[10:11])
    assert cell_at(plan, float(lat[0]), float(lon[0])) == int(plan.cells[10])
    assert cell_at(plan, 10.0, 10.0) is None


def test_lasso_selects_cells_whose_centre_is_inside(world: Any) -> None:
    plan, _ = world
    lat, lon = cells_to_latlon(plan.cells)
    box = shapely.box(CENTRE[1] - 0.05, CENTRE[0] - 0.04, CENTRE[1] + 0.05, CENTRE[0] + 0.04)
    expected = plan.cells[shapely.contains_xy(box, lon, lat)]
    assert expected.size > 3
    geometry = shapely.geometry.mapping(box)
    feature = {"type": "Feature", "properties": {}, "geometry": geometry}
    for shape in (geometry, feature, box):
        got = cells_in_geometry(plan, shape)
        assert np.array_equal(np.sort(got), np.sort(expected))


def test_huge_or_broken_shapes(world: Any) -> None:
    plan, _ = world
    continent = shapely.box(-125.0, 25.0, -66.0, 49.0)  # clipped to the plan first
    assert np.array_equal(np.sort(cells_in_geometry(plan, continent)), plan.cells)
    assert cells_in_geometry(plan, {"type": "Polygon", "coordinates": []}).size == 0
    assert (
        cells_in_geometry(plan, {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}).size == 0
    )
    assert cells_in_geometry(plan, shapely.box(10, 10, 11, 11)).size == 0  # far away
    assert select_from_payload(plan, {"properties": {"h3": "not-a-hex"}}).size == 0
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[-75.1, 39.9], [-74.9, 40.1], [-74.9, 39.9], [-75.1, 40.1], [-75.1, 39.9]]
        ],
    }
    assert cells_in_geometry(plan, bowtie).size > 0  # self-crossing lasso is repaired


def test_small_rectangle_selects_the_cell_under_it(world: Any) -> None:
    plan, _ = world
    lat, lon = cells_to_latlon(plan.cells[20:21])
    tiny = shapely.box(lon[0] - 1e-4, lat[0] - 1e-4, lon[0] + 1e-4, lat[0] + 1e-4)
    assert cells_in_geometry(plan, tiny).tolist() == [int(plan.cells[20])]


def _split(plan: Plan, index: int) -> Plan:
    """The plan with one cell replaced by its seven children (adaptive resolution)."""
    parent = int(plan.cells[index])
    kids = np.asarray(h3n.cell_to_children(parent, RES + 1), dtype=np.uint64)
    keep = plan.cells != parent
    cells = np.concatenate([plan.cells[keep], kids])
    labels = np.concatenate([plan.labels[keep], np.full(kids.size, plan.labels[index])])
    return Plan(cells, labels, plan.territory_ids, plan.rep_ids, RES, params=plan.params)


def test_mixed_resolution_selection_and_paint(world: Any) -> None:
    plan, accounts = world
    mixed = _split(plan, 30)
    assert set(cell_resolution(mixed.cells).tolist()) == {RES, RES + 1}
    kids = mixed.cells[cell_resolution(mixed.cells) == RES + 1]
    lat, lon = cells_to_latlon(kids[:1])
    assert cell_at(mixed, float(lat[0]), float(lon[0])) == int(kids[0])
    hull = shapely.MultiPoint(np.column_stack(cells_to_latlon(kids)[::-1])).buffer(1e-3)
    picked = cells_in_geometry(mixed, hull)
    assert set(kids.tolist()) <= set(picked.tolist())
    # Painting the parent id moves the child under its centre only.
    target = next(t for t in mixed.territory_ids if t != mixed.territory_ids[plan.labels[30]])
    result = assign_cells(mixed, accounts, [int(plan.cells[30])], target)
    assert result.edit.count("cell") == 1
    centre_child = h3n.cell_to_center_child(int(plan.cells[30]), RES + 1)
    assert int(result.edit.changes[0].key, 16) == centre_child


def test_payloads_from_the_map(world: Any) -> None:
    plan, _ = world
    cell = int(plan.cells[5])
    click = {
        "type": "Feature",
        "properties": {"h3": h3n.int_to_str(cell), "territory_id": "T01"},
        "geometry": {"type": "Polygon", "coordinates": []},
    }
    assert select_from_payload(plan, click).tolist() == [cell]
    lat, lon = cells_to_latlon(plan.cells[5:6])
    point = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Point", "coordinates": [lon[0], lat[0]]},
    }
    assert select_from_payload(plan, point).tolist() == [cell]
    assert select_from_payload(plan, {"lat": lat[0], "lng": lon[0]}).tolist() == [cell]
    box = shapely.box(lon[0] - 0.1, lat[0] - 0.1, lon[0] + 0.1, lat[0] + 0.1)
    drawing = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(box)}
    assert cell in select_from_payload(plan, drawing).tolist()
    assert select_from_payload(plan, None).size == 0
    outside = {
        "type": "Feature",
        "properties": {"h3": h3n.int_to_str(h3n.latlng_to_cell(0, 0, RES))},
    }
    assert select_from_payload(plan, outside).size == 0


def test_latlon_helpers_agree(world: Any) -> None:
    plan, accounts = world
    cells = latlon_to_cells(accounts["lat"], accounts["lon"], RES)
    assert np.isin(cells, plan.cells).all()


def test_accounts_in_a_drawn_shape(world: Any) -> None:
    _, accounts = world
    box = shapely.box(CENTRE[1] - 0.03, CENTRE[0] - 0.02, CENTRE[1] + 0.03, CENTRE[0] + 0.02)
    lat, lon = accounts["lat"].to_numpy(), accounts["lon"].to_numpy()
    inside = (np.abs(lon - CENTRE[1]) < 0.03) & (np.abs(lat - CENTRE[0]) < 0.02)
    expected = sorted(accounts.loc[inside, "account_id"].astype(str))
    assert 0 < len(expected) < len(accounts)
    feature = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(box)}
    assert sorted(accounts_in_geometry(accounts, feature)) == expected
    assert accounts_in_geometry(accounts, {"type": "Polygon", "coordinates": []}) == []
    assert accounts_in_geometry(accounts, None) == []
