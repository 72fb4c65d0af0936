"""Rendering Folium maps in Streamlit (the only caller of ``st_folium``).

The base map passed in must be built identically on every rerun (same location, zoom
and tiles); everything that changes goes through ``feature_group_to_add`` so the map
stays mounted and keeps its pan and zoom. Only click payloads are returned, so panning
and zooming never rerun the script.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import folium
import streamlit as st

from terrmap.layers import MapSelection, Tiles, selection_from_payload
from terrmap.ui.assets import localize

__all__ = [
    "CLICK_OBJECTS",
    "EDIT_OBJECTS",
    "map_tiles",
    "render_edit_map",
    "render_map",
    "render_static_map",
]

#: What the map sends back: clicks only (no bounds/zoom/center, which change on pan).
CLICK_OBJECTS: tuple[str, ...] = ("last_active_drawing", "last_object_clicked", "last_clicked")
#: The editor also needs the shapes drawn with the lasso.
EDIT_OBJECTS: tuple[str, ...] = (*CLICK_OBJECTS, "all_drawings")


def map_tiles() -> Tiles:
    """Tile choice: ``TERRMAP_TILES`` (``light``/``osm``/``none``), default ``light``."""
    value = os.environ.get("TERRMAP_TILES", "light").strip().lower()
    return value if value in ("light", "osm", "none") else "light"  # type: ignore[return-value]


def render_map(
    base: folium.Map,
    layers: Sequence[folium.FeatureGroup],
    *,
    key: str,
    height: int = 560,
    clickable: bool = True,
    on_select: Callable[[MapSelection | None], None] | None = None,
) -> MapSelection | None:
    """Show ``base`` with ``layers`` swapped in place and return what was clicked.

    Parameters
    ----------
    base
        The constant base map (``terrmap.layers.base_map``).
    layers
        The changing layers; they appear in the layer control.
    key
        Component key (one per map on a page).
    height
        Height in pixels.
    clickable
        Return click payloads (``False`` for display-only maps: no reruns at all).
    on_select
        Called with the new selection when the user clicks, *before* the rerun, so
        the page renders the selection (highlight, details) in that very run.

    Returns
    -------
    MapSelection or None
        The click, if any.
    """
    # Imported at call time so tests can patch ``streamlit_folium.st_folium``.
    import streamlit_folium

    def changed() -> None:
        if on_select is not None:
            on_select(selection_from_payload(st.session_state.get(key)))

    localize(base, *layers)
    payload: Any = streamlit_folium.st_folium(
        base,
        key=key,
        height=height,
        use_container_width=True,
        returned_objects=list(CLICK_OBJECTS) if clickable else [],
        feature_group_to_add=list(layers),
        layer_control=folium.LayerControl(collapsed=False),
        on_change=changed if clickable and on_select is not None else None,
    )
    return selection_from_payload(payload) if clickable else None


def render_edit_map(
    base: folium.Map,
    layers: Sequence[folium.FeatureGroup],
    *,
    key: str,
    height: int = 600,
    on_payload: Callable[[Mapping[str, Any] | None], None] | None = None,
) -> Mapping[str, Any] | None:
    """Show the editing map and return its raw payload (clicks and drawn shapes).

    Parameters
    ----------
    base
        The constant base map, with the lasso (``terrmap.edit_layers.draw_control``).
    layers
        The changing layers (territories, selection, locks, moved accounts).
    key
        Component key; change it (a suffix) only to clear the drawn shapes.
    height
        Height in pixels.
    on_payload
        Called with the new payload when the user clicks or draws, *before* the rerun.

    Returns
    -------
    Mapping or None
        The ``st_folium`` payload (``EDIT_OBJECTS``).
    """
    import streamlit_folium

    def changed() -> None:
        if on_payload is not None:
            on_payload(st.session_state.get(key))

    localize(base, *layers)
    payload: Any = streamlit_folium.st_folium(
        base,
        key=key,
        height=height,
        use_container_width=True,
        returned_objects=list(EDIT_OBJECTS),
        feature_group_to_add=list(layers),
        layer_control=folium.LayerControl(collapsed=True),
        on_change=changed if on_payload is not None else None,
    )
    return payload if isinstance(payload, Mapping) else None


@st.cache_resource(max_entries=16, show_spinner=False)
def _static_html(
    content_key: str, _build: Callable[[], tuple[folium.Map, Sequence[folium.FeatureGroup]]]
) -> str:
    base, layers = _build()
    for layer in layers:
        layer.add_to(base)
    folium.LayerControl(collapsed=False).add_to(base)
    localize(base)
    return str(base.get_root().render())


def render_static_map(
    build: Callable[[], tuple[folium.Map, Sequence[folium.FeatureGroup]]],
    *,
    content_key: str,
    height: int = 560,
) -> None:
    """Show a display-only map whose HTML is built once per ``content_key``.

    For a map that does not change while the page reruns (the baseline beside a
    scenario): reruns resend the same cached page, so the browser keeps the frame
    as it is and the server builds and renders nothing.

    Parameters
    ----------
    build
        Makes the base map (``terrmap.layers.base_map``) and its layers; called only
        when ``content_key`` is new.
    content_key
        Identifies what the map shows (e.g. the plan's key); same key, same map.
    height
        Height in pixels.
    """
    st.iframe(_static_html(content_key, build), height=height)
