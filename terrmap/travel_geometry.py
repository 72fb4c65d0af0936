"""Map geometry derived from travel: road-following route lines and drive-time areas.

Route lines follow each road edge's geometry on a :class:`~terrmap.network.RoadNetwork`
(one Dijkstra with predecessors per distinct leg origin). Drive-time areas ("rings" of
30/60/90 minutes from a rep's home) are the concave hull of the road nodes reached in
time on a network, or geodesic circles whose radius inverts the estimate model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse.csgraph import dijkstra

from terrmap.network import EARTH_RADIUS_M, RoadNetwork, snap_points
from terrmap.travel import EstimateModel, Travel

__all__ = ["drive_time_areas", "path_coords", "reachable_areas", "reachable_areas_estimate"]


def drive_time_areas(
    travel: Travel,
    lat: float,
    lon: float,
    *,
    minutes: Sequence[float] = (30.0, 60.0, 90.0),
) -> list[tuple[float, shapely.Geometry]]:
    """Areas reachable from a point within each number of minutes, smallest first.

    Returns ``(minutes, polygon)`` pairs in lng/lat order, on the road network when one is
    given, else with the estimate (``None``: the default estimate).
    """
    if isinstance(travel, RoadNetwork):
        return reachable_areas(travel, lat, lon, minutes=minutes)
    return reachable_areas_estimate(lat, lon, minutes=minutes, model=travel)


def path_coords(
    network: RoadNetwork, lat: Sequence[float], lon: Sequence[float]
) -> list[tuple[float, float]]:
    """Road geometry of the fastest drive through the points in order, as (lat, lon).

    Follows each edge's geometry when the graph has one (simplified OSMnx graphs do), so
    the line bends with the road. Consecutive points are joined by their fastest path.
    """
    if len(lat) == 0:
        return []
    nodes, _ = snap_points(network, lat, lon)
    uniq, inverse = np.unique(nodes[:-1], return_inverse=True)
    _, pred = dijkstra(network.time_csr, directed=True, indices=uniq, return_predecessors=True)
    out: list[tuple[float, float]] = [(float(lat[0]), float(lon[0]))]
    for leg in range(len(nodes) - 1):
        seq = _walk_back(pred[inverse[leg]], int(nodes[leg]), int(nodes[leg + 1]))
        for a, b in itertools.pairwise(seq):
            out.extend(_edge_coords(network, a, b))
        out.append((float(lat[leg + 1]), float(lon[leg + 1])))
    return out


def _walk_back(pred: npt.NDArray[np.int32], src: int, dst: int) -> list[int]:
    seq = [dst]
    while seq[-1] != src and pred[seq[-1]] >= 0:
        seq.append(int(pred[seq[-1]]))
    return seq[::-1]


def _edge_coords(network: RoadNetwork, a: int, b: int) -> list[tuple[float, float]]:
    data = network.graph.get_edge_data(int(network.node_ids[a]), int(network.node_ids[b]))
    if data:
        best = min(data.values(), key=lambda d: float(d["travel_time"]))
        geom = best.get("geometry")
        if isinstance(geom, shapely.LineString):
            return [(float(y), float(x)) for x, y in geom.coords]
    return [
        (float(network.lat[a]), float(network.lon[a])),
        (float(network.lat[b]), float(network.lon[b])),
    ]


def reachable_areas(
    network: RoadNetwork,
    lat: float,
    lon: float,
    *,
    minutes: Sequence[float] = (30.0, 60.0, 90.0),
    ratio: float = 0.3,
) -> list[tuple[float, shapely.Geometry]]:
    """Drive-time areas from a point: the concave hull of the nodes reached in time.

    Returns ``(minutes, polygon)`` pairs, smallest first, polygons in lng/lat order. An
    area with fewer than three reached nodes is a small buffer around them.
    """
    node, snap_m = snap_points(network, [lat], [lon])
    limit_s = max(minutes) * 60.0
    secs = dijkstra(network.time_csr, directed=True, indices=int(node[0]), limit=limit_s)
    secs = secs + snap_m[0] / (network.snap_kph / 3.6)
    areas: list[tuple[float, shapely.Geometry]] = []
    for t in sorted(minutes):
        hit = secs <= t * 60.0
        pts = shapely.multipoints(np.column_stack([network.lon[hit], network.lat[hit]]))
        if int(hit.sum()) < 3:
            geom = shapely.buffer(shapely.points(lon, lat) if pts.is_empty else pts, 0.002)
        else:
            geom = shapely.concave_hull(pts, ratio=ratio)
        areas.append((float(t), geom))
    return areas


def reachable_areas_estimate(
    lat: float,
    lon: float,
    *,
    minutes: Sequence[float] = (30.0, 60.0, 90.0),
    model: EstimateModel | None = None,
) -> list[tuple[float, shapely.Geometry]]:
    """Drive-time circles under the estimate: ``(minutes, polygon)``, lng/lat order."""
    m = model or EstimateModel()
    bearings = np.linspace(0.0, 2 * np.pi, 73)
    areas: list[tuple[float, shapely.Geometry]] = []
    for t in sorted(minutes):
        r = float(m.km_within(t)) * 1000.0 / EARTH_RADIUS_M  # angular radius
        p1, l1 = np.radians(lat), np.radians(lon)
        p2 = np.arcsin(np.sin(p1) * np.cos(r) + np.cos(p1) * np.sin(r) * np.cos(bearings))
        l2 = l1 + np.arctan2(
            np.sin(bearings) * np.sin(r) * np.cos(p1), np.cos(r) - np.sin(p1) * np.sin(p2)
        )
        areas.append((float(t), shapely.Polygon(np.column_stack([np.degrees(l2), np.degrees(p2)]))))
    return areas
