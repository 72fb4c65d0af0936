"""Tests for terrmap.grid: point -> cell, aggregation, study area, adjacency, dissolve."""

from __future__ import annotations

import h3
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from terrmap import grid

lat_st = st.floats(min_value=-80, max_value=80, allow_nan=False)
lon_st = st.floats(min_value=-179.9, max_value=179.9, allow_nan=False)


def _accounts(n: int, seed: int = 0, *, box: tuple[float, float, float, float] | None = None):
    rng = np.random.default_rng(seed)
    la0, la1, lo0, lo1 = box or (41.0, 42.5, -73.5, -71.0)
    return pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "lat": rng.uniform(la0, la1, n),
            "lon": rng.uniform(lo0, lo1, n),
            "workload_hours": rng.gamma(2.0, 2.0, n),
            "opportunity": rng.lognormal(9, 1, n),
            "tier": pd.array(rng.choice([1, 2, 3], n), dtype="Int8"),
        }
    )


@given(st.lists(st.tuples(lat_st, lon_st), min_size=1, max_size=30), st.integers(0, 12))
def test_latlon_to_cells_matches_h3(points, res):
    lat = np.array([p[0] for p in points] * 2)  # duplicates exercise the dedupe
    lon = np.array([p[1] for p in points] * 2)
    cells = grid.latlon_to_cells(lat, lon, res)
    expected = [h3.str_to_int(h3.latlng_to_cell(a, b, res)) for a, b in zip(lat, lon, strict=True)]
    assert cells.dtype == np.uint64
    assert cells.tolist() == expected


def test_latlon_to_cells_missing_coordinates_give_null_cell():
    cells = grid.latlon_to_cells([np.nan, 40.0, 95.0], [10.0, -75.0, 0.0], 7)
    assert cells[0] == 0 and cells[2] == 0 and cells[1] != 0


def test_latlon_to_cells_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        grid.latlon_to_cells([1.0, 2.0], [1.0], 7)
    with pytest.raises(ValueError, match="resolution"):
        grid.latlon_to_cells([1.0], [1.0], 16)


@given(lat_st, lon_st, st.integers(4, 12), st.integers(0, 4))
def test_parent_and_center_child_match_h3(lat, lon, res, up):
    cell = int(h3n.latlng_to_cell(lat, lon, res))
    parent_res = max(res - up, 0)
    assert grid.cells_to_parent([cell], parent_res)[0] == h3n.cell_to_parent(cell, parent_res)
    child_res = min(res + up, 15)
    assert grid.cells_to_center_child([cell], child_res)[0] == h3n.cell_to_center_child(
        cell, child_res
    )
    assert grid.cell_resolution([cell])[0] == res


def test_parent_of_coarser_cell_raises():
    cell = int(h3n.latlng_to_cell(40, -74, 5))
    with pytest.raises(ValueError, match="coarser"):
        grid.cells_to_parent([cell], 7)


@given(st.integers(1, 300), st.integers(0, 10_000), st.sampled_from([5, 6, 7, 8]))
def test_aggregate_conserves_totals(n, seed, res):
    acc = _accounts(n, seed)
    acc.loc[acc.index[::7], "workload_hours"] = np.nan  # missing values count as zero
    agg = grid.aggregate_cells(acc, res)
    assert agg.index.dtype == np.uint64
    assert agg.index.is_monotonic_increasing and agg.index.is_unique
    assert agg["accounts"].sum() == n
    assert agg["workload_hours"].sum() == pytest.approx(acc["workload_hours"].sum(skipna=True))
    assert agg["opportunity"].sum() == pytest.approx(acc["opportunity"].sum())
    for t in (1, 2, 3):
        assert agg[f"tier{t}"].sum() == int((acc["tier"] == t).sum())
    lat, lon = grid.cells_to_latlon(agg.index.to_numpy())
    np.testing.assert_allclose(agg["lat"], lat)
    np.testing.assert_allclose(agg["lon"], lon)


def test_aggregate_leaves_out_unlocated_accounts():
    acc = _accounts(10)
    acc.loc[0, "lat"] = np.nan
    assert grid.aggregate_cells(acc, 6)["accounts"].sum() == 9


def test_adjacency_is_symmetric_and_matches_h3():
    cells = h3n.grid_disk(int(h3n.latlng_to_cell(42.0, -72.0, 6)), 4)
    adj = grid.adjacency(cells)
    assert (adj != adj.T).nnz == 0
    assert adj.diagonal().sum() == 0
    coo = adj.tocoo()
    for i, j in zip(coo.row[:200], coo.col[:200], strict=True):
        assert h3n.are_neighbor_cells(int(cells[i]), int(cells[j]))
    # interior cells have exactly six neighbours
    centre = int(np.flatnonzero(cells == h3n.latlng_to_cell(42.0, -72.0, 6))[0])
    assert adj[centre].nnz == 6


def test_adjacency_links_split_cells_to_coarse_neighbours():
    centre = int(h3n.latlng_to_cell(42.0, -72.0, 6))
    ring = h3n.grid_disk(centre, 1)
    kids = h3n.cell_to_children(centre, 7)
    cells = np.concatenate([ring[ring != centre], kids]).astype(np.uint64)
    adj = grid.adjacency(cells)
    assert (adj != adj.T).nnz == 0
    kid_rows = np.isin(cells, kids)
    # every coarse neighbour of the split cell touches at least one child
    for i in np.flatnonzero(~kid_rows):
        assert adj[i].toarray()[0][kid_rows].any()


def test_rings_give_about_constant_distance():
    for res in (5, 6, 7, 8):
        r = grid.rings_for_resolution(res, km=20)
        spacing = h3n.average_hexagon_edge_length(res, unit="km") * np.sqrt(3)
        assert abs(r * spacing - 20) <= spacing


def test_study_area_covers_ground_between_accounts_and_fills_pinholes():
    centre = int(h3n.latlng_to_cell(42.0, -72.0, 7))
    occupied = h3n.grid_ring(centre, 5)  # a ring of accounts around an empty middle
    area = grid.study_area(occupied, rings=1)
    assert np.isin(occupied, area).all()
    assert np.isin(h3n.grid_disk(centre, 6), area).all()  # the hole inside is filled
    # no pinholes: the dissolved area has no interior rings
    shape = grid.cells_to_shape(area)
    polys = shape.geoms if hasattr(shape, "geoms") else [shape]
    assert all(len(p.interiors) == 0 for p in polys)


def test_study_area_leaves_large_enclosed_areas_out():
    centre = int(h3n.latlng_to_cell(42.0, -72.0, 7))
    area = grid.study_area(h3n.grid_ring(centre, 12), rings=1, max_hole_cells=50)
    assert centre not in set(area.tolist())
    assert np.isin(h3n.grid_ring(centre, 11), area).all()


def test_study_area_keeps_wide_gaps_as_islands():
    a = int(h3n.latlng_to_cell(42.0, -72.0, 7))
    b = int(h3n.latlng_to_cell(42.0, -70.0, 7))  # ~165 km away
    c = int(h3n.latlng_to_cell(42.0, -71.85, 7))  # ~12 km from a
    area = grid.study_area([a, b, c])
    from scipy.sparse.csgraph import connected_components

    n, comp = connected_components(grid.adjacency(area), directed=False)
    pos = {int(x): i for i, x in enumerate(area.tolist())}
    assert n == 2
    assert comp[pos[a]] == comp[pos[c]] != comp[pos[b]]


def test_study_area_needs_one_resolution():
    with pytest.raises(ValueError, match="one resolution"):
        grid.study_area([h3n.latlng_to_cell(42, -72, 6), h3n.latlng_to_cell(42, -72, 7)], rings=1)


def test_dissolve_area_equals_sum_of_cells_and_uses_lng_lat():
    centre = int(h3n.latlng_to_cell(42.0, -72.0, 7))
    cells = h3n.grid_disk(centre, 5)
    shape = grid.cells_to_shape(cells)
    hexes = [
        shapely.Polygon([(lng, lat) for lat, lng in h3n.cell_to_boundary(int(c))]) for c in cells
    ]
    assert shape.area == pytest.approx(sum(h.area for h in hexes), rel=1e-6)
    minx, miny, maxx, maxy = shape.bounds
    assert -73 < minx < maxx < -71 and 41 < miny < maxy < 43  # x is longitude


def test_dissolve_handles_mixed_resolutions_and_duplicates():
    centre = int(h3n.latlng_to_cell(42.0, -72.0, 6))
    ring = h3n.grid_disk(centre, 1)
    kids = h3n.cell_to_children(centre, 7)
    cells = np.concatenate([ring[ring != centre], kids, kids[:2]])
    shape = grid.cells_to_shape(cells)
    assert shape.is_valid and shape.geom_type == "Polygon"
    assert len(shape.interiors) == 0  # the seams between parents and children are closed
    assert shape.area == pytest.approx(grid.cells_to_shape(ring).area, rel=1e-3)
    assert grid.cells_to_shape([]).is_empty


def test_dissolve_deeply_split_cells_without_exploding():
    coarse = int(h3n.latlng_to_cell(42.0, -72.0, 4))
    ring = h3n.grid_disk(coarse, 1)
    first = int(h3n.cell_to_children(coarse, 5)[0])
    deep = h3n.cell_to_children(int(h3n.cell_to_center_child(first, 9)), 10)
    cells = np.concatenate([ring[ring != coarse], h3n.cell_to_children(coarse, 5)[1:], deep])
    shape = grid.cells_to_shape(cells)  # uncompacting to res 10 would be ~1e6 cells
    assert shape.is_valid
    assert shape.area < grid.cells_to_shape(ring).area


def test_locate_cells_finer_coarser_and_outside():
    base = int(h3n.latlng_to_cell(42.0, -72.0, 6))
    split = int(h3n.grid_ring(base, 1)[0])
    table = np.sort(np.concatenate([np.array([base], np.uint64), h3n.cell_to_children(split, 7)]))
    fine_in_base = int(h3n.cell_to_center_child(base, 9))
    fine_in_split = int(h3n.cell_to_center_child(split, 10))
    far = int(h3n.latlng_to_cell(10.0, 10.0, 8))
    pos = grid.locate_cells(table, [fine_in_base, split, fine_in_split, far, 0])
    assert table[pos[0]] == base
    assert table[pos[1]] == h3n.cell_to_center_child(split, 7)  # coarse query: centre child
    assert h3n.cell_to_parent(int(table[pos[2]]), 6) == split
    assert pos[3] == -1 and pos[4] == -1


def test_choose_resolution_is_coarser_for_wider_areas():
    rng = np.random.default_rng(1)
    local = grid.choose_resolution(rng.uniform(42, 42.4, 500), rng.uniform(-71.5, -71.0, 500))
    wide = grid.choose_resolution(rng.uniform(30, 48, 500), rng.uniform(-120, -75, 500))
    assert local > wide
    assert 4 <= wide <= local <= 7
