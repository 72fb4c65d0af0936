"""Folium map layers built from a plan and its data (pure: no Streamlit).

The dashboard keeps one *constant* base map per dataset (:func:`base_map`) and sends
everything that changes -- territory outlines, account clusters, heat cells, the
selected territory's hexes -- as :class:`folium.FeatureGroup` objects, so
streamlit-folium swaps the layers in place instead of remounting the map (which would
reset pan and zoom). Territories are drawn as *dissolved* outlines (one feature per
territory), never as thousands of hexagons, and accounts are either clustered in the
browser or aggregated to one bubble per H3 cell.

Every clickable feature carries its identity in GeoJSON properties (``territory_id``,
``cell``) and :func:`selection_from_payload` reads a click back from the dictionary
``st_folium`` returns.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import folium
import folium.plugins
import h3
import numpy as np
import pandas as pd
import shapely
from folium.template import Template
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from terrmap.grid import cell_resolution, cells_to_latlon, cells_to_shape

__all__ = [
    "PALETTE",
    "HeatScale",
    "MapSelection",
    "account_cluster_layer",
    "base_map",
    "cell_heat_layer",
    "cell_polygons",
    "heat_scale",
    "legend_html",
    "opportunity_bubble_layer",
    "rep_home_layer",
    "selection_from_payload",
    "territory_colors",
    "territory_layer",
    "territory_outlines",
]

#: 24 distinct colours (Tableau 10 + the lighter Tableau 20 tones + 4 extra), cycled
#: beyond 24 territories. Neighbouring entries differ strongly in hue.
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
)

#: Sequential ramp (light yellow -> dark red) for heat maps, 7 classes (ColorBrewer YlOrRd).
HEAT_RAMP: tuple[str, ...] = (
    "#ffffb2",
    "#fed976",
    "#feb24c",
    "#fd8d3c",
    "#fc4e2a",
    "#e31a1c",
    "#b10026",
)

_COORD_DECIMALS = 5  # ~1 m: enough for a map, and it halves the payload
_LABEL_HTML = (
    '<div class="terrmap-label" style="transform:translate(-50%,-50%);'
    "font:600 11px sans-serif;white-space:nowrap;color:#111;"
    'text-shadow:0 0 3px #fff,0 0 3px #fff;pointer-events:none">{text}</div>'
)
_HOME_HTML = (
    '<div class="terrmap-rep" style="width:16px;height:16px;border-radius:3px;'
    'background:{color};border:2px solid #111;box-shadow:0 0 2px #fff"></div>'
)


class DivMarkers(folium.MacroElement):
    """Many HTML markers (labels, home squares) drawn by one element.

    One folium ``Marker`` + ``DivIcon`` per point costs a Jinja template compile each
    at every render (branca renders each macro into a new template); a map re-renders
    on every rerun, so dozens of them added ~0.1 s. This element writes the points
    as one JSON array and a loop; the markers are ordinary Leaflet markers (clicks,
    tooltips and the layer control work as before).

    Parameters
    ----------
    points
        ``(lat, lon, html, tooltip)`` per marker; ``tooltip`` is HTML or ``None``.
    size, anchor
        Icon size and anchor in pixels (``(0, 0)`` for a label centred by its CSS).
    interactive
        Whether the markers take clicks and show tooltips.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }} && {{ this.points|tojson }}.forEach(function (p) {
            var m = L.marker([p[0], p[1]], {
                icon: L.divIcon({className: "", html: p[2],
                                 iconSize: {{ this.size|tojson }},
                                 iconAnchor: {{ this.anchor|tojson }}}),
                interactive: {{ this.interactive|tojson }}
            });
            if (p[3]) { m.bindTooltip(p[3]); }
            m.addTo({{ this._parent.get_name() }});
        });
        {% endmacro %}"""
    )

    def __init__(
        self,
        points: Sequence[tuple[float, float, str, str | None]],
        *,
        size: tuple[int, int] = (0, 0),
        anchor: tuple[int, int] | None = None,
        interactive: bool = True,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "DivMarkers"
        self.points = [
            [round(lat, _COORD_DECIMALS), round(lon, _COORD_DECIMALS), text, tip]
            for lat, lon, text, tip in points
        ]
        self.size = list(size)
        self.anchor = list(anchor if anchor is not None else (size[0] // 2, size[1] // 2))
        self.interactive = interactive


_CLUSTER_LIMIT = 50_000  # beyond this, accounts are shown as per-cell bubbles

Tiles = Literal["light", "osm", "none"]
_TILES: dict[str, tuple[str, str] | None] = {
    "light": (
        "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
        "&copy; OpenStreetMap contributors &copy; CARTO",
    ),
    "osm": (
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "&copy; OpenStreetMap contributors",
    ),
    "none": None,
}


def territory_colors(territory_ids: Sequence[str]) -> dict[str, str]:
    """A distinct colour per territory, stable for a given order of ids.

    Parameters
    ----------
    territory_ids
        The territories in plan order (``plan.territory_ids``).

    Returns
    -------
    dict
        Territory id -> hex colour.
    """
    return {tid: PALETTE[i % len(PALETTE)] for i, tid in enumerate(territory_ids)}


def base_map(
    bounds: tuple[tuple[float, float], tuple[float, float]],
    *,
    tiles: Tiles = "light",
) -> folium.Map:
    """The constant base map: same location, zoom and tiles on every rerun.

    Parameters
    ----------
    bounds
        ``((south, west), (north, east))`` of the data in degrees; the map opens
        fitted to it (the same bounds give the same map, so it is never remounted).
    tiles
        ``"light"`` (CARTO Positron), ``"osm"`` or ``"none"``. Tiles that cannot load
        (no internet) leave a grey background; the vector layers still render.

    Returns
    -------
    folium.Map
    """
    (south, west), (north, east) = bounds
    center = [(south + north) / 2.0, (west + east) / 2.0]
    span = max(north - south, (east - west) * math.cos(math.radians(center[0])), 1e-3)
    zoom = int(np.clip(round(math.log2(360.0 / span)) - 1, 3, 14))
    spec = _TILES[tiles]
    fmap = folium.Map(
        location=center,
        zoom_start=zoom,
        tiles=None,
        prefer_canvas=False,
        control_scale=True,
        zoom_snap=0.25,  # fractional zoom: the data fills the frame
    )
    if spec is not None:
        folium.TileLayer(spec[0], attr=spec[1], name="Base map", control=False).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap


def territory_outlines(
    cells: np.ndarray, labels: np.ndarray, territory_ids: Sequence[str]
) -> dict[str, BaseGeometry]:
    """Fast display outlines of territories whose cells mix H3 resolutions.

    Each resolution is dissolved on its own (``cells_to_shape``, exact and fast) and
    the parts are united. H3 children do not tile their parent exactly, so the seams
    between resolutions leave slivers; enclosed slivers that hold no other cell are
    filled. Exports use the exact ``Plan.territory_shapes`` (every cell brought to the
    finest resolution), which is far slower on adaptive plans.

    Parameters
    ----------
    cells
        Plan cells (uint64, any mix of resolutions).
    labels
        Territory index of each cell.
    territory_ids
        Territory id of each index.

    Returns
    -------
    dict
        Territory id -> (multi)polygon in lng/lat order.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    labels = np.asarray(labels)
    res = cell_resolution(cells)
    if cells.size == 0:
        return {tid: shapely.Polygon() for tid in territory_ids}
    lat, lon = cells_to_latlon(cells)
    tree = shapely.STRtree(shapely.points(lon, lat))
    coarsest = float(cells_to_shape(cells[res == res.min()][:1]).area)
    out: dict[str, BaseGeometry] = {}
    for k, tid in enumerate(territory_ids):
        sel = labels == k
        parts = [cells_to_shape(cells[sel & (res == r)]) for r in np.unique(res[sel])]
        merged = shapely.union_all(parts) if parts else shapely.Polygon()
        out[tid] = _fill_seams(merged, tree, labels != k, coarsest)
    return out


def _fill_seams(
    geom: BaseGeometry, tree: shapely.STRtree, others: np.ndarray, big: float
) -> BaseGeometry:
    parts = shapely.get_parts(geom)
    rings = [(i, ring) for i, part in enumerate(parts) for ring in part.interiors]
    if not rings:
        return geom
    holes = shapely.polygons([ring for _, ring in rings])
    hole_idx, point_idx = tree.query(holes, predicate="contains")
    occupied = np.zeros(len(rings), dtype=bool)
    occupied[hole_idx[others[point_idx]]] = True
    keep = occupied | (shapely.area(holes) >= big)
    kept: dict[int, list[Any]] = {}
    for (i, ring), ok in zip(rings, keep, strict=True):
        if ok:
            kept.setdefault(i, []).append(ring)
    polygons = [shapely.Polygon(part.exterior, kept.get(i, [])) for i, part in enumerate(parts)]
    return shapely.union_all(polygons)


def _rounded_geojson(geom: BaseGeometry) -> dict[str, Any]:
    rounded = shapely.transform(geom, lambda xy: np.round(xy, _COORD_DECIMALS))
    return dict(mapping(rounded))


def territory_layer(
    shapes: Mapping[str, BaseGeometry],
    *,
    colors: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    selected: str | None = None,
    name: str = "Territories",
    fill_opacity: float = 0.35,
    show_labels: bool = True,
) -> folium.FeatureGroup:
    """Dissolved territory outlines in distinct colours, with a label per territory.

    Parameters
    ----------
    shapes
        Territory id -> dissolved (multi)polygon in lng/lat order
        (``terrmap.grid.cells_to_shape``).
    colors
        Territory id -> fill colour (:func:`territory_colors`).
    labels
        Territory id -> label text (e.g. the rep's name); defaults to the id.
    selected
        A territory drawn with a heavy outline.
    name
        The layer name shown in the layer control.
    fill_opacity
        Fill opacity of unselected territories.
    show_labels
        Whether to place a text label at each territory's representative point.

    Returns
    -------
    folium.FeatureGroup
        One GeoJSON layer (one feature per territory, with ``territory_id`` and
        ``label`` properties) plus the labels.
    """
    labels = dict(labels or {})
    features = [
        {
            "type": "Feature",
            "geometry": _rounded_geojson(geom),
            # Tooltips are HTML: names from uploaded files must not inject markup.
            "properties": {"territory_id": tid, "label": html.escape(labels.get(tid, tid))},
        }
        for tid, geom in shapes.items()
        if not geom.is_empty
    ]
    group = folium.FeatureGroup(name=name, show=True)

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        tid = feature["properties"]["territory_id"]
        is_selected = tid == selected
        return {
            "fillColor": colors.get(tid, "#888888"),
            "color": "#111111" if is_selected else colors.get(tid, "#555555"),
            "weight": 4 if is_selected else 1.5,
            "fillOpacity": min(fill_opacity + 0.2, 0.9) if is_selected else fill_opacity,
        }

    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=name,
            style_function=style,
            highlight_function=lambda _f: {"weight": 3, "fillOpacity": 0.55},
            tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        ).add_to(group)
    if show_labels:
        points = []
        for tid, geom in shapes.items():
            if geom.is_empty:
                continue
            point = geom.representative_point()
            text = html.escape(labels.get(tid, tid))
            points.append((point.y, point.x, _LABEL_HTML.format(text=text), None))
        DivMarkers(points, interactive=False).add_to(group)
    return group


def cell_polygons(
    cells: Sequence[int] | np.ndarray,
    *,
    territory_ids: Sequence[str] | None = None,
    colors: Mapping[str, str] | None = None,
    name: str = "Cells",
) -> folium.FeatureGroup:
    """Individual H3 hexagons (for one selected territory, never for a whole plan).

    Parameters
    ----------
    cells
        H3 cells as integers.
    territory_ids
        The territory of each cell (for the ``territory_id`` property and colour).
    colors
        Territory id -> colour; cells without one are outlined in grey.
    name
        The layer name.

    Returns
    -------
    folium.FeatureGroup
        One GeoJSON layer; each feature has ``cell`` (hex string) and
        ``territory_id`` properties, so a click identifies the cell.
    """
    cell_arr = np.asarray(cells, dtype=np.uint64)
    tids = list(territory_ids) if territory_ids is not None else [""] * len(cell_arr)
    colors = dict(colors or {})
    features = []
    for cell, tid in zip(cell_arr.tolist(), tids, strict=True):
        ring = [
            [round(lng, _COORD_DECIMALS), round(lat, _COORD_DECIMALS)]
            for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))
        ]
        ring.append(ring[0])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"cell": h3.int_to_str(cell), "territory_id": tid},
            }
        )
    group = folium.FeatureGroup(name=name, show=True)
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=name,
            style_function=lambda f: {
                "color": colors.get(f["properties"]["territory_id"], "#666666"),
                "weight": 1,
                "fillOpacity": 0.15,
            },
            highlight_function=lambda _f: {"weight": 3, "fillOpacity": 0.45},
        ).add_to(group)
    return group


def rep_home_layer(
    reps: pd.DataFrame,
    *,
    colors: Mapping[str, str],
    name: str = "Rep homes",
) -> folium.FeatureGroup:
    """A marker at each rep's home base, coloured like the rep's territory.

    Parameters
    ----------
    reps
        The rep roster (``rep_id``, ``name``, ``home_lat``, ``home_lon``); reps without
        a home location are skipped.
    colors
        Rep (territory) id -> colour.
    name
        The layer name.

    Returns
    -------
    folium.FeatureGroup
    """
    group = folium.FeatureGroup(name=name, show=True)
    located = reps.dropna(subset=["home_lat", "home_lon"])
    points = [
        (
            lat,
            lon,
            _HOME_HTML.format(color=colors.get(rep_id, "#333333")),
            html.escape(f"{rep_name} ({rep_id}) — home"),
        )
        for rep_id, rep_name, lat, lon in zip(
            located["rep_id"].astype(str),
            located["name"].astype(str).where(located["name"].notna(), located["rep_id"]),
            located["home_lat"].to_numpy(float),
            located["home_lon"].to_numpy(float),
            strict=True,
        )
    ]
    DivMarkers(points, size=(16, 16)).add_to(group)
    return group


_CLUSTER_CALLBACK = """function (row) {
    return L.circleMarker(new L.LatLng(row[0], row[1]), {
        radius: 4, weight: 1, color: row[2], fillColor: row[2], fillOpacity: 0.8
    });
}"""


def account_cluster_layer(
    accounts: pd.DataFrame,
    *,
    territory: pd.Series | None = None,
    colors: Mapping[str, str] | None = None,
    name: str = "Accounts",
    show: bool = True,
) -> folium.FeatureGroup:
    """Accounts clustered in the browser (one data array, not one marker each).

    Parameters
    ----------
    accounts
        Accounts with ``lat`` and ``lon``.
    territory
        Territory id per account (aligned to ``accounts``), for the point colour.
    colors
        Territory id -> colour.
    name
        The layer name.
    show
        Whether the layer is on when the map opens.

    Returns
    -------
    folium.FeatureGroup
        A ``FastMarkerCluster`` of small circle markers; above 50,000 accounts use
        :func:`opportunity_bubble_layer` instead.
    """
    if len(accounts) > _CLUSTER_LIMIT:
        raise ValueError(
            f"{len(accounts):,} accounts is too many to cluster in the browser "
            f"(limit {_CLUSTER_LIMIT:,}); use opportunity_bubble_layer for large data"
        )
    colors = dict(colors or {})
    if territory is None:
        point_colors = np.full(len(accounts), "#333333", dtype=object)
    else:
        point_colors = (
            territory.astype("object").map(colors).fillna("#333333").to_numpy(dtype=object)
        )
    lat = np.round(accounts["lat"].to_numpy(float), _COORD_DECIMALS)
    lon = np.round(accounts["lon"].to_numpy(float), _COORD_DECIMALS)
    ok = np.isfinite(lat) & np.isfinite(lon)
    data = [[a, b, c] for a, b, c in zip(lat[ok], lon[ok], point_colors[ok], strict=True)]
    group = folium.FeatureGroup(name=name, show=show)
    folium.plugins.FastMarkerCluster(  # type: ignore[no-untyped-call]
        data,
        callback=_CLUSTER_CALLBACK,
        options={"chunkedLoading": True, "showCoverageOnHover": False},
    ).add_to(group)
    return group


def opportunity_bubble_layer(
    cells: pd.DataFrame,
    *,
    value: str = "opportunity",
    max_bubbles: int = 1500,
    max_radius_px: float = 18.0,
    name: str = "Opportunity",
    show: bool = True,
) -> folium.FeatureGroup:
    """One circle per H3 cell, its area proportional to the cell's opportunity.

    Parameters
    ----------
    cells
        ``terrmap.grid.aggregate_cells`` output (``lat``, ``lon``, ``accounts`` and the
        ``value`` column), indexed by cell.
    value
        The column that sizes the bubbles.
    max_bubbles
        Only the largest cells are drawn beyond this count (keeps the map light).
    max_radius_px
        Radius of the largest bubble in pixels.
    name
        The layer name.
    show
        Whether the layer is on when the map opens.

    Returns
    -------
    folium.FeatureGroup
    """
    group = folium.FeatureGroup(name=name, show=show)
    top = cells[cells[value] > 0].nlargest(max_bubbles, value)
    if top.empty:
        return group
    vmax = float(top[value].max())
    radius = max_radius_px * np.sqrt(top[value].to_numpy(float) / vmax)
    for lat, lon, r, v, n in zip(
        top["lat"].to_numpy(float),
        top["lon"].to_numpy(float),
        np.maximum(radius, 2.0),
        top[value].to_numpy(float),
        top["accounts"].to_numpy(int),
        strict=True,
    ):
        folium.CircleMarker(
            [round(lat, _COORD_DECIMALS), round(lon, _COORD_DECIMALS)],
            radius=round(float(r), 1),
            weight=1,
            color="#7a0177",
            fill=True,
            fill_color="#c51b8a",
            fill_opacity=0.5,
            tooltip=f"{n} accounts · ${v:,.0f} {value}",
        ).add_to(group)
    return group


@dataclass(frozen=True)
class HeatScale:
    """Class breaks and colours of a heat map (also drives its legend).

    Attributes
    ----------
    breaks
        Ascending upper bounds of the classes; ``len(breaks) == len(colors)``.
    colors
        One colour per class.
    """

    breaks: tuple[float, ...]
    colors: tuple[str, ...]

    def classify(self, values: np.ndarray) -> np.ndarray:
        """Class index (0..n-1) of each value."""
        idx = np.searchsorted(np.asarray(self.breaks), values, side="left")
        return np.clip(idx, 0, len(self.colors) - 1)


def heat_scale(values: np.ndarray, *, classes: int = 7) -> HeatScale:
    """Class breaks over the positive values: quantiles, or geometric steps for counts.

    Quantiles suit skewed money values; when they collapse (few distinct values, as
    with account counts) the classes step geometrically from the smallest to the
    largest value instead.

    Parameters
    ----------
    values
        The per-cell values; zeros and NaNs are not classified.
    classes
        Number of classes, at most ``len(HEAT_RAMP)``.

    Returns
    -------
    HeatScale
    """
    classes = int(np.clip(classes, 1, len(HEAT_RAMP)))
    positive = np.asarray(values, dtype=float)
    positive = positive[np.isfinite(positive) & (positive > 0)]
    if positive.size == 0:
        return HeatScale(breaks=(0.0,), colors=(HEAT_RAMP[0],))
    qs = np.unique(np.quantile(positive, np.linspace(0, 1, classes + 1)[1:]))
    if qs.size < classes and positive.max() > positive.min():
        # Few distinct values (counts): geometric classes between the extremes read better.
        geo = np.geomspace(positive.min(), positive.max(), classes)
        # Two significant digits (by formatting: a power-of-ten scale underflows for
        # subnormal values).
        qs = np.unique([float(f"{g:.2g}") for g in geo])
        qs[-1] = max(qs[-1], positive.max())
    breaks = tuple(float(b) for b in qs)
    step = (len(HEAT_RAMP) - 1) / max(len(breaks) - 1, 1)
    colors = tuple(HEAT_RAMP[round(i * step)] for i in range(len(breaks)))
    return HeatScale(breaks=breaks, colors=colors)


def cell_heat_layer(
    cells: np.ndarray,
    values: np.ndarray,
    *,
    scale: HeatScale,
    name: str,
    shape_of_cells: Any = cells_to_shape,
    fill_opacity: float = 0.65,
    show: bool = True,
) -> folium.FeatureGroup:
    """A heat map on H3 cells, dissolved per colour class (small payload, exact shapes).

    Cells with a zero or missing value are not drawn. Clicking the map returns the
    point clicked; the page turns it back into a cell with ``latlon_to_cells``.

    Parameters
    ----------
    cells
        H3 cells (uint64), one resolution.
    values
        The value of each cell.
    scale
        Class breaks and colours (:func:`heat_scale`).
    name
        The layer name.
    shape_of_cells
        Dissolves cells of one resolution (``terrmap.grid.cells_to_shape``).
    fill_opacity
        Fill opacity of the classes.
    show
        Whether the layer is on when the map opens.

    Returns
    -------
    folium.FeatureGroup
        One GeoJSON layer with a feature per class (properties ``class``, ``low``,
        ``high``).
    """
    cells = np.asarray(cells, dtype=np.uint64)
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values) & (values > 0)
    classes = scale.classify(values[keep])
    features = []
    low = 0.0
    for k, (high, color) in enumerate(zip(scale.breaks, scale.colors, strict=True)):
        members = cells[keep][classes == k]
        if members.size:
            features.append(
                {
                    "type": "Feature",
                    "geometry": _rounded_geojson(shape_of_cells(members)),
                    "properties": {"class": k, "low": low, "high": high, "color": color},
                }
            )
        low = high
    group = folium.FeatureGroup(name=name, show=show)
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=name,
            style_function=lambda f: {
                "fillColor": f["properties"]["color"],
                "color": f["properties"]["color"],
                "weight": 0.5,
                "fillOpacity": fill_opacity,
            },
        ).add_to(group)
    return group


def legend_html(entries: Sequence[tuple[str, str]], *, title: str | None = None) -> str:
    """A compact HTML legend: a colour chip and a label per entry.

    Parameters
    ----------
    entries
        ``(colour, label)`` pairs.
    title
        An optional heading.

    Returns
    -------
    str
        HTML safe to render with ``unsafe_allow_html`` (labels are escaped).
    """
    chips = "".join(
        '<span style="display:inline-flex;align-items:center;margin:0 12px 4px 0">'
        f'<span style="width:14px;height:14px;background:{html.escape(color)};'
        'border:1px solid #555;border-radius:2px;margin-right:5px;display:inline-block">'
        f"</span>{html.escape(label)}</span>"
        for color, label in entries
    )
    head = (
        f"<div style='font-weight:600;margin-bottom:4px'>{html.escape(title)}</div>"
        if title
        else ""
    )
    return f"<div class='terrmap-legend'>{head}{chips}</div>"


@dataclass(frozen=True)
class MapSelection:
    """What a map click selected.

    Attributes
    ----------
    territory_id
        The clicked territory, if the click hit one (or a cell of one).
    cell
        The clicked H3 cell as an integer, if the click hit a cell.
    lat, lon
        Where the click landed, when known.
    """

    territory_id: str | None = None
    cell: int | None = None
    lat: float | None = None
    lon: float | None = None


def _latlng(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, Mapping):
        return None
    try:
        lat, lng = float(value["lat"]), float(value["lng"])
    except (KeyError, TypeError, ValueError):
        return None
    return (lat, lng) if math.isfinite(lat) and math.isfinite(lng) else None


def selection_from_payload(payload: Mapping[str, Any] | None) -> MapSelection | None:
    """Turn the dictionary ``st_folium`` returns into a selection.

    A click on a territory or cell feature yields ``last_active_drawing`` (the
    feature with its properties) and ``last_object_clicked`` (where); a click on
    empty ground yields only ``last_clicked``. Ask ``st_folium`` for
    ``returned_objects=["last_active_drawing", "last_object_clicked", "last_clicked"]``.
    Drawn shapes (no ``territory_id``/``cell`` property) are ignored.

    Parameters
    ----------
    payload
        The value returned by ``st_folium`` (may be ``None`` or hold ``None`` values).

    Returns
    -------
    MapSelection or None
        ``None`` when nothing was clicked.
    """
    if not payload:
        return None
    clicked = _latlng(payload.get("last_clicked"))
    on_object = _latlng(payload.get("last_object_clicked"))
    # A feature click also fires a map click at the same point; a later click on empty
    # ground moves ``last_clicked`` but leaves the stale feature in the payload.
    feature_is_current = on_object is not None and (
        clicked is None or np.allclose(clicked, on_object, atol=1e-9)
    )
    lat, lon = clicked if clicked is not None else (on_object or (None, None))
    feature = payload.get("last_active_drawing")
    props = feature.get("properties") if isinstance(feature, Mapping) else None
    if feature_is_current and isinstance(props, Mapping):
        tid = props.get("territory_id") or None
        cell_text = props.get("cell")
        cell = None
        if isinstance(cell_text, str) and h3.is_valid_cell(cell_text):
            cell = int(h3.str_to_int(cell_text))
        if tid is not None or cell is not None:
            return MapSelection(
                territory_id=None if tid is None else str(tid), cell=cell, lat=lat, lon=lon
            )
    if lat is not None and lon is not None:
        return MapSelection(lat=lat, lon=lon)
    return None
