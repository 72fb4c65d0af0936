"""Feasibility checks before solving, and the design report after (private)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from terrmap._config import DesignConfig
from terrmap._inputs import Inputs
from terrmap._search import MoveBudget
from terrmap.errors import InfeasibleError
from terrmap.metrics import contiguity, deviations
from terrmap.plan import DesignReport

__all__ = ["check_feasible", "design_report"]


def check_feasible(
    inp: Inputs, config: DesignConfig, capacity: NDArray[np.float64] | None, workload: float
) -> None:
    """Raise InfeasibleError, with the numbers, for requests no plan can meet."""
    if capacity is not None and config.max_utilisation is not None:
        limit = float(capacity.sum()) * config.max_utilisation
        if workload > limit + 1e-9:
            raise InfeasibleError(
                f"total workload {workload:,.0f} h/month exceeds total capacity "
                f"{capacity.sum():,.0f} h x max utilisation {config.max_utilisation:.0%} = "
                f"{limit:,.0f} h ({len(capacity)} reps); add reps or capacity, lower visit "
                "frequencies, or raise max_utilisation",
                numbers={
                    "workload_hours": workload,
                    "capacity_hours": float(capacity.sum()),
                    "max_utilisation": config.max_utilisation,
                    "limit_hours": limit,
                },
            )
    k = inp.targets.size
    locked_load = inp.fixed.copy()
    has = inp.locked >= 0
    locked_load += np.bincount(inp.locked[has], inp.w[has], minlength=k)
    upper = inp.targets * (1 + config.tolerance)
    over = np.flatnonzero(locked_load > upper + 1e-9)
    if over.size:
        j = int(over[0])
        raise InfeasibleError(
            f"locks alone put territory #{j + 1} at {locked_load[j]:,.1f} {config.balance}, above "
            f"its target {inp.targets[j]:,.1f} + {config.tolerance:.0%} = {upper[j]:,.1f} "
            f"({over.size} territor{'y' if over.size == 1 else 'ies'} affected); unlock some "
            "cells/accounts or widen the tolerance",
            numbers={
                "territory": float(j),
                "locked_load": float(locked_load[j]),
                "target": float(inp.targets[j]),
                "upper_bound": float(upper[j]),
            },
        )
    _check_lock_connectivity(inp)


def _check_lock_connectivity(inp: Inputs) -> None:
    """Locked cells of one territory must be joinable without crossing other locks."""
    if not (inp.locked >= 0).any():
        return
    coo = inp.adj.tocoo()
    for t in np.unique(inp.locked[inp.locked >= 0]).tolist():
        free = (inp.locked < 0) | (inp.locked == t)
        keep = free[coo.row] & free[coo.col]
        sub = sparse.csr_matrix(
            (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=inp.adj.shape
        )
        _, comp = connected_components(sub, directed=False)
        mine = np.flatnonzero(inp.locked == t)
        parts = pd.DataFrame({"island": inp.island[mine], "comp": comp[mine]})
        per_island = parts.groupby("island")["comp"].nunique()
        if (per_island > 1).any():
            n = int(per_island.max())
            raise InfeasibleError(
                f"locked cells of territory #{t + 1} are walled off from each other by cells "
                f"locked to other territories ({n} separate groups), so it cannot be "
                "contiguous; unlock some of the cells between them",
                numbers={"territory": float(t), "groups": float(n)},
            )


def design_report(
    inp: Inputs,
    cfg: DesignConfig,
    labels: NDArray[np.int64],
    ids: tuple[str, ...],
    budget: MoveBudget | None,
    rounds: int,
    seconds: float,
) -> DesignReport:
    k = inp.targets.size
    dev = deviations(np.bincount(labels, inp.w, minlength=k) + inp.fixed, inp.targets)
    dev2 = None
    met = bool((np.abs(dev) <= cfg.tolerance + 1e-9).all())
    if inp.w2 is not None and inp.targets2 is not None and inp.fixed2 is not None:
        dev2 = deviations(np.bincount(labels, inp.w2, minlength=k) + inp.fixed2, inp.targets2)
        met = met and bool((np.abs(dev2) <= cfg.secondary_tolerance + 1e-9).all())
    contig = contiguity(inp.cells, labels, n_territories=k, adj=inp.adj)
    warnings = []
    if not contig.all():
        bad = [ids[i] for i in np.flatnonzero(~contig)]
        warnings.append(f"territories not contiguous (locked cells keep them apart): {bad}")
    return DesignReport(
        deviation={t: float(d) for t, d in zip(ids, dev, strict=True)},
        secondary_deviation=None
        if dev2 is None
        else {t: float(d) for t, d in zip(ids, dev2, strict=True)},
        max_deviation=float(np.abs(dev).max()),
        tolerance=cfg.tolerance,
        tolerance_met=met,
        binding_constraint=None if met else _binding(inp, cfg, labels, dev, dev2, ids, budget),
        seconds=seconds,
        iterations=rounds,
        warnings=tuple(warnings),
        contiguous=bool(contig.all()),
    )


def _binding(
    inp: Inputs,
    cfg: DesignConfig,
    labels: NDArray[np.int64],
    dev: NDArray[np.float64],
    dev2: NDArray[np.float64] | None,
    ids: tuple[str, ...],
    budget: MoveBudget | None,
) -> str:
    """Say in words (with numbers) what keeps the worst territory outside its band."""
    primary_bad = bool((np.abs(dev) > cfg.tolerance + 1e-9).any())
    d = dev if primary_bad or dev2 is None else dev2
    tol = cfg.tolerance if primary_bad or dev2 is None else cfg.secondary_tolerance
    metric = cfg.balance if primary_bad or cfg.secondary is None else cfg.secondary
    j = int(np.argmax(np.abs(d)))
    head = f"{ids[j]} is {d[j]:+.1%} from its {metric} target (band ±{tol:.0%})"
    if budget is not None and (budget.blocked or budget.moved >= budget.cap - 0.5):
        return (
            f"{head}: max_moved reached ({budget.moved:,.0f} of {budget.cap:,.0f} accounts moved)"
        )
    mine = labels == j
    locked_share = float(inp.w[mine & (inp.locked == j)].sum() + inp.fixed[j]) / inp.targets[j]
    if locked_share > 1 - tol:
        return f"{head}: locks fix {locked_share:.1%} of its target"
    heaviest = float(inp.w[mine].max()) if mine.any() else 0.0
    if heaviest > 2 * tol * inp.targets[j]:
        share = f"{heaviest:,.1f} ({heaviest / inp.targets[j]:.1%} of target, wider than the band)"
        if float(inp.acc[mine][np.argmax(inp.w[mine])]) <= 1:
            return f"{head}: single accounts outweigh the band — the heaviest weighs {share}"
        return (
            f"{head}: its cells are coarse — the heaviest weighs {share}; "
            "allow account placement or a finer resolution"
        )
    isl = inp.island[mine]
    if isl.size and np.unique(inp.island).size > 1:
        island_w = float(inp.w[np.isin(inp.island, isl)].sum())
        if island_w < inp.targets[j] * (1 - tol):
            return f"{head}: geography — its island holds only {island_w:,.1f} in total"
    return (
        f"{head}: contiguity — no border move keeps every territory connected and improves balance"
    )
