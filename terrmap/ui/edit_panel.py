"""The widgets of the territory editor: plan bar, move panel, previews, map layers.

Every action is a button callback that changes the
:class:`~terrmap.ui.editing.EditSession` and publishes the new plan before the rerun,
so the run that follows already shows the result. The page
(``pages/territories.py``) composes these pieces; the tabs below the map (accounts,
locks, rebalance, history) are in :mod:`terrmap.ui.edit_tabs`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import folium
import numpy as np
import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from terrmap.edit_layers import draw_control, locked_layer, override_layer, selection_layer
from terrmap.edits import LockedError
from terrmap.errors import TerrmapError
from terrmap.layers import base_map, territory_colors
from terrmap.preview import Preview
from terrmap.scenarios import PlanSnapshot
from terrmap.store import StoreError
from terrmap.ui.editing import EditSession, Mode, publish
from terrmap.ui.errors import show_error
from terrmap.ui.plans import open_stored, plan_store, save_as_new, save_session
from terrmap.ui.state import AppState
from terrmap.ui.widgets import data_bounds, territory_labels

__all__ = [
    "MODES",
    "MODE_KEY",
    "NONE",
    "PAINT_NOW_KEY",
    "TARGET_KEY",
    "action",
    "edit_base_map",
    "edit_layers",
    "move_panel",
    "plan_bar",
    "preview_view",
    "show_errors",
    "show_preview",
    "target_control",
]

MODE_KEY = "ed_mode"
TARGET_KEY = "ed_target"
PAINT_NOW_KEY = "ed_paint_now"
NONE = "—"
MODES: dict[str, str] = {
    "inspect": "Inspect",
    "select": "Select cells",
    "paint": "Paint",
    "territory": "Whole territory",
}
_HOW_TO: dict[str, str] = {
    "select": "Click cells to add or remove them, or draw a shape (toolbar on the map) "
    "to select every cell inside it.",
    "paint": "Pick the territory to paint into, then click cells (or draw a shape).",
    "territory": "Click a territory to select all of its cells.",
}


def action(
    state: AppState, session: EditSession, fn: Callable[[], object], *, where: str = "top"
) -> Callable[[], None]:
    """A button callback: run ``fn``, publish the plan, keep any error for the page.

    ``where`` names the part of the page that shows the error (see :func:`show_errors`).
    """

    def run() -> None:
        session.error = None
        try:
            fn()
        except TerrmapError as error:
            session.error, session.error_where = error, where
            return
        publish(state, session)

    return run


def show_errors(session: EditSession, where: str) -> None:
    """The error of the last failed action, if it belongs to this part of the page."""
    if session.error is not None and session.error_where == where:
        show_error(session.error)


# --------------------------------------------------------------------------- plan bar


def _save(state: AppState, session: EditSession) -> None:
    try:
        save_session(session, plan_store(), author=state.author)
    except StoreError as error:
        session.error, session.error_where = error, "top"


def _save_new(state: AppState, session: EditSession) -> None:
    name = str(st.session_state.get("ed_new_name", "")).strip()
    try:
        save_as_new(
            session, plan_store(), name=name, author=state.author, dataset_name=state.dataset.name
        )
    except StoreError as error:
        session.error, session.error_where = error, "top"


def _reload(state: AppState, session: EditSession) -> None:
    ref = session.stored
    if ref is None:
        return
    try:
        open_stored(state, plan_store(), ref.plan_id)
    except StoreError as error:
        session.error, session.error_where = error, "top"


def plan_bar(state: AppState, session: EditSession) -> None:
    """Which plan this is, unsaved steps, undo/redo, save and save as new."""
    h = session.history
    name = (
        f"**{session.stored.name}** (version {session.stored.version})"
        if session.stored
        else ("**Designed plan** (not saved)")
    )
    unsaved = f" · {session.unsaved} unsaved step{'s' if session.unsaved != 1 else ''}"
    cols = st.columns([5, 1.2, 1.2, 1.1, 1.6], vertical_alignment="center")
    cols[0].markdown(f"Plan: {name}{unsaved if session.unsaved else ''}")
    cols[1].button(
        f"Undo ({h.cursor})",
        key="ed_undo",
        icon=":material/undo:",
        disabled=not h.can_undo,
        on_click=action(state, session, session.undo),
        width="stretch",
    )
    cols[2].button(
        f"Redo ({len(h.plans) - 1 - h.cursor})",
        key="ed_redo",
        icon=":material/redo:",
        disabled=not h.can_redo,
        on_click=action(state, session, session.redo),
        width="stretch",
    )
    cols[3].button(
        "Save",
        key="ed_save",
        icon=":material/save:",
        type="primary",
        disabled=session.stored is None or not session.unsaved,
        on_click=_save,
        args=(state, session),
        width="stretch",
        help="Store the unsaved steps as new versions of this plan."
        if session.stored
        else "Not saved yet: use “Save as new”.",
    )
    with cols[4].popover("Save as new", icon=":material/library_add:", width="stretch"):
        st.text_input("Name of the new plan", key="ed_new_name", placeholder="FY27 draft")
        st.button(
            "Save as a new plan",
            key="ed_save_new",
            on_click=_save_new,
            args=(state, session),
            disabled=not str(st.session_state.get("ed_new_name", "")).strip(),
        )
    # One container, always there: messages come and go inside it without shifting the
    # elements below (a shifted map would be remounted and lose its pan and zoom).
    with st.container():
        _messages(state, session)


def _messages(state: AppState, session: EditSession) -> None:
    if session.conflict is not None:
        st.warning(f"Not saved: {session.conflict}", icon=":material/sync_problem:")
        st.button(
            "Reload the saved plan (drops your unsaved steps)",
            key="ed_reload",
            on_click=_reload,
            args=(state, session),
        )
    show_errors(session, "top")
    if session.notice:
        st.info(session.notice, icon=":material/info:")
        session.notice = None  # said once


# --------------------------------------------------------------------------- map


def edit_base_map(snap: PlanSnapshot, tiles: Any) -> folium.Map:
    """The constant base map of the editor: fitted to the data, with the lasso."""
    base = base_map(data_bounds(snap.accounts), tiles=tiles)
    draw_control().add_to(base)
    return base


def edit_layers(session: EditSession, snap: PlanSnapshot) -> list[folium.FeatureGroup]:
    """Overlays of the editor: locked cells, moved accounts, the selection (on top)."""
    plan = snap.plan
    colors = territory_colors(plan.territory_ids)
    layers = []
    if plan.locked_cells:
        layers.append(locked_layer(np.fromiter(plan.locked_cells, np.uint64)))
    if plan.overrides:
        layers.append(
            override_layer(
                snap.accounts,
                plan.overrides,
                colors=colors,
                locked_accounts=plan.locked_accounts,
            )
        )
    if session.cells:
        layers.append(selection_layer(session.selected_array()))
    return layers


# --------------------------------------------------------------------------- previews


def preview_view(pv: Preview, labels: dict[str, str]) -> Styler:
    """The KPI deltas of a preview, one row per affected territory, for reading."""
    t = pv.table
    tids = t["territory_id"].astype(str)
    view = pd.DataFrame(
        {
            "Territory": [labels.get(x, x) for x in tids],
            "Role": t["role"].astype(str).to_numpy(),
            "Accounts": t["accounts_after"].to_numpy(),
            "Δ accounts": t["accounts_delta"].to_numpy(),
            "Workload h": t["workload_hours_after"].to_numpy(float),
            "Δ workload h": t["workload_hours_delta"].to_numpy(float),
            "Deviation before": t["deviation_before"].to_numpy(float),
            "Deviation after": t["deviation_after"].to_numpy(float),
            "Δ opportunity $": t["opportunity_delta"].to_numpy(float),
            "Δ travel km": t["travel_km_delta"].to_numpy(float),
            "In one piece": np.where(t["contiguous_after"].to_numpy(bool), "yes", "NO"),
        }
    )
    return view.style.format(
        {
            "Workload h": "{:,.1f}",
            "Δ workload h": "{:+,.1f}",
            "Deviation before": "{:+.1%}",
            "Deviation after": "{:+.1%}",
            "Δ opportunity $": "{:+,.0f}",
            "Δ travel km": "{:+,.1f}",
            "Δ accounts": "{:+d}",
        },
        na_rep="—",
    )


def show_preview(pv: Preview, labels: dict[str, str]) -> None:
    """The deltas, what stays because it is locked, and whether donors stay whole."""
    cells = pv.edit.count("cell")
    what = f"{cells} cell{'s' if cells != 1 else ''}, " if cells else ""
    st.markdown(f"Moves {what}**{pv.moved_accounts:,}** account(s).")
    st.dataframe(preview_view(pv, labels), hide_index=True, width="stretch")
    if pv.edit.skipped:
        n = len(pv.edit.skipped)
        st.info(
            f"{n} locked item{'s' if n != 1 else ''} stay where they are.",
            icon=":material/lock:",
        )
    if not pv.donors_contiguous:
        split = pv.table.loc[
            pv.table["role"].isin(["gives", "both"]) & ~pv.table["contiguous_after"].astype(bool),
            "territory_id",
        ]
        st.warning(
            f"{', '.join(map(str, split))} would no longer be in one piece.",
            icon=":material/call_split:",
        )


def target_control(snap: PlanSnapshot, *, mode: Mode) -> str | None:
    """The territory to move or paint into."""
    options = [NONE, *snap.plan.territory_ids]
    if st.session_state.get(TARGET_KEY) not in options:
        st.session_state[TARGET_KEY] = NONE
    labels = territory_labels(snap)
    value = st.selectbox(
        "Paint into" if mode == "paint" else "Move the selection to",
        options,
        key=TARGET_KEY,
        format_func=lambda t: labels.get(t, t),
    )
    return None if value in (None, NONE) else str(value)


def move_panel(state: AppState, session: EditSession, snap: PlanSnapshot, *, mode: Mode) -> None:
    """Selection summary, target, live preview of the move, apply or cancel."""
    target = target_control(snap, mode=mode)
    if mode == "paint":
        st.checkbox(
            "Apply each click at once (skip the preview; undo reverts a stroke)",
            key=PAINT_NOW_KEY,
        )
    labels = territory_labels(snap)
    if session.cells:
        n_acc = len(session.accounts_on_selection())
        where = ", ".join(session.selected_territories())
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.markdown(f"**Selected:** {len(session.cells)} cell(s) · {n_acc:,} account(s) in {where}")
        c2.button("Clear", key="ed_clear_sel", on_click=session.select, args=((),),
                  kwargs={"how": "replace"})  # fmt: skip
        if target is None:
            st.info("Pick the territory to move the selection to.", icon=":material/ads_click:")
        else:
            _preview_and_apply(state, session, target, labels)
    elif mode != "inspect":
        st.caption(_HOW_TO[mode])
    if session.last_change is not None and not session.cells:
        with st.expander("What the last paint stroke changed", expanded=True):
            show_preview(session.last_change, labels)


def _preview_and_apply(
    state: AppState, session: EditSession, target: str, labels: dict[str, str]
) -> None:
    try:
        pv = session.preview_cells(target)
    except LockedError as error:
        st.warning(str(error), icon=":material/lock:")
        return
    except TerrmapError as error:
        show_error(error, context="Preview")
        return
    if not pv.edit.changes:
        st.info(f"Everything selected is already in {target}.")
        return
    show_preview(pv, labels)
    c1, c2 = st.columns(2)
    c1.button(
        f"Apply: move to {target}",
        key="ed_apply",
        type="primary",
        icon=":material/check:",
        on_click=action(state, session, lambda: session.apply(pv)),
        width="stretch",
    )
    c2.button(
        "Cancel",
        key="ed_cancel",
        icon=":material/close:",
        on_click=session.select,
        args=((),),
        kwargs={"how": "replace"},
        width="stretch",
    )
