"""Stop sequencing with OR-Tools: prize-collecting routes with time windows.

The model behind :func:`terrmap.routing.plan_day` and :func:`~terrmap.routing.plan_week`:
node 0 is home (every vehicle, i.e. every day, starts and ends there), nodes ``1..n`` are
optional stops. Arc cost is integer drive seconds; a ``Time`` dimension adds service
time at the origin of each arc, allows waiting (slack) and bounds every visit's start by
its window and every day by its horizon. Each stop sits in its own disjunction with a
penalty of ``round(10 * priority) * (total horizon seconds + 1)``, so a tenth of a
priority point outweighs all driving: the solver maximises the priority visited first
and minimises drive time second.

Routes of up to 8 stops are then re-ordered exactly (:func:`exact_order`: every
permutation, vectorised), because local search can stop a few percent above the optimum
even on such short days. After solving, :func:`explain_dropped` tells for each dropped
stop whether no insertion meets its window, how many minutes more the day would need to
fit it at its cheapest insertion, or that it fits (only a poor local optimum drops it).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from terrmap.errors import TerrmapError

__all__ = [
    "Instance",
    "Schedule",
    "exact_order",
    "explain_dropped",
    "schedule_route",
    "solve_instance",
]

_UNREACHABLE_S = 10**7  # far beyond any horizon: an arc the time dimension never allows


@dataclass(frozen=True, eq=False)
class Instance:
    """A sequencing problem (minutes; node 0 is home).

    Attributes
    ----------
    minutes
        ``(n + 1, n + 1)`` drive minutes; ``inf`` for a pair without a road connection.
    service_min
        Minutes on site per node (0 for home).
    open_min, close_min
        Window for the start of each visit, in minutes from the shift start (home's is
        ignored; each vehicle uses ``[0, horizon]``).
    priority
        Value of visiting each node (home's is ignored).
    horizons_min
        Shift length per vehicle (day).
    allowed
        ``(node, vehicles)`` pairs restricting a node to some vehicles (days); e.g. the
        first of two weekly visits to Monday-Tuesday, the second to Wednesday-Friday.
        Nodes not listed may go on any vehicle.
    """

    minutes: npt.NDArray[np.float64]
    service_min: npt.NDArray[np.float64]
    open_min: npt.NDArray[np.float64]
    close_min: npt.NDArray[np.float64]
    priority: npt.NDArray[np.float64]
    horizons_min: tuple[float, ...]
    allowed: tuple[tuple[int, tuple[int, ...]], ...] = ()

    @property
    def n_nodes(self) -> int:
        """Nodes including home."""
        return int(self.minutes.shape[0])


@dataclass(frozen=True)
class Schedule:
    """Earliest-start timing of a fixed sequence (minutes from the shift start)."""

    arrive: tuple[float, ...]
    begin: tuple[float, ...]
    end: float
    windows_ok: bool


def schedule_route(inst: Instance, route: Sequence[int], *, depart: float = 0.0) -> Schedule:
    """Time a sequence of stops (home excluded) leaving home at ``depart``."""
    t, prev = depart, 0
    arrive, begin = [], []
    ok = True
    for node in route:
        t += inst.minutes[prev, node]
        arrive.append(t)
        t = max(t, inst.open_min[node])
        ok &= bool(t <= inst.close_min[node] + 1e-6)
        begin.append(t)
        t += inst.service_min[node]
        prev = node
    end = t + inst.minutes[prev, 0]
    return Schedule(tuple(arrive), tuple(begin), float(end), ok)


def solve_instance(
    inst: Instance, *, search: Literal["fast", "improve"] = "fast", time_limit_s: float = 3.0
) -> list[tuple[int, ...]]:
    """Solve; returns the visited nodes of each vehicle in order (home excluded)."""
    n, k = inst.n_nodes, len(inst.horizons_min)
    if n == 1:
        return [() for _ in range(k)]
    manager = pywrapcp.RoutingIndexManager(n, k, 0)
    model = pywrapcp.RoutingModel(manager)
    drive = _int_seconds(inst.minutes)
    cost = model.RegisterTransitMatrix(drive.tolist())
    model.SetArcCostEvaluatorOfAllVehicles(cost)
    service = np.rint(inst.service_min * 60).astype(np.int64)
    busy = model.RegisterTransitMatrix((drive + service[:, None]).tolist())
    horizons = [int(h * 60) for h in inst.horizons_min]
    model.AddDimensionWithVehicleCapacity(busy, max(horizons), horizons, False, "Time")
    time_dim = model.GetDimensionOrDie("Time")
    unit = sum(horizons) + 1
    for node in range(1, n):
        index = manager.NodeToIndex(node)
        lo = int(np.ceil(max(inst.open_min[node], 0.0) * 60))
        hi = int(min(inst.close_min[node] * 60, max(horizons)))
        if hi < lo:  # window out of this horizon: the stop can only be dropped
            model.ActiveVar(index).SetMax(0)
        else:
            time_dim.CumulVar(index).SetRange(lo, hi)
        model.AddDisjunction([index], round(10 * inst.priority[node]) * unit + 1)
    for v, h in enumerate(horizons):
        time_dim.CumulVar(model.Start(v)).SetRange(0, h)
        time_dim.CumulVar(model.End(v)).SetRange(0, h)
        model.AddVariableMaximizedByFinalizer(time_dim.CumulVar(model.Start(v)))
        model.AddVariableMinimizedByFinalizer(time_dim.CumulVar(model.End(v)))
    for node, vehicles in inst.allowed:
        # (SetAllowedVehiclesForIndex's SWIG binding rejects Python lists in OR-Tools 9.15.)
        banned = [v for v in range(k) if v not in vehicles]
        model.VehicleVar(manager.NodeToIndex(node)).RemoveValues(banned)
    solution = model.SolveWithParameters(_parameters(search, time_limit_s))
    if solution is None:
        raise TerrmapError(f"the route solver found no solution (status {model.status()})")
    routes = [_route_nodes(model, manager, solution, v) for v in range(k)]
    return [exact_order(inst, r, inst.horizons_min[v]) for v, r in enumerate(routes)]


def exact_order(
    inst: Instance, route: tuple[int, ...], horizon: float, *, max_stops: int = 8
) -> tuple[int, ...]:
    """The cheapest feasible order of a route's stops, by enumeration (short routes only).

    Local search can stop a few percent above the optimum even on 6-8 stops; a rep's day
    is often that short, so every order is tried (8! = 40,320, vectorised) and the
    fastest one meeting the windows and the horizon is kept. Longer routes are returned
    unchanged.
    """
    n = len(route)
    if n < 3 or n > max_stops:
        return route
    perms = np.array(list(itertools.permutations(route)), dtype=np.int64)
    drive = _int_seconds(inst.minutes)
    t = np.zeros(len(perms))
    prev = np.zeros(len(perms), dtype=np.int64)
    ok = np.ones(len(perms), dtype=bool)
    cost = np.zeros(len(perms), dtype=np.int64)
    for step in range(n):
        cur = perms[:, step]
        cost += drive[prev, cur]
        t = np.maximum(t + inst.minutes[prev, cur], inst.open_min[cur])
        ok &= t <= inst.close_min[cur] + 1e-6
        t += inst.service_min[cur]
        prev = cur
    cost += drive[prev, 0]
    ok &= t + inst.minutes[prev, 0] <= horizon + 1e-6
    if not ok.any():  # cannot happen for a solver route; keep it rather than fail
        return route
    best = int(np.flatnonzero(ok)[np.argmin(cost[ok])])
    return tuple(int(x) for x in perms[best])


def _int_seconds(minutes: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    secs = np.where(np.isfinite(minutes), minutes * 60.0, _UNREACHABLE_S)
    return np.rint(np.minimum(secs, _UNREACHABLE_S)).astype(np.int64)


def _parameters(search: str, time_limit_s: float) -> object:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    # Off by default: swaps a kept stop for a dropped one *and* moves it, which trading a
    # low-priority stop for a valuable one on a full day needs. (The other make-active
    # operators were measured too: no better routes, 2-30x slower on 100 stops.)
    params.local_search_operators.use_extended_swap_active = optional_boolean_pb2.BOOL_TRUE
    if search == "improve":
        params.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        )
    elif search != "fast":
        raise TerrmapError(f"search must be 'fast' or 'improve', got {search!r}")
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    return params


def _route_nodes(
    model: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    solution: pywrapcp.Assignment,
    vehicle: int,
) -> tuple[int, ...]:
    nodes = []
    index = solution.Value(model.NextVar(model.Start(vehicle)))
    while not model.IsEnd(index):
        nodes.append(manager.IndexToNode(index))
        index = solution.Value(model.NextVar(index))
    return tuple(nodes)


def _best_insertion(inst: Instance, routes: Sequence[tuple[int, ...]], node: int) -> float | None:
    """Fewest minutes past a day's end needed to insert ``node`` anywhere (None: windows)."""
    best: float | None = None
    days = dict(inst.allowed).get(node, tuple(range(len(routes))))
    for v, route in enumerate(routes):
        if v not in days:
            continue
        horizon = inst.horizons_min[v]
        for pos in range(len(route) + 1):
            trial = (*route[:pos], node, *route[pos:])
            sched = schedule_route(inst, trial)
            if not sched.windows_ok:
                continue
            over = max(0.0, sched.end - horizon)
            best = over if best is None else min(best, over)
    return best


def explain_dropped(
    inst: Instance, routes: Sequence[tuple[int, ...]]
) -> list[tuple[int, Literal["time_window", "no_time", "priority", "detour"], float | None]]:
    """For every unvisited stop: (node, reason code, minutes more the day would need).

    ``priority``: the day is full and every kept stop has at least its priority;
    ``no_time``: the day is full, fitting it needs the extra minutes (and would displace
    stops worth more in total); ``time_window``: no insertion meets its window;
    ``detour``: a feasible insertion exists (extra 0) yet the search left it out.
    """
    visited = {n for r in routes for n in r}
    kept_min = min((inst.priority[n] for n in visited), default=np.inf)
    out: list[tuple[int, Literal["time_window", "no_time", "priority", "detour"], float | None]]
    out = []
    for node in range(1, inst.n_nodes):
        if node in visited:
            continue
        extra = _best_insertion(inst, routes, node)
        if extra is None:
            out.append((node, "time_window", None))
        elif extra <= 1e-6:
            out.append((node, "detour", 0.0))
        elif inst.priority[node] <= kept_min:
            out.append((node, "priority", extra))
        else:
            out.append((node, "no_time", extra))
    return out
