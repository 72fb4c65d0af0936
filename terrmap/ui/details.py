"""What the detail panel shows for a map click (pure functions, no Streamlit).

A click arrives as a :class:`~terrmap.layers.MapSelection` (a territory id and/or a
cell from the clicked feature, or only a point). :func:`resolve_selection` fills in
the cell and territory under the point from the plan; :func:`territory_details` and
:func:`cell_details` give the facts and the accounts to list.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from terrmap.grid import cell_resolution, latlon_to_cells, locate_cells
from terrmap.layers import MapSelection
from terrmap.locks import locked_territories
from terrmap.scenarios import PlanSnapshot

__all__ = ["Details", "cell_details", "resolve_selection", "territory_details"]

_ACCOUNT_COLUMNS = [
    "account_id",
    "name",
    "tier",
    "segment",
    "opportunity",
    "workload_hours",
    "last_activity",
    "visit_from",
    "visit_until",
    "owner",
]


@dataclass(frozen=True)
class Details:
    """Facts about the selected territory or cell.

    Attributes
    ----------
    title
        Headline ("Territory R03 — Dana Smith", "Cell 862a1072fffffff").
    facts
        Label -> value, in display order.
    accounts
        The accounts to list (largest opportunity first).
    """

    title: str
    facts: dict[str, Any]
    accounts: pd.DataFrame


def resolve_selection(selection: MapSelection | None, snap: PlanSnapshot) -> MapSelection | None:
    """Fill in the plan cell and territory under a clicked point.

    Parameters
    ----------
    selection
        The click; a click outside the study area (and not on a feature) gives ``None``.
    snap
        The plan shown on the map.

    Returns
    -------
    MapSelection or None
    """
    if selection is None:
        return None
    plan = snap.plan
    point_only = selection.cell is None and selection.territory_id is None
    if point_only and selection.lat is not None and selection.lon is not None:
        finest = int(cell_resolution(plan.cells).max()) if plan.cells.size else plan.resolution
        fine = latlon_to_cells([selection.lat], [selection.lon], finest)
        pos = int(locate_cells(plan.cells, fine)[0])
        if pos >= 0:
            selection = replace(selection, cell=int(plan.cells[pos]))
    if selection.territory_id is None and selection.cell is not None:
        idx = int(plan.territory_of_cells(np.array([selection.cell], dtype=np.uint64))[0])
        if idx >= 0:
            selection = replace(selection, territory_id=plan.territory_ids[idx])
    if selection.territory_id is None and selection.cell is None:
        return None
    if selection.territory_id is not None and selection.territory_id not in plan.territory_ids:
        return replace(selection, territory_id=None) if selection.cell is not None else None
    return selection


def _account_list(snap: PlanSnapshot, mask: np.ndarray, limit: int) -> pd.DataFrame:
    """The largest accounts under ``mask``, with their override and lock, if any."""
    accounts = snap.accounts
    cols = [c for c in _ACCOUNT_COLUMNS if c in accounts.columns]
    chosen = accounts.loc[mask, cols]
    if "opportunity" in chosen.columns:
        chosen = chosen.sort_values("opportunity", ascending=False, kind="stable")
    chosen = chosen.head(limit).reset_index(drop=True)
    plan = snap.plan
    if plan.overrides or plan.locked_accounts:
        ids = chosen["account_id"].astype(str)
        chosen["override"] = ids.map(dict(plan.overrides)).fillna("").to_numpy()
        chosen["locked"] = ids.isin(list(plan.locked_accounts)).to_numpy()
    return chosen


def territory_details(snap: PlanSnapshot, territory_id: str, *, limit: int = 15) -> Details:
    """The KPI row of one territory and its largest accounts.

    Parameters
    ----------
    snap
        The plan and its data.
    territory_id
        The territory.
    limit
        How many accounts to list.

    Returns
    -------
    Details
    """
    row = snap.table.loc[snap.table["territory_id"] == territory_id].iloc[0]
    rep = row["rep_name"] if pd.notna(row["rep_name"]) else row["rep_id"]
    util = row["utilisation"]
    facts: dict[str, Any] = {
        "Rep": "—" if pd.isna(rep) else str(rep),
        "Accounts": int(row["accounts"]),
        "Tier 1 / 2 / 3": f"{int(row['tier1'])} / {int(row['tier2'])} / {int(row['tier3'])}",
        "Workload (h/month)": round(float(row["workload_hours"]), 1),
        "Capacity (h/month)": None
        if pd.isna(row["capacity_hours"])
        else round(float(row["capacity_hours"]), 1),
        "Utilisation": None if pd.isna(util) else f"{float(util):.0%}",
        "Opportunity": f"${float(row['opportunity']):,.0f}",
        "Deviation from target": f"{float(row['deviation']):+.1%}",
        "Travel estimate (h/month)": round(float(row["travel_hours"]), 1),
        "Compactness (km)": round(float(row["compactness_km"]), 1),
        "Contiguous": "yes" if bool(row["contiguous"]) else "no",
        "Cells": int(row["cells"]),
        "Accounts by override": sum(1 for t in snap.plan.overrides.values() if t == territory_id),
        "Locked": "yes" if territory_id in locked_territories(snap.plan) else "no",
    }
    mask = (snap.assignment.astype("string") == territory_id).fillna(False).to_numpy(bool)
    title = f"Territory {territory_id}" + (f" — {facts['Rep']}" if facts["Rep"] != "—" else "")
    return Details(title=title, facts=facts, accounts=_account_list(snap, mask, limit))


def cell_details(snap: PlanSnapshot, cell: int, *, limit: int = 15) -> Details:
    """The accounts and load on one plan cell.

    Parameters
    ----------
    snap
        The plan and its data.
    cell
        A plan cell (an H3 index as an integer).
    limit
        How many accounts to list.

    Returns
    -------
    Details
    """
    import h3

    on_cell = snap.plan.account_cells(snap.accounts) == np.uint64(cell)
    acc = snap.accounts.loc[on_cell]
    idx = int(snap.plan.territory_of_cells(np.array([cell], dtype=np.uint64))[0])
    text = h3.int_to_str(int(cell))
    facts: dict[str, Any] = {
        "Territory": snap.plan.territory_ids[idx] if idx >= 0 else "—",
        "H3 cell": text,
        "Resolution": int(h3.get_resolution(text)),
        "Area (km²)": round(float(h3.cell_area(text, unit="km^2")), 2),
        "Accounts": int(on_cell.sum()),
        "Workload (h/month)": round(float(acc["workload_hours"].sum()), 1),
        "Opportunity": f"${float(acc['opportunity'].sum()):,.0f}",
        "Locked": "yes" if int(cell) in snap.plan.locked_cells else "no",
    }
    return Details(title=f"Cell {text}", facts=facts, accounts=_account_list(snap, on_cell, limit))
