"""Road networks: an indexed drivable graph, snapping and travel times on it.

A :class:`RoadNetwork` wraps an OSMnx-compatible drivable ``MultiDiGraph`` (edge
``speed_kph`` and ``travel_time`` set by OSMnx) together with what every query needs and
should build only once: a CSR matrix of edge travel seconds (the minimum over parallel
edges), a CSR of edge lengths, node coordinates and a haversine ball tree for snapping.
Treat it as immutable: pages share one instance through ``st.cache_resource``.

Matrices come from a single multi-source :func:`scipy.sparse.csgraph.dijkstra` call over
the distinct snapped nodes, never from per-pair shortest paths.

Files (OSM extracts, GraphML) and downloads are read by :mod:`terrmap.network_io`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import networkx as nx
import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from sklearn.neighbors import BallTree

from terrmap.errors import TerrmapError

__all__ = [
    "DEFAULT_HWY_SPEEDS",
    "EARTH_RADIUS_M",
    "RoadNetwork",
    "TravelMatrix",
    "network_from_graph",
    "network_matrix",
    "network_nearest_minutes",
    "network_pair_minutes",
    "snap_points",
]

EARTH_RADIUS_M = 6_371_008.8

#: Typical free-flow speeds (km/h) by OSM ``highway`` type, used where an edge has no
#: ``maxspeed`` tag. Links are slower than their roads; residential streets are set below
#: their usual limit because junctions, parking and turns dominate there.
DEFAULT_HWY_SPEEDS: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 100.0,
        "motorway_link": 60.0,
        "trunk": 80.0,
        "trunk_link": 50.0,
        "primary": 60.0,
        "primary_link": 40.0,
        "secondary": 50.0,
        "secondary_link": 35.0,
        "tertiary": 40.0,
        "tertiary_link": 30.0,
        "unclassified": 35.0,
        "residential": 28.0,
        "living_street": 10.0,
        "road": 30.0,
        "busway": 30.0,
    }
)

_MIN_EDGE_SECONDS = 1e-3  # csgraph drops explicit zeros in some code paths; keep edges > 0


@dataclass(frozen=True)
class TravelMatrix:
    """Travel minutes between points, and which model produced them.

    Attributes
    ----------
    minutes
        ``(n, n)`` float array; ``minutes[i, j]`` is the drive from point ``i`` to point
        ``j`` (road networks are directed, so it need not be symmetric). ``inf`` marks a
        pair with no road connection.
    model
        ``"network:<name>"``, ``"estimate:default"`` or ``"estimate:calibrated"``.
    snap_m
        Distance in metres from each point to the road node it was snapped to (zeros for
        an estimate).
    seconds
        Wall-clock seconds it took to compute.
    """

    minutes: npt.NDArray[np.float64]
    model: str
    snap_m: npt.NDArray[np.float64]
    seconds: float


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A drivable road network ready for travel-time queries (build with the loaders).

    Attributes
    ----------
    name
        Short name; the travel model of its numbers is ``"network:<name>"``.
    graph
        The OSMnx-compatible graph with ``speed_kph`` and ``travel_time`` on every edge.
    node_ids
        OSM node id of each matrix row/column.
    lat, lon
        Node coordinates in degrees, aligned with ``node_ids``.
    time_csr
        Edge travel seconds, ``time_csr[i, j]`` the fastest edge from node ``i`` to ``j``.
    length_csr
        Edge metres, the shortest edge between each node pair.
    source
        Where the network came from (a file path or a download description).
    tree
        Haversine ball tree over the nodes (radians, lat/lon order) for snapping.
    snap_kph
        Speed assumed for the straight stretch between a point and its snapped node.
    """

    name: str
    graph: nx.MultiDiGraph
    node_ids: npt.NDArray[np.int64]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    time_csr: csr_array
    length_csr: csr_array
    source: str
    tree: BallTree = field(repr=False)
    snap_kph: float = 15.0

    @property
    def model(self) -> str:
        """The travel-model label for numbers computed on this network."""
        return f"network:{self.name}"

    @property
    def n_nodes(self) -> int:
        """Number of road nodes."""
        return int(self.node_ids.size)


def network_from_graph(
    graph: nx.MultiDiGraph,
    *,
    name: str,
    source: str = "graph",
    hwy_speeds: Mapping[str, float] | None = None,
    speed_factor: float = 1.0,
    largest_component: bool = True,
    snap_kph: float = 15.0,
) -> RoadNetwork:
    """Build a :class:`RoadNetwork` from an OSMnx-compatible graph.

    Parameters
    ----------
    graph
        A drivable ``MultiDiGraph`` in WGS84 (node ``x``/``y``, edge ``length`` in metres).
        Never modified: it is copied before speeds are added, and shared (read-only)
        when it already has travel times and is connected.
    name
        Short name of the network (appears in the travel-model label).
    source
        Where the graph came from, for reports.
    hwy_speeds
        Speeds (km/h) by highway type for edges without ``maxspeed``; defaults to
        :data:`DEFAULT_HWY_SPEEDS`. Ignored when every edge already has ``travel_time``.
    speed_factor
        Multiplier on every edge speed (e.g. 0.8 for congested urban driving).
    largest_component
        Keep only the largest strongly connected component, so every pair of snapped
        points is connected (isolated fragments of an extract otherwise give ``inf``).
    snap_kph
        Speed for the straight stretch between a point and its snapped node.
    """
    import osmnx as ox  # here, not at import: it pulls in matplotlib (0.5 s per app start)

    if graph.number_of_nodes() == 0:
        raise TerrmapError(f"road network '{name}' ({source}) has no nodes to route on")
    g = graph
    if largest_component:
        g = ox.truncate.largest_component(g, strongly=True)  # a new graph if it cuts
    needs_times = any("travel_time" not in d for _, _, d in g.edges(data=True))
    if needs_times or speed_factor != 1.0:
        if g is graph:  # never modify the caller's graph
            g = graph.copy()
        speeds = {k: float(v) for k, v in (hwy_speeds or DEFAULT_HWY_SPEEDS).items()}
        g = ox.add_edge_speeds(g, hwy_speeds=speeds, fallback=30.0)
        if speed_factor != 1.0:
            for _, _, d in g.edges(data=True):
                d["speed_kph"] = float(d["speed_kph"]) * speed_factor
        g = ox.add_edge_travel_times(g)
    return _index_graph(g, name=name, source=source, snap_kph=snap_kph)


def _index_graph(g: nx.MultiDiGraph, *, name: str, source: str, snap_kph: float) -> RoadNetwork:
    node_ids = np.fromiter(g.nodes, dtype=np.int64, count=g.number_of_nodes())
    pos = {int(n): i for i, n in enumerate(node_ids)}
    lat = np.array([float(g.nodes[n]["y"]) for n in g.nodes], dtype=np.float64)
    lon = np.array([float(g.nodes[n]["x"]) for n in g.nodes], dtype=np.float64)
    m = g.number_of_edges()
    u = np.empty(m, dtype=np.int64)
    v = np.empty(m, dtype=np.int64)
    secs = np.empty(m, dtype=np.float64)
    metres = np.empty(m, dtype=np.float64)
    for k, (a, b, d) in enumerate(g.edges(data=True)):
        u[k], v[k] = pos[int(a)], pos[int(b)]
        secs[k], metres[k] = float(d["travel_time"]), float(d["length"])
    n = node_ids.size
    tree = BallTree(np.radians(np.column_stack([lat, lon])), metric="haversine")
    return RoadNetwork(
        name=name,
        graph=g,
        node_ids=node_ids,
        lat=lat,
        lon=lon,
        time_csr=_min_csr(u, v, secs, n),
        length_csr=_min_csr(u, v, metres, n),
        source=source,
        tree=tree,
        snap_kph=snap_kph,
    )


def _min_csr(
    u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], w: npt.NDArray[np.float64], n: int
) -> csr_array:
    """CSR with the minimum weight per (u, v): COO->CSR would *sum* parallel edges."""
    keep = u != v  # self-loops never shorten a path
    u, v, w = u[keep], v[keep], np.maximum(w[keep], _MIN_EDGE_SECONDS)
    order = np.lexsort((w, v, u))
    u, v, w = u[order], v[order], w[order]
    first = np.ones(u.size, dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    return csr_array((w[first], (u[first], v[first])), shape=(n, n))


def snap_points(
    network: RoadNetwork, lat: npt.ArrayLike, lon: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Snap points to their nearest road nodes (great-circle nearest, like OSMnx).

    Returns
    -------
    nodes
        Row index into the network's node arrays (not the OSM id) for each point.
    dist_m
        Great-circle metres from each point to its node.
    """
    pts = np.radians(np.column_stack([np.asarray(lat, float), np.asarray(lon, float)]))
    if pts.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    dist, idx = network.tree.query(pts, k=1)
    return idx[:, 0].astype(np.int64), dist[:, 0] * EARTH_RADIUS_M


def network_matrix(network: RoadNetwork, lat: npt.ArrayLike, lon: npt.ArrayLike) -> TravelMatrix:
    """Travel minutes between every pair of points over the road network.

    One multi-source Dijkstra from the distinct snapped nodes; the straight stretch from
    each point to its node is added at ``network.snap_kph`` at both ends of a trip.
    """
    t0 = time.perf_counter()
    nodes, snap_m = snap_points(network, lat, lon)
    uniq, inverse = np.unique(nodes, return_inverse=True)
    secs = dijkstra(network.time_csr, directed=True, indices=uniq)  # (n_uniq, n_nodes)
    road = secs[np.ix_(inverse, nodes)]
    snap_s = snap_m / (network.snap_kph / 3.6)
    minutes = (road + snap_s[:, None] + snap_s[None, :]) / 60.0
    np.fill_diagonal(minutes, 0.0)
    return TravelMatrix(minutes, network.model, snap_m, time.perf_counter() - t0)


def network_nearest_minutes(
    network: RoadNetwork,
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    k: int,
    *,
    bound_minutes: npt.ArrayLike,
    chunk: int = 64,
) -> npt.NDArray[np.float64]:
    """Drive minutes from each point to its ``k`` nearest other points, shape ``(n, k)``.

    Exact, yet each Dijkstra stops at the point's ``bound_minutes`` (a guess of how far
    its k-th neighbour is): when at least ``k`` others are reached within the bound, no
    unreached point can be nearer. Points with fewer than ``k`` reached are searched
    again without a bound. Columns beyond the number of other points are ``inf``.
    """
    nodes, snap_m = snap_points(network, lat, lon)
    n = nodes.size
    snap_s = snap_m / (network.snap_kph / 3.6)
    bound = np.broadcast_to(np.asarray(bound_minutes, float) * 60.0, (n,))
    out = np.full((n, k), np.inf)
    need = min(k, n - 1)
    if need <= 0:
        return out
    redo: list[int] = []
    order = np.argsort(bound)  # similar bounds share a chunk
    for pos in range(0, n, chunk):
        block = order[pos : pos + chunk]
        limit = float(bound[block].max())
        secs = dijkstra(network.time_csr, directed=True, indices=nodes[block], limit=limit)
        for row, i in enumerate(block):
            best = _k_best(secs[row, nodes] + snap_s[i] + snap_s, int(i), need)
            # Anything unreached is slower than limit + own snap: only then is best exact.
            if np.isfinite(best[-1]) and best[-1] <= limit + snap_s[i]:
                out[i, :need] = best / 60.0
            else:
                redo.append(int(i))
    if redo:
        secs = dijkstra(network.time_csr, directed=True, indices=nodes[redo])
        for row, i in enumerate(redo):
            out[i, :need] = _k_best(secs[row, nodes] + snap_s[i] + snap_s, i, need) / 60.0
    return out


def _k_best(total_s: npt.NDArray[np.float64], own: int, k: int) -> npt.NDArray[np.float64]:
    total_s[own] = np.inf
    return np.sort(total_s)[:k]


def network_pair_minutes(
    network: RoadNetwork,
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    *,
    limit_minutes: float | None = None,
    chunk: int = 64,
) -> npt.NDArray[np.float64]:
    """Travel minutes for selected pairs ``rows[k] -> cols[k]`` of the points.

    Runs Dijkstra from the distinct origins, or on the reversed graph from the distinct
    destinations when there are fewer of them (all accounts -> home is then one run), in
    chunks of ``chunk`` sources so memory stays at ``chunk x nodes``. With
    ``limit_minutes`` the search stops early; pairs beyond it come back as ``inf``.
    """
    nodes, snap_m = snap_points(network, lat, lon)
    r, c = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    src, dst, csr = nodes[r], nodes[c], network.time_csr
    if np.unique(dst).size < np.unique(src).size:
        src, dst, csr = dst, src, network.time_csr.T.tocsr()
    limit = np.inf if limit_minutes is None else limit_minutes * 60.0
    uniq, inverse = np.unique(src, return_inverse=True)
    secs = np.empty(r.size, dtype=np.float64)
    for start in range(0, uniq.size, chunk):
        block = uniq[start : start + chunk]
        dist = dijkstra(csr, directed=True, indices=block, limit=limit)
        sel = (inverse >= start) & (inverse < start + block.size)
        secs[sel] = dist[inverse[sel] - start, dst[sel]]
    snap_s = snap_m / (network.snap_kph / 3.6)
    out = (secs + snap_s[r] + snap_s[c]) / 60.0
    out[r == c] = 0.0
    return out
