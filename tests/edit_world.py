"""A small synthetic plan and its accounts, shared by the edit and store tests.

A disk of resolution-7 H3 cells around (40, -75) cut into ``k`` wedge territories,
with accounts scattered near cell centres. Small enough to build in milliseconds, big
enough (91 cells) for lassos, locks and contiguity to mean something.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd

from terrmap.grid import cells_to_latlon
from terrmap.plan import DesignReport, Plan

if TYPE_CHECKING:
    from terrmap.store import PlanStore

RES = 7
CENTRE = (40.0, -75.0)
K = 4


def wedge_plan(
    k: int = K,
    *,
    rep_ids: tuple[str | None, ...] | None = None,
    params: Mapping[str, Any] | None = None,
    report: DesignReport | None = None,
) -> Plan:
    """The disk of radius 5 around :data:`CENTRE` cut into ``k`` wedges T01..Tk."""
    centre = h3n.latlng_to_cell(*CENTRE, RES)
    cells = np.sort(np.asarray(h3n.grid_disk(centre, 5), dtype=np.uint64))
    lat, lon = cells_to_latlon(cells)
    angle = np.arctan2(lat - CENTRE[0], lon - CENTRE[1])
    labels = (((angle + np.pi) / (2 * np.pi)) * k).astype(int) % k
    tids = tuple(f"T{i + 1:02d}" for i in range(k))
    return Plan(
        cells,
        labels,
        tids,
        rep_ids if rep_ids is not None else (None,) * k,
        RES,
        params=dict(params) if params is not None else {"balance": "workload"},
        report=report,
    )


def world(n_accounts: int = 300, seed: int = 0) -> tuple[Plan, pd.DataFrame]:
    """The wedge plan and ``n_accounts`` scored-looking accounts near its cell centres."""
    rng = np.random.default_rng(seed)
    plan = wedge_plan()
    lat, lon = cells_to_latlon(plan.cells)
    pick = rng.integers(0, plan.cells.size, n_accounts)
    accounts = pd.DataFrame(
        {
            "account_id": pd.array([f"A{i:04d}" for i in range(n_accounts)], dtype="string"),
            "lat": lat[pick] + rng.normal(0, 2e-4, n_accounts),
            "lon": lon[pick] + rng.normal(0, 2e-4, n_accounts),
            "workload_hours": rng.uniform(0.5, 6.0, n_accounts),
            "opportunity": rng.uniform(1e3, 5e4, n_accounts),
            "tier": pd.array(rng.integers(1, 4, n_accounts), dtype="Int8"),
        }
    )
    return plan, accounts


WORLD = world()
"""The default world (read-only: every edit returns a new plan)."""


def account_in(plan: Plan, accounts: pd.DataFrame, tid: str, *, n: int = 1) -> list[str]:
    """The first ``n`` account ids the plan puts in territory ``tid``."""
    where = plan.assign(accounts)
    return list(accounts.loc[(where == tid).to_numpy(), "account_id"].astype(str)[:n])


def where_is(plan: Plan, accounts: pd.DataFrame, ids: list[str]) -> list[str]:
    """The territory of each of ``ids`` (in that order)."""
    mask = accounts["account_id"].isin(ids).to_numpy()
    found = plan.assign(accounts)[mask]
    order = dict(zip(accounts["account_id"][mask], found, strict=True))
    return [order[a] for a in ids]


def store_world(n_accounts: int = 240, k: int = K, seed: int = 0) -> tuple[Plan, pd.DataFrame]:
    """A plan as the engine leaves it (reps, params, report) and accounts with every dtype.

    The accounts carry strings, ``Int8``, datetimes with a ``NaT``, a missing segment and
    a bool column, so storage round trips are checked on every canonical dtype.
    """
    rng = np.random.default_rng(seed)
    tids = tuple(f"T{i + 1:02d}" for i in range(k))
    plan = wedge_plan(
        k,
        rep_ids=tuple(f"R{i}" for i in range(k)),
        params={"balance": "workload", "tolerance": 0.05, "target_shares": [1 / k] * k},
    )
    report = DesignReport(
        deviation=dict.fromkeys(tids, 0.01),
        secondary_deviation=None,
        max_deviation=0.01,
        tolerance=0.05,
        tolerance_met=True,
        split_cells=(int(plan.cells[3]),),
        moved_accounts=("A0001",),
        warnings=("made by a test",),
    )
    plan = replace(plan, report=report)
    lat, lon = cells_to_latlon(plan.cells)
    pick = rng.integers(0, plan.cells.size, n_accounts)
    accounts = pd.DataFrame(
        {
            "account_id": pd.array([f"A{i:04d}" for i in range(n_accounts)], dtype="string"),
            "name": pd.array([f"Account {i}" for i in range(n_accounts)], dtype="string"),
            "lat": lat[pick] + rng.normal(0, 2e-4, n_accounts),
            "lon": lon[pick] + rng.normal(0, 2e-4, n_accounts),
            "segment": pd.array(rng.choice(["SMB", "MM", "ENT"], n_accounts), dtype="string"),
            "tier": pd.array(rng.integers(1, 4, n_accounts), dtype="Int8"),
            "workload_hours": rng.uniform(0.5, 6.0, n_accounts),
            "opportunity": rng.uniform(1e3, 5e4, n_accounts),
            "last_activity": pd.to_datetime("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 300, n_accounts), unit="D"),
            "locked": np.zeros(n_accounts, dtype=bool),
        }
    )
    accounts.loc[5, "last_activity"] = pd.NaT
    accounts.loc[7, "segment"] = pd.NA
    return plan, accounts


def stored(db: PlanStore, world: tuple[Plan, pd.DataFrame], name: str = "north") -> int:
    """Store the world's accounts and plan (by alice); returns the plan id."""
    plan, accounts = world
    data = db.save_dataset(accounts, name="accounts")
    return db.create_plan(plan, name=name, dataset=data.id, author="alice").id
