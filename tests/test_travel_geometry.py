"""Route lines along the roads and drive-time areas (network and estimate)."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pyrosm
import pytest
import shapely

from terrmap.network import RoadNetwork, network_matrix
from terrmap.network_io import load_network
from terrmap.travel import EstimateModel, great_circle_km
from terrmap.travel_geometry import drive_time_areas, path_coords


@pytest.fixture(scope="module")
def helsinki() -> RoadNetwork:
    return load_network(Path(pyrosm.get_data("helsinki_pbf")))


def _line_km(coords: list[tuple[float, float]]) -> float:
    a = np.array(coords)
    return float(great_circle_km(a[:-1, 0], a[:-1, 1], a[1:, 0], a[1:, 1]).sum())


def test_route_line_follows_the_roads_between_the_points(helsinki: RoadNetwork) -> None:
    idx = [0, 40, 90, 0]
    lat, lon = helsinki.lat[idx], helsinki.lon[idx]
    coords = path_coords(helsinki, list(lat), list(lon))
    assert coords[0] == (lat[0], lon[0]) and coords[-1] == (lat[-1], lon[-1])
    assert len(coords) > 10  # bends with the streets, not three straight segments
    crow = float(great_circle_km(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum())
    assert _line_km(coords) > crow
    # The line is the fastest path: as long as its edges (their OSM lengths).
    dg = ox.convert.to_digraph(helsinki.graph, weight="travel_time")
    ids = helsinki.node_ids[idx]
    want = 0.0
    for a, b in itertools.pairwise(ids):
        path = nx.shortest_path(dg, int(a), int(b), weight="travel_time")
        want += sum(dg.edges[u, v]["length"] for u, v in itertools.pairwise(path)) / 1000
    assert _line_km(coords) == pytest.approx(want, rel=0.01)
    assert path_coords(helsinki, [], []) == []


def test_network_drive_time_areas_grow_and_contain_home(helsinki: RoadNetwork) -> None:
    home = (float(helsinki.lat[5]), float(helsinki.lon[5]))
    areas = drive_time_areas(helsinki, *home, minutes=(0.5, 1.0, 3.0))
    assert [t for t, _ in areas] == [0.5, 1.0, 3.0]
    sizes = [g.area for _, g in areas]
    assert sizes[0] < sizes[1] < sizes[2]
    assert all(g.buffer(1e-6).contains(shapely.Point(home[1], home[0])) for _, g in areas)
    # Every node reached within 1 minute lies inside the 1-minute area.
    m = network_matrix(helsinki, np.r_[home[0], helsinki.lat], np.r_[home[1], helsinki.lon])
    reached = np.flatnonzero(m.minutes[0, 1:] <= 1.0 - 1e-6)
    pts = shapely.points(helsinki.lon[reached], helsinki.lat[reached])
    assert shapely.covers(areas[1][1].buffer(1e-7), pts).all()


def test_estimate_drive_time_areas_are_circles_of_the_inverted_model() -> None:
    model = EstimateModel()
    areas = drive_time_areas(model, 40.0, -75.0, minutes=(30, 60))
    for t, ring in areas:
        radius = float(model.km_within(t))
        lon, lat = np.asarray(ring.exterior.coords).T
        assert np.allclose(great_circle_km(40.0, -75.0, lat, lon), radius, rtol=1e-6)
        assert model.minutes(radius) == pytest.approx(t)
    assert areas[0][1].area < areas[1][1].area
    assert drive_time_areas(None, 40.0, -75.0)[0][0] == 30.0
