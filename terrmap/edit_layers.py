"""Folium layers and map plumbing of the territory editor (pure: no Streamlit).

What the Territories page draws on top of the plan while editing: the selected cells
(the cells an edit would move), the locked cells (a dashed dark outline), and the
accounts assigned by an account-level override (a small diamond in the colour of the
territory the override puts them in; dashed when the account is locked). Each builder
returns one :class:`folium.FeatureGroup` for ``st_folium(feature_group_to_add=...)``,
so the map is never remounted while editing. The overlays are *not* interactive: a
click passes through them to the territory underneath, whose feature says which
territory was hit.

:func:`draw_control` is the lasso (the Folium Draw plugin, polygons and rectangles
only) that belongs on the constant base map; :func:`drawn_features` reads what was
drawn back from the ``st_folium`` payload.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import folium.plugins
import numpy as np
import pandas as pd
import shapely
from folium.template import Template
from numpy.typing import ArrayLike
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from terrmap.grid import cell_resolution, cells_to_shape
from terrmap.layers import DivMarkers

__all__ = [
    "LOCKED_COLOR",
    "SELECTION_COLOR",
    "dissolve_cells",
    "draw_control",
    "drawn_features",
    "feature_key",
    "locked_layer",
    "override_layer",
    "selection_layer",
]

SELECTION_COLOR = "#ff6f00"
LOCKED_COLOR = "#212121"
_DEC = 5  # coordinate decimals (~1 m)


def dissolve_cells(cells: ArrayLike) -> BaseGeometry:
    """Cells of any mix of resolutions as one (multi)polygon (lng/lat order).

    Each resolution is dissolved on its own and the parts are united (quick; the
    exact seams between resolutions do not matter for a highlight).
    """
    arr = np.unique(np.asarray(cells, dtype=np.uint64))
    if arr.size == 0:
        return shapely.Polygon()
    res = cell_resolution(arr)
    parts = [cells_to_shape(arr[res == r]) for r in np.unique(res).tolist()]
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def _rounded(geom: BaseGeometry) -> dict[str, Any]:
    rounded = shapely.transform(geom, lambda xy: np.round(xy, _DEC))
    return dict(mapping(rounded))


def _overlay(
    geom: BaseGeometry, *, layer: str, style: Mapping[str, Any], name: str
) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=name, show=True)
    if geom.is_empty:
        return group
    feature = {"type": "Feature", "geometry": _rounded(geom), "properties": {"layer": layer}}
    folium.GeoJson(
        feature,
        name=name,
        style_function=lambda _f: dict(style),
        interactive=False,  # clicks reach the territory underneath
    ).add_to(group)
    return group


def selection_layer(
    cells: ArrayLike, *, color: str = SELECTION_COLOR, name: str = "Selection"
) -> folium.FeatureGroup:
    """The selected cells, dissolved: a bright outline over a light fill.

    Parameters
    ----------
    cells
        Plan cells (uint64, any mix of resolutions).
    color
        Outline and fill colour.
    name
        The layer name in the layer control.

    Returns
    -------
    folium.FeatureGroup
        One non-interactive GeoJSON feature (``properties.layer == "selection"``);
        empty when nothing is selected.
    """
    style = {"color": color, "weight": 3, "fillColor": color, "fillOpacity": 0.35}
    return _overlay(dissolve_cells(cells), layer="selection", style=style, name=name)


def locked_layer(
    cells: ArrayLike, *, color: str = LOCKED_COLOR, name: str = "Locked"
) -> folium.FeatureGroup:
    """Locked cells, dissolved: a dashed dark outline and a faint grey veil.

    Parameters
    ----------
    cells
        The plan's locked cells (``plan.locked_cells``).
    color
        Outline colour.
    name
        The layer name.

    Returns
    -------
    folium.FeatureGroup
        One non-interactive GeoJSON feature (``properties.layer == "locked"``).
    """
    style = {
        "color": color,
        "weight": 2.5,
        "dashArray": "6 4",
        "fillColor": "#616161",
        "fillOpacity": 0.18,
    }
    return _overlay(dissolve_cells(cells), layer="locked", style=style, name=name)


def override_layer(
    accounts: pd.DataFrame,
    overrides: Mapping[str, str],
    *,
    colors: Mapping[str, str],
    locked_accounts: frozenset[str] = frozenset(),
    name: str = "Account overrides",
) -> folium.FeatureGroup:
    """A diamond per account assigned by an override, in its territory's colour.

    Parameters
    ----------
    accounts
        Accounts with ``account_id``, ``lat``, ``lon`` and optionally ``name``.
    overrides
        Account id -> territory id (``plan.overrides``).
    colors
        Territory id -> colour.
    locked_accounts
        Accounts drawn with a dashed frame (locked).
    name
        The layer name.

    Returns
    -------
    folium.FeatureGroup
        Markers (class ``terrmap-override``) with a tooltip naming account and territory.
    """
    group = folium.FeatureGroup(name=name, show=True)
    if not overrides:
        return group
    ids = accounts["account_id"].astype(str)
    chosen = accounts.loc[ids.isin(list(overrides)).to_numpy()]
    names = chosen["name"] if "name" in chosen.columns else chosen["account_id"]
    names = names.astype("string").fillna(chosen["account_id"].astype("string"))
    points = []
    for acc, label, lat, lon in zip(
        chosen["account_id"].astype(str),
        names.astype(str),
        chosen["lat"].to_numpy(float, na_value=np.nan),
        chosen["lon"].to_numpy(float, na_value=np.nan),
        strict=True,
    ):
        if not (np.isfinite(lat) and np.isfinite(lon)):
            continue
        tid = overrides[acc]
        locked = acc in locked_accounts
        border = "2px dashed #111" if locked else "2px solid #111"
        icon = (
            '<div class="terrmap-override" style="width:10px;height:10px;'
            f"transform:rotate(45deg);background:{html.escape(colors.get(tid, '#333333'))};"
            f'border:{border};box-shadow:0 0 0 1px #fff"></div>'
        )
        tip = f"{label} ({acc}) — assigned to {tid} by an override" + (
            " (locked)" if locked else ""
        )
        points.append((float(lat), float(lon), icon, html.escape(tip)))
    DivMarkers(points, size=(14, 14)).add_to(group)
    return group


class _GuardedDraw(folium.plugins.Draw):  # type: ignore[misc]
    """Folium's Draw control that leaves the map working when leaflet.draw is missing.

    The plugin's script comes from a CDN; when it cannot load (offline, a blocked CDN)
    the stock template throws and takes every layer after it down with it. Here the
    map renders without the lasso instead, and says so in the browser console.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var drawnItems_{{ this.get_name() }} =
                new L.featureGroup().addTo({{ this._parent.get_name() }});
            if (L.Control && typeof L.Control.Draw === "function") {
                var options = {
                  position: {{ this.position|tojson }},
                  draw: {{ this.draw_options|tojson }},
                  edit: {{ this.edit_options|tojson }},
                };
                options.edit.featureGroup = drawnItems_{{ this.get_name() }};
                var {{ this.get_name() }} = new L.Control.Draw(options).addTo(
                    {{ this._parent.get_name() }}
                );
                {{ this._parent.get_name() }}.on(L.Draw.Event.CREATED, function(e) {
                    drawnItems_{{ this.get_name() }}.addLayer(e.layer);
                });
            } else {
                console.warn("terrmap: leaflet.draw did not load; lasso selection is off");
            }
        {% endmacro %}
        """
    )


def draw_control() -> folium.plugins.Draw:
    """The lasso: Folium's Draw toolbar with polygon and rectangle tools only.

    Add it to the constant base map (it is part of the map's identity, so it must be
    the same on every rerun). Shapes can be deleted with the toolbar's bin. When the
    plugin's script cannot load, the map still renders, without the lasso.
    """
    off = dict.fromkeys(("polyline", "circle", "marker", "circlemarker"), False)
    shape = {"shapeOptions": {"color": "#6a1b9a", "weight": 2, "fillOpacity": 0.1}}
    return _GuardedDraw(  # type: ignore[no-untyped-call]
        export=False,
        position="topleft",
        show_geometry_on_click=False,
        draw_options={**off, "polygon": {**shape, "allowIntersection": False}, "rectangle": shape},
        edit_options={"edit": False, "remove": True},
    )


def feature_key(feature: Mapping[str, Any]) -> str:
    """A stable key of a drawn feature (its geometry), to process each drawing once."""
    return json.dumps(feature.get("geometry"), sort_keys=True, separators=(",", ":"))


def drawn_features(payload: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The polygons drawn on the map (``all_drawings`` of the ``st_folium`` payload).

    Ask ``st_folium`` for ``"all_drawings"`` in ``returned_objects``. Features without
    a polygon geometry (a stray point) are left out.

    Parameters
    ----------
    payload
        The value returned by ``st_folium``.

    Returns
    -------
    list of dict
        GeoJSON Features, oldest first.
    """
    if not payload:
        return []
    drawings = payload.get("all_drawings") or []
    out: list[dict[str, Any]] = []
    for feature in drawings if isinstance(drawings, Sequence) else []:
        geom = feature.get("geometry") if isinstance(feature, Mapping) else None
        if isinstance(geom, Mapping) and geom.get("type") in ("Polygon", "MultiPolygon"):
            out.append(dict(feature))
    return out
