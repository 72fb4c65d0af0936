"""Coverage: heat maps of gaps, density imbalance and candidate hidden territories."""

from __future__ import annotations

import numpy as np
import streamlit as st

from terrmap.coverage import CoverageConfig, as_of_date
from terrmap.layers import (
    HeatScale,
    base_map,
    cell_heat_layer,
    heat_scale,
    legend_html,
    territory_colors,
    territory_layer,
)
from terrmap.ui.cache import baseline_snapshot, coverage_cells, shapes_of
from terrmap.ui.errors import error_boundary
from terrmap.ui.maps import map_tiles, render_map
from terrmap.ui.state import page_state
from terrmap.ui.widgets import data_bounds, territory_labels

state = page_state()
st.title("Coverage")

with error_boundary("Designing territories"):
    snap = baseline_snapshot(state.dataset.version, state.scoring, state.design, state.dataset)
plan_key = state.plan_key()

#: metric key -> (menu label, column, unit, explanation)
METRICS = {
    "stale": (
        "Gap: untouched accounts",
        "stale_accounts",
        "accounts",
        "Accounts with no activity for the chosen number of days.",
    ),
    "at_risk": (
        "Gap: opportunity beyond capacity",
        "at_risk_opportunity",
        "$",
        "Opportunity in territories loaded beyond their rep's capacity — the share "
        "the rep cannot work (1 − capacity / workload).",
    ),
    "unassigned": (
        "Gap: unassigned accounts",
        "unassigned_accounts",
        "accounts",
        "Accounts outside every territory.",
    ),
    "white_space": (
        "Gap: white space (no owner)",
        "white_space_opportunity",
        "$",
        "Opportunity of accounts without a current owner on the roster.",
    ),
    "load_ratio": (
        "Imbalance: workload vs. target",
        "load_ratio",
        "× target",
        "Each territory's workload over its fair share (by target); 1.0 = on target.",
    ),
    "workload": (
        "Density: workload per cell",
        "workload_hours",
        "h/month",
        "Monthly field workload (visits × (service + travel allowance)) of the accounts in "
        "each cell.",
    ),
    "density": (
        "Imbalance: opportunity density",
        "opportunity_density",
        "$/km²",
        "Opportunity per square kilometre.",
    ),
    "hidden": (
        "Hidden territories",
        "workload_hours",
        "h/month",
        "Dense clusters whose workload, beyond the reps based in them, would keep a "
        "dedicated rep busy.",
    ),
}
RATIO = HeatScale(
    breaks=(0.8, 0.9, 0.95, 1.05, 1.1, 1.2, float("inf")),
    colors=("#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"),
)

c1, c2, c3 = st.columns([3, 1, 1])
metric = c1.selectbox(
    "Heat map", list(METRICS), format_func=lambda m: METRICS[m][0], key="cov_metric"
)
resolution = c2.select_slider("Cell size (H3 res.)", [5, 6, 7], value=6, key="cov_res")
stale_days = c3.number_input("Untouched after (days)", 30, 730, 90, 15, key="cov_stale")
share, quantile = 0.5, 0.75
if metric == "hidden":
    h1, h2 = st.columns(2)
    share = h1.slider("A candidate keeps this share of a rep busy", 0.1, 1.5, 0.5, 0.05,
                      key="cov_share")  # fmt: skip
    quantile = h2.slider("Dense = workload per cell above this quantile", 0.5, 0.95, 0.75,
                         0.05, key="cov_quantile")  # fmt: skip
config = CoverageConfig(
    resolution=int(resolution),
    stale_days=int(stale_days),
    min_rep_share=float(share),
    density_quantile=float(quantile),
)
label, column, unit, explanation = METRICS[metric]
cells, candidates, member = coverage_cells(plan_key, config, snap)
st.caption(explanation)

values = cells[column].to_numpy(float)
if metric == "hidden":
    values = np.where(member >= 0, values, 0.0)
shown = np.isfinite(values) & (values > 0)
scale = RATIO if metric == "load_ratio" else heat_scale(values)

colors = territory_colors(snap.plan.territory_ids)
outline = territory_layer(
    shapes_of(plan_key, snap),
    colors=colors,
    labels=territory_labels(snap),
    name="Territory outlines",
    fill_opacity=0.0,
    show_labels=False,
)
heat = cell_heat_layer(cells.index.to_numpy(np.uint64), values, scale=scale, name=label)

map_col, side_col = st.columns([3, 2], gap="medium")
with map_col:
    render_map(
        base_map(data_bounds(snap.accounts), tiles=map_tiles()),
        [heat, outline],
        key="coverage_map",
        clickable=False,
    )
    if shown.any():
        low = 0.0
        entries = []
        for high, color in zip(scale.breaks, scale.colors, strict=True):
            top = "+" if not np.isfinite(high) else f"{high:,.3g}"
            entries.append((color, f"{low:,.3g} – {top} {unit}"))
            low = high
        st.html(legend_html(entries, title=f"{label} per cell"))
    else:
        st.success(f"No cell shows this: {label.lower()} is zero everywhere.",
                   icon=":material/check_circle:")  # fmt: skip

with side_col:
    as_of = as_of_date(snap.accounts, config)
    totals = {
        f"Untouched {stale_days}+ days": f"{int(cells['stale_accounts'].sum()):,} accounts"
        + (f" (as of {as_of:%Y-%m-%d})" if as_of is not None else ""),
        "At-risk opportunity": f"${cells['at_risk_opportunity'].sum():,.0f}",
        "Unassigned": f"{int(cells['unassigned_accounts'].sum()):,} accounts",
        "White space": f"{int(cells['white_space_accounts'].sum()):,} accounts, "
        f"${cells['white_space_opportunity'].sum():,.0f}",
        "Hidden-territory candidates": f"{len(candidates)}",
    }
    for name, text in totals.items():
        st.markdown(f"**{name}:** {text}")
    if metric == "hidden":
        st.markdown("**Candidates** (largest uncovered workload first)")
        st.dataframe(
            candidates,
            hide_index=True,
            width="stretch",
            column_config={
                "workload_hours": st.column_config.NumberColumn("workload h", format="%.0f"),
                "uncovered_hours": st.column_config.NumberColumn("uncovered h", format="%.0f"),
                "rep_equivalents": st.column_config.NumberColumn("reps' worth", format="%.2f"),
                "opportunity": st.column_config.NumberColumn("opportunity", format="$%,.0f"),
            },
        )
    elif shown.any():
        st.markdown(f"**Top cells by {label.lower()}**")
        top = cells.loc[shown].assign(value=values[shown]).nlargest(10, "value").reset_index()
        st.dataframe(
            top[["territory_id", "accounts", "value", "lat", "lon"]],
            hide_index=True,
            width="stretch",
            column_config={
                "value": st.column_config.NumberColumn(f"{label} ({unit})", format="%,.2f"),
                "lat": st.column_config.NumberColumn("centre lat", format="%.3f"),
                "lon": st.column_config.NumberColumn("centre lon", format="%.3f"),
            },
        )
