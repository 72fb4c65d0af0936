"""Folium layers of a rep's own patch (pure: no Streamlit).

What the "My patch" page draws on top of the constant base map
(:func:`terrmap.layers.base_map`): the territory outline, the rep's accounts coloured by
tier with overdue ones ringed in red, drive-time areas around home, and the day's route
with numbered stops. Each builder returns one :class:`folium.FeatureGroup`, so the page
can swap layers without remounting the map.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import numpy as np
import pandas as pd
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from terrmap.route_export import route_points
from terrmap.routing import DayPlan

__all__ = [
    "OVERDUE_COLOR",
    "ROUTE_COLOR",
    "TIER_COLORS",
    "drive_time_layer",
    "patch_account_layer",
    "patch_legend",
    "route_layer",
    "territory_outline_layer",
]

#: Fill colour by tier (0 = no tier): darker is more valuable.
TIER_COLORS: Mapping[int, str] = {1: "#08306b", 2: "#4292c6", 3: "#c6dbef", 0: "#969696"}
OVERDUE_COLOR = "#d62728"
ROUTE_COLOR = "#e6550d"
_RING_COLORS = ("#31a354", "#fdae6b", "#9e9ac8", "#bdbdbd")
_DEC = 5  # coordinate decimals (~1 m)


def territory_outline_layer(
    shape: BaseGeometry, *, color: str = "#333333", name: str = "My territory"
) -> folium.FeatureGroup:
    """The territory boundary (a dissolved polygon in lng/lat order), lightly filled."""
    group = folium.FeatureGroup(name=name, show=True)
    style = {"color": color, "weight": 2.5, "fillColor": color, "fillOpacity": 0.05}
    folium.GeoJson(mapping(shape), style_function=lambda _f: style, control=False).add_to(group)
    return group


def patch_account_layer(
    accounts: pd.DataFrame,
    info: pd.DataFrame,
    *,
    planned: Mapping[str, int] | None = None,
    name: str = "My accounts",
) -> folium.FeatureGroup:
    """The rep's accounts: fill by tier, a red ring when overdue, a tooltip with why.

    Parameters
    ----------
    accounts
        ``account_id``, ``lat``, ``lon`` and optionally ``name``, ``tier``.
    info
        :func:`terrmap.visits.visit_priority` of the same rows (``priority``,
        ``days_since``, ``overdue``).
    planned
        Account id -> stop number in today's route (shown in the tooltip).
    """
    planned = dict(planned or {})
    ids = accounts["account_id"].astype(str).to_numpy()
    names = (
        accounts["name"].astype("string").fillna(pd.Series(ids, index=accounts.index))
        if "name" in accounts
        else pd.Series(ids, index=accounts.index)
    ).to_numpy(dtype=object)
    tier = pd.to_numeric(accounts["tier"], errors="coerce") if "tier" in accounts else None
    tier_n = np.zeros(len(accounts), int) if tier is None else tier.fillna(0).to_numpy(int)
    days = info["days_since"].to_numpy(float)
    overdue = info["overdue"].to_numpy(bool)
    priority = info["priority"].to_numpy(float)
    lat = np.round(accounts["lat"].to_numpy(float), _DEC)
    lon = np.round(accounts["lon"].to_numpy(float), _DEC)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
            "properties": {
                "tip": html.escape(
                    f"{names[i]} ({ids[i]}) · tier {tier_n[i] or '?'} · "
                    + (
                        "never visited"
                        if np.isnan(days[i])
                        else f"last visit {days[i]:.0f} days ago"
                    )
                    + (" · OVERDUE" if overdue[i] else "")
                    + f" · priority {priority[i]:.0f}"
                    + (f" · stop {planned[ids[i]]} today" if ids[i] in planned else "")
                ),
                "fill": TIER_COLORS.get(int(tier_n[i]), TIER_COLORS[0]),
                "ring": OVERDUE_COLOR if overdue[i] else "#ffffff",
                "weight": 2.5 if overdue[i] else 1.0,
            },
        }
        for i in np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    ]
    group = folium.FeatureGroup(name=name, show=True)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        marker=folium.CircleMarker(radius=6),
        style_function=_account_style,
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        control=False,
    ).add_to(group)
    return group


def _account_style(feature: Mapping[str, Any]) -> dict[str, Any]:
    p = feature["properties"]
    return {
        "fillColor": p["fill"],
        "color": p["ring"],
        "weight": p["weight"],
        "fillOpacity": 0.9,
        "radius": 6,
    }


def drive_time_layer(
    areas: Sequence[tuple[float, BaseGeometry]], *, model: str, name: str = "Drive time from home"
) -> folium.FeatureGroup:
    """Nested drive-time areas (largest drawn first), labelled with minutes and model."""
    group = folium.FeatureGroup(name=name, show=True)
    ordered = sorted(areas, key=lambda a: a[0])
    for k in range(len(ordered) - 1, -1, -1):
        minutes, geom = ordered[k]
        color = _RING_COLORS[min(k, len(_RING_COLORS) - 1)]
        style = {
            "color": color,
            "weight": 1.5,
            "dashArray": "6 4",
            "fillColor": color,
            "fillOpacity": 0.08,
        }
        folium.GeoJson(
            mapping(geom),
            style_function=lambda _f, s=style: s,
            tooltip=f"within {minutes:.0f} min of home ({model})",
            control=False,
        ).add_to(group)
    return group


def route_layer(
    plan: DayPlan,
    *,
    line: Sequence[tuple[float, float]] | None = None,
    name: str = "Today's route",
) -> folium.FeatureGroup:
    """The day's route: a line (road geometry when given) and numbered stop markers."""
    group = folium.FeatureGroup(name=name, show=True)
    pts = line if line is not None else route_points(plan)
    if plan.stops:
        folium.PolyLine(  # type: ignore[no-untyped-call]
            [(round(a, _DEC), round(b, _DEC)) for a, b in pts],
            color=ROUTE_COLOR,
            weight=4,
            opacity=0.85,
            tooltip=f"{plan.drive_min:.0f} min driving ({plan.model})",
        ).add_to(group)
    home = plan.home
    folium.Marker(
        [round(home[0], _DEC), round(home[1], _DEC)],
        icon=folium.DivIcon(
            html='<div class="terrmap-home" style="font-size:20px;line-height:20px">⌂</div>',
            icon_size=(20, 20),
            icon_anchor=(10, 10),
        ),
        tooltip=f"Home · leave {plan.depart:%H:%M}, back {plan.back:%H:%M}",
    ).add_to(group)
    for s in plan.stops:
        folium.Marker(
            [round(s.lat, _DEC), round(s.lon, _DEC)],
            icon=folium.DivIcon(
                html=(
                    f'<div class="terrmap-stop" style="width:22px;height:22px;'
                    f"border-radius:11px;background:{ROUTE_COLOR};color:#fff;"
                    "font:bold 12px/22px sans-serif;text-align:center;"
                    f'border:2px solid #fff">{s.order}</div>'
                ),
                icon_size=(22, 22),
                icon_anchor=(11, 11),
            ),
            tooltip=html.escape(
                f"{s.order}. {s.name or s.account_id} · arrive {s.arrival:%H:%M} · "
                f"{s.service_min:.0f} min · {s.drive_min:.0f} min drive from previous"
            ),
        ).add_to(group)
    return group


def patch_legend() -> list[tuple[str, str]]:
    """``(colour, label)`` entries for :func:`terrmap.layers.legend_html`."""
    return [
        (TIER_COLORS[1], "Tier 1"),
        (TIER_COLORS[2], "Tier 2"),
        (TIER_COLORS[3], "Tier 3"),
        (OVERDUE_COLOR, "Overdue (red ring)"),
        (ROUTE_COLOR, "Today's route"),
    ]
