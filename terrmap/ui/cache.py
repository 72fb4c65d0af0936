"""Cached wrappers around the pure core, keyed by explicit versions.

Frames are never hashed: they are passed as ``_``-prefixed arguments and the cache
key is the dataset version plus the (frozen, hashable) settings. Results are kept with
``st.cache_resource`` -- one shared object, no pickling copy per call (plans hold
read-only mappings that do not pickle) -- and every caller treats them as read-only.
Slider-driven caches are bounded with ``max_entries``.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from shapely.geometry.base import BaseGeometry

from terrmap.coverage import CoverageConfig, cell_coverage, hidden_territories
from terrmap.design import DesignConfig, build_plan
from terrmap.exports import territories_frame
from terrmap.layers import territory_outlines
from terrmap.load import load_accounts, load_reps, read_table
from terrmap.scenarios import PlanSnapshot, Scenario, run_scenario, snapshot
from terrmap.scoring import ScoringConfig, score_accounts
from terrmap.ui.state import Dataset, stable_key

__all__ = [
    "SAMPLE_DIR",
    "baseline_snapshot",
    "coverage_cells",
    "prefetch_scenarios",
    "sample_dataset",
    "scenario_snapshot",
    "scored_accounts",
    "shapes_of",
    "team_sizes",
    "territories_of",
    "upload_columns",
]

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "samples"


@st.cache_resource(show_spinner="Loading the bundled sample…")
def sample_dataset() -> Dataset:
    """The bundled sample (``data/samples/accounts.csv`` and ``reps.csv``), loaded once."""
    reps = load_reps(SAMPLE_DIR / "reps.csv")
    accounts = load_accounts(
        SAMPLE_DIR / "accounts.csv", rep_ids=list(reps.frame["rep_id"].astype(str))
    )
    digest = stable_key(
        (SAMPLE_DIR / "accounts.csv").stat().st_mtime_ns,
        (SAMPLE_DIR / "reps.csv").stat().st_mtime_ns,
        len(accounts.frame),
    )
    return Dataset(
        accounts_source="Bundled sample",
        reps_source="Bundled sample",
        version=f"sample-{digest}",
        accounts=accounts.frame,
        reps=reps.frame,
        notes=tuple(accounts.notes) + tuple(reps.notes),
    )


@st.cache_resource(max_entries=16, show_spinner=False)
def scored_accounts(version: str, scoring: ScoringConfig, _accounts: pd.DataFrame) -> pd.DataFrame:
    """Accounts scored with ``scoring`` (``version`` identifies ``_accounts``)."""
    return score_accounts(_accounts, scoring)


@st.cache_resource(max_entries=16, show_spinner="Designing territories…")
def baseline_snapshot(
    version: str, scoring: ScoringConfig, design: DesignConfig, _dataset: Dataset
) -> PlanSnapshot:
    """The plan of the current data and settings, with its KPIs (or the pinned plan)."""
    if _dataset.pinned is not None:
        return _dataset.pinned
    accounts = scored_accounts(version, scoring, _dataset.accounts)
    plan = build_plan(accounts, _dataset.reps, config=design, random_state=0)
    return snapshot(plan, accounts, _dataset.reps, scoring=scoring)


@st.cache_resource(max_entries=48, show_spinner=False)
def scenario_snapshot(
    baseline_key: str,
    scenario: Scenario,
    _dataset: Dataset,
    _baseline: PlanSnapshot,
    _design: DesignConfig,
) -> PlanSnapshot:
    """The scenario's plan, warm-started from the baseline (keyed by the baseline key).

    Taken from the prefetcher when it has (or is computing) this scenario.
    """
    ahead = _PREFETCH.get(stable_key(baseline_key, scenario))
    # Neighbours of the previous scenario not started yet: what the user asked for
    # goes first (the page queues this one's neighbours once it is shown).
    _PREFETCH.cancel_pending()
    if ahead is not None and not ahead.cancelled():
        try:
            return ahead.result()[0]
        except CancelledError:  # cancelled by another session meanwhile
            pass
    return run_scenario(_dataset.accounts, _baseline, scenario, design=_design)


def _scenario_view(
    dataset: Dataset, baseline: PlanSnapshot, scenario: Scenario, design: DesignConfig
) -> tuple[PlanSnapshot, dict[str, BaseGeometry]]:
    snap = run_scenario(dataset.accounts, baseline, scenario, design=design)
    return snap, _outlines(snap)


def _outlines(snap: PlanSnapshot) -> dict[str, BaseGeometry]:
    plan = snap.plan
    return territory_outlines(plan.cells, plan.labels, plan.territory_ids)


class _Prefetcher:
    """Scenarios computed ahead, in one background thread, while the user looks.

    After a scenario is shown, the page asks for its neighbours (one rep more or
    less): a one-step slider move then finds its plan and outlines ready, or in
    progress. Jobs only call the pure core on read-only inputs; the newest
    ``max_entries`` are kept.
    """

    def __init__(self, max_entries: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="terrmap-prefetch")
        self._jobs: OrderedDict[str, Future[tuple[PlanSnapshot, dict[str, BaseGeometry]]]]
        self._jobs = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: str) -> Future[tuple[PlanSnapshot, dict[str, BaseGeometry]]] | None:
        with self._lock:
            return self._jobs.get(key)

    def cancel_pending(self) -> None:
        """Drop the jobs that have not started."""
        with self._lock:
            for key in [k for k, job in self._jobs.items() if job.cancel()]:
                del self._jobs[key]

    def submit(
        self,
        key: str,
        dataset: Dataset,
        baseline: PlanSnapshot,
        scenario: Scenario,
        design: DesignConfig,
    ) -> None:
        with self._lock:
            if key in self._jobs:
                self._jobs.move_to_end(key)
                return
            self._jobs[key] = self._pool.submit(_scenario_view, dataset, baseline, scenario, design)
            while len(self._jobs) > self._max:
                _, old = self._jobs.popitem(last=False)
                old.cancel()


_PREFETCH = _Prefetcher()


def prefetch_scenarios(
    baseline_key: str,
    scenarios: list[Scenario],
    dataset: Dataset,
    baseline: PlanSnapshot,
    design: DesignConfig,
) -> None:
    """Start computing ``scenarios`` (and their outlines) in the background."""
    for scenario in scenarios:
        if not scenario.is_baseline:
            key = stable_key(baseline_key, scenario)
            _PREFETCH.submit(key, dataset, baseline, scenario, design)


@st.cache_resource(max_entries=64, show_spinner=False)
def shapes_of(snapshot_key: str, _snap: PlanSnapshot) -> dict[str, BaseGeometry]:
    """Territory outlines of a plan for the map (fast; see ``territory_outlines``)."""
    ahead = _PREFETCH.get(snapshot_key)
    if ahead is not None and ahead.done() and ahead.exception() is None:
        return ahead.result()[1]
    return _outlines(_snap)


@st.cache_resource(max_entries=4, show_spinner="Dissolving territories…")
def territories_of(snapshot_key: str, _snap: PlanSnapshot) -> gpd.GeoDataFrame:
    """Exact territory polygons with their KPIs, for exports (slow on adaptive plans)."""
    return territories_frame(_snap.plan, _snap.table)


@st.cache_resource(max_entries=8, show_spinner="Computing coverage…")
def coverage_cells(
    snapshot_key: str, config: CoverageConfig, _snap: PlanSnapshot
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Per-cell coverage metrics and the hidden-territory candidates of a plan."""
    cells = cell_coverage(
        _snap.accounts,
        _snap.assignment,
        _snap.table,
        rep_ids=frozenset(_snap.reps["rep_id"].astype(str)),
        config=config,
    )
    candidates, member = hidden_territories(cells, _snap.reps, config=config)
    return cells, candidates, member


@st.cache_resource(max_entries=4, show_spinner="Reading the file…")
def upload_columns(digest: str, filename: str, kind: str, _data: bytes) -> tuple[str, ...]:
    """The column headers of an uploaded file (``digest`` identifies ``_data``)."""
    raw = read_table(
        io.BytesIO(_data), filename=filename, kind="accounts" if kind == "accounts" else "reps"
    )
    return tuple(str(c) for c in raw.frame.columns)


def team_sizes(current: int, *, below: int = 3, above: int = 4) -> tuple[int, ...]:
    """Team sizes around the current one for the headcount curve."""
    return tuple(range(max(1, current - below), current + above + 1))
