"""Map layers of a rep's patch, checked in the Leaflet HTML/JS they generate."""

from __future__ import annotations

import datetime as dt
import re

import folium
import numpy as np
import pandas as pd
import shapely

from terrmap.patch_layers import (
    OVERDUE_COLOR,
    TIER_COLORS,
    drive_time_layer,
    patch_account_layer,
    patch_legend,
    route_layer,
    territory_outline_layer,
)
from terrmap.routing import plan_day
from terrmap.travel_geometry import drive_time_areas
from terrmap.visits import visit_priority

DAY = dt.date(2026, 3, 2)
HOME = (42.36, -71.06)


def _accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4"],
            "name": ["Ace <Tools>", "Beta", None, "Delta"],
            "lat": [42.37, 42.40, 42.33, np.nan],
            "lon": [-71.05, -71.10, -71.00, -71.0],
            "tier": pd.array([1, 2, 3, 1], dtype="Int8"),
            "last_activity": pd.to_datetime(["2025-06-01", "2026-02-25", None, "2026-01-01"]),
        }
    )


def _html(*groups: folium.FeatureGroup) -> str:
    fmap = folium.Map(location=HOME, zoom_start=11, tiles=None)
    for g in groups:
        g.add_to(fmap)
    return fmap.get_root().render()


def test_accounts_are_coloured_by_tier_and_overdue_ones_ringed() -> None:
    acc = _accounts()
    info = visit_priority(acc, date=DAY)
    html = _html(patch_account_layer(acc, info, planned={"A2": 1}))
    assert html.count('"type": "Feature"') == 3  # A4 has no location
    assert TIER_COLORS[1] in html and TIER_COLORS[2] in html and TIER_COLORS[3] in html
    assert OVERDUE_COLOR in html  # A1 (9 months) and A3 (never visited) are overdue
    assert "Ace \\u0026lt;Tools\\u0026gt;" in html and "<Tools>" not in html  # escaped
    assert "never visited" in html and "stop 1 today" in html and "OVERDUE" in html


def test_route_layer_numbers_the_stops_in_order() -> None:
    plan = plan_day(_accounts(), home=HOME, date=DAY, hours=8)
    assert len(plan.stops) == 3
    html = _html(route_layer(plan))
    numbers = re.findall(r"\\u003e(\d+)\\u003c/div\\u003e", html)  # JSON-escaped HTML
    assert numbers == ["1", "2", "3"]
    assert "terrmap-home" in html and f"back {plan.back:%H:%M}" in html
    assert html.count("L.polyline") == 1 and "estimate:default" in html
    empty = plan_day(_accounts().iloc[:0], home=HOME, date=DAY)
    assert "L.polyline" not in _html(route_layer(empty))


def test_drive_time_rings_and_outline() -> None:
    areas = drive_time_areas(None, *HOME, minutes=(30, 60, 90))
    html = _html(
        drive_time_layer(areas, model="estimate:default"),
        territory_outline_layer(shapely.box(-71.2, 42.2, -70.9, 42.5), color="#123456"),
    )
    for minutes in (30, 60, 90):
        assert f"within {minutes} min of home (estimate:default)" in html
    assert "#123456" in html
    assert [label for _, label in patch_legend()][:3] == ["Tier 1", "Tier 2", "Tier 3"]
