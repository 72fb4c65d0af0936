"""Helpers of the Plans page: tables, the compare view and plan actions.

The page (``pages/plans.py``) lists the stored plans, their versions and audit log,
compares two plans (a map per plan with the changed cells, and a per-rep table of
accounts and workload in and out), and renames, duplicates or deletes plans through
:func:`plan_action`. Store access and saving are in :mod:`terrmap.ui.plans`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

import folium
import numpy as np
import pandas as pd
import streamlit as st

from terrmap.edit_layers import selection_layer
from terrmap.errors import TerrmapError
from terrmap.grid import cells_to_latlon
from terrmap.layers import territory_layer, territory_outlines
from terrmap.plan import Plan
from terrmap.preview import PlanDiff
from terrmap.store import PlanInfo, PlanStore, VersionInfo
from terrmap.ui.state import AppState
from terrmap.ui.widgets import data_bounds

__all__ = [
    "PlanAction",
    "changed_cells",
    "compare_layers",
    "plan_action",
    "plan_bounds",
    "plans_frame",
    "rep_diff_table",
    "stored_outlines",
    "versions_frame",
]


def plans_frame(infos: list[PlanInfo]) -> pd.DataFrame:
    """The stored plans as a table for the Plans page."""
    return pd.DataFrame(
        {
            "Plan": [i.name for i in infos],
            "Version": [i.version for i in infos],
            "Updated": [i.updated_at for i in infos],
            "By": [i.updated_by for i in infos],
            "Created by": [i.author for i in infos],
            "Copied from": [i.parent_name or "" for i in infos],
            "Balance": [str(i.params.get("balance", "")) for i in infos],
        }
    )


def versions_frame(versions: list[VersionInfo]) -> pd.DataFrame:
    """A plan's history (newest first) as a table."""
    ordered = sorted(versions, key=lambda v: v.version, reverse=True)
    return pd.DataFrame(
        {
            "Version": [v.version for v in ordered],
            "When": [v.created_at for v in ordered],
            "Who": [v.author for v in ordered],
            "Step": [v.kind for v in ordered],
            "What": [v.summary for v in ordered],
        }
    )


def rep_diff_table(
    diff: PlanDiff, plan_a: Plan, plan_b: Plan, reps: pd.DataFrame | None
) -> pd.DataFrame:
    """Per territory (with its rep): accounts and workload in A, in B, in and out."""
    owner = dict(zip(plan_a.territory_ids, plan_a.rep_ids, strict=True))
    owner.update({t: r for t, r in zip(plan_b.territory_ids, plan_b.rep_ids, strict=True) if r})
    names: dict[str, str] = {}
    if reps is not None and len(reps) and "name" in reps.columns:
        names = dict(
            zip(reps["rep_id"].astype(str), reps["name"].astype("string").fillna(""), strict=True)
        )
    t = diff.table
    tids = t["territory_id"].astype(str)
    rep = [owner.get(x) or "" for x in tids]
    return pd.DataFrame(
        {
            "Territory": tids.to_numpy(),
            "Rep": [names.get(r) or r for r in rep],
            "Accounts A": t["accounts_a"].to_numpy(),
            "Accounts B": t["accounts_b"].to_numpy(),
            "In": t["accounts_in"].to_numpy(),
            "Out": t["accounts_out"].to_numpy(),
            "Workload A h": t["workload_a"].to_numpy(float).round(1),
            "Workload B h": t["workload_b"].to_numpy(float).round(1),
            "Workload in h": t["workload_in"].to_numpy(float).round(1),
            "Workload out h": t["workload_out"].to_numpy(float).round(1),
            "Net h": (t["workload_in"] - t["workload_out"]).to_numpy(float).round(1),
        }
    )


def changed_cells(plan_a: Plan, plan_b: Plan) -> np.ndarray:
    """Cells of ``plan_b`` whose territory differs in ``plan_a`` (for the compare map)."""
    names = np.array([*plan_a.territory_ids, ""], dtype=object)
    before = names[plan_a.territory_of_cells(plan_b.cells)]
    after = np.array(plan_b.territory_ids, dtype=object)[plan_b.labels]
    return np.asarray(plan_b.cells[before != after], dtype=np.uint64)


@st.cache_resource(show_spinner=False, max_entries=16)
def stored_outlines(key: str, _plan: Plan) -> dict[str, Any]:
    """Territory outlines of a plan for the compare maps (``key``: its partition key)."""
    return territory_outlines(_plan.cells, _plan.labels, _plan.territory_ids)


def compare_layers(
    plan: Plan,
    shapes: Mapping[str, Any],
    *,
    colors: Mapping[str, str],
    changed: np.ndarray,
    name: str,
) -> list[folium.FeatureGroup]:
    """One side of the compare view: the plan's territories and the cells that differ."""
    labels = {t: t for t in plan.territory_ids}
    layers = [territory_layer(shapes, colors=colors, labels=labels, name=name)]
    if changed.size:
        layers.append(selection_layer(changed, color="#d81b60", name="Changed cells"))
    return layers


def plan_bounds(plan: Plan) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((south, west), (north, east))`` around a plan's cell centres."""
    lat, lon = cells_to_latlon(plan.cells)
    return data_bounds(pd.DataFrame({"lat": lat, "lon": lon}))


PlanAction = Literal["rename", "duplicate", "delete"]


def plan_action(state: AppState, store: PlanStore, info: PlanInfo, what: PlanAction) -> None:
    """Rename, duplicate or delete a stored plan (a button callback of the Plans page).

    The new name comes from the page's text inputs (``pl_rename``, ``pl_dup_name``); the
    outcome is left in ``pl_flash`` (or ``pl_flash_error``) for the next run. The edit
    session follows a rename or delete of the plan it edits (after a delete its edits
    stay, to be saved as a new plan).
    """
    session = state.editing
    stored = session.stored if session is not None else None
    mine = session if stored is not None and stored.plan_id == info.id else None
    who = state.author or None
    try:
        if what == "rename":
            new = store.rename(info.id, str(st.session_state.get("pl_rename", "")), author=who)
            if mine is not None and stored is not None:
                mine.stored = replace(stored, name=new.name)
            message = f"Renamed '{info.name}' to '{new.name}'."
        elif what == "duplicate":
            new = store.duplicate(info.id, str(st.session_state.get("pl_dup_name", "")), author=who)
            message = f"Copied '{info.name}' (version {info.version}) to '{new.name}'."
        else:
            store.delete(info.id, author=who)
            if mine is not None:
                mine.stored = None
            st.session_state.pop("pl_pick", None)
            st.session_state["pl_flash"] = f"Deleted '{info.name}' (the audit log keeps a record)."
            return
    except TerrmapError as error:
        st.session_state["pl_flash_error"] = (what.capitalize(), error)
        return
    st.session_state["pl_pick"] = new.name
    st.session_state["pl_flash"] = message
