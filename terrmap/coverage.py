"""Coverage metrics on H3 cells: gaps, density imbalance and hidden territories.

Everything here is computed per cell of one resolution (coarser than the design grid,
so heat maps stay readable) from the scored accounts, their territory in the plan and
the per-territory KPI table:

* **Coverage gaps** -- opportunity at risk in territories loaded beyond capacity
  (the share of the territory's opportunity its rep cannot work:
  ``1 - capacity / workload``); accounts untouched for ``stale_days`` or more;
  accounts outside every territory; and *white space*, accounts without a current
  owner on the roster.
* **Density imbalance** -- each cell carries its territory's workload / target, and
  the opportunity density in dollars per km².
* **Hidden territories** -- connected clusters of dense cells whose workload, after
  the capacity of reps based inside them, would keep a dedicated rep busy.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from terrmap.grid import adjacency, aggregate_cells, cells_to_latlon, latlon_to_cells

__all__ = [
    "CoverageConfig",
    "as_of_date",
    "cell_coverage",
    "hidden_territories",
]


@dataclass(frozen=True)
class CoverageConfig:
    """Parameters of the coverage analysis.

    Attributes
    ----------
    resolution
        H3 resolution of the heat-map cells (6 ≈ 36 km², 7 ≈ 5 km²).
    stale_days
        Accounts whose last activity is at least this many days before ``as_of`` are
        "untouched".
    as_of
        Reference date; ``None`` uses the latest activity in the data (the data's
        snapshot date), so results do not drift with the calendar.
    density_quantile
        Cells at or above this quantile of workload per cell count as dense (hidden
        territories).
    min_rep_share
        A dense cluster is a hidden-territory candidate when its workload not covered
        by reps based inside it is at least this share of a typical rep's capacity.
    link_rings
        Dense cells this many grid rings apart or closer belong to one cluster
        (accounts sit at discrete places, so a town's dense cells rarely touch).
    """

    resolution: int = 6
    stale_days: int = 90
    as_of: pd.Timestamp | None = None
    density_quantile: float = 0.75
    min_rep_share: float = 0.5
    link_rings: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.resolution <= 15:
            raise ValueError(f"resolution must be 0..15, got {self.resolution}")
        if self.stale_days < 1:
            raise ValueError(f"stale_days must be at least 1, got {self.stale_days}")
        if not 0.0 <= self.density_quantile < 1.0:
            raise ValueError(f"density_quantile must be in [0, 1), got {self.density_quantile}")
        if self.min_rep_share <= 0:
            raise ValueError(f"min_rep_share must be positive, got {self.min_rep_share}")
        if not 1 <= self.link_rings <= 5:
            raise ValueError(f"link_rings must be 1..5, got {self.link_rings}")


def as_of_date(accounts: pd.DataFrame, config: CoverageConfig) -> pd.Timestamp | None:
    """The reference date of the staleness test (``None`` without activity dates)."""
    if config.as_of is not None:
        return pd.Timestamp(config.as_of)
    if "last_activity" not in accounts.columns:
        return None
    latest = pd.to_datetime(accounts["last_activity"], errors="coerce").max()
    return None if pd.isna(latest) else pd.Timestamp(latest)


def _sum(cells: np.ndarray, index: pd.Index, values: np.ndarray) -> np.ndarray:
    series = pd.Series(values, dtype=float).groupby(cells).sum()
    return series.reindex(index, fill_value=0.0).to_numpy(float)


def cell_coverage(
    accounts: pd.DataFrame,
    territory: pd.Series,
    table: pd.DataFrame,
    *,
    rep_ids: set[str] | frozenset[str],
    config: CoverageConfig = CoverageConfig(),
) -> pd.DataFrame:
    """Per-cell coverage metrics.

    Parameters
    ----------
    accounts
        Scored accounts (``lat``, ``lon``, ``workload_hours``, ``opportunity``;
        optional ``owner`` and ``last_activity``).
    territory
        Territory id per account in the plan (aligned; NA = unassigned).
    table
        Per-territory KPIs (``territory_id``, ``workload_hours``, ``target``,
        ``capacity_hours``).
    rep_ids
        The current roster (owners not on it count as absent).
    config
        Resolution, staleness and density settings.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell`` (uint64); columns ``accounts, workload_hours, opportunity,
        lat, lon, area_km2, opportunity_density, at_risk_opportunity, stale_accounts,
        stale_opportunity, unassigned_accounts, white_space_accounts,
        white_space_opportunity, territory_id, load_ratio``: ``territory_id`` holds most
        of the cell's workload and ``load_ratio`` is its workload over its fair share
        (by target) of the total; both are missing for cells without assigned work.
    """
    base = aggregate_cells(accounts, config.resolution)
    idx = base.index
    cells = latlon_to_cells(
        accounts["lat"].to_numpy(float, na_value=np.nan),
        accounts["lon"].to_numpy(float, na_value=np.nan),
        config.resolution,
    )
    opp = np.nan_to_num(accounts["opportunity"].to_numpy(float, na_value=0.0))
    work = np.nan_to_num(accounts["workload_hours"].to_numpy(float, na_value=0.0))
    tid = territory.astype("string")
    out = base.copy()
    out["area_km2"] = np.array([h3n.cell_area(int(c), unit="km^2") for c in idx.tolist()])
    out["opportunity_density"] = out["opportunity"] / out["area_km2"]

    t = table.set_index("territory_id")
    wl = t["workload_hours"].astype(float)
    cap = t["capacity_hours"].astype(float)
    risk_share = (1.0 - cap / wl.where(wl > 0)).clip(lower=0.0).fillna(0.0)
    share = tid.map(risk_share).astype("Float64").to_numpy(float, na_value=0.0)
    out["at_risk_opportunity"] = _sum(cells, idx, opp * share)

    stale = _stale_mask(accounts, config)
    out["stale_accounts"] = _sum(cells, idx, stale.astype(float)).astype(int)
    out["stale_opportunity"] = _sum(cells, idx, opp * stale)
    unassigned = tid.isna().to_numpy()
    out["unassigned_accounts"] = _sum(cells, idx, unassigned.astype(float)).astype(int)
    owner = (
        accounts["owner"].astype("string")
        if "owner" in accounts.columns
        else pd.Series(pd.NA, index=accounts.index, dtype="string")
    )
    ownerless = (~owner.isin(list(rep_ids)).fillna(False)).to_numpy(bool) | owner.isna().to_numpy()
    out["white_space_accounts"] = _sum(cells, idx, ownerless.astype(float)).astype(int)
    out["white_space_opportunity"] = _sum(cells, idx, opp * ownerless)
    out["territory_id"], out["load_ratio"] = _dominant(cells, tid, work, t, idx)
    return out


def _stale_mask(accounts: pd.DataFrame, config: CoverageConfig) -> np.ndarray:
    as_of = as_of_date(accounts, config)
    if as_of is None:
        return np.zeros(len(accounts), dtype=bool)
    last = pd.to_datetime(accounts["last_activity"], errors="coerce")
    age = (as_of - last).dt.days
    return (age >= config.stale_days).fillna(False).to_numpy(bool)


def _dominant(
    cells: np.ndarray, tid: pd.Series, work: np.ndarray, t: pd.DataFrame, idx: pd.Index
) -> tuple[pd.Series, np.ndarray]:
    """The territory holding most of each cell's workload, and its load ratio."""
    # Targets are in the plan's balance metric; their shares give each territory's
    # fair share of the total workload.
    shares = t["target"].astype(float) / max(float(t["target"].astype(float).sum()), 1e-12)
    wanted = shares * float(t["workload_hours"].astype(float).sum())
    ratio = t["workload_hours"].astype(float) / wanted.where(wanted > 0)
    frame = pd.DataFrame({"cell": cells, "tid": tid.to_numpy(), "w": work + 1e-9})
    frame = frame[frame["tid"].notna() & (frame["cell"] != 0)]
    if frame.empty:
        return pd.Series(pd.NA, index=idx, dtype="string"), np.full(len(idx), np.nan)
    per = frame.groupby(["cell", "tid"], observed=True)["w"].sum().reset_index()
    top = per.sort_values("w", ascending=False, kind="stable").drop_duplicates("cell")
    owner = top.set_index("cell")["tid"].astype("string").reindex(idx)
    values = owner.map(ratio).astype(float)
    return owner, values.to_numpy(float)


def _links(cells: np.ndarray, rings: int) -> sparse.csr_matrix:
    """Cells within ``rings`` grid steps of each other (a sparse 0/1 matrix)."""
    if rings == 1:
        return adjacency(cells)
    position = {int(c): i for i, c in enumerate(cells.tolist())}
    rows: list[int] = []
    cols: list[int] = []
    for i, cell in enumerate(cells.tolist()):
        for other in h3n.grid_disk(int(cell), rings).tolist():
            j = position.get(int(other))
            if j is not None and j != i:
                rows.append(i)
                cols.append(j)
    data = np.ones(len(rows), dtype=np.int8)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(cells), len(cells)))


def hidden_territories(
    coverage: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    config: CoverageConfig = CoverageConfig(),
) -> tuple[pd.DataFrame, np.ndarray]:
    """Dense clusters that could justify a dedicated rep.

    Dense cells (workload at or above ``density_quantile`` of occupied cells) are
    grouped into clusters on the H3 grid (linked when at most ``link_rings`` apart).
    A cluster's *uncovered* workload is its workload minus the capacity of the reps
    whose home lies in it; a cluster is a candidate when that is at least
    ``min_rep_share`` of the median rep capacity.

    Parameters
    ----------
    coverage
        :func:`cell_coverage` output.
    reps
        The roster (``home_lat``, ``home_lon``, ``capacity_hours``).
    config
        Density and share thresholds (and the resolution of ``coverage``).

    Returns
    -------
    tuple
        A frame with one row per candidate, largest uncovered workload first
        (``cluster, cells, accounts, workload_hours, opportunity, reps_based,
        uncovered_hours, rep_equivalents, lat, lon``), and an int array giving each
        coverage cell's candidate number (``-1`` = none).
    """
    columns = [
        "cluster",
        "cells",
        "accounts",
        "workload_hours",
        "opportunity",
        "reps_based",
        "uncovered_hours",
        "rep_equivalents",
        "lat",
        "lon",
    ]
    member = np.full(len(coverage), -1, dtype=np.int64)
    occupied = coverage["workload_hours"].to_numpy(float)
    if not (occupied > 0).any():
        return pd.DataFrame(columns=columns), member
    threshold = float(np.quantile(occupied[occupied > 0], config.density_quantile))
    dense_pos = np.flatnonzero(occupied >= threshold)
    dense = coverage.index.to_numpy(np.uint64)[dense_pos]
    n_comp, comp = connected_components(_links(dense, config.link_rings), directed=False)
    capacity = reps["capacity_hours"].astype(float)
    typical = float(capacity.median()) if len(capacity) else 140.0
    home_cells = latlon_to_cells(
        reps["home_lat"].to_numpy(float, na_value=np.nan),
        reps["home_lon"].to_numpy(float, na_value=np.nan),
        config.resolution,
    )
    sub = coverage.iloc[dense_pos]
    rows = []
    for c in range(n_comp):
        sel = comp == c
        based = np.isin(home_cells, dense[sel])
        work = float(sub["workload_hours"].to_numpy(float)[sel].sum())
        uncovered = work - float(capacity.to_numpy(float)[based].sum())
        if uncovered < config.min_rep_share * typical:
            continue
        lat, lon = cells_to_latlon(dense[sel])
        w = sub["workload_hours"].to_numpy(float)[sel] + 1e-9
        rows.append(
            (
                c,
                int(sel.sum()),
                int(sub["accounts"].to_numpy()[sel].sum()),
                work,
                float(sub["opportunity"].to_numpy(float)[sel].sum()),
                int(based.sum()),
                uncovered,
                uncovered / typical,
                float(np.average(lat, weights=w)),
                float(np.average(lon, weights=w)),
            )
        )
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values("uncovered_hours", ascending=False, kind="stable")
    renumber = {old: new for new, old in enumerate(frame["cluster"].tolist())}
    for old, new in renumber.items():
        member[dense_pos[comp == old]] = new
    frame["cluster"] = frame["cluster"].map(renumber).astype(int)
    return frame.reset_index(drop=True), member
