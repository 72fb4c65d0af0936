"""The plan database in the app: open, save, save as new, compare and export plans.

Glue between an :class:`~terrmap.ui.editing.EditSession` and the
:class:`~terrmap.store.PlanStore`. The database is the one ``TERRMAP_DB_URL`` /
``TERRMAP_DB_PATH`` name (default: a SQLite file in the user's data folder); one
handle per URL is shared by every browser session. Every failure is a
:class:`~terrmap.store.StoreError` with what went wrong and how to fix it, which the
pages show as a message (a corrupt or vanished file never crashes the app).

Saving writes the session's journal -- every edit, undo and redo applied since the
last save -- as one version each, in one transaction, on top of the version the edits
are based on; when someone else saved in between, the store refuses with a
:class:`~terrmap.store.ConflictError` ("changed by X at T") and nothing is lost: the
user reloads or saves the edits as a new plan.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import folium
import numpy as np
import pandas as pd
import streamlit as st

from terrmap.edit_layers import selection_layer
from terrmap.edits import Edit
from terrmap.errors import TerrmapError
from terrmap.grid import cells_to_latlon
from terrmap.layers import territory_layer, territory_outlines
from terrmap.plan import Plan
from terrmap.preview import PlanDiff, plan_changes
from terrmap.scenarios import snapshot
from terrmap.store import (
    ConflictError,
    PlanInfo,
    PlanRef,
    PlanStore,
    StoreError,
    VersionInfo,
    default_db_url,
    frame_hash,
)
from terrmap.ui.editing import EditSession, StoredRef, ensure_session, plan_key
from terrmap.ui.state import AppState, Dataset, stable_key
from terrmap.ui.widgets import data_bounds

__all__ = [
    "changed_cells",
    "compare_layers",
    "database_label",
    "dataset_hash",
    "open_stored",
    "plan_action",
    "plan_bounds",
    "plan_store",
    "plan_zip",
    "plans_frame",
    "rep_diff_table",
    "save_as_new",
    "save_session",
    "stored_data",
    "stored_outlines",
    "unscored",
    "versions_frame",
]


@st.cache_resource(show_spinner=False, max_entries=8)
def _store_for(url: str) -> PlanStore:
    return PlanStore(url)


def plan_store() -> PlanStore:
    """The plan database of ``TERRMAP_DB_URL`` / ``TERRMAP_DB_PATH`` (created on first use).

    Raises
    ------
    terrmap.store.StoreError
        The database cannot be opened (corrupt file, a folder, no driver, ...).
    """
    return _store_for(default_db_url())


def database_label() -> str:
    """Where the plans are kept, for the page (passwords hidden)."""
    url = default_db_url()
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    head, _, tail = url.partition("@")
    return f"{head.split('://')[0]}://…@{tail}" if tail else url


def dataset_hash(accounts: pd.DataFrame, reps: pd.DataFrame | None) -> str:
    """The content hash the store gives these frames (``PlanStore.save_dataset``)."""
    digest = hashlib.sha256(frame_hash(accounts).encode())
    if reps is not None:
        digest.update(frame_hash(reps).encode())
    return digest.hexdigest()


def unscored(accounts: pd.DataFrame) -> pd.DataFrame:
    """Scored accounts back as loaded: derived tiers and modelled hours cleared.

    A stored dataset holds scored accounts; the app keeps the loaded ones and scores
    them itself (a scenario may use another workload model).
    """
    out = accounts.copy()
    if "tier_source" in out.columns and "tier" in out.columns:
        derived = (out["tier_source"].astype("string") == "derived").fillna(False).to_numpy(bool)
        out["tier"] = out["tier"].astype("Int8").mask(derived)
    if "workload_source" in out.columns and "workload_hours" in out.columns:
        model = (out["workload_source"].astype("string") == "model").fillna(False).to_numpy(bool)
        out["workload_hours"] = out["workload_hours"].astype(float).mask(model)
    scored = ["fit_score", "tier_source", "opportunity", "workload_source"]
    return out.drop(columns=[c for c in scored if c in out.columns])


# --------------------------------------------------------------------------- saving


def save_session(session: EditSession, store: PlanStore, *, author: str) -> PlanInfo | None:
    """Save the session's unsaved steps as new versions of its stored plan.

    Returns the plan's new header, or ``None`` when the save was refused because
    someone else saved first (``session.conflict`` says who and when).

    Raises
    ------
    terrmap.store.StoreError
        The plan is not stored yet (use :func:`save_as_new`) or the database failed.
    """
    ref = session.stored
    if ref is None:
        raise StoreError("this plan is not in the plan database yet. Fix: use “Save as new”.")
    if not session.journal:
        return store.info(ref.plan_id)
    try:
        info = store.save_steps(
            ref.plan_id, session.journal, expected_version=ref.version, author=author or None
        )
    except ConflictError as conflict:
        session.conflict = conflict
        return None
    session.mark_saved(StoredRef(info.id, info.name, info.version, ref.dataset_id))
    return info


def save_as_new(
    session: EditSession, store: PlanStore, *, name: str, author: str, dataset_name: str
) -> PlanInfo:
    """Store the current plan as a new plan (version 1) with its accounts and reps.

    The first version records every account the edits moved away from the plan the
    session started with; the plan it came from (if stored) becomes its parent.
    """
    who = author or None
    data = store.save_dataset(session.accounts, session.reps, name=dataset_name, author=who)
    origin = session.history.plans[0]
    source = f"'{session.stored.name}'" if session.stored else "the designed plan"
    if session.edited:
        edit = plan_changes(
            origin,
            session.plan,
            accounts=session.accounts,
            kind="create",
            note=f"{session.history.cursor} edit step(s) on {source}",
        )
    else:
        edit = Edit("create", note=f"saved from {source}")
    info = store.create_plan(
        session.plan,
        name=name,
        dataset=data.id,
        parent=session.stored.plan_id if session.stored else None,
        author=who,
        edit=edit,
    )
    session.mark_saved(StoredRef(info.id, info.name, info.version, data.id))
    return info


# --------------------------------------------------------------------------- opening


@st.cache_resource(show_spinner="Reading the plan's data…", max_entries=4)
def stored_data(url: str, dataset_id: int) -> tuple[str, pd.DataFrame, pd.DataFrame | None]:
    """A stored dataset: ``(content hash, scored accounts, reps)``, read once per URL."""
    data = _store_for(url).dataset(dataset_id)
    return data.info.content_hash, data.accounts, data.reps


def _empty_reps() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rep_id": pd.Series(dtype="string"),
            "name": pd.Series(dtype="string"),
            "home_lat": pd.Series(dtype=float),
            "home_lon": pd.Series(dtype=float),
            "capacity_hours": pd.Series(dtype=float),
        }
    )


def open_stored(
    state: AppState, store: PlanStore, ref: PlanRef, *, version: int | None = None
) -> EditSession:
    """Open a stored plan (its head, or a past ``version``) for editing.

    When the plan was made on other accounts or reps than those in use, its own are
    loaded with it. Opening a past version starts with one unsaved step, the revert
    to it, so saving makes it the head again (history is kept).
    """
    stored = store.open(ref, version=version)
    info = stored.info
    current = ensure_session(state)
    base_raw, accounts, reps = current.base, current.accounts, current.reps
    if info.dataset_id is not None:
        content, stored_accounts, stored_reps = stored_data(default_db_url(), info.dataset_id)
        if content != dataset_hash(current.accounts, current.reps):
            accounts = stored_accounts
            reps = stored_reps if stored_reps is not None else _empty_reps()
            base_raw = Dataset(
                accounts_source=f"Plan '{info.name}'",
                reps_source=f"Plan '{info.name}'",
                version=f"store-{content[:16]}",
                accounts=unscored(stored_accounts),
                reps=reps,
                notes=(f"Accounts and reps stored with plan '{info.name}'.",),
            )
    snap = snapshot(stored.plan, accounts, reps, scoring=state.scoring)
    label = f"Plan '{info.name}' version {stored.version}"
    base = base_raw.with_plan(snap, key=f"{info.id}-{stored.version}", label=label)
    journal: list[tuple[Plan, Edit]] = []
    if stored.version != info.version:
        head = store.open(info.id).plan
        note = f"back to version {stored.version}"
        revert = plan_changes(head, stored.plan, accounts=accounts, kind="revert", note=note)
        journal.append((stored.plan, revert))
    session = EditSession.start(
        base,
        snap,
        base_key=stable_key(base.version, plan_key(stored.plan)),
        stored=StoredRef(info.id, info.name, info.version, info.dataset_id),
        journal=journal,
    )
    state.use_dataset(base, f"Opened {label}")
    state.editing = session
    state.last_click = None
    return session


# --------------------------------------------------------------------------- pages


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


def plan_zip(store: PlanStore, ref: PlanRef, *, version: int | None = None) -> bytes:
    """A stored plan as a zipped plan directory (``assignments.csv``, GeoJSON, summary)."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="terrmap-export-") as tmp:
        out = store.export_plan(ref, Path(tmp) / "plan", version=version)
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.iterdir()):
                zf.write(path, arcname=path.name)
    return buf.getvalue()


@st.cache_resource(show_spinner=False, max_entries=16)
def stored_outlines(url: str, plan_id: int, version: int, _plan: Plan) -> dict[str, Any]:
    """Territory outlines of a stored plan version (``_plan``), for the compare maps."""
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
