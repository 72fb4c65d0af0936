"""Territories: the current plan on a map, the per-territory table and plan health."""

from __future__ import annotations

import streamlit as st

from terrmap.grid import cell_resolution
from terrmap.layers import MapSelection, base_map
from terrmap.ui.cache import baseline_snapshot, shapes_of
from terrmap.ui.details import cell_details, resolve_selection, territory_details
from terrmap.ui.errors import error_boundary
from terrmap.ui.maps import map_tiles, render_map
from terrmap.ui.state import get_state
from terrmap.ui.widgets import (
    data_bounds,
    plan_layers,
    show_details,
    show_health,
    show_legend,
    territory_table_view,
)

state = get_state()
st.title("Territories")

with error_boundary("Designing territories"):
    snap = baseline_snapshot(state.dataset.version, state.scoring, state.design, state.dataset)
plan_key = state.plan_key()
report = snap.plan.report
finest = int(cell_resolution(snap.plan.cells).max()) if snap.plan.cells.size else 0
detail = f" (dense areas down to {finest})" if finest > snap.plan.resolution else ""
st.caption(
    f"{snap.plan.k} territories · {len(snap.accounts):,} accounts · H3 resolution "
    f"{snap.plan.resolution}{detail} · balanced on {state.design.balance}"
    + (f" · designed in {report.seconds:.1f} s" if report is not None else "")
)
show_health(snap.health, tolerance=state.design.tolerance)
if report is not None and report.warnings:
    with st.expander(f"Engine notes ({len(report.warnings)})", icon=":material/info:"):
        for warning in report.warnings:
            st.markdown(f"- {warning}")

PICK_KEY = "territories_pick"
NONE = "—"


def _pick_changed() -> None:
    value = st.session_state.get(PICK_KEY, NONE)
    state.selection = None if value == NONE else MapSelection(territory_id=str(value))


def _clicked(selection: MapSelection | None) -> None:
    """A map click (runs before the rerun, so the highlight and details follow at once)."""
    state.last_click = selection
    resolved = resolve_selection(selection, snap)
    if resolved is not None:
        state.selection = resolved
        st.session_state[PICK_KEY] = resolved.territory_id or NONE


@st.fragment(key="territory_map")
def map_and_details() -> None:
    """Map and detail panel: a click reruns only this part of the page."""
    map_col, side_col = st.columns([3, 2], gap="medium")
    selection = resolve_selection(state.selection, snap)
    with map_col:
        mode = st.segmented_control(
            "Accounts",
            options=["clusters", "opportunity", "hidden"],
            format_func={
                "clusters": "Clustered",
                "opportunity": "Sized by opportunity",
                "hidden": "Hidden",
            }.get,
            default="clusters",
            key="territories_accounts",
        )
        base = base_map(data_bounds(snap.accounts), tiles=map_tiles())
        layers = plan_layers(
            snap,
            shapes_of(plan_key, snap),
            account_mode=mode or "clusters",
            selected=selection.territory_id if selection is not None else None,
        )
        clicked = render_map(base, layers, key="territories_map", on_select=_clicked)
        show_legend(snap)
    # Normally the callback has already applied the click; this covers a payload that
    # arrives without one (the first run after a reconnect, or a test double).
    if clicked != state.last_click:
        state.last_click = clicked
        resolved = resolve_selection(clicked, snap)
        if resolved is not None:
            state.selection = selection = resolved
    with side_col:
        options = [NONE, *snap.plan.territory_ids]
        current = selection.territory_id if selection is not None else None
        if st.session_state.get(PICK_KEY) != (current or NONE):
            st.session_state[PICK_KEY] = current if current in options else NONE
        st.selectbox(
            "Territory",
            options,
            key=PICK_KEY,
            on_change=_pick_changed,
            help="Or click a territory on the map.",
        )
        if selection is not None and selection.cell is not None and selection.territory_id:
            show_details(cell_details(snap, selection.cell))
            show_details(territory_details(snap, selection.territory_id, limit=5))
        elif selection is not None and selection.territory_id is not None:
            show_details(territory_details(snap, selection.territory_id))
        else:
            st.info("Click a territory or a hexagon on the map to see its details.")


map_and_details()

st.subheader("Per-territory workload and balance")
st.dataframe(territory_table_view(snap.table), hide_index=True, width="stretch")
st.caption(
    "Deviation: load vs. target in the balance metric (green ≤ 5 %, amber ≤ 10 %, red above). "
    "Utilisation: workload / capacity (red above 100 %). Travel: monthly drive time if every "
    "visit were a round trip from the rep's home (an upper bound)."
)
