"""Reading and writing road networks: OSM extracts, GraphML, and (online) downloads.

Loading is offline: ``.osm.pbf`` through pyrosm, ``.osm`` / ``.osm.bz2`` / ``.osm.gz``
through :func:`osmnx.graph_from_xml` (which applies no network-type filter, OSMnx issue
#1270, so non-drivable ways are dropped here), and GraphML. :func:`download_network` is
the only code path that talks to the internet (Overpass through OSMnx); it caches what
it fetched as GraphML and reloads that file offline afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx
import osmnx as ox
import shapely

from terrmap.errors import InputError, Problem, TerrmapError
from terrmap.network import RoadNetwork, network_from_graph

__all__ = ["download_network", "load_network", "save_network"]

# The same exclusions as OSMnx's "drive" Overpass filter, applied after loading XML.
_NON_DRIVE_HIGHWAY = frozenset(
    [
        "abandoned",
        "bridleway",
        "bus_guideway",
        "construction",
        "corridor",
        "cycleway",
        "elevator",
        "escalator",
        "footway",
        "no",
        "path",
        "pedestrian",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "rest_area",
        "service",
        "services",
        "steps",
        "track",
    ]
)
_NON_DRIVE_SERVICE = frozenset(
    ["alley", "driveway", "emergency_access", "parking", "parking_aisle", "private"]
)
_XML_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".xml", ".xml.bz2", ".xml.gz")


def load_network(
    path: str | Path,
    *,
    name: str | None = None,
    hwy_speeds: Mapping[str, float] | None = None,
    speed_factor: float = 1.0,
    largest_component: bool = True,
) -> RoadNetwork:
    """Load a drivable road network from an OSM extract or a GraphML file (offline).

    Parameters
    ----------
    path
        ``.osm.pbf`` (read with pyrosm), ``.osm`` / ``.osm.bz2`` / ``.osm.gz`` (OSM XML,
        read with OSMnx; non-drivable ways are dropped), or ``.graphml`` (saved by
        :func:`save_network` or OSMnx).
    name
        Network name; defaults to the file name without its extensions.
    hwy_speeds, speed_factor, largest_component
        See :func:`network_from_graph`.
    """
    p = Path(path)
    label = name or p.name.split(".")[0]
    if not p.is_file():
        raise InputError(
            [Problem(None, None, str(p), "road network file not found", "check the path")],
            source="network",
        )
    lower = p.name.lower()
    if lower.endswith(".pbf"):
        graph = _read_pbf(p)
    elif lower.endswith(_XML_SUFFIXES):
        graph = _read_osm_xml(p)
    elif lower.endswith(".graphml"):
        graph = ox.load_graphml(p)
    else:
        fix = "use an .osm.pbf, .osm, .osm.bz2 or .graphml file"
        raise InputError([Problem(None, None, p.name, "unknown road network format", fix)])
    if graph.number_of_edges() == 0:
        raise TerrmapError(f"{p}: the file holds no drivable roads")
    return network_from_graph(
        graph,
        name=label,
        source=str(p),
        hwy_speeds=hwy_speeds,
        speed_factor=speed_factor,
        largest_component=largest_component,
    )


def _read_pbf(path: Path) -> nx.MultiDiGraph:
    from pyrosm import OSM  # heavy import, only needed for .pbf files

    osm = OSM(str(path))
    got = osm.get_network(network_type="driving", nodes=True)
    if got is None:
        raise TerrmapError(f"{path}: the extract contains no drivable roads")
    nodes, edges = got
    graph = osm.to_graph(nodes, edges, graph_type="networkx", osmnx_compatible=True)
    return graph  # type: ignore[no-any-return]


def _read_osm_xml(path: Path) -> nx.MultiDiGraph:
    # graph_from_xml has no network_type (OSMnx issue #1270): filter the raw ways, then
    # simplify, so merged edges never mix drivable and non-drivable pieces.
    raw = ox.graph_from_xml(path, simplify=False, retain_all=True)
    drop = [(u, v, k) for u, v, k, d in raw.edges(keys=True, data=True) if not _is_drivable(d)]
    raw.remove_edges_from(drop)
    raw.remove_nodes_from([n for n in list(raw.nodes) if raw.degree(n) == 0])
    if raw.number_of_edges() == 0:
        return raw
    return ox.simplify_graph(raw)


def _is_drivable(tags: Mapping[str, Any]) -> bool:
    hwy = tags.get("highway")
    values = hwy if isinstance(hwy, list) else [hwy]
    if any(h is None or h in _NON_DRIVE_HIGHWAY for h in values):
        return False
    if str(tags.get("area", "no")) == "yes" or str(tags.get("access", "")) == "private":
        return False
    return str(tags.get("service", "")) not in _NON_DRIVE_SERVICE


def save_network(network: RoadNetwork, path: str | Path) -> Path:
    """Write the network's graph (with speeds and travel times) as GraphML."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    ox.save_graphml(network.graph, p)
    return p


def download_network(
    *,
    center: tuple[float, float] | None = None,
    dist_m: float = 20_000.0,
    polygon: shapely.Polygon | shapely.MultiPolygon | None = None,
    cache_dir: str | Path,
    name: str | None = None,
) -> RoadNetwork:
    """Fetch the drivable network around a point or inside a polygon (needs internet).

    The result is cached as GraphML in ``cache_dir`` under a key derived from the request;
    a cached request is loaded offline without any HTTP call.

    Parameters
    ----------
    center
        ``(lat, lon)`` of the centre; used with ``dist_m`` (bounding-box half side).
    dist_m
        Half side in metres of the square around ``center``.
    polygon
        Area (lng/lat order) instead of a centre point.
    cache_dir
        Folder for cached GraphML files.
    name
        Network name; defaults to the cache key.
    """
    if (center is None) == (polygon is None):
        raise TerrmapError("download_network needs exactly one of center=(lat, lon) or polygon")
    spec = f"point:{center}:{dist_m}" if center is not None else f"polygon:{polygon.wkt}"  # type: ignore[union-attr]
    key = "drive-" + hashlib.sha1(spec.encode()).hexdigest()[:12]
    cached = Path(cache_dir) / f"{key}.graphml"
    if cached.is_file():
        return load_network(cached, name=name or key)
    if center is not None:
        graph = ox.graph_from_point(center, dist=dist_m, network_type="drive")
    else:
        graph = ox.graph_from_polygon(polygon, network_type="drive")
    network = network_from_graph(graph, name=name or key, source=f"download {spec}")
    save_network(network, cached)
    return network
