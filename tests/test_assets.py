"""Map assets come from the app's own static/vendor, so maps render offline."""

from __future__ import annotations

from collections.abc import Iterator

import folium
import folium.plugins
import pytest
from streamlit import config

from terrmap.ui.assets import VENDOR_DIR, asset_url, localize

PREFIX = "/app/static/vendor/"


@pytest.fixture(autouse=True)
def _static_serving(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TERRMAP_ASSETS", raising=False)
    before = config.get_option("server.enableStaticServing")
    config.set_option("server.enableStaticServing", True)
    yield
    config.set_option("server.enableStaticServing", before)


def _map_with_plugins() -> tuple[folium.Map, folium.FeatureGroup]:
    fmap = folium.Map(location=(41.0, -73.0), zoom_start=7, tiles=None)
    folium.plugins.Draw().add_to(fmap)  # type: ignore[no-untyped-call]
    group = folium.FeatureGroup(name="Accounts")
    folium.plugins.FastMarkerCluster([[41.0, -73.0, "#333"]]).add_to(group)  # type: ignore[no-untyped-call]
    return fmap, group


def _links(*elements: folium.Element) -> list[str]:
    out: list[str] = []
    stack = list(elements)
    while stack:
        element = stack.pop()
        for attr in ("default_js", "default_css"):
            out += [url for _, url in getattr(element, attr, [])]
        stack += list(getattr(element, "_children", {}).values())
    return out


def test_every_map_asset_is_served_locally_and_exists() -> None:
    fmap, group = _map_with_plugins()
    localize(fmap, group)
    links = _links(fmap, group)
    assert {"leaflet.js", "leaflet.css", "leaflet.markercluster.js", "leaflet.draw.js"} <= {
        url.rsplit("/", 1)[1] for url in links
    }
    for url in links:
        assert url.startswith(PREFIX), url
        assert (VENDOR_DIR / url.removeprefix(PREFIX)).is_file(), url


def test_unused_folium_defaults_are_dropped() -> None:
    fmap, _ = _map_with_plugins()
    localize(fmap)
    names = {name for name, _ in fmap.default_js + fmap.default_css}
    assert names == {"leaflet", "leaflet_css"}  # no jQuery, Bootstrap or Font Awesome


def test_rendered_map_names_no_cdn() -> None:
    fmap, group = _map_with_plugins()
    group.add_to(fmap)
    localize(fmap)
    html = fmap.get_root().render()
    assert "cdn.jsdelivr.net" not in html and "cdnjs.cloudflare.com" not in html
    assert f'src="{PREFIX}leaflet@1.9.3/leaflet.js"' in html


def test_other_versions_and_cdn_mode_keep_the_cdn(monkeypatch: pytest.MonkeyPatch) -> None:
    newer = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js"
    assert asset_url("leaflet", newer) == newer  # the vendored 1.9.3 would not match
    current = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
    assert asset_url("leaflet", current) == f"{PREFIX}leaflet@1.9.3/leaflet.js"
    monkeypatch.setenv("TERRMAP_ASSETS", "cdn")
    assert asset_url("leaflet", current) == current
    assert asset_url("jquery", "https://code.jquery.com/jquery-3.7.1.min.js") is not None


def test_without_static_serving_the_cdn_stays() -> None:
    config.set_option("server.enableStaticServing", False)
    current = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
    assert asset_url("leaflet", current) == current
