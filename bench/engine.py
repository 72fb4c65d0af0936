"""Side-by-side benchmark of the territory engine against its peers (issue 3).

Run ``python -m bench.engine --sizes 5k,20k,50k,200k --cap 120``. For each generated
set every method runs cold in a fresh subprocess (imports done and data loaded before
the clock starts) with a time cap; its account-level labels are then scored by ONE
function, :func:`score_labels`, identical for every method. Results go to
``bench/results/engine.md`` (tables) and ``engine.json`` (everything, raw).

See ``bench/README.md`` for what is measured and how the peers are configured.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import pickle
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from bench import peers
from bench.peers import EARTH_RADIUS_KM, BenchInput, Outcome, unit_xyz

__all__ = [
    "SETS",
    "Judge",
    "Outcome",
    "SetSpec",
    "main",
    "make_judge",
    "make_set",
    "on_judge_cells",
    "run_benchmark",
    "run_isolated",
    "score_labels",
]

#: Order matters: terrmap runs first, the peers are judged on the grid it chose.
ALL_METHODS = (
    "terrmap", "terrmap_5", "terrmap_10",
    "kmeans", "kmeans_constrained", "ward", "region_kmeans", "gerrychain",
)  # fmt: skip
START_TIMEOUT_S = 180.0  # imports + unpickling the data in a fresh interpreter


@dataclass(frozen=True)
class SetSpec:
    """A generated benchmark set."""

    name: str
    n_accounts: int
    k: int
    region: str
    random_state: int = 0


SETS: dict[str, SetSpec] = {
    "5k": SetSpec("5k", 5_000, 12, "northeast"),
    "20k": SetSpec("20k", 20_000, 25, "midwest"),
    "50k": SetSpec("50k", 50_000, 60, "us"),
    "200k": SetSpec("200k", 200_000, 100, "us"),
}


def make_set(spec: SetSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scored accounts and reps of a set: the one place the benchmark data comes from.

    The generated frames go through the same path as a user's files (CSV ->
    ``terrmap.load`` -> ``terrmap.scoring.score_accounts``). The sample's ``locked``
    flags are cleared: the peers cannot honour locks, so every method solves the same
    unconstrained problem.
    """
    import io

    from terrmap.load import load_accounts, load_reps
    from terrmap.sample import make_sample
    from terrmap.scoring import score_accounts

    accounts, reps = make_sample(
        spec.n_accounts, spec.k, region=spec.region, random_state=spec.random_state
    )
    rep_csv = io.BytesIO(reps.to_csv(index=False).encode())
    acc_csv = io.BytesIO(accounts.to_csv(index=False).encode())
    rep_frame = load_reps(rep_csv, filename="reps.csv").frame
    acc_frame = load_accounts(
        acc_csv, filename="accounts.csv", rep_ids=list(rep_frame["rep_id"])
    ).frame
    acc_frame["locked"] = False
    return score_accounts(acc_frame), rep_frame


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Judge:
    """Everything the metrics need for one set, computed once for all methods."""

    lat: np.ndarray
    lon: np.ndarray
    workload: np.ndarray
    xyz: np.ndarray  # accounts on the sphere, km
    cells: np.ndarray  # the judging ground: terrmap's cell set (sorted uint64)
    adjacency: sparse.csr_matrix
    area_component: np.ndarray  # study-area component per cell
    account_cell: np.ndarray  # index into ``cells`` per account
    resolution: int


def make_judge(bench: BenchInput) -> Judge:
    """The judging ground: terrmap's cells for the set (see ``peers.build_cell_graph``)."""
    graph = peers.build_cell_graph(bench)
    _, comp = csgraph.connected_components(graph.adjacency, directed=False)
    return Judge(
        lat=bench.lat,
        lon=bench.lon,
        workload=bench.workload,
        xyz=unit_xyz(bench.lat, bench.lon),
        cells=graph.cells,
        adjacency=graph.adjacency,
        area_component=comp,
        account_cell=graph.account_cell,
        resolution=bench.resolution,
    )


def cell_majority(judge: Judge, labels: np.ndarray, k: int) -> np.ndarray:
    """Label of each study-area cell: the most common label of its accounts, ``-1`` if none.

    Ties go to the lowest label, so the result does not depend on account order.
    """
    ok = (labels >= 0) & (labels < k)
    key = judge.account_cell[ok].astype(np.int64) * k + labels[ok]
    pairs, counts = np.unique(key, return_counts=True)
    cell, lab = pairs // k, pairs % k
    order = np.lexsort((lab, -counts, cell))
    first = order[np.r_[True, cell[order][1:] != cell[order][:-1]]] if order.size else order
    out = np.full(judge.cells.size, -1, dtype=np.int64)
    out[cell[first]] = lab[first]
    return out


def on_judge_cells(judge: Judge, cells: np.ndarray, cell_labels: np.ndarray) -> np.ndarray | None:
    """A method's own labels of the judging cells, in ``judge.cells`` order.

    None when the method partitioned a different cell set (or none): its drawing of
    the empty ground is then unknown to the judge.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.size != judge.cells.size:
        return None
    order = np.argsort(cells, kind="stable")
    if not np.array_equal(cells[order], judge.cells):
        return None
    return np.asarray(cell_labels, dtype=np.int64)[order]


def fill_empty_cells(judge: Judge, cell_labels: np.ndarray) -> np.ndarray:
    """Give every unlabelled study-area cell the label of its nearest labelled cell (BFS)."""
    sources = np.flatnonzero(cell_labels >= 0)
    if sources.size == 0:
        return cell_labels.copy()
    graph = judge.adjacency.astype(np.float64)
    _, _, origin = csgraph.dijkstra(
        graph, directed=False, indices=sources, min_only=True, return_predecessors=True
    )
    filled = cell_labels.copy()
    reached = origin >= 0
    filled[reached] = cell_labels[origin[reached]]
    return filled


def territory_contiguity(
    adjacency: sparse.csr_matrix, area_component: np.ndarray, cell_labels: np.ndarray, k: int
) -> np.ndarray:
    """Per territory: at most one connected piece inside each study-area component.

    A territory made of several pieces is still contiguous if the pieces lie on
    different islands of the study area (it may reach across open water), never if
    two pieces share an island. A territory with no cell is not contiguous.
    """
    coo = adjacency.tocoo()
    same = (cell_labels[coo.row] == cell_labels[coo.col]) & (cell_labels[coo.row] >= 0)
    n = cell_labels.size
    within = sparse.csr_matrix(
        (np.ones(int(same.sum())), (coo.row[same], coo.col[same])), shape=(n, n)
    )
    _, piece = csgraph.connected_components(within, directed=False)
    lab = (cell_labels >= 0) & (cell_labels < k)
    triples = np.unique(
        np.column_stack([cell_labels[lab], area_component[lab], piece[lab]]), axis=0
    )
    pairs, counts = np.unique(triples[:, :2], axis=0, return_counts=True)
    broken = np.unique(pairs[counts > 1, 0])
    present = np.zeros(k, dtype=bool)
    present[np.unique(cell_labels[lab])] = True
    contiguous = present.copy()
    contiguous[broken] = False
    return contiguous


def own_cell_contiguity(
    judge: Judge, cells: np.ndarray, cell_labels: np.ndarray, k: int
) -> np.ndarray:
    """Contiguity of a method's own labelling of its own cells (same rule as above).

    Only cell-based methods (terrmap, spopt, GerryChain) have one; it differs from the
    account-level verdict only where an occupied cell's account majority differs from
    the method's label of the cell (or the method used other cells than the judge).
    """
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.shape == judge.cells.shape and np.array_equal(cells, judge.cells):
        adjacency, component = judge.adjacency, judge.area_component
    else:
        from terrmap.grid import adjacency as grid_adjacency

        adjacency = sparse.csr_matrix(grid_adjacency(cells))
        _, component = csgraph.connected_components(adjacency, directed=False)
    return territory_contiguity(adjacency, component, np.asarray(cell_labels, np.int64), k)


def compactness_km(judge: Judge, labels: np.ndarray, k: int) -> float:
    """Workload-weighted mean great-circle km from accounts to their territory's centroid.

    The centroid is the workload-weighted mean direction on the sphere (unweighted
    where a territory carries no workload).
    """
    ok = (labels >= 0) & (labels < k)
    lab, w, p = labels[ok], judge.workload[ok], judge.xyz[ok]
    if lab.size == 0:
        return float("nan")
    weighted = np.column_stack([np.bincount(lab, w * p[:, i], minlength=k) for i in range(3)])
    plain = np.column_stack([np.bincount(lab, p[:, i], minlength=k) for i in range(3)])
    centre = np.where(np.linalg.norm(weighted, axis=1)[:, None] > 0, weighted, plain)
    norm = np.linalg.norm(centre, axis=1)
    centre = centre / np.where(norm > 0, norm, 1.0)[:, None]
    u = p / EARTH_RADIUS_KM
    c = centre[lab]
    angle = np.arctan2(np.linalg.norm(np.cross(u, c), axis=1), np.einsum("ij,ij->i", u, c))
    km = EARTH_RADIUS_KM * angle
    return float(np.average(km, weights=w)) if w.sum() > 0 else float(km.mean())


def score_labels(
    judge: Judge,
    labels: np.ndarray,
    k: int,
    *,
    shares: np.ndarray | None = None,
    drawn: np.ndarray | None = None,
) -> dict[str, Any]:
    """All metrics of one labelling, the same for every method.

    ``labels`` holds one territory index ``0..k-1`` per account, ``-1`` = unassigned.
    Contiguity is judged on the judging cells (terrmap's cells for the set): each
    occupied cell takes the majority label of its accounts (accounts off their cell's
    majority are counted as ``split_share``); an empty cell takes the method's own
    label of it where the method drew one (``drawn``: one label per judging cell, see
    :func:`on_judge_cells`), else the label of the nearest labelled cell (multi-source
    BFS); then :func:`territory_contiguity`. Targets are equal (total / k) unless
    ``shares`` (one per territory) says otherwise.
    """
    labels = np.asarray(labels, dtype=np.int64)
    ok = (labels >= 0) & (labels < k)
    loads = np.bincount(labels[ok], judge.workload[ok], minlength=k)
    share = np.full(k, 1.0 / k) if shares is None else np.asarray(shares, float) / np.sum(shares)
    target = judge.workload.sum() * share
    ratio = loads / target
    majority = cell_majority(judge, labels, k)
    split = ok & (majority[judge.account_cell] != labels)
    if drawn is not None:
        own = (majority < 0) & (drawn >= 0) & (drawn < k)
        majority = np.where(own, drawn, majority)
    filled = fill_empty_cells(judge, majority)
    contiguous = territory_contiguity(judge.adjacency, judge.area_component, filled, k)
    out: dict[str, Any] = {
        "max_deviation": float(np.max(np.abs(ratio - 1.0))),
        "cv": float(ratio.std() / ratio.mean()) if ratio.mean() > 0 else float("nan"),
        "targets": "equal" if shares is None else "given shares",
        "contiguous_share": float(contiguous.mean()),
        "contiguous": int(contiguous.sum()),
        "territories": k,
        "empty_territories": int(np.sum(np.bincount(labels[ok], minlength=k) == 0)),
        "split_share": float(split.sum() / labels.size),
        "compactness_km": compactness_km(judge, labels, k),
        "unassigned": int((~ok).sum()),
    }
    out.update(_cross_check(judge, filled, labels, k, contiguous))
    return out


def _cross_check(
    judge: Judge, filled: np.ndarray, labels: np.ndarray, k: int, contiguous: np.ndarray
) -> dict[str, Any]:
    """terrmap.metrics' own contiguity/compactness on the same input, where they exist."""
    try:
        from terrmap import metrics
    except ImportError:
        return {}
    out: dict[str, Any] = {}
    if hasattr(metrics, "contiguity"):
        theirs = np.asarray(
            metrics.contiguity(judge.cells, filled, n_territories=k, adj=judge.adjacency),
            dtype=bool,
        )
        present = np.zeros(k, dtype=bool)
        present[np.unique(filled[filled >= 0])] = True
        out["terrmap_contiguity_agrees"] = bool(np.all(theirs[present] == contiguous[present]))
    if hasattr(metrics, "compactness_km"):
        ok = labels >= 0
        out["terrmap_compactness_km"] = float(
            metrics.compactness_km(judge.lat[ok], judge.lon[ok], judge.workload[ok], labels[ok])
        )
    return out


# ----------------------------------------------------------------------- isolation


def run_isolated(
    name: str, bench: BenchInput, *, cap: float, isolate: bool = True, target: str = "method"
) -> Outcome:
    """Run ``peers.METHODS[name]`` (or a scenario) cold in a fresh process, capped at ``cap`` s.

    With ``isolate=False`` the call runs in this process (for tests); the cap is then
    not enforced.
    """
    if not isolate:
        return peers.child_call(name, bench, target)
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="terrmap-bench-") as tmp:
        src, dst = Path(tmp, "input.pkl"), Path(tmp, "output.pkl")
        with src.open("wb") as fh:
            pickle.dump(bench, fh, protocol=pickle.HIGHEST_PROTOCOL)
        ready = ctx.Event()
        proc = ctx.Process(
            target=peers.child_main, args=(name, target, str(src), str(dst), ready), daemon=True
        )
        proc.start()
        if not _wait_ready(proc, ready):
            _stop(proc)
            return Outcome(name, "error", message=f"did not start (exit code {proc.exitcode})")
        proc.join(cap)
        if proc.is_alive():
            _stop(proc)
            return Outcome(name, "timeout", message=f"did not finish in {cap:.0f} s")
        if not dst.exists():
            return Outcome(name, "error", message=f"process died (exit code {proc.exitcode})")
        with dst.open("rb") as fh:
            result: Outcome = pickle.load(fh)
        return result


def _wait_ready(proc: Any, ready: Any) -> bool:
    """Wait until the child has imported and loaded its data (False if it died first)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready.wait(0.5):
            return True
        if not proc.is_alive():
            return False
    return False


def _stop(proc: Any) -> None:
    proc.kill()
    proc.join(10)


# ---------------------------------------------------------------------- the run

LABELS = {
    "terrmap": "terrmap",
    "terrmap_5": "terrmap asked for ±5%",
    "terrmap_10": "terrmap asked for ±10%",
    "kmeans": "sklearn KMeans (weighted)",
    "kmeans_constrained": "k-means-constrained (counts ±5%)",
    "ward": "spopt WardSpatial",
    "region_kmeans": "spopt RegionKMeansHeuristic",
    "gerrychain": "GerryChain recursive_tree_part ±5%",
}
#: Which sets get the terrmap-only scenarios (issue 3).
SCENARIO_SETS = {"rep_leaves": ("50k",), "warm_reruns": ("20k", "50k")}
#: Issue 3's targets for terrmap: cold seconds per set, warm seconds per set.
COLD_TARGET_S = {"5k": 1.0, "20k": 3.0, "50k": 15.0, "200k": 60.0}
WARM_TARGET_S = {"20k": 0.5, "50k": 1.0}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _fallback_resolution(accounts: pd.DataFrame) -> int:
    """terrmap's automatic base resolution, for when its own run gives none."""
    from terrmap import grid

    lat, lon = accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float)
    return int(grid.resolution_for_cells(grid.latlon_to_cells(lat, lon, grid.MAX_RESOLUTION)))


def _row(outcome: Outcome, judge: Judge | None, k: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "method": outcome.method,
        "label": LABELS.get(outcome.method, outcome.method),
        "status": outcome.status,
        "seconds": outcome.seconds,
        "message": outcome.message,
        "notes": {key: v for key, v in outcome.notes.items() if key != "runs"},
    }
    if outcome.status == "ok" and outcome.labels is not None and judge is not None:
        drawn = None
        if outcome.cells is not None and outcome.cell_labels is not None:
            drawn = on_judge_cells(judge, outcome.cells, outcome.cell_labels)
        row["metrics"] = score_labels(
            judge, outcome.labels, k, shares=outcome.target_shares, drawn=drawn
        )
        if outcome.cells is not None and outcome.cell_labels is not None:
            own = own_cell_contiguity(judge, outcome.cells, outcome.cell_labels, k)
            row["metrics"]["own_cells_contiguous"] = int(own.sum())
    return row


def _run_methods(
    spec: SetSpec, bench: BenchInput, *, cap: float, methods: Sequence[str],
    skip: dict[str, str], isolate: bool,
) -> tuple[list[Outcome], BenchInput]:  # fmt: skip
    """Run the methods in order; the peers get the resolution terrmap chose."""
    outcomes: list[Outcome] = []
    for name in methods:
        if name in skip:
            outcomes.append(Outcome(name, "skipped", message=skip[name]))
            continue
        if name != "terrmap" and bench.resolution < 0:  # terrmap not run or failed
            bench = replace(bench, resolution=_fallback_resolution(bench.accounts))
        outcome = run_isolated(name, bench, cap=cap, isolate=isolate)
        took = "" if outcome.seconds is None else f" {outcome.seconds:.2f} s"
        _log(f"{spec.name}: {name}: {outcome.status}{took} {outcome.message}")
        if outcome.status == "ok" and name == "terrmap":
            bench = replace(bench, resolution=int(outcome.notes["resolution"]), cells=outcome.cells)
        outcomes.append(outcome)
    if bench.resolution < 0:
        bench = replace(bench, resolution=_fallback_resolution(bench.accounts))
    return outcomes, bench


def run_set(
    spec: SetSpec,
    *,
    cap: float,
    methods: Sequence[str],
    skip: dict[str, str],
    scenarios: Sequence[str],
    isolate: bool,
) -> dict[str, Any]:
    """Generate one set, run every method on it, score them, run its scenarios."""
    start = time.perf_counter()
    accounts, reps = make_set(spec)
    data_s = time.perf_counter() - start
    _log(f"{spec.name}: {len(accounts):,} accounts, {len(reps)} reps generated in {data_s:.1f} s")
    bench = BenchInput(accounts, spec.k, -1, spec.random_state, reps)
    outcomes, bench = _run_methods(
        spec, bench, cap=cap, methods=methods, skip=skip, isolate=isolate
    )
    judge = make_judge(bench)
    rows = [_row(o, _judge_for(o, judge, bench), spec.k) for o in outcomes]
    _add_ratios(rows)
    out: dict[str, Any] = {
        "set": spec.name,
        "accounts": len(accounts),
        "k": spec.k,
        "region": spec.region,
        "random_state": spec.random_state,
        "resolution": bench.resolution,
        "study_area_cells": int(judge.cells.size),
        "study_area_components": int(judge.area_component.max() + 1),
        "occupied_cells": int(np.unique(judge.account_cell).size),
        "total_workload_hours": float(judge.workload.sum()),
        "data_seconds": data_s,
        "methods": rows,
        "scenarios": {},
    }
    for name in scenarios:
        outcome = run_isolated(name, bench, cap=3 * cap, isolate=isolate, target="scenario")
        _log(f"{spec.name}: scenario {name}: {outcome.status} {outcome.message}")
        # A scenario's plan may stand on other cells (rep capacities change the split):
        # it is judged on its own.
        k = spec.k - 1 if name == "rep_leaves" else spec.k
        row = _row(outcome, _judge_for(outcome, judge, bench), k)
        row["runs"] = outcome.notes.get("runs", [])
        out["scenarios"][name] = row
    return out


def _judge_for(outcome: Outcome, judge: Judge, bench: BenchInput) -> Judge:
    """The set's judge, or one on the outcome's own cells where it drew others.

    A terrmap plan asked for another band, or with other targets, may split other
    heavy cells; it is judged on the ground it partitioned, like terrmap's default run.
    """
    if outcome.cells is None or np.array_equal(np.sort(outcome.cells), judge.cells):
        return judge
    return make_judge(replace(bench, cells=outcome.cells))


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    """Compactness as a ratio to KMeans, time as a ratio to terrmap (same set)."""
    by = {r["method"]: r for r in rows}
    km = by.get("kmeans", {}).get("metrics", {}).get("compactness_km")
    tm = (
        by.get("terrmap", {}).get("seconds")
        if by.get("terrmap", {}).get("status") == "ok"
        else None
    )
    for r in rows:
        if km and "metrics" in r:
            r["compactness_vs_kmeans"] = r["metrics"]["compactness_km"] / km
        if tm and r["status"] == "ok" and r["seconds"] is not None:
            r["time_vs_terrmap"] = r["seconds"] / tm


def parse_sets(text: str) -> list[SetSpec]:
    """``5k,20k`` (named sets) or ``N:K:region`` for an ad-hoc set, smallest first."""
    specs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part in SETS:
            specs.append(SETS[part])
        elif part.count(":") == 2:
            n, k, region = part.split(":")
            specs.append(SetSpec(part, int(n), int(k), region))
        else:
            raise SystemExit(f"unknown set {part!r}: use {', '.join(SETS)} or N:K:region")
    return sorted(specs, key=lambda s: s.n_accounts)


def run_benchmark(
    specs: Sequence[SetSpec],
    *,
    cap: float = 120.0,
    methods: Sequence[str] = ALL_METHODS,
    scenarios: dict[str, Sequence[str]] | None = None,
    skip_after_timeout: bool = True,
    isolate: bool = True,
) -> dict[str, Any]:
    """Run the whole benchmark; returns the JSON-ready result."""
    plan_of: dict[str, Sequence[str]] = dict(SCENARIO_SETS if scenarios is None else scenarios)
    started = time.perf_counter()
    meta = _meta(cap)
    skip: dict[str, str] = {}
    sets = []
    for spec in specs:
        todo = [s for s, names in plan_of.items() if spec.name in names]
        result = run_set(
            spec, cap=cap, methods=methods, skip=dict(skip), scenarios=todo, isolate=isolate
        )
        sets.append(result)
        for row in result["methods"]:
            if skip_after_timeout and row["status"] == "timeout" and row["method"] not in skip:
                skip[row["method"]] = f"skipped: did not finish on {spec.name} in {cap:.0f} s"
    meta["total_seconds"] = time.perf_counter() - started
    meta["load_average_end"] = _loadavg()
    return {"meta": meta, "sets": sets}


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _meta(cap: float) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for dist in (
        "terrmap",
        "scikit-learn",
        "k-means-constrained",
        "spopt",
        "gerrychain",
        "networkx",
        "h3",
        "numpy",
        "scipy",
        "ortools",
        "pandas",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(
            ["python -m bench.engine", *sys.argv[1:]]
            if sys.argv[0].endswith(os.path.join("bench", "engine.py"))
            else sys.argv
        ),
        "cap_seconds": cap,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_start": _loadavg(),
        "versions": versions,
    }


# ----------------------------------------------------------------------- report


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "–" if x is None or not np.isfinite(x) else format(x, fmt)


def _method_line(r: dict[str, Any]) -> str:
    if "metrics" not in r:
        text = r["message"] or r["status"]
        return f"| {r['label']} | {text} | | | | | | | | |"
    m = r["metrics"]
    contiguous = f"{m['contiguous']}/{m['territories']} ({_pct(m['contiguous_share'], 0)})"
    own = m.get("own_cells_contiguous")
    own_text = "–" if own is None else f"{own}/{m['territories']}"
    return (
        f"| {r['label']} | {_pct(m['max_deviation'])} | {_pct(m['cv'])} | {contiguous} "
        f"| {own_text} "
        f"| {_pct(m['split_share'], 2)} | {_num(m['compactness_km'], '.1f')} "
        f"| {_num(r.get('compactness_vs_kmeans'))} | {_num(r['seconds'])} "
        f"| {_num(r.get('time_vs_terrmap'), '.1f')} |"
    )


def _set_table(s: dict[str, Any]) -> list[str]:
    lines = [
        f"### {s['accounts']:,} accounts / {s['k']} territories ({s['region']})",
        "",
        f"terrmap's base H3 resolution {s['resolution']}; judged on its {s['study_area_cells']:,} "
        f"cells ({s['occupied_cells']:,} with accounts, {s['study_area_components']} "
        "component(s)).",
        "",
        "| method | max workload dev | CV | contiguous | own cells contiguous | split cells "
        "| km to centroid | × k-means km | time s (cold) | × terrmap time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_method_line(r) for r in s["methods"]]
    return [*lines, ""]


def _targets_table(sets: list[dict[str, Any]]) -> list[str]:
    lines = [
        "### terrmap against the issue-3 targets",
        "",
        "| set | max dev ≤ 2% | 100% contiguous | km ≤ 1.15× k-means | cold time ≤ target |",
        "|---|---|---|---|---|",
    ]
    for s in sets:
        r = next((r for r in s["methods"] if r["method"] == "terrmap"), None)
        if r is None or "metrics" not in r:
            lines.append(f"| {s['set']} | {r['message'] if r else 'not run'} | | | |")
            continue
        m, tgt = r["metrics"], COLD_TARGET_S.get(s["set"])
        ratio = r.get("compactness_vs_kmeans")
        cells = [
            _verdict(m["max_deviation"] <= 0.02, _pct(m["max_deviation"])),
            _verdict(
                m["contiguous_share"] == 1.0,
                f"{_pct(m['contiguous_share'], 0)}; own cells "
                f"{m.get('own_cells_contiguous', '–')}/{m['territories']}",
            ),
            _verdict(ratio is not None and ratio <= 1.15, _num(ratio)),
            _verdict(tgt is None or r["seconds"] <= tgt, f"{r['seconds']:.2f} s / {tgt or '–'} s"),
        ]
        lines.append(f"| {s['set']} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _tradeoff_table(sets: list[dict[str, Any]]) -> list[str]:
    """Compactness (× k-means) against the balance band, per set: the frontier."""
    bands = [("terrmap", "±2%"), ("terrmap_5", "±5%"), ("terrmap_10", "±10%")]
    bands += [("gerrychain", "GerryChain ±5%")]
    rows = [{r["method"]: r for r in s["methods"]} for s in sets]
    shown = [(m, h) for m, h in bands if any("metrics" in r.get(m, {}) for r in rows)]
    if len(shown) < 2:
        return []
    lines = [
        "### Balance against compactness (× k-means km, achieved max deviation)",
        "",
        "| set | " + " | ".join(f"terrmap asked {h}" if m != "gerrychain" else h
                                for m, h in shown) + " |",
        "|---|" + "---:|" * len(shown),
    ]  # fmt: skip
    for s, by in zip(sets, rows, strict=True):
        cells = [
            f"{_num(r.get('compactness_vs_kmeans'))} ({_pct(r['metrics']['max_deviation'])})"
            if "metrics" in (r := by.get(m, {})) else "–"
            for m, _ in shown
        ]  # fmt: skip
        lines.append(f"| {s['set']} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _verdict(ok: bool, text: str) -> str:
    return f"{'yes' if ok else '**no**'} ({text})"


def _scenario_lines(sets: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for s in sets:
        leave = s["scenarios"].get("rep_leaves")
        if leave is not None:
            lines += ["### Rep leaves (terrmap, warm rerun with the old plan as baseline)", ""]
            if leave["status"] != "ok":
                lines += [f"{s['set']}: {leave['message']}", ""]
            else:
                n, m = leave["notes"], leave.get("metrics", {})
                lines += [
                    "| set | leaving rep (accounts) | others' accounts moved | warm s "
                    "| cold rebuild: others moved | max dev after | contiguous after "
                    "| own cells contiguous |",
                    "|---|---|---:|---:|---:|---:|---:|---:|",
                    f"| {s['set']} | {n['leaving_rep']} ({n['leaving_accounts']:,}) "
                    f"| {_pct(n['moved_other_share'], 2)} | {n['warm_s']:.2f} "
                    f"| {_pct(n['rebuild_moved_other_share'], 1)} | {_pct(m.get('max_deviation'))} "
                    f"| {m.get('contiguous', '–')}/{m.get('territories', '–')} "
                    f"| {m.get('own_cells_contiguous', '–')}/{m.get('territories', '–')} |",
                    "",
                    "Deviation after is measured against the plan's own targets (with reps, "
                    "terrmap's default targets follow rep capacity).",
                    "",
                ]
    warm = [(s, s["scenarios"]["warm_reruns"]) for s in sets if "warm_reruns" in s["scenarios"]]
    if warm:
        lines += [
            "### Warm reruns after a slider-sized change (terrmap, previous plan as warm start)",
            "",
            "| set | change | rerun s | target s | accounts moved | max dev after |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for s, w in warm:
            if w["status"] != "ok":
                lines.append(f"| {s['set']} | {w['message']} | | | | |")
                continue
            tgt = WARM_TARGET_S.get(s["set"])
            for run in w["runs"]:
                lines.append(
                    f"| {s['set']} | {run['change']} | {run['seconds']:.2f} | {tgt or '–'} "
                    f"| {_pct(run['moved_share'], 1)} | {_pct(run['max_deviation'])} |"
                )
        lines.append("")
    return lines


def to_markdown(result: dict[str, Any]) -> str:
    """The engine section of BENCHMARKS.md."""
    meta = result["meta"]
    lines = [
        "## Territory engine vs peers (issue 3)",
        "",
        f"Run {meta['date_utc']} with `{meta['command']}`: {meta['cpus']} CPUs "
        f"(load average {meta['load_average_start']} at start), cap {meta['cap_seconds']:.0f} s "
        f"per method and set, total {meta['total_seconds'] / 60:.1f} min. "
        "Every method runs cold in a fresh process; metrics come from one function on "
        "account-level labels (see `bench/README.md`).",
        "",
    ]
    for s in result["sets"]:
        lines += _set_table(s)
    lines += _targets_table(result["sets"])
    lines += _tradeoff_table(result["sets"])
    lines += _scenario_lines(result["sets"])
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    return "\n".join([*lines, f"Versions: {versions}.", ""])


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_results(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``engine.json`` and ``engine.md`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / "engine.json", out_dir / "engine.md"
    js.write_text(json.dumps(result, indent=1, default=_json_default) + "\n", encoding="utf-8")
    md.write_text(to_markdown(result), encoding="utf-8")
    return js, md


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.engine --sizes 5k,20k,50k,200k --cap 120``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes", default="5k,20k,50k,200k", help="sets: 5k,20k,50k,200k or N:K:region"
    )
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per method and set")
    parser.add_argument("--methods", default=",".join(ALL_METHODS), help="comma-separated")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--no-scenarios", action="store_true", help="skip rep-leaves / warm reruns")
    parser.add_argument(
        "--no-skip", action="store_true", help="run a method on larger sets even after a timeout"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="no subprocess, no cap (debugging)"
    )
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(peers.METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {sorted(peers.METHODS)}")
    methods = [m for m in ALL_METHODS if m in methods]
    result = run_benchmark(
        parse_sets(args.sizes),
        cap=args.cap,
        methods=methods,
        scenarios={} if args.no_scenarios else None,
        skip_after_timeout=not args.no_skip,
        isolate=not args.in_process,
    )
    js, md = write_results(result, args.out)
    print(md.read_text(encoding="utf-8"))
    _log(f"wrote {md} and {js} in {result['meta']['total_seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    warnings.simplefilter("default")
    raise SystemExit(main())
