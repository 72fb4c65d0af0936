"""Territories: the plan on a map, edited by hand, with its KPI table and plan health.

Click, paint or lasso cells into another territory with a preview of the KPI deltas,
move single accounts, lock what must not move, rebalance the rest, undo/redo any step
and save the plan to the plan database. The logic is in ``terrmap.ui.editing`` (the
session), ``terrmap.ui.edit_panel`` / ``edit_tabs`` (widgets) and the pure core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import streamlit as st

from terrmap.grid import cell_resolution
from terrmap.layers import MapSelection
from terrmap.metrics import rollup
from terrmap.ui.cache import shapes_of
from terrmap.ui.details import cell_details, resolve_selection, territory_details
from terrmap.ui.edit_panel import (
    MODE_KEY,
    MODES,
    PAINT_NOW_KEY,
    TARGET_KEY,
    edit_base_map,
    edit_layers,
    move_panel,
    plan_bar,
)
from terrmap.ui.edit_tabs import accounts_tab, history_tab, locks_tab, rebalance_tab
from terrmap.ui.editing import EditSession, Mode, ensure_session, partition_key, publish
from terrmap.ui.errors import error_boundary
from terrmap.ui.map_events import handle_payload
from terrmap.ui.maps import map_tiles, render_edit_map
from terrmap.ui.state import page_state
from terrmap.ui.widgets import plan_layers, show_details, show_health, show_legend
from terrmap.ui.widgets import territory_table_view as table_view

state = page_state()
st.title("Territories")

PICK_KEY = "territories_pick"
MAP_KEY = "territories_map"
NONE = "—"


def _mode() -> Mode:
    value = st.session_state.get(MODE_KEY) or "inspect"
    return cast(Mode, value if value in MODES else "inspect")


def _target() -> str | None:
    value = st.session_state.get(TARGET_KEY)
    return None if value in (None, NONE) else str(value)


def _on_payload(session: EditSession, payload: Mapping[str, Any] | None) -> None:
    """A click or a drawing, handled before the rerun so the run shows its effect."""
    changed = handle_payload(
        state,
        session,
        payload,
        mode=_mode(),
        target=_target(),
        paint_now=bool(st.session_state.get(PAINT_NOW_KEY, False)),
    )
    if changed:
        publish(state, session)


def _pick_changed() -> None:
    value = st.session_state.get(PICK_KEY, NONE)
    state.selection = None if value == NONE else MapSelection(territory_id=str(value))


@st.fragment(key="territory_editor")
def editor() -> None:
    """Plan bar, map, move panel, tabs and KPI table: a click reruns only this part."""
    with error_boundary("Designing territories"):
        session = ensure_session(state)
        snap = session.snapshot()
    plan_bar(state, session)
    plan = snap.plan
    finest = int(cell_resolution(plan.cells).max()) if plan.cells.size else 0
    detail = f" (dense areas down to {finest})" if finest > plan.resolution else ""
    report = session.history.plans[0].report  # edits keep the designed plan's notes
    st.caption(
        f"{plan.k} territories · {len(snap.accounts):,} accounts · H3 resolution "
        f"{plan.resolution}{detail} · balanced on {plan.params.get('balance', 'workload')}"
        + (f" · designed in {report.seconds:.1f} s" if report is not None else "")
        + (" · edited by hand" if session.edited else "")
    )
    show_health(snap.health, tolerance=state.design.tolerance)
    with st.container():  # always there, so the map below never shifts (and remounts)
        if report is not None and report.warnings:
            with st.expander(f"Engine notes ({len(report.warnings)})", icon=":material/info:"):
                for warning in report.warnings:
                    st.markdown(f"- {warning}")

    map_col, side_col = st.columns([3, 2], gap="medium")
    with map_col:
        st.segmented_control(
            "Click to", list(MODES), key=MODE_KEY, default="inspect", format_func=MODES.get
        )
        selection = resolve_selection(state.selection, snap)
        layers = plan_layers(
            snap,
            shapes_of(partition_key(plan), snap),
            account_mode=st.session_state.get("territories_accounts") or "clusters",
            selected=selection.territory_id if selection is not None else None,
        )
        payload = render_edit_map(
            edit_base_map(snap, map_tiles()),
            [*layers, *edit_layers(session, snap)],
            key=MAP_KEY,
            on_payload=lambda p: _on_payload(session, p),
        )
        st.segmented_control(
            "Accounts on the map",
            options=["clusters", "opportunity", "hidden"],
            format_func={
                "clusters": "Clustered",
                "opportunity": "Sized by opportunity",
                "hidden": "Hidden",
            }.get,
            default="clusters",
            key="territories_accounts",
        )
        show_legend(snap)
    # The callback has normally handled the payload already (each click is handled
    # once); this covers a payload that arrives without one (a test double).
    _on_payload(session, payload)
    snap = session.snapshot()
    with side_col:
        move_panel(state, session, snap, mode=_mode())
        _details(session, snap)

    tabs = st.tabs(["Accounts & overrides", "Locks", "Rebalance the rest", "History"])
    with tabs[0]:
        accounts_tab(state, session, snap)
    with tabs[1]:
        locks_tab(state, session, snap)
    with tabs[2]:
        rebalance_tab(state, session, snap)
    with tabs[3]:
        history_tab(state, session)

    roll = rollup(snap.table, snap.reps)
    if roll is not None:
        st.subheader("By region and district")
        st.dataframe(table_view(roll), hide_index=True, width="stretch")
        st.caption(
            "From the rep roster's region and district columns. Max deviation: the "
            "largest of its territories; contiguous: how many of them are in one piece."
        )
    st.subheader("Per-territory workload and balance")
    st.dataframe(table_view(snap.table), hide_index=True, width="stretch")
    st.caption(
        "Deviation: load vs. target in the balance metric (green ≤ 5 %, amber ≤ 10 %, red "
        "above). Utilisation: workload / capacity (red above 100 %). Travel: monthly drive "
        "time if every visit were a round trip from the rep's home (an upper bound)."
    )


def _details(session: EditSession, snap: Any) -> None:
    selection = resolve_selection(state.selection, snap)
    options = [NONE, *snap.plan.territory_ids]
    current = selection.territory_id if selection is not None else None
    if st.session_state.get(PICK_KEY) != (current or NONE):
        st.session_state[PICK_KEY] = current if current in options else NONE
    st.selectbox(
        "Territory details",
        options,
        key=PICK_KEY,
        on_change=_pick_changed,
        help="Or click a territory on the map.",
    )
    if current in snap.plan.territory_ids:
        st.button(
            f"Select all cells of {current}",
            key="ed_select_terr",
            icon=":material/select_all:",
            on_click=session.select,
            args=(snap.plan.cells_of(current),),
            kwargs={"how": "replace"},
            help="To move the whole territory into another one, or to lock it.",
        )
    if selection is not None and selection.cell is not None and selection.territory_id:
        show_details(cell_details(snap, selection.cell))
        show_details(territory_details(snap, selection.territory_id, limit=5))
    elif selection is not None and selection.territory_id is not None:
        show_details(territory_details(snap, selection.territory_id))
    else:
        st.info("Click a territory or a hexagon on the map to see its details.")


editor()
