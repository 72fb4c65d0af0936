"""The methods compared by the engine benchmark, each behind one signature.

Every method takes a :class:`BenchInput` (the accounts of one generated set and the
number of territories) and returns one integer label per account (``-1`` = not
assigned) plus a dict of notes. The harness in :mod:`bench.engine` runs each call in
a fresh subprocess with a time cap, so nothing here needs to guard its own run time.

How the peers are set up (and why) is documented in ``bench/README.md``; in short:

* ``kmeans`` — scikit-learn ``KMeans`` on the accounts, ``sample_weight`` = workload,
  ``n_init=10`` (the strongest plain k-means: it is the compactness yardstick).
* ``kmeans_constrained`` — ``k-means-constrained`` on the accounts with account
  *counts* held within ±5% of n/K (the package cannot weight sizes by workload).
* ``ward`` / ``region_kmeans`` — spopt ``WardSpatial`` / ``RegionKMeansHeuristic`` on
  the H3 study-area cells with their adjacency.
* ``gerrychain`` — GerryChain ``recursive_tree_part`` at ±5% on the same cell graph
  with population = workload.
* ``terrmap`` — :func:`terrmap.design.build_plan` with its defaults (±2%);
  ``terrmap_5`` / ``terrmap_10`` — the same asked for ±5% / ±10%.

Coordinates given to the clustering peers are 3-D points on the Earth's surface
(km): Euclidean distance there is monotone in great-circle distance, so k-means is
not distorted by a map projection on US-wide sets.
"""

from __future__ import annotations

import importlib
import pickle
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

__all__ = [
    "EARTH_RADIUS_KM",
    "METHODS",
    "SCENARIOS",
    "BenchInput",
    "CellGraph",
    "Method",
    "Outcome",
    "bridge_components",
    "build_cell_graph",
    "child_call",
    "child_main",
    "unit_xyz",
]

EARTH_RADIUS_KM = 6371.0088
BALANCE_EPSILON = 0.05  # the ±5% band given to the balancing peers


@dataclass(frozen=True)
class BenchInput:
    """One benchmark problem: accounts (scored), K, and the grid terrmap used for it."""

    accounts: pd.DataFrame
    k: int
    resolution: int  # H3 base resolution terrmap chose
    random_state: int = 0
    reps: pd.DataFrame | None = None
    cells: np.ndarray | None = None  # terrmap's cell set (adaptive): peers' and judge's ground

    @property
    def lat(self) -> np.ndarray:
        return self.accounts["lat"].to_numpy(dtype=float)

    @property
    def lon(self) -> np.ndarray:
        return self.accounts["lon"].to_numpy(dtype=float)

    @property
    def workload(self) -> np.ndarray:
        return self.accounts["workload_hours"].to_numpy(dtype=float)


@dataclass(frozen=True)
class CellGraph:
    """H3 study area of a set with its adjacency, cell weights and account mapping."""

    cells: np.ndarray  # uint64, sorted
    adjacency: sparse.csr_matrix  # H3 neighbours inside the study area
    bridged: sparse.csr_matrix  # adjacency plus the fewest links that join its components
    weight: np.ndarray  # workload per cell
    xyz: np.ndarray  # (n_cells, 3) km
    account_cell: np.ndarray  # index into ``cells`` per account


@dataclass(frozen=True)
class Method:
    """A benchmarked method: its runner and the modules to import before timing."""

    run: Callable[[BenchInput], tuple[np.ndarray, dict[str, Any]]]
    imports: tuple[str, ...]
    uses_graph: bool


def unit_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the sphere as ``(n, 3)`` Cartesian km (Euclidean ~ great-circle)."""
    la, lo = np.radians(lat), np.radians(lon)
    cos_la = np.cos(la)
    return EARTH_RADIUS_KM * np.column_stack([cos_la * np.cos(lo), cos_la * np.sin(lo), np.sin(la)])


def bridge_components(adjacency: sparse.csr_matrix, xyz: np.ndarray) -> sparse.csr_matrix:
    """Join the graph's connected components with one short link per spanning-tree edge.

    GerryChain and RegionKMeans need a connected graph; terrmap lets a territory reach
    across a gap of the study area, so the peers get the same freedom: the components
    are joined along a minimum spanning tree of their centroids, each link between the
    two cells of the pair that are closest to the other component's centroid.
    """
    n_comp, comp = csgraph.connected_components(adjacency, directed=False)
    if n_comp <= 1:
        return adjacency.tocsr()
    counts = np.bincount(comp, minlength=n_comp).astype(float)
    centroid = np.zeros((n_comp, 3))
    for axis in range(3):
        centroid[:, axis] = np.bincount(comp, weights=xyz[:, axis], minlength=n_comp) / counts
    dist = np.linalg.norm(centroid[:, None, :] - centroid[None, :, :], axis=2) + 1e-9
    tree = csgraph.minimum_spanning_tree(sparse.csr_matrix(np.triu(dist, 1))).tocoo()
    order = np.argsort(comp, kind="stable")
    starts = np.searchsorted(comp[order], np.arange(n_comp + 1))
    kd: dict[int, cKDTree] = {}

    def nearest_in(c: int, point: np.ndarray) -> int:
        members = order[starts[c] : starts[c + 1]]
        if c not in kd:
            kd[c] = cKDTree(xyz[members])
        return int(members[kd[c].query(point)[1]])

    rows, cols = [], []
    for a, b in zip(tree.row.tolist(), tree.col.tolist(), strict=True):
        ia = nearest_in(a, centroid[b])
        ib = nearest_in(b, xyz[ia])
        rows += [ia, ib]
        cols += [ib, ia]
    links = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=adjacency.shape)
    return (adjacency + links).tocsr()


def build_cell_graph(bench: BenchInput) -> CellGraph:
    """The cells a set is partitioned and judged on, their adjacency, weights, accounts.

    The ground is terrmap's own cell set for the set when known (``bench.cells``: the
    study area at its base resolution with heavy cells split into H3 children), so
    the cell-based peers and the judge work on exactly the cells terrmap does; when
    it is unknown, the study area of ``terrmap.grid.study_area`` at
    ``bench.resolution``. An account's cell is found from its finest engine cell,
    walking up (terrmap's one rule: H3 children do not nest geometrically, so the
    direct cell at a coarse resolution differs for ~6% of points).
    """
    from terrmap import grid

    fine = grid.latlon_to_cells(bench.lat, bench.lon, grid.MAX_RESOLUTION)
    if bench.cells is not None:
        cells = np.unique(np.asarray(bench.cells, dtype=np.uint64))
    else:
        occupied = np.unique(grid.cells_to_parent(fine, bench.resolution))
        cells = np.union1d(np.asarray(grid.study_area(occupied), dtype=np.uint64), occupied)
    account_cell = grid.locate_cells(cells, fine)
    if (account_cell < 0).any():
        raise RuntimeError(f"{int((account_cell < 0).sum())} accounts fall outside the cells")
    adjacency = sparse.csr_matrix(grid.adjacency(cells))
    lat, lon = grid.cells_to_latlon(cells)
    xyz = unit_xyz(lat, lon)
    return CellGraph(
        cells=cells,
        adjacency=adjacency,
        bridged=bridge_components(adjacency, xyz),
        weight=np.bincount(account_cell, weights=bench.workload, minlength=cells.size),
        xyz=xyz,
        account_cell=account_cell,
    )


def _graph_notes(graph: CellGraph, cell_labels: np.ndarray) -> dict[str, Any]:
    """Notes of a cell-based peer, with its own labelling of the study area.

    ``_cells``/``_cell_labels`` are taken off the notes by :func:`child_call`.
    """
    n_comp, _ = csgraph.connected_components(graph.adjacency, directed=False)
    return {
        "cells": int(graph.cells.size),
        "study_area_components": int(n_comp),
        "_cells": graph.cells,
        "_cell_labels": cell_labels,
    }


def run_kmeans(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """Weighted k-means on the accounts (scikit-learn)."""
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=bench.k, n_init=10, random_state=bench.random_state)
    labels = model.fit_predict(unit_xyz(bench.lat, bench.lon), sample_weight=bench.workload)
    return labels.astype(np.int64), {"n_init": 10}


def run_kmeans_constrained(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """Size-constrained k-means on the accounts: counts within ±5% of n/K."""
    from k_means_constrained import KMeansConstrained

    n = len(bench.accounts)
    size_min = int(np.floor(n / bench.k * (1 - BALANCE_EPSILON)))
    size_max = int(np.ceil(n / bench.k * (1 + BALANCE_EPSILON)))
    model = KMeansConstrained(
        n_clusters=bench.k,
        size_min=size_min,
        size_max=size_max,
        n_init=1,
        random_state=bench.random_state,
    )
    labels = model.fit_predict(unit_xyz(bench.lat, bench.lon))
    return np.asarray(labels, dtype=np.int64), {"size_min": size_min, "size_max": size_max}


def _libpysal_w(adjacency: sparse.csr_matrix) -> Any:
    from libpysal.weights import WSP

    return WSP(adjacency).to_W(silence_warnings=True)


def run_ward(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """spopt WardSpatial on the study-area cells (features: cell centre)."""
    from spopt.region import WardSpatial

    graph = build_cell_graph(bench)
    frame = pd.DataFrame(graph.xyz, columns=["x", "y", "z"])
    model = WardSpatial(frame, _libpysal_w(graph.bridged), ["x", "y", "z"], bench.k)
    model.solve()
    cell_labels = np.asarray(model.labels_, dtype=np.int64)
    return cell_labels[graph.account_cell], _graph_notes(graph, cell_labels)


def run_region_kmeans(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """spopt RegionKMeansHeuristic on the study-area cells (features: cell centre)."""
    from spopt.region import RegionKMeansHeuristic

    graph = build_cell_graph(bench)
    model = RegionKMeansHeuristic(
        graph.xyz, bench.k, _libpysal_w(graph.bridged), seed=bench.random_state
    )
    model.solve()
    cell_labels = np.asarray(model.labels_, dtype=np.int64)
    return cell_labels[graph.account_cell], _graph_notes(graph, cell_labels)


def run_gerrychain(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """GerryChain recursive_tree_part at ±5% on the cell graph, population = workload."""
    import networkx as nx
    from gerrychain import Graph
    from gerrychain.partition import recursive_tree_part

    graph = build_cell_graph(bench)
    nx_graph = nx.from_scipy_sparse_array(graph.bridged)
    nx.set_node_attributes(nx_graph, dict(enumerate(graph.weight.tolist())), "workload")
    gc_graph = Graph.from_networkx(nx_graph)
    assignment = recursive_tree_part(
        gc_graph,
        list(range(bench.k)),
        float(graph.weight.sum()) / bench.k,
        "workload",
        BALANCE_EPSILON,
        rng=bench.random_state,
    )
    cell_labels = np.full(graph.cells.size, -1, dtype=np.int64)
    nodes = np.fromiter(assignment.keys(), dtype=np.int64, count=len(assignment))
    parts = np.fromiter(assignment.values(), dtype=np.int64, count=len(assignment))
    cell_labels[nodes] = parts
    notes = {**_graph_notes(graph, cell_labels), "epsilon": BALANCE_EPSILON}
    return cell_labels[graph.account_cell], notes


def territory_codes(territory: pd.Series, ids: tuple[str, ...]) -> np.ndarray:
    """Territory ids per account -> 0..K-1 (``-1`` for NA or unknown ids)."""
    codes = pd.Categorical(territory.astype("object"), categories=list(ids)).codes
    return np.asarray(codes, dtype=np.int64)


def run_terrmap(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """terrmap's own engine with its defaults (the account labels come from ``assign``)."""
    return _terrmap_at(bench, None)


def run_terrmap_5(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """terrmap asked for ±5%: the band GerryChain and k-means-constrained are given."""
    return _terrmap_at(bench, BALANCE_EPSILON)


def run_terrmap_10(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """terrmap asked for ±10%: where the balance/compactness trade-off goes next."""
    return _terrmap_at(bench, 0.10)


def _terrmap_at(bench: BenchInput, tolerance: float | None) -> tuple[np.ndarray, dict[str, Any]]:
    from terrmap.design import DesignConfig, build_plan

    config = None if tolerance is None else DesignConfig(tolerance=tolerance)
    plan = build_plan(bench.accounts, k=bench.k, config=config, random_state=bench.random_state)
    labels = territory_codes(plan.assign(bench.accounts), tuple(plan.territory_ids))
    notes = {**terrmap_notes(plan), "_cells": plan.cells, "_cell_labels": plan.labels}
    return labels, notes


def terrmap_notes(plan: Any) -> dict[str, Any]:
    """What the plan says about itself: resolution, cells, its own timing, warnings."""
    report = plan.report
    notes: dict[str, Any] = {
        "resolution": int(plan.resolution),
        "cells": int(np.asarray(plan.cells).size),
    }
    if report is not None:
        notes.update(
            report_seconds=float(report.seconds),
            report_max_deviation=float(report.max_deviation),
            report_tolerance=float(report.tolerance),
            report_tolerance_met=bool(report.tolerance_met),
            report_binding_constraint=report.binding_constraint,
            report_split_cells=len(report.split_cells),
            report_placed_accounts=len(report.placed_accounts),
            report_iterations=int(report.iterations),
            report_warnings=[str(w) for w in report.warnings],
        )
    return notes


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [_jsonable(v) for v in value]
    return str(value)


def prepare(name: str) -> None:
    """Import everything a method needs, so that its timed run starts warm on imports."""
    for module in METHODS[name].imports:
        importlib.import_module(module)
    if METHODS[name].uses_graph:
        import h3.api.numpy_int  # noqa: F401

        from terrmap import grid  # noqa: F401


_TERRMAP_IMPORTS = ("terrmap.design", "terrmap.grid")
METHODS: dict[str, Method] = {
    "kmeans": Method(run_kmeans, ("sklearn.cluster",), uses_graph=False),
    "kmeans_constrained": Method(
        run_kmeans_constrained, ("k_means_constrained",), uses_graph=False
    ),
    "ward": Method(run_ward, ("spopt.region", "libpysal.weights"), uses_graph=True),
    "region_kmeans": Method(
        run_region_kmeans, ("spopt.region", "libpysal.weights"), uses_graph=True
    ),
    "gerrychain": Method(
        run_gerrychain, ("networkx", "gerrychain", "gerrychain.partition"), uses_graph=True
    ),
    "terrmap": Method(run_terrmap, _TERRMAP_IMPORTS, uses_graph=False),
    "terrmap_5": Method(run_terrmap_5, _TERRMAP_IMPORTS, uses_graph=False),
    "terrmap_10": Method(run_terrmap_10, _TERRMAP_IMPORTS, uses_graph=False),
}


# ------------------------------------------------------------ terrmap scenarios


def _moved_share(before: pd.Series, after: pd.Series, keep: pd.Series | None = None) -> float:
    """Share of accounts (restricted to ``keep``) whose territory changed."""
    b = before.astype("object")
    a = after.astype("object")
    mask = b.notna().to_numpy()
    if keep is not None:
        mask = mask & keep.to_numpy(dtype=bool)
    changed = (a.to_numpy()[mask] != b.to_numpy()[mask]).sum()
    return float(changed / max(int(mask.sum()), 1))


def _deviation(workload: np.ndarray, territory: pd.Series, targets: pd.Series) -> float:
    """Max |load - target| / target with ``targets`` indexed by territory id."""
    loads = pd.Series(workload, index=territory.index).groupby(territory.astype("object")).sum()
    loads = loads.reindex(targets.index, fill_value=0.0)
    return float((loads - targets).abs().div(targets).max())


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def scenario_rep_leaves(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """One rep of K leaves: warm rerun with the old plan as baseline.

    Reports the share of the *other* reps' accounts that moved (issue 3 asks ≤ 5%),
    and, for contrast, the same share for a cold rebuild without the baseline.
    """
    from terrmap.design import build_plan

    if bench.reps is None:
        raise ValueError("the rep-leaves scenario needs the set's reps")
    acc, reps, rs = bench.accounts, bench.reps, bench.random_state
    base, cold_s = _timed(lambda: build_plan(acc, reps, random_state=rs))
    before = base.assign(acc)
    loads = pd.Series(bench.workload).groupby(before.astype("object").to_numpy()).sum()
    leaving = str(loads.sort_values(kind="stable").index[len(loads) // 2])  # median-load rep
    rest = reps[reps["rep_id"] != leaving].reset_index(drop=True)
    plan, warm_s = _timed(lambda: build_plan(acc, rest, baseline=base, random_state=rs))
    after = plan.assign(acc)
    others = before.astype("object").ne(leaving) & before.notna()
    cold_plan, rebuild_s = _timed(lambda: build_plan(acc, rest, random_state=rs))
    notes = {
        "leaving_rep": leaving,
        "leaving_accounts": int((~others & before.notna()).sum()),
        "baseline_cold_s": cold_s,
        "warm_s": warm_s,
        "moved_other_share": _moved_share(before, after, others),
        "rebuild_cold_s": rebuild_s,
        "rebuild_moved_other_share": _moved_share(before, cold_plan.assign(acc), others),
        **terrmap_notes(plan),
        "_cells": plan.cells,
        "_cell_labels": plan.labels,
        "_target_shares": plan.params.get("target_shares"),
    }
    return territory_codes(after, tuple(plan.territory_ids)), notes


def _warm_run(
    change: str,
    options: dict[str, Any],
    bench: BenchInput,
    before: pd.Series,
    targets: Callable[[Any], pd.Series],
) -> dict[str, Any]:
    """Time one warm rerun ``build_plan(accounts, **options)`` and measure its effect."""
    from terrmap.design import build_plan

    plan, secs = _timed(lambda: build_plan(bench.accounts, **options))
    after, assign_s = _timed(lambda: plan.assign(bench.accounts))
    return {
        "change": change,
        "seconds": secs,
        "assign_seconds": assign_s,
        "moved_share": _moved_share(before, after),
        "max_deviation": _deviation(bench.workload, after, targets(plan)),
        "report_seconds": _jsonable(getattr(plan.report, "seconds", None)),
    }


def scenario_warm_reruns(bench: BenchInput) -> tuple[np.ndarray, dict[str, Any]]:
    """Slider-sized changes rerun warm from the previous plan: K±1, tolerance, capacity.

    Each rerun passes the previous plan as ``warm_start`` (terrmap's warm-start path)
    in the same process that built it, as the dashboard does after a slider move.
    """
    from dataclasses import replace

    from terrmap.design import DesignConfig, build_plan

    acc, k, rs = bench.accounts, bench.k, bench.random_state
    total = float(bench.workload.sum())

    def equal(plan: Any) -> pd.Series:
        ids = list(plan.territory_ids)
        return pd.Series(total / len(ids), index=ids)

    base, cold_s = _timed(lambda: build_plan(acc, k=k, random_state=rs))
    before = base.assign(acc)
    tol = float(DesignConfig().tolerance)
    runs = [
        _warm_run(
            f"K {k}->{kk}",
            {"k": kk, "warm_start": base, "random_state": rs},
            bench,
            before,
            equal,
        )
        for kk in (k + 1, k - 1)
    ]
    for new_tol in (max(0.01, tol - 0.01), tol + 0.03):
        cfg = replace(DesignConfig(), tolerance=new_tol)
        runs.append(
            _warm_run(
                f"tolerance {tol:.0%}->{new_tol:.0%}",
                {"k": k, "config": cfg, "warm_start": base, "random_state": rs},
                bench,
                before,
                equal,
            )
        )
    notes: dict[str, Any] = {"cold_s": cold_s, "tolerance": tol}
    if bench.reps is not None:
        cap_cold_s, cap_runs = _capacity_reruns(bench)
        notes["capacity_cold_s"] = cap_cold_s
        runs += cap_runs
    notes["runs"] = runs
    return territory_codes(before, tuple(base.territory_ids)), notes


def _capacity_reruns(bench: BenchInput) -> tuple[float, list[dict[str, Any]]]:
    """One rep's capacity ±10% with capacity-proportional targets, warm from the plan."""
    from dataclasses import replace

    from terrmap.design import DesignConfig, build_plan

    assert bench.reps is not None
    acc, reps, rs = bench.accounts, bench.reps, bench.random_state
    cfg = replace(DesignConfig(), targets="capacity")
    base, cold_s = _timed(lambda: build_plan(acc, reps, config=cfg, random_state=rs))
    before = base.assign(acc)
    total = float(bench.workload.sum())
    runs = []
    for factor in (1.1, 0.9):
        changed = reps.copy()
        changed.loc[changed.index[0], "capacity_hours"] *= factor
        cap = changed.set_index("rep_id")["capacity_hours"].astype(float)

        def targets(plan: Any, cap: pd.Series = cap) -> pd.Series:
            ids = [str(r) for r in plan.territory_ids]
            return total * cap.reindex(ids) / cap.reindex(ids).sum()

        runs.append(
            _warm_run(
                f"capacity of {changed['rep_id'].iloc[0]} x{factor:g}",
                {"reps": changed, "config": cfg, "warm_start": base, "random_state": rs},
                bench,
                before,
                targets,
            )
        )
    return cold_s, runs


SCENARIOS: dict[str, Callable[[BenchInput], tuple[np.ndarray, dict[str, Any]]]] = {
    "rep_leaves": scenario_rep_leaves,
    "warm_reruns": scenario_warm_reruns,
}


# ------------------------------------------------------------- process plumbing


@dataclass(frozen=True)
class Outcome:
    """One method's (or scenario's) run on one set."""

    method: str
    status: Literal["ok", "timeout", "error", "skipped"]
    seconds: float | None = None
    labels: np.ndarray | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    cells: np.ndarray | None = None  # the method's own cells (cell-based methods)
    cell_labels: np.ndarray | None = None  # its own label of each of those cells
    target_shares: np.ndarray | None = None  # per territory, when targets are not equal


def child_call(name: str, bench: BenchInput, target: str) -> Outcome:
    """Run a method or scenario here and now; errors become an ``error`` outcome."""
    run = METHODS[name].run if target == "method" else SCENARIOS[name]
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels, notes = run(bench)
    except Exception as exc:  # a peer failing is a result, not a harness bug
        tail = traceback.format_exc(limit=-3)
        return Outcome(name, "error", message=f"{type(exc).__name__}: {exc}", notes={"tb": tail})
    seconds = time.perf_counter() - start
    cells, cell_labels = notes.pop("_cells", None), notes.pop("_cell_labels", None)
    if cell_labels is not None:
        cell_labels = np.asarray(cell_labels, dtype=np.int64)
    shares = notes.pop("_target_shares", None)
    return Outcome(
        name,
        "ok",
        seconds,
        np.asarray(labels, dtype=np.int64),
        notes,
        "",
        cells,
        cell_labels,
        None if shares is None else np.asarray(shares, dtype=float),
    )


def child_main(name: str, target: str, src: str, dst: str, ready: Any) -> None:
    """Subprocess entry: import, load the data, signal ready, run, write the outcome."""
    warnings.simplefilter("ignore")
    prepare(name if target == "method" else "terrmap")
    with open(src, "rb") as fh:
        bench = pickle.load(fh)
    ready.set()
    outcome = child_call(name, bench, target)
    with open(dst + ".part", "wb") as fh:
        pickle.dump(outcome, fh, protocol=pickle.HIGHEST_PROTOCOL)
    import os

    os.replace(dst + ".part", dst)
