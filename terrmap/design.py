"""The territory engine: balanced, contiguous, compact territories on H3 cells.

Shape (location-allocation plus local search, as in the districting literature):

1. seeds: rep homes (fixed), the previous plan's territories (warm start), or
   weighted k-means++ refined by Lloyd iterations;
2. allocation: a sparse min-cost flow ships each cell's weight to one of its nearest
   seeds at a cost of its distance (plus a stability charge for leaving the baseline
   territory) so that every seed receives exactly its target; cells split by the flow
   are rounded to their largest share; seeds move to their centroids; repeat;
3. empty cells take the territory nearest along the grid;
4. contiguity repair: each territory keeps its heaviest part per island, detached
   parts go to the neighbour they share most border with;
5. boundary local search until every territory is inside its band(s), then
   compactness polishing that keeps the bands.

:func:`build_plan` is the convenience every caller uses: it grids the accounts (with
adaptive resolution), builds targets and seeds, handles locks and baselines, and calls
:func:`design_territories`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from terrmap import _allocate as alloc
from terrmap import _build
from terrmap._checks import check_feasible, design_report
from terrmap._config import METRIC_COLUMNS, Balance, DesignConfig, DesignInputError, bad_request
from terrmap._contiguity import Bands, fill_unlabelled, repair_contiguity
from terrmap._inputs import Inputs, distance_graph, metric, prepare
from terrmap._refine import cell_table
from terrmap._search import MoveBudget, balance, polish
from terrmap._transfer import plan_transfers, realise, territory_edges
from terrmap.errors import InfeasibleError
from terrmap.grid import MAX_RESOLUTION, cell_resolution, latlon_to_cells
from terrmap.plan import Plan

__all__ = [
    "METRIC_COLUMNS",
    "Balance",
    "DesignConfig",
    "DesignInputError",
    "build_plan",
    "design_territories",
]


def _prior_labels(
    plan: Plan, cells: NDArray[np.uint64], territory_ids: tuple[str, ...]
) -> NDArray[np.int64]:
    """Territory index (in ``territory_ids``) each cell had in ``plan``; -1 if none."""
    old = plan.territory_of_cells(cells)
    remap = np.array(
        [territory_ids.index(t) if t in territory_ids else -1 for t in plan.territory_ids] + [-1]
    )
    return np.asarray(remap[np.where(old >= 0, old, len(plan.territory_ids))], dtype=np.int64)


def _seeds_from_prior(
    inp: Inputs,
    prior: NDArray[np.int64],
    k: int,
    rng: np.random.Generator,
    homes: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Centroids of the prior territories; a new territory is seeded at its rep's home
    when known, else where load is far from every other seed."""
    wpos = np.where(inp.w > 0, inp.w, 0.0)
    base = alloc.centroids(inp.x, wpos + 1e-12, prior, k, np.full((k, 3), np.nan))
    if homes is not None:
        h = np.asarray(homes, dtype=float).reshape(k, 2)
        at_home = np.isnan(base[:, 0]) & np.isfinite(h).all(1)
        base[at_home] = alloc.to_xyz(h[at_home, 0], h[at_home, 1])
    missing = np.flatnonzero(np.isnan(base[:, 0]))
    occ = np.flatnonzero(wpos > 0)
    for j in missing.tolist():
        have = ~np.isnan(base[:, 0])
        if not have.any():
            base[j] = inp.x[occ[rng.integers(occ.size)]]
            continue
        d2 = alloc.sq_distances(inp.x[occ], base[have]).min(axis=1) * wpos[occ]
        p = d2 / d2.sum() if d2.sum() > 0 else None
        base[j] = inp.x[occ[rng.choice(occ.size, p=p)]]
    return base


def _start_new_territories(
    inp: Inputs, prior: NDArray[np.int64], seeds_x: NDArray[np.float64], *, grow: bool
) -> NDArray[np.int64]:
    """Baseline labels, with each territory that has no cell started at its seed.

    A new territory takes the ground nearest its seed on an island of the study area
    that can hold it (a seed beside a detached patch must not start there and stay
    empty): with ``grow``, cells up to 90% of its target (a compact start the
    realignment only has to trim), else the one nearest cell (when a cap on moved
    accounts forbids taking more up front). Locked cells and cells already given to
    another new territory are never taken.
    """
    lab = prior.copy()
    k = seeds_x.shape[0]
    present = np.bincount(lab[lab >= 0], minlength=k) > 0
    free = np.flatnonzero(inp.locked < 0)
    wpos = np.maximum(inp.w, 0.0)
    island_load = np.bincount(inp.island, weights=wpos)
    for j in np.flatnonzero(~present).tolist():
        want = float(inp.targets[j] - inp.fixed[j])
        roomy = island_load[inp.island[free]] >= want
        cand = free[roomy] if roomy.any() else free
        order = cand[np.argsort(((inp.x[cand] - seeds_x[j]) ** 2).sum(1), kind="stable")]
        n = 1
        if grow:
            n = int(np.searchsorted(np.cumsum(wpos[order]), 0.9 * want)) + 1
        take = order[: max(n, 1)]
        lab[take] = j
        free = np.setdiff1d(free, take, assume_unique=True)
    return lab


def _allocate_labels(
    inp: Inputs,
    config: DesignConfig,
    seeds: NDArray[np.float64],
    *,
    fixed_seeds: bool,
    iterations: int,
    prior: NDArray[np.int64] | None,
    stability: float,
    slack: float = 0.0,
) -> tuple[NDArray[np.int64], NDArray[np.float64], int]:
    demand = np.maximum(inp.targets - inp.fixed, 0.0) + 1e-9
    rounds_total = 0
    for _ in range(5):
        labels, seeds_out, rounds = alloc.capacitated_kmeans(
            inp.x, inp.w, seeds, demand,
            fixed_seeds=fixed_seeds, iterations=iterations, neighbours=config.neighbours,
            locked=inp.locked, prior=prior, stability=stability, slack=slack,
            move_weight=inp.acc,
        )  # fmt: skip
        rounds_total += rounds
        if prior is None or config.max_moved is None:
            break
        moved = float(inp.acc[(labels >= 0) & (prior >= 0) & (labels != prior)].sum())
        if moved <= config.max_moved:
            break
        stability = max(stability, 0.5) * 3.0
    return labels, seeds_out, rounds_total


def design_territories(
    cells: pd.DataFrame,
    targets: ArrayLike,
    config: DesignConfig | None = None,
    *,
    seeds: ArrayLike | None = None,
    homes: ArrayLike | None = None,
    locked: Mapping[int, int] | None = None,
    baseline: Plan | None = None,
    warm_start: Plan | None = None,
    fixed: pd.DataFrame | None = None,
    capacity: ArrayLike | None = None,
    territory_ids: tuple[str, ...] | None = None,
    rep_ids: tuple[str | None, ...] | None = None,
    resolution: int | None = None,
    random_state: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> Plan:
    """Partition the cells of a study area into K balanced, contiguous, compact territories.

    Parameters
    ----------
    cells
        Cell table indexed by uint64 H3 cell, every row part of the study area (empty
        ground included): columns ``workload_hours``, ``opportunity``, ``accounts``
        (those the config balances on) and the cell position ``lat``, ``lon``.
    targets
        One positive number per territory; only the proportions matter (equal
        shares, or rep capacities). With ``config.max_utilisation`` and capacity
        targets, pass capacities in hours as ``capacity`` too.
    config
        :class:`DesignConfig` (defaults when None).
    seeds
        Fixed seed positions, shape (K, 2) lat/lon: territory k grows around seed k.
    homes
        Rep home positions (K, 2) for free seeds: territory k goes to the rep whose
        home is matched to it at least total distance (targets follow the rep).
    locked
        Cell -> territory index for cells that must not move.
    baseline
        Plan to disturb as little as possible (stability charge, ``max_moved`` cap).
    warm_start
        Previous plan to start from after a parameter change (faster, stable).
    fixed
        Loads already committed per territory (K rows; metric columns), e.g. locked
        accounts placed individually.
    capacity
        Rep capacities in hours/month, for the ``max_utilisation`` check.
    territory_ids, rep_ids
        Names (default ``T01``..``TK``) and owners of the territories.
    resolution
        Base H3 resolution recorded in the plan.
    random_state
        Seed for k-means++ (same value -> same plan).
    params
        Extra parameters to record in the plan.

    Returns
    -------
    Plan
        With a :class:`DesignReport` (achieved deviation per territory, binding
        constraint when the band is not met, seconds).

    Raises
    ------
    InfeasibleError
        Before solving, when total workload exceeds capacity x max utilisation, or
        locks make the tolerance or contiguity impossible.
    """
    t0 = time.perf_counter()
    cfg = config or DesignConfig()
    inp = prepare(cells, targets, cfg, locked, fixed)
    k = inp.targets.size
    ids = territory_ids or tuple(f"T{i + 1:0{max(2, len(str(k)))}d}" for i in range(k))
    if len(ids) != k:
        raise ValueError(f"{len(ids)} territory ids for {k} targets")
    cap = None if capacity is None else np.asarray(capacity, dtype=float)
    work = float(metric(cells, "workload").sum()) if "workload_hours" in cells else 0.0
    if fixed is not None and "workload_hours" in fixed.columns:
        work += float(fixed["workload_hours"].sum())
    check_feasible(inp, cfg, cap if cfg.targets != "equal" else None, work)
    if int((inp.w > 0).sum()) < k:
        raise InfeasibleError(
            f"{k} territories need at least {k} cells with {cfg.balance} > 0; the data has "
            f"{int((inp.w > 0).sum())}; use fewer territories or a finer resolution",
            numbers={"territories": float(k), "weighted_cells": float((inp.w > 0).sum())},
        )
    rng = np.random.default_rng(random_state)
    labels, seeds_x, rounds, stability = _initial_labels(
        inp, cfg, ids, seeds, homes, baseline, warm_start, rng, random_state
    )
    fresh = baseline is None and warm_start is None
    labels, seeds_x, budget, moves = _refine_labels(
        inp, cfg, labels, seeds_x, baseline, ids, fixed_seeds=seeds is not None, fresh=fresh
    )
    report = design_report(inp, cfg, labels, ids, budget, rounds, time.perf_counter() - t0)
    record = {
        "balance": cfg.balance,
        "config": cfg.to_dict(),
        "target_shares": (inp.targets / inp.targets.sum()).tolist(),
        "random_state": random_state,
        "stability_used": stability,
        "moves": moves,
        **dict(params or {}),
    }
    return Plan(
        cells=inp.cells,
        labels=labels.astype(np.int32),
        territory_ids=ids,
        rep_ids=rep_ids if rep_ids is not None else (None,) * k,
        resolution=int(resolution if resolution is not None else _base_res(inp.cells)),
        locked_cells=frozenset(inp.cells[inp.locked >= 0].tolist()),
        params=record,
        report=report,
    )


def _base_res(cells: NDArray[np.uint64]) -> int:
    return int(cell_resolution(cells).min()) if cells.size else 0


def _initial_labels(
    inp: Inputs,
    cfg: DesignConfig,
    ids: tuple[str, ...],
    seeds: ArrayLike | None,
    homes: ArrayLike | None,
    baseline: Plan | None,
    warm_start: Plan | None,
    rng: np.random.Generator,
    random_state: int | None,
) -> tuple[NDArray[np.int64], NDArray[np.float64], int, float]:
    """Seeds and the capacitated allocation of the weighted cells."""
    k = len(ids)
    prior_plan = baseline or warm_start
    prior = _prior_labels(prior_plan, inp.cells, ids) if prior_plan is not None else None
    stability = cfg.stability if baseline is not None else (0.3 if warm_start is not None else 0.0)
    if baseline is not None and prior is not None:
        # Realignment: keep the baseline; the transfer plan moves what must move.
        if seeds is not None:
            s = np.asarray(seeds, dtype=float).reshape(k, 2)
            sx = alloc.to_xyz(s[:, 0], s[:, 1])
        else:
            sx = _seeds_from_prior(inp, prior, k, rng, homes)
        grow = cfg.max_moved is None
        return _start_new_territories(inp, prior, sx, grow=grow), sx, 0, stability
    if seeds is not None:
        s = np.asarray(seeds, dtype=float).reshape(k, 2)
        sx, fixed, iters = alloc.to_xyz(s[:, 0], s[:, 1]), True, 1
    elif prior is not None and (prior >= 0).any():
        sx = _seeds_from_prior(inp, prior, k, rng, homes)
        new_territories = np.setdiff1d(np.arange(k), prior[prior >= 0]).size > 0
        fixed, iters = False, 2 if new_territories else 1
    else:
        labels, sx, rounds = _fresh_labels(inp, cfg, homes, random_state)
        return labels, sx, rounds, stability
    # With a prior plan, each territory may land anywhere inside (most of) its band:
    # nothing moves that the band does not require.
    slack = 0.9 * cfg.tolerance if prior is not None else 0.0
    labels, sx, rounds = _allocate_labels(
        inp, cfg, sx, fixed_seeds=fixed, iterations=iters, prior=prior, stability=stability,
        slack=slack,
    )  # fmt: skip
    return labels, sx, rounds, stability


#: Weight of the distance from the rep's home when choosing among starts (vs centroid spread).
HOME_WEIGHT = 0.5


#: Allocation rounds each start gets before the most compact one is carried on.
SCREEN_ROUNDS = 3


def _fresh_labels(
    inp: Inputs, cfg: DesignConfig, homes: ArrayLike | None, random_state: int | None
) -> tuple[NDArray[np.int64], NDArray[np.float64], int]:
    """Capacitated k-means from two starts; the more compact one is iterated on.

    Starts: recursive weighted bisection (gives dense metros their share of seeds)
    and weighted k-means++ (``random_state``). Each runs :data:`SCREEN_ROUNDS`
    rounds; the one with the least weighted km to centroid runs the rest of
    ``cfg.iterations`` and is kept if that scores better still. With rep homes, reps
    are matched to the seeds by least total distance among reps of equal target, a
    third start sits on the homes, and the score adds :data:`HOME_WEIGHT` x km to
    home. Each territory may land anywhere within ``cfg.aim * cfg.tolerance`` of its
    target: the band's room buys compactness.
    """
    k = inp.targets.size
    shares = inp.targets - inp.fixed + 1e-9
    starts = [
        alloc.bisection_seeds(inp.x, inp.w, shares),
        alloc.initial_seeds(inp.x, inp.w, k, 0 if random_state is None else random_state),
    ]
    hx = None
    if homes is not None:
        h = np.asarray(homes, dtype=float).reshape(k, 2)
        hx = alloc.to_xyz(h[:, 0], h[:, 1])
        # Seeds placed on the reps' own homes: territory k starts where rep k lives.
        starts.append(hx.copy())
    slack = cfg.aim * cfg.tolerance

    def run(
        sx: NDArray[np.float64], rounds: int
    ) -> tuple[float, NDArray[np.int64], NDArray[np.float64], int]:
        labels, out, ran = _allocate_labels(
            inp, cfg, sx, fixed_seeds=False, iterations=rounds, prior=None, stability=0.0,
            slack=slack,
        )  # fmt: skip
        score = alloc.spread(inp.x, inp.w, labels, k)
        if hx is not None:
            # A rep drives from home: weigh the distance from each rep's home too.
            score += HOME_WEIGHT * alloc.spread(inp.x, inp.w, labels, k, centres=hx)
        return score, labels, out, ran

    screened = []
    for i, sx in enumerate(starts):
        if hx is not None and i < 2:
            perm = alloc.match_to_homes(sx, hx)
            reordered = np.empty_like(sx)
            reordered[perm] = sx
            sx = reordered
        screened.append(run(sx, min(SCREEN_ROUNDS, cfg.iterations)))
    best = min(screened, key=lambda r: r[0])
    rounds_total = sum(r[3] for r in screened)
    if cfg.iterations > SCREEN_ROUNDS:
        more = run(best[2], cfg.iterations - SCREEN_ROUNDS)
        rounds_total += more[3]
        best = min(best, more, key=lambda r: r[0])
    return best[1], best[2], rounds_total


def _realign(
    inp: Inputs,
    cfg: DesignConfig,
    lab: NDArray[np.int64],
    centres: NDArray[np.float64],
    is_locked: NDArray[np.bool_],
    budget: MoveBudget | None,
) -> tuple[NDArray[np.int64], int]:
    """Least-transfer rebalancing of a baseline (territory-graph flow, then border moves)."""
    k = inp.targets.size
    loads = np.bincount(lab, inp.w, minlength=k) + inp.fixed
    ea, eb = territory_edges(inp.adj, lab)
    amount = plan_transfers(loads, inp.targets, 0.95 * cfg.tolerance, ea, eb)
    use = amount > 0
    return realise(
        inp.adj, lab, inp.w, inp.x, centres, is_locked, ea[use], eb[use], amount[use], budget
    )


def _refine_labels(
    inp: Inputs,
    cfg: DesignConfig,
    labels: NDArray[np.int64],
    seeds_x: NDArray[np.float64],
    baseline: Plan | None,
    ids: tuple[str, ...],
    *,
    fixed_seeds: bool,
    fresh: bool,
) -> tuple[NDArray[np.int64], NDArray[np.float64], MoveBudget | None, int]:
    """Fill empty ground, repair contiguity, balance (to ``cfg.aim`` when fresh), polish."""
    k = inp.targets.size
    lab = fill_unlabelled(distance_graph(inp.adj, inp.x), labels, inp.x, seeds_x)
    is_locked = inp.locked >= 0
    lab[is_locked] = inp.locked[is_locked]
    lab = repair_contiguity(inp.adj, lab, inp.island, inp.w, is_locked)
    loads2 = None
    if inp.w2 is not None and inp.fixed2 is not None:
        loads2 = np.bincount(lab, inp.w2, minlength=k) + inp.fixed2
    bands = Bands(
        w=inp.w, targets=inp.targets, tol=cfg.tolerance * 0.999,
        loads=np.bincount(lab, inp.w, minlength=k) + inp.fixed,
        w2=inp.w2, targets2=inp.targets2, tol2=cfg.secondary_tolerance * 0.999, loads2=loads2,
    )  # fmt: skip
    budget = None
    if baseline is not None:
        base = _prior_labels(baseline, inp.cells, ids)
        moved = float(inp.acc[(base >= 0) & (lab != base)].sum())
        cap = float(cfg.max_moved) if cfg.max_moved is not None else np.inf
        budget = MoveBudget(base=base, accounts=inp.acc, cap=cap, moved=moved)
    centres = seeds_x if fixed_seeds else alloc.centroids(inp.x, inp.w, lab, k, seeds_x)
    moves0 = 0
    if baseline is not None:
        lab, moves0 = _realign(inp, cfg, lab, centres, is_locked, budget)
        bands.loads = np.bincount(lab, inp.w, minlength=k) + inp.fixed
        if bands.loads2 is not None and inp.w2 is not None and inp.fixed2 is not None:
            bands.loads2 = np.bincount(lab, inp.w2, minlength=k) + inp.fixed2
        centres = alloc.centroids(inp.x, inp.w, lab, k, seeds_x)
    common = {"x": inp.x, "seeds": centres, "wc": inp.w, "locked": is_locked, "budget": budget}
    lab, moves = balance(inp.adj, lab, bands, **common)  # type: ignore[arg-type]
    moves += moves0
    if fresh and cfg.aim < 1:
        bands.tol, bands.tol2 = cfg.tolerance * cfg.aim, cfg.secondary_tolerance * cfg.aim
        lab, more = balance(inp.adj, lab, bands, max_steps=50 * k, **common)  # type: ignore[arg-type]
        moves += more
    if cfg.polish:
        lab, more = polish(inp.adj, lab, bands, **common)  # type: ignore[arg-type]
        moves += more
    return lab, centres, budget, moves


def build_plan(
    accounts: pd.DataFrame,
    reps: pd.DataFrame | None = None,
    *,
    k: int | None = None,
    config: DesignConfig | None = None,
    baseline: Plan | None = None,
    locked_accounts: tuple[str, ...] | list[str] | frozenset[str] = (),
    random_state: int | None = 0,
    warm_start: Plan | None = None,
) -> Plan:
    """Design territories for scored accounts: grid, targets, seeds, locks, then the engine.

    Parameters
    ----------
    accounts
        Scored accounts (``account_id``, ``lat``, ``lon``, ``workload_hours``,
        ``opportunity``; optional ``locked``, ``owner``).
    reps
        Roster (``rep_id``, ``home_lat``, ``home_lon``, ``capacity_hours``); territory
        ids are then the rep ids. Without it, give ``k``: ids ``T01``..``TK``.
    k
        Number of territories when no reps are given.
    config
        :class:`DesignConfig` (defaults when None).
    baseline
        Current plan: minimal disruption (stability, ``config.max_moved``); its
        locked cells and accounts stay locked; moved accounts are reported.
    locked_accounts
        Account ids that keep their territory (from ``baseline``, else ``owner``);
        accounts with ``locked`` True are added.
    random_state
        Same value -> same plan.
    warm_start
        Previous plan after a parameter change (K±1, capacity, tolerance, visit
        frequency): reuses its grid and starts from its territories.

    Returns
    -------
    Plan
        Its report's deviations are measured on the accounts (overrides included).
    """
    t0 = time.perf_counter()
    cfg = config or DesignConfig()
    if not {"account_id", "lat", "lon"} <= set(accounts.columns):
        missing = sorted({"account_id", "lat", "lon"} - set(accounts.columns))
        raise bad_request(
            ", ".join(missing), "accounts lack required columns", "load them with terrmap.load"
        )
    ids, rep_ids, homes, cap = _build.territories(reps, k, cfg)
    by_capacity = cfg.targets != "equal" and cap is not None
    shares = cap if by_capacity and cap is not None else np.ones(len(ids))
    weights = _build.account_weights(accounts, cfg)
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    fine = latlon_to_cells(lat, lon, MAX_RESOLUTION)
    prior = baseline or warm_start
    lock_t, notes = _build.lock_targets(accounts, tuple(locked_accounts), ids, prior)
    primary = weights.iloc[:, 0].to_numpy(float)
    limit = cfg.tolerance * float(primary.sum()) * float(shares.min() / shares.sum())
    cells, res, split = _build.cell_set(fine, primary, limit, cfg, prior)
    free = weights.where(pd.Series(lock_t < 0, index=weights.index), 0.0)
    table, _ = cell_table(cells, fine, lat, lon, free)
    fixed = (
        weights[lock_t >= 0]
        .groupby(lock_t[lock_t >= 0])
        .sum()
        .reindex(range(len(ids)), fill_value=0.0)
    )
    locked_cells, lock_notes = _build.locked_cells(prior, ids)
    notes += lock_notes
    plan = design_territories(
        table, shares, cfg,
        seeds=homes if cfg.seeds == "homes" else None,
        homes=homes if cfg.seeds != "homes" else None,
        locked=locked_cells, baseline=baseline, warm_start=warm_start, fixed=fixed,
        capacity=cap, territory_ids=ids, rep_ids=rep_ids, resolution=res,
        random_state=random_state,
        params={"k": len(ids), "resolution": res, "n_accounts": len(accounts)},
    )  # fmt: skip
    if baseline is not None:
        plan = _build.with_baseline_overrides(plan, baseline, accounts)
    plan = _build.with_locked_accounts(plan, accounts, lock_t, fine)
    if cfg.place_accounts:
        room = None
        if baseline is not None and cfg.max_moved is not None:
            before = baseline.assign(accounts, fine_cells=fine).fillna("")
            moved = int((plan.assign(accounts, fine_cells=fine).fillna("") != before).sum())
            room = max(cfg.max_moved - moved, 0)
        plan = _build.place(plan, accounts, primary, fine, cfg, lock_t >= 0, room)
    seconds = time.perf_counter() - t0
    return _build.account_report(plan, accounts, fine, cfg, baseline, split, notes, seconds)
