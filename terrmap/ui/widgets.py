"""Shared pieces of the pages: plan map layers, KPI rows, the territory table, details."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Literal

import folium
import numpy as np
import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler
from shapely.geometry.base import BaseGeometry

from terrmap.grid import aggregate_cells
from terrmap.layers import (
    account_cluster_layer,
    cell_polygons,
    legend_html,
    opportunity_bubble_layer,
    rep_home_layer,
    territory_colors,
    territory_layer,
)
from terrmap.scenarios import PlanSnapshot
from terrmap.ui.details import Details

__all__ = [
    "AccountMode",
    "data_bounds",
    "plan_layers",
    "show_details",
    "show_health",
    "show_legend",
    "territory_labels",
    "territory_table_view",
]

AccountMode = Literal["clusters", "opportunity", "hidden"]

_TABLE_COLUMNS = {
    "region": "Region",
    "district": "District",
    "territories": "Territories",
    "territory_id": "Territory",
    "rep_name": "Rep",
    "accounts": "Accounts",
    "tier1": "T1",
    "tier2": "T2",
    "tier3": "T3",
    "workload_hours": "Workload h",
    "capacity_hours": "Capacity h",
    "utilisation": "Utilisation",
    "opportunity": "Opportunity $",
    "deviation": "Deviation",
    "max_deviation": "Max deviation",
    "travel_hours": "Travel h",
    "compactness_km": "Compactness km",
    "contiguous": "Contiguous",
}


def data_bounds(accounts: pd.DataFrame) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((south, west), (north, east))`` of the accounts (0.5-99.5th percentile, padded)."""
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return ((24.5, -125.0), (49.5, -66.9))  # contiguous US
    s, n = np.percentile(lat[ok], [0.5, 99.5])
    w, e = np.percentile(lon[ok], [0.5, 99.5])
    pad_lat, pad_lon = max((n - s) * 0.08, 0.05), max((e - w) * 0.08, 0.05)
    return ((float(s - pad_lat), float(w - pad_lon)), (float(n + pad_lat), float(e + pad_lon)))


def territory_labels(snap: PlanSnapshot) -> dict[str, str]:
    """Territory id -> "id · rep name" for map labels and tooltips."""
    t = snap.table
    names = t["rep_name"].astype("string").fillna("")
    return {
        tid: f"{tid} · {name}" if name and name != tid else tid
        for tid, name in zip(t["territory_id"].astype(str), names.astype(str), strict=True)
    }


def plan_layers(
    snap: PlanSnapshot,
    shapes: Mapping[str, BaseGeometry],
    *,
    account_mode: AccountMode = "clusters",
    selected: str | None = None,
    name: str = "Territories",
) -> list[folium.FeatureGroup]:
    """The layers of a plan map: territories, rep homes, accounts, selected cells."""
    colors = territory_colors(snap.plan.territory_ids)
    layers = [
        territory_layer(
            shapes, colors=colors, labels=territory_labels(snap), selected=selected, name=name
        ),
        rep_home_layer(snap.reps, colors=colors),
    ]
    if account_mode == "clusters" and len(snap.accounts) <= 50_000:
        layers.append(
            account_cluster_layer(snap.accounts, territory=snap.assignment, colors=colors)
        )
    elif account_mode != "hidden":
        cells = aggregate_cells(snap.accounts, min(snap.plan.resolution, 7))
        layers.append(opportunity_bubble_layer(cells))
    if selected is not None and selected in snap.plan.territory_ids:
        cells_sel = snap.plan.cells_of(selected)
        if cells_sel.size <= 3000:
            layers.append(
                cell_polygons(
                    cells_sel,
                    territory_ids=[selected] * cells_sel.size,
                    colors=colors,
                    name=f"Cells of {selected}",
                )
            )
    return layers


def show_legend(snap: PlanSnapshot) -> None:
    """Territory colours with rep names, plus the marker meanings."""
    colors = territory_colors(snap.plan.territory_ids)
    labels = territory_labels(snap)
    entries = [(colors[tid], labels[tid]) for tid in snap.plan.territory_ids]
    st.html(legend_html(entries, title="Territories (■ on the map = rep home)"))


def _deviation_style(value: object) -> str:
    try:
        v = abs(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(v):
        return ""
    if v <= 0.05:
        return "background-color: #d8f0d2"
    if v <= 0.10:
        return "background-color: #fcefc7"
    return "background-color: #f8d0cc"


def _utilisation_style(value: object) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(v):
        return ""
    return "color: #b3261e; font-weight: 600" if v > 1.0 else ""


def territory_table_view(table: pd.DataFrame) -> Styler:
    """The per-territory table (or its roll-up), renamed for reading, deviation coloured."""
    view = table[[c for c in _TABLE_COLUMNS if c in table.columns]].rename(columns=_TABLE_COLUMNS)
    formats = {
        "Workload h": "{:,.0f}",
        "Capacity h": "{:,.0f}",
        "Utilisation": "{:.0%}",
        "Opportunity $": "${:,.0f}",
        "Deviation": "{:+.1%}",
        "Max deviation": "{:.1%}",
        "Travel h": "{:,.0f}",
        "Compactness km": "{:,.1f}",
    }
    styler = view.style.format({k: v for k, v in formats.items() if k in view.columns}, na_rep="—")
    deviation: list[Hashable] = [c for c in ("Deviation", "Max deviation") if c in view.columns]
    styler = styler.map(_deviation_style, subset=deviation)
    return styler.map(_utilisation_style, subset=["Utilisation"])


def show_health(health: Mapping[str, object], *, tolerance: float | None = None) -> None:
    """Plan health as a row of metrics."""
    cols = st.columns(5)
    max_dev = float(health["max_deviation"])  # type: ignore[arg-type]
    within = "" if tolerance is None else (" ✓" if max_dev <= tolerance + 1e-9 else " ✗")
    cols[0].metric(
        "Max deviation",
        f"{max_dev:.1%}{within}",
        help="Largest gap between a territory's load and its target.",
    )
    cols[1].metric(
        "Contiguous",
        f"{float(health['contiguous_share']):.0%}",  # type: ignore[arg-type]
        help="Share of territories that are one connected piece.",
    )
    cols[2].metric(
        "Compactness",
        f"{float(health['compactness_km']):.1f} km",  # type: ignore[arg-type]
        help="Workload-weighted mean distance to the territory centre.",
    )
    cols[3].metric(
        "Unassigned",
        f"{int(health['unassigned_accounts']):,}",  # type: ignore[call-overload]
        help="Accounts outside every territory.",
    )
    cols[4].metric(
        "Doubly owned",
        f"{int(health['multiply_owned_accounts']):,}",  # type: ignore[call-overload]
        help="Account ids assigned to more than one territory.",
    )


def show_details(details: Details) -> None:
    """The detail panel of a selected territory or cell."""
    st.subheader(details.title)
    facts = pd.DataFrame(
        {
            "": list(details.facts),
            "value": ["—" if v is None else str(v) for v in details.facts.values()],
        }
    )
    st.dataframe(facts, hide_index=True, width="stretch")
    if len(details.accounts):
        st.caption(f"Largest accounts ({len(details.accounts)} shown)")
        st.dataframe(
            details.accounts,
            hide_index=True,
            width="stretch",
            column_config={
                "opportunity": st.column_config.NumberColumn("opportunity", format="$%,.0f"),
                "workload_hours": st.column_config.NumberColumn("workload h", format="%.1f"),
            },
        )
