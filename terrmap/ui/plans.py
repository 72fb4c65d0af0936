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

import io
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from terrmap.edits import Edit
from terrmap.plan import Plan
from terrmap.preview import plan_changes
from terrmap.scenarios import snapshot
from terrmap.scoring import score_accounts
from terrmap.store import (
    ConflictError,
    PlanInfo,
    PlanRef,
    PlanStore,
    StoreError,
    dataset_hash,
    default_db_url,
)
from terrmap.ui.editing import EditSession, StoredRef, ensure_session, plan_key
from terrmap.ui.state import AppState, Dataset, stable_key

__all__ = [
    "database_label",
    "open_stored",
    "plan_store",
    "plan_zip",
    "save_as_new",
    "save_session",
    "stored_data",
    "unscored",
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
def _dataset_frames(
    url: str, dataset_id: int, content_hash: str
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    data = _store_for(url).dataset(dataset_id)
    return data.accounts, data.reps


def stored_data(store: PlanStore, dataset_id: int) -> tuple[str, pd.DataFrame, pd.DataFrame | None]:
    """A stored dataset: ``(content hash, scored accounts, reps)``, read once per content.

    The cache is keyed by the content hash too, so a database file replaced under the
    same path (ids reused for other data) never serves stale frames.
    """
    hashes = {d.id: d.content_hash for d in store.datasets()}
    if dataset_id not in hashes:
        raise StoreError(
            f"dataset {dataset_id} is not in the plan database {store.where}. Fix: reload the "
            "Plans page; the plan may have been deleted meanwhile."
        )
    accounts, reps = _dataset_frames(default_db_url(), dataset_id, hashes[dataset_id])
    return hashes[dataset_id], accounts, reps


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
        content, stored_accounts, stored_reps = stored_data(store, info.dataset_id)
        if content != dataset_hash(current.accounts, current.reps):
            accounts = stored_accounts
            if not {"opportunity", "workload_source"} <= set(accounts.columns):
                accounts = score_accounts(accounts, state.scoring)  # stored as loaded
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
    base = base_raw.with_plan(snap, key=plan_key(stored.plan), label=label)
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
    return session


def plan_zip(store: PlanStore, ref: PlanRef, *, version: int | None = None) -> bytes:
    """A stored plan as a zipped plan directory (``assignments.csv``, GeoJSON, summary)."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="terrmap-export-") as tmp:
        out = store.export_plan(ref, Path(tmp) / "plan", version=version)
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.iterdir()):
                zf.write(path, arcname=path.name)
    return buf.getvalue()
