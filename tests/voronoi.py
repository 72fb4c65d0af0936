"""A hand-made plan from the sample data, shared by the export, scenario and coverage tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from terrmap.grid import cells_to_latlon, latlon_to_cells, study_area
from terrmap.plan import Plan


def voronoi_plan(accounts: pd.DataFrame, reps: pd.DataFrame, res: int = 6) -> Plan:
    """A hand-made plan: every study-area cell goes to the nearest rep home."""
    occupied = latlon_to_cells(
        accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float), res
    )
    cells = study_area(occupied, rings=1)
    lat, lon = cells_to_latlon(cells)
    homes = reps[["home_lat", "home_lon"]].to_numpy(float)
    _, labels = cKDTree(homes).query(np.column_stack([lat, lon]))
    ids = tuple(reps["rep_id"].astype(str))
    return Plan(cells=cells, labels=labels.astype(np.int32), territory_ids=ids, rep_ids=ids,
                resolution=res)  # fmt: skip
