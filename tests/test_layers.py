"""Map layers, tested on the generated Leaflet output (render, then search the HTML)."""

from __future__ import annotations

import json
import re

import folium
import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from shapely.geometry import box

from terrmap.grid import aggregate_cells, cells_to_shape, latlon_to_cells
from terrmap.layers import (
    PALETTE,
    MapSelection,
    account_cluster_layer,
    base_map,
    cell_heat_layer,
    cell_polygons,
    heat_scale,
    legend_html,
    opportunity_bubble_layer,
    rep_home_layer,
    selection_from_payload,
    territory_colors,
    territory_layer,
)

BOUNDS = ((40.9, -73.8), (42.5, -70.9))


def _html(fmap: folium.Map, *groups: folium.FeatureGroup) -> str:
    for group in groups:
        group.add_to(fmap)
    return fmap.get_root().render()


@pytest.fixture()
def accounts() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    centres = np.array([[41.76, -72.68], [42.36, -71.06], [41.82, -71.41]])
    pick = rng.integers(0, 3, 600)
    lat = centres[pick, 0] + rng.normal(0, 0.08, 600)
    lon = centres[pick, 1] + rng.normal(0, 0.08, 600)
    return pd.DataFrame(
        {
            "account_id": pd.array([f"A{i:04d}" for i in range(600)], dtype="string"),
            "lat": lat,
            "lon": lon,
            "opportunity": rng.lognormal(9, 1, 600),
            "workload_hours": rng.uniform(0.2, 2.0, 600),
            "tier": pd.array(rng.integers(1, 4, 600), dtype="Int8"),
        }
    )


def test_colours_are_distinct_and_stable() -> None:
    ids = [f"R{i:02d}" for i in range(30)]
    colors = territory_colors(ids)
    assert len(set(list(colors.values())[: len(PALETTE)])) == len(PALETTE)
    assert territory_colors(ids) == colors
    assert colors["R00"] == colors[f"R{len(PALETTE):02d}"]  # cycles past the palette


def test_territory_layer_is_one_geojson_with_ids_colours_and_labels() -> None:
    shapes = {
        "R01": box(-73.0, 41.0, -72.0, 42.0),
        "R02": box(-72.0, 41.0, -71.0, 42.0),
        "R03": box(-71.0, 41.0, -70.5, 42.0),
    }
    colors = territory_colors(list(shapes))
    group = territory_layer(
        shapes, colors=colors, labels={"R01": "R01 · Ann <&>", "R02": "R02 · Bo"}, selected="R02"
    )
    html = _html(base_map(BOUNDS, tiles="none"), group)
    assert html.count("L.geoJson(") == 1  # one layer for all territories
    for tid, color in colors.items():
        assert f'"territory_id": "{tid}"' in html
        assert color in html
    assert html.count("terrmap-label") == 3
    # Labels are HTML-escaped (then JSON-encoded) in the tooltip property and the label.
    assert html.count("Ann \\u0026lt;\\u0026amp;\\u0026gt;") == 2
    assert "Ann \\u003c" not in html
    assert '"weight": 4' in html  # the selected territory has a heavy outline


def test_empty_territories_are_skipped() -> None:
    from shapely.geometry import Polygon

    group = territory_layer({"R01": Polygon(), "R02": box(0, 0, 1, 1)}, colors={})
    html = _html(base_map(BOUNDS, tiles="none"), group)
    assert '"R01"' not in html and '"territory_id": "R02"' in html


def test_account_clusters_send_one_array_not_one_marker_each(accounts: pd.DataFrame) -> None:
    territory = pd.Series(np.where(accounts["lon"] < -71.8, "R01", "R02"), dtype="string")
    colors = {"R01": "#123456", "R02": "#abcdef"}
    group = account_cluster_layer(accounts, territory=territory, colors=colors)
    html = _html(base_map(BOUNDS, tiles="none"), group)
    assert "L.markerClusterGroup(" in html
    data = json.loads(re.search(r"var data = (\[\[.*?\]\]);", html, re.DOTALL).group(1))
    assert len(data) == len(accounts)
    assert {row[2] for row in data} == {"#123456", "#abcdef"}
    assert html.count("L.circleMarker(") == 1  # the callback, not per account
    assert "L.marker(" not in html


def test_cluster_layer_refuses_huge_data() -> None:
    big = pd.DataFrame({"lat": np.zeros(50_001), "lon": np.zeros(50_001)})
    with pytest.raises(ValueError, match="opportunity_bubble_layer"):
        account_cluster_layer(big)


def test_opportunity_bubbles_are_capped(accounts: pd.DataFrame) -> None:
    cells = aggregate_cells(accounts, 8)
    group = opportunity_bubble_layer(cells, max_bubbles=25)
    html = _html(base_map(BOUNDS, tiles="none"), group)
    assert html.count("L.circleMarker(") == min(25, len(cells))


def test_rep_homes_are_coloured_markers() -> None:
    reps = pd.DataFrame(
        {
            "rep_id": pd.array(["R01", "R02", "R03"], dtype="string"),
            "name": pd.array(["Ann", None, "Cy"], dtype="string"),
            "home_lat": [41.7, 42.3, np.nan],
            "home_lon": [-72.6, -71.0, np.nan],
        }
    )
    html = _html(base_map(BOUNDS, tiles="none"), rep_home_layer(reps, colors={"R01": "#ff0000"}))
    assert html.count("terrmap-rep") == 2  # the rep without a home is skipped
    assert "background:#ff0000" in html
    assert "R02 (R02)" in html  # a missing name falls back to the id


def test_base_map_tiles_and_identity() -> None:
    from streamlit_folium import _get_map_string, generate_js_hash

    light = _html(base_map(BOUNDS, tiles="light"))
    assert "basemaps.cartocdn.com" in light
    none = _html(base_map(BOUNDS, tiles="none"))
    assert "L.tileLayer(" not in none

    def identity() -> str:
        fmap = base_map(BOUNDS, tiles="light")
        fmap.get_root().render()
        return generate_js_hash(_get_map_string(fmap), "k")

    # Same data bounds -> same component identity, so the map is never remounted.
    assert identity() == identity()


def test_cell_polygons_carry_cell_ids() -> None:
    cells = latlon_to_cells([41.76, 41.80], [-72.68, -72.60], 7)
    group = cell_polygons(cells, territory_ids=["R01", "R01"], colors={"R01": "#00ff00"})
    html = _html(base_map(BOUNDS, tiles="none"), group)
    for cell in cells.tolist():
        assert h3.int_to_str(cell) in html


def test_heat_scale_classes() -> None:
    values = np.array([0.0, np.nan, 1, 2, 3, 4, 5, 6, 7, 100.0])
    scale = heat_scale(values, classes=4)
    assert list(scale.breaks) == sorted(scale.breaks)
    assert len(scale.breaks) == len(scale.colors) <= 4
    classes = scale.classify(np.array([1.0, 100.0, 1000.0]))
    assert classes[0] == 0 and classes[-1] == len(scale.colors) - 1
    assert heat_scale(np.zeros(5)).breaks == (0.0,)


@given(st.lists(st.floats(0, 1e9, allow_nan=False), min_size=1, max_size=50))
@example(values=[1.0, 1.0, 5e-324])  # a subnormal: its power-of-ten scale underflowed
def test_heat_scale_classifies_every_value_into_range(values: list[float]) -> None:
    arr = np.asarray(values)
    scale = heat_scale(arr)
    idx = scale.classify(arr)
    assert ((idx >= 0) & (idx < len(scale.colors))).all()


def test_heat_layer_dissolves_per_class(accounts: pd.DataFrame) -> None:
    cells = aggregate_cells(accounts, 7)
    values = cells["opportunity"].to_numpy(float, copy=True)
    values[:5] = 0.0  # zero cells are not drawn
    scale = heat_scale(values, classes=5)
    group = cell_heat_layer(
        cells.index.to_numpy(np.uint64), values, scale=scale, name="heat",
        shape_of_cells=cells_to_shape,
    )  # fmt: skip
    html = _html(base_map(BOUNDS, tiles="none"), group)
    assert html.count('"class": ') <= len(scale.colors)
    for color in scale.colors:
        assert color in html
    # A few class outlines, far lighter than one polygon per cell.
    assert len(html) < 60_000 + 400 * len(cells)


def test_legend_escapes_labels() -> None:
    html = legend_html([("#ff0000", "<b>R01</b>")], title="T & co")
    assert "&lt;b&gt;R01&lt;/b&gt;" in html and "T &amp; co" in html and "#ff0000" in html


POINT = {"lat": 41.7, "lng": -72.6}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (None, None),
        ({}, None),
        ({"last_active_drawing": None, "last_clicked": None, "last_object_clicked": None}, None),
        (
            {
                "last_active_drawing": {"properties": {"territory_id": "R02"}},
                "last_object_clicked": POINT,
                "last_clicked": POINT,
            },
            MapSelection(territory_id="R02", lat=41.7, lon=-72.6),
        ),
        (
            {
                "last_active_drawing": {
                    "properties": {"territory_id": "R01", "cell": "872a1072bffffff"}
                },
                "last_object_clicked": POINT,
                "last_clicked": POINT,
            },
            MapSelection(
                territory_id="R01", cell=h3.str_to_int("872a1072bffffff"), lat=41.7, lon=-72.6
            ),
        ),
        (  # a later click on empty ground: the stale feature is ignored
            {
                "last_active_drawing": {"properties": {"territory_id": "R02"}},
                "last_object_clicked": POINT,
                "last_clicked": {"lat": 42.0, "lng": -71.0},
            },
            MapSelection(lat=42.0, lon=-71.0),
        ),
        (  # a drawn shape has no ids: only the point counts
            {
                "last_active_drawing": {"type": "Feature", "properties": {}},
                "last_object_clicked": POINT,
                "last_clicked": POINT,
            },
            MapSelection(lat=41.7, lon=-72.6),
        ),
        (  # an invalid cell string is ignored, the territory kept
            {
                "last_active_drawing": {"properties": {"territory_id": "R03", "cell": "zz"}},
                "last_object_clicked": POINT,
                "last_clicked": None,
            },
            MapSelection(territory_id="R03", lat=41.7, lon=-72.6),
        ),
    ],
)
def test_selection_from_payload(payload: dict | None, expected: MapSelection | None) -> None:
    assert selection_from_payload(payload) == expected


_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.text(max_size=8) | st.integers(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@given(
    st.dictionaries(
        st.sampled_from(["last_active_drawing", "last_clicked", "last_object_clicked", "x"]),
        _json,
    )
)
def test_selection_never_raises_on_odd_payloads(payload: dict) -> None:
    result = selection_from_payload(payload)
    assert result is None or isinstance(result, MapSelection)
