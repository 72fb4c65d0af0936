"""Map events of the territory editor: clicks and lasso drawings become selections.

``st_folium`` returns one payload per interaction (the last clicked feature and point,
and every shape drawn); :func:`handle_payload` turns it into what the current click
mode means -- inspect, toggle a cell, paint it, or take a whole territory -- and
handles each click and each drawing once, since a rerun replays the same payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from terrmap.edit_layers import drawn_features, feature_key
from terrmap.errors import TerrmapError
from terrmap.layers import MapSelection, selection_from_payload
from terrmap.plan import Plan
from terrmap.selection import cell_at, cells_in_geometry
from terrmap.ui.details import resolve_selection
from terrmap.ui.editing import EditSession, Mode
from terrmap.ui.state import AppState

__all__ = ["handle_payload"]


def _clicked_cell(plan: Plan, click: MapSelection) -> tuple[int | None, str | None]:
    cell = click.cell
    if cell is not None and not np.isin(np.uint64(cell), plan.cells):
        cell = None
    if cell is None and click.lat is not None and click.lon is not None:
        cell = cell_at(plan, click.lat, click.lon)
    tid = click.territory_id
    if cell is not None:
        idx = int(plan.territory_of_cells(np.array([cell], dtype=np.uint64))[0])
        tid = plan.territory_ids[idx] if idx >= 0 else tid
    return cell, tid


def handle_payload(
    state: AppState,
    session: EditSession,
    payload: Mapping[str, Any] | None,
    *,
    mode: Mode,
    target: str | None,
    paint_now: bool,
) -> bool:
    """Turn what ``st_folium`` returned into a selection, a paint stroke or details.

    Each drawing and each click is handled once (a rerun replays the same payload).
    A new drawing adds the cells inside it to the selection (in paint mode with
    ``paint_now``, paints them); a click selects, toggles or paints the cell under it,
    or selects its whole territory, by ``mode``; every click also sets the details
    selection (``state.selection``).

    Returns
    -------
    bool
        Whether the plan changed (a paint stroke was applied).
    """
    plan = session.plan
    fresh = [f for f in drawn_features(payload) if feature_key(f) not in state.seen_drawings]
    click = selection_from_payload(payload)
    if fresh:
        state.seen_drawings.update(feature_key(f) for f in fresh)
        state.last_click = click  # the click that closed the shape is not a cell click
        picked = [cells_in_geometry(plan, f["geometry"]) for f in fresh]
        cells = np.unique(np.concatenate(picked))
        if mode == "paint" and paint_now and target:
            return _paint(session, cells, target)
        session.select(cells, how="add")
        return False
    if click is None or click == state.last_click:
        return False
    state.last_click = click
    if mode == "inspect":
        resolved = resolve_selection(click, session.snapshot())
        if resolved is not None:
            state.selection = resolved
        return False
    cell, tid = _clicked_cell(plan, click)
    state.selection = MapSelection(territory_id=tid, cell=cell, lat=click.lat, lon=click.lon)
    if cell is None:
        return False
    if mode == "territory" and tid is not None:
        session.select(plan.cells_of(tid), how="replace")
    elif mode == "select":
        session.select([cell], how="toggle")
    elif mode == "paint" and paint_now and target:
        return _paint(session, [cell], target)
    elif mode == "paint":
        session.select([cell], how="add")
    return False


def _paint(session: EditSession, cells: ArrayLike, target: str) -> bool:
    try:
        return session.paint(cells, target)
    except TerrmapError as error:
        session.error, session.error_where = error, "top"
        return False
