"""Plans: the saved plans -- open, rename, duplicate, delete, export, history, compare.

Plans live in the plan database (``TERRMAP_DB_URL`` / ``TERRMAP_DB_PATH``; a SQLite
file by default). The logic is in ``terrmap.ui.plans`` and ``terrmap.store``.
"""

from __future__ import annotations

import streamlit as st

from terrmap.errors import TerrmapError
from terrmap.layers import base_map, territory_colors
from terrmap.store import StoreError
from terrmap.ui.editing import partition_key
from terrmap.ui.errors import show_error
from terrmap.ui.maps import map_tiles, render_map
from terrmap.ui.plans import database_label, open_stored, plan_store, plan_zip, stored_data
from terrmap.ui.plans_page import (
    changed_cells,
    compare_layers,
    plan_action,
    plan_bounds,
    plans_frame,
    rep_diff_table,
    stored_outlines,
    versions_frame,
)
from terrmap.ui.state import page_state

state = page_state()
st.title("Plans")
st.caption(
    f"Saved plans live in the plan database at `{database_label()}` (set TERRMAP_DB_PATH or "
    "TERRMAP_DB_URL to use another). Every saved edit is a version you can open again."
)

try:
    store = plan_store()
    infos = store.plans()
except StoreError as error:
    show_error(error, context="The plan database cannot be used")
    st.stop()

session = state.editing
if session is not None and session.stored is not None:
    unsaved = f" · {session.unsaved} unsaved step(s)" if session.unsaved else ""
    st.info(
        f"You are editing **{session.stored.name}** (version {session.stored.version}){unsaved}.",
        icon=":material/edit:",
    )
if session is not None and session.unsaved:
    st.warning(
        f"The plan on the Territories page has {session.unsaved} unsaved step(s); opening "
        "another plan drops them. Save them first (Territories → Save / Save as new).",
        icon=":material/warning:",
    )
flash = st.session_state.pop("pl_flash", None)
if flash:
    st.success(flash, icon=":material/check_circle:")
if not infos:
    st.info(
        "No saved plans yet. Edit the plan on the Territories page and use “Save as new”.",
        icon=":material/folder_open:",
    )
    st.page_link("pages/territories.py", label="Go to Territories", icon=":material/map:")
    st.stop()

st.dataframe(plans_frame(infos), hide_index=True, width="stretch")
by_name = {i.name: i for i in infos}
if st.session_state.get("pl_pick") not in by_name:
    st.session_state["pl_pick"] = infos[0].name
info = by_name[str(st.selectbox("Plan", list(by_name), key="pl_pick"))]


failed = st.session_state.pop("pl_flash_error", None)
if failed:
    show_error(failed[1], context=failed[0])

c1, c2 = st.columns(2)
if c1.button("Open for editing", key="pl_open", type="primary", icon=":material/edit:"):
    try:
        open_stored(state, store, info.id)
    except TerrmapError as error:
        show_error(error, context=f"Opening '{info.name}'")
    else:
        st.switch_page("pages/territories.py")
c2.download_button(
    "Export plan files (.zip)",
    data=lambda: plan_zip(store, info.id),
    file_name=f"{info.name}-v{info.version}.zip",
    mime="application/zip",
    key="pl_export",
    on_click="ignore",
    icon=":material/download:",
)
with st.expander("Rename, duplicate or delete"):
    r1, r2 = st.columns([3, 1], vertical_alignment="bottom")
    r1.text_input("New name", key="pl_rename", placeholder=info.name)
    r2.button(
        "Rename", key="pl_rename_go", on_click=plan_action, args=(state, store, info, "rename")
    )
    d1, d2 = st.columns([3, 1], vertical_alignment="bottom")
    d1.text_input("Name of the copy", key="pl_dup_name", placeholder=f"{info.name} (copy)")
    d2.button(
        "Duplicate", key="pl_dup", on_click=plan_action, args=(state, store, info, "duplicate")
    )
    ok = st.checkbox(
        f"Yes, delete '{info.name}' and its {info.version} version(s)", key="pl_del_ok"
    )
    st.button(
        "Delete", key="pl_delete", disabled=not ok, icon=":material/delete:",
        on_click=plan_action, args=(state, store, info, "delete"),
    )  # fmt: skip

tab_history, tab_compare, tab_audit = st.tabs(["Version history", "Compare two plans", "Audit log"])

with tab_history:
    versions = store.versions(info.id)
    st.dataframe(versions_frame(versions), hide_index=True, width="stretch")
    numbers = [v.version for v in sorted(versions, key=lambda v: -v.version)]
    v1, v2, v3 = st.columns([2, 2, 2], vertical_alignment="bottom")
    version = int(v1.selectbox("Version", numbers, key="pl_version"))
    if v2.button("Open this version", key="pl_open_version", icon=":material/history:"):
        try:
            open_stored(state, store, info.id, version=version)
        except TerrmapError as error:
            show_error(error, context=f"Opening version {version}")
        else:
            st.switch_page("pages/territories.py")
    v3.download_button(
        f"Export version {version}",
        data=lambda: plan_zip(store, info.id, version=version),
        file_name=f"{info.name}-v{version}.zip",
        mime="application/zip",
        key="pl_export_version",
        on_click="ignore",
    )
    if version != info.version:
        st.caption(
            f"Opening version {version} starts with one unsaved step (back to version "
            f"{version}); saving it makes it the newest version — nothing is overwritten."
        )

with tab_compare:
    names = list(by_name)
    a1, a2, a3 = st.columns([2, 2, 2], vertical_alignment="bottom")
    name_a = a1.selectbox("Plan A", names, index=names.index(info.name), key="pl_cmp_a")
    other = next((n for n in names if n != name_a), name_a)
    name_b = a2.selectbox("Plan B", names, index=names.index(other), key="pl_cmp_b")
    view = a3.segmented_control(
        "Map", ["Side by side", "A", "B"], default="Side by side", key="pl_cmp_map"
    )
    try:
        diff = store.diff(by_name[name_a].id, by_name[name_b].id)
        plan_a, plan_b = store.open(by_name[name_a].id).plan, store.open(by_name[name_b].id).plan
        dataset_id = by_name[name_b].dataset_id or by_name[name_a].dataset_id
        reps = stored_data(store, dataset_id)[2] if dataset_id is not None else None
    except TerrmapError as error:
        show_error(error, context="Comparing the plans")
    else:
        m1, m2 = st.columns(2)
        m1.metric("Accounts moved", f"{diff.moved_accounts:,}")
        m2.metric("Workload moved (h/month)", f"{diff.moved_workload:,.1f}")
        colors = territory_colors(
            list(dict.fromkeys([*plan_a.territory_ids, *plan_b.territory_ids]))
        )
        changed = changed_cells(plan_a, plan_b)
        sides = {"A": (name_a, plan_a), "B": (name_b, plan_b)}
        shown = ["A", "B"] if (view or "Side by side") == "Side by side" else [str(view)]
        for col, side in zip(st.columns(len(shown)), shown, strict=True):
            label, plan = sides[side]
            version_of = by_name[label].version
            shapes = stored_outlines(partition_key(plan), plan)
            with col:
                st.markdown(f"**{side}: {label}** (version {version_of})")
                render_map(
                    base_map(plan_bounds(plan_a), tiles=map_tiles()),
                    compare_layers(plan, shapes, colors=colors, changed=changed, name=label),
                    key=f"pl_cmp_map_{side}",
                    height=420,
                    clickable=False,
                )
        st.markdown("**Per rep: accounts and workload in and out (A → B)**")
        st.dataframe(rep_diff_table(diff, plan_a, plan_b, reps), hide_index=True, width="stretch")

with tab_audit:
    st.dataframe(store.audit(info.id, limit=500), hide_index=True, width="stretch")
