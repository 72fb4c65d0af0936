"""Data: upload accounts and reps, map columns, see every problem; download the plan."""

from __future__ import annotations

import hashlib
import io
from typing import Literal

import streamlit as st

from terrmap.errors import InputError, TerrmapError
from terrmap.exports import (
    assignments_csv,
    kpi_csv,
    territories_geojson,
    territories_gpkg,
    territories_kml,
)
from terrmap.load import load_accounts, load_reps
from terrmap.schema import column_specs, match_columns
from terrmap.ui.cache import baseline_snapshot, territories_of, upload_columns
from terrmap.ui.errors import error_boundary, problems_frame, show_error
from terrmap.ui.state import UploadOutcome, page_state

Kind = Literal["accounts", "reps"]
TYPES = ["csv", "txt", "xlsx", "xls", "parquet", "geojson", "json", "gpkg"]
NONE = "(not in file)"

state = page_state()
st.title("Data")
ds = state.dataset
st.markdown(f"**In use:** {ds.name} — {len(ds.accounts):,} accounts, {len(ds.reps):,} reps.")
for note in ds.notes:
    st.caption(f"ℹ️ {note}")
with st.expander("What the files need"):
    for kind in ("accounts", "reps"):
        specs = column_specs(kind)
        st.markdown(
            f"**{kind.capitalize()}:** "
            + ", ".join(f"`{c.name}`" + (" (required)" if c.required else "") for c in specs)
        )
    st.caption(
        "Accounts need a location: `lat` + `lon`, or a US `zip` (placed at the ZIP "
        "centroid and flagged approximate). Headers are matched forgivingly "
        "(Latitude, LNG, Postal Code, …); check the mapping before loading."
    )


def _columns_of(kind: Kind, data: bytes, filename: str) -> list[str]:
    """The header of an uploaded file (read once per file content)."""
    return list(upload_columns(hashlib.sha256(data).hexdigest(), filename, kind, data))


def _mapping_form(kind: Kind, columns: list[str]) -> None:
    """Selectboxes: which file column feeds each canonical column (auto-matched first)."""
    auto = match_columns(columns, kind=kind)
    grid = st.columns(3)
    for i, spec in enumerate(column_specs(kind)):
        default = auto.source_of(spec.name)
        options = [NONE, *columns]
        label = spec.name + (" *" if spec.required else "")
        grid[i % 3].selectbox(
            label,
            options,
            index=options.index(default) if default else 0,
            help=spec.description or None,
            key=f"data_{kind}_map_{spec.name}",
        )


def _chosen_map(kind: Kind, columns: list[str]) -> dict[str, str | None]:
    """The column map the form describes (file column -> canonical, None = ignore)."""
    chosen: dict[str, str | None] = {}
    for spec in column_specs(kind):
        pick = st.session_state.get(f"data_{kind}_map_{spec.name}", NONE)
        if pick != NONE and pick in columns:
            chosen[str(pick)] = spec.name
    # File columns the matcher would use but the user switched off are ignored explicitly.
    for col in match_columns(columns, kind=kind).mapping:
        chosen.setdefault(col, None)
    return chosen


def _submit(kind: Kind, columns: list[str]) -> None:
    upload = st.session_state.get(f"data_{kind}_file")
    if upload is None:
        return
    drop = bool(st.session_state.get("data_drop", False)) and kind == "accounts"
    _accept(kind, upload.getvalue(), upload.name, _chosen_map(kind, columns), drop)


def _accept(
    kind: Kind, data: bytes, filename: str, column_map: dict[str, str | None], drop_invalid: bool
) -> None:
    """Load and validate; replace the data only when the file is clean (or cleaned)."""
    digest = hashlib.sha256(data).hexdigest()[:16] + repr(sorted(column_map.items(), key=str))
    try:
        if kind == "accounts":
            result = load_accounts(
                io.BytesIO(data),
                filename=filename,
                column_map=column_map,
                rep_ids=list(state.dataset.reps["rep_id"].astype(str)),
                drop_invalid=drop_invalid,
            )
            new = state.dataset.replace_accounts(
                result.frame, source=filename, digest=digest, notes=tuple(result.notes)
            )
        else:
            result = load_reps(io.BytesIO(data), filename=filename, column_map=column_map)
            new = state.dataset.replace_reps(
                result.frame, source=filename, digest=digest, notes=tuple(result.notes)
            )
    except InputError as error:
        state.last_upload = UploadOutcome(kind, filename, accepted=False, error=error)
        return
    state.use_dataset(new, f"Loaded {kind} from {filename}")
    state.last_upload = UploadOutcome(
        kind, filename, accepted=True, notes=tuple(result.notes), dropped=tuple(result.dropped)
    )


def upload_section(kind: Kind) -> None:
    """File picker, column mapping, and the validate-then-replace button."""
    upload = st.file_uploader(
        f"{kind.capitalize()} file",
        type=TYPES,
        key=f"data_{kind}_file",
        help="CSV (UTF-8 or Latin-1), Excel, Parquet, GeoJSON or GeoPackage.",
    )
    if upload is None:
        return
    data = upload.getvalue()
    try:
        columns = _columns_of(kind, data, upload.name)
    except TerrmapError as error:
        show_error(error, context=f"Reading {upload.name}")
        return
    st.caption(
        f"{upload.name}: {len(columns)} columns. Check which column feeds what (* = required)."
    )
    with st.form(f"data_{kind}_form"):
        _mapping_form(kind, columns)
        if kind == "accounts":
            st.checkbox("Drop rows with problems (they are listed)", key="data_drop")
        st.form_submit_button(
            f"Validate and use these {kind}", type="primary", on_click=_submit, args=(kind, columns)
        )


tab_acc, tab_reps = st.tabs(["Upload accounts", "Upload reps"])
with tab_acc:
    upload_section("accounts")
with tab_reps:
    upload_section("reps")

outcome = state.last_upload
if outcome is not None:
    if outcome.accepted:
        st.success(
            f"{outcome.filename}: {outcome.kind} replaced. The plan was recomputed.",
            icon=":material/check_circle:",
        )
        if outcome.dropped:
            st.warning(
                f"{len(outcome.dropped)} rows with problems were dropped, as asked:",
                icon=":material/warning:",
            )
            st.dataframe(problems_frame(InputError(outcome.dropped)), hide_index=True)
        for note in outcome.notes:
            st.caption(f"ℹ️ {note}")
    elif outcome.error is not None:
        show_error(
            outcome.error,
            context=f"{outcome.filename} was not loaded; "
            f"the previous {outcome.kind} are still in use",
        )

st.divider()
st.subheader("Downloads")
with error_boundary("Designing territories"):
    snap = baseline_snapshot(state.dataset.version, state.scoring, state.design, state.dataset)
plan_key = state.plan_key()
c1, c2, c3, c4, c5 = st.columns(5)
c1.download_button(
    "CRM assignments (CSV)",
    lambda: assignments_csv(snap.plan, snap.accounts, snap.reps),
    "assignments.csv",
    "text/csv",
    key="dl_crm",
)
c2.download_button(
    "Territories (GeoJSON)",
    lambda: territories_geojson(territories_of(plan_key, snap)),
    "territories.geojson",
    "application/geo+json",
    key="dl_geojson",
)
c3.download_button(
    "Territories (GeoPackage)",
    lambda: territories_gpkg(territories_of(plan_key, snap)),
    "territories.gpkg",
    "application/geopackage+sqlite3",
    key="dl_gpkg",
)
c4.download_button(
    "Territories (KML)",
    lambda: territories_kml(territories_of(plan_key, snap)),
    "territories.kml",
    "application/vnd.google-earth.kml+xml",
    key="dl_kml",
)
c5.download_button(
    "KPI table (CSV)", lambda: kpi_csv(snap.table), "territory_kpis.csv", "text/csv", key="dl_kpi"
)

with st.expander("Preview: accounts"):
    st.dataframe(state.dataset.accounts.head(500), hide_index=True)
with st.expander("Preview: reps"):
    st.dataframe(state.dataset.reps, hide_index=True)
for item in state.history[-5:]:
    st.caption(f"• {item}")
