"""Map scripts and styles served by the app itself, so maps draw without internet.

Folium points every map at CDNs for Leaflet and its plugins. The app serves the
copies vendored in ``static/vendor`` (Streamlit's static file serving,
``server.enableStaticServing``), so a map renders on an air-gapped machine and loads
faster everywhere. Assets folium adds by default that no terrmap layer uses (jQuery,
Bootstrap, Font Awesome, awesome-markers) are left out. Set ``TERRMAP_ASSETS=cdn`` to
keep folium's CDN links.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import folium
import streamlit as st
from folium.elements import JSCSSMixin

__all__ = ["VENDOR_DIR", "asset_url", "localize"]

VENDOR_DIR = Path(__file__).resolve().parents[2] / "static" / "vendor"

#: folium's asset name -> the vendored file (``package@version/file``).
LOCAL: dict[str, str] = {
    "leaflet": "leaflet@1.9.3/leaflet.js",
    "leaflet_css": "leaflet@1.9.3/leaflet.css",
    "markerclusterjs": "leaflet.markercluster@1.1.0/leaflet.markercluster.js",
    "markerclustercss": "leaflet.markercluster@1.1.0/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster@1.1.0/MarkerCluster.Default.css",
    "leaflet_draw_js": "leaflet-draw@1.0.2/leaflet.draw.js",
    "leaflet_draw_css": "leaflet-draw@1.0.2/leaflet.draw.css",
}
#: folium.Map defaults that no terrmap layer needs.
UNUSED = frozenset(
    {
        "jquery",
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
    }
)


def asset_url(name: str, cdn_url: str) -> str | None:
    """Where the browser should load folium's asset ``name`` from (``None``: skip it).

    The vendored copy when the app serves static files and has the very version
    folium asks for, else the CDN link unchanged (a newer folium with a newer Leaflet
    keeps working online).
    """
    served = bool(st.get_option("server.enableStaticServing"))
    if not served or os.environ.get("TERRMAP_ASSETS", "local").strip().lower() == "cdn":
        return cdn_url
    if name in UNUSED:
        return None
    local = LOCAL.get(name)
    if local is None:
        return cdn_url
    version = local.split("/", 1)[0].rsplit("@", 1)[1]
    if not re.search(rf"[@/]{re.escape(version)}/", cdn_url) or not (VENDOR_DIR / local).is_file():
        return cdn_url
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{'/' + base if base else ''}/app/static/vendor/{local}"


def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def localize(*elements: folium.Element) -> None:
    """Point the scripts and styles of ``elements`` and their children at local copies.

    Call it on the base map and on every layer before rendering them.
    """
    for root in elements:
        for element in _walk(root):
            if not isinstance(element, JSCSSMixin):
                continue
            for attr in ("default_js", "default_css"):
                links = [(n, asset_url(n, u)) for n, u in getattr(element, attr)]
                setattr(element, attr, [(n, u) for n, u in links if u is not None])
