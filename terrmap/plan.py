"""The plan: an immutable cell -> territory mapping plus account-level overrides.

Everything a page shows is computed from (data, plan, parameters). Edits return a new
plan (``reassign_cells``, ``with_locks``, ``with_overrides``); nothing mutates one.
Plans are saved as a directory of plain files (``write_plan_dir`` / ``read_plan_dir``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from terrmap.errors import InputError, Problem
from terrmap.grid import (
    MAX_RESOLUTION,
    cell_resolution,
    cells_to_shape,
    latlon_to_cells,
    locate_cells,
)

__all__ = ["DesignReport", "Plan", "read_plan_dir", "write_plan_dir"]


@dataclass(frozen=True)
class DesignReport:
    """What the engine achieved and how.

    Attributes
    ----------
    deviation
        Territory id -> achieved relative deviation of the balance metric from target.
    secondary_deviation
        Same for the secondary metric, or None when none was asked for.
    max_deviation
        Largest absolute value in ``deviation``.
    tolerance
        The band asked for on the balance metric.
    tolerance_met
        Whether every territory is inside its band(s).
    binding_constraint
        When the band is not met: what prevents it, in words (with the numbers).
    split_cells
        Cells heavier than the tolerance allows that were split into H3 children.
    placed_accounts
        Accounts placed individually (an override) because their cell was too heavy.
    moved_accounts
        Accounts whose territory differs from the baseline plan's.
    seconds
        Wall time of the design.
    iterations
        Allocation rounds run.
    warnings
        Anything the user should know.
    contiguous
        Whether every territory is connected (within each study-area island).
    """

    deviation: Mapping[str, float]
    secondary_deviation: Mapping[str, float] | None
    max_deviation: float
    tolerance: float
    tolerance_met: bool
    binding_constraint: str | None = None
    split_cells: tuple[int, ...] = ()
    placed_accounts: tuple[str, ...] = ()
    moved_accounts: tuple[str, ...] = ()
    seconds: float = 0.0
    iterations: int = 0
    warnings: tuple[str, ...] = ()
    contiguous: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (cells as H3 strings)."""
        d = asdict(self)
        d["deviation"] = dict(self.deviation)
        if self.secondary_deviation is not None:
            d["secondary_deviation"] = dict(self.secondary_deviation)
        d["split_cells"] = [h3n.int_to_str(c) for c in self.split_cells]
        for key in ("placed_accounts", "moved_accounts", "warnings"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DesignReport:
        """Inverse of :meth:`to_dict`."""
        sec = d.get("secondary_deviation")
        return cls(
            deviation=dict(d["deviation"]),
            secondary_deviation=dict(sec) if sec is not None else None,
            max_deviation=float(d["max_deviation"]),
            tolerance=float(d["tolerance"]),
            tolerance_met=bool(d["tolerance_met"]),
            binding_constraint=d.get("binding_constraint"),
            split_cells=tuple(h3n.str_to_int(c) for c in d.get("split_cells", [])),
            placed_accounts=tuple(d.get("placed_accounts", [])),
            moved_accounts=tuple(d.get("moved_accounts", [])),
            seconds=float(d.get("seconds", 0.0)),
            iterations=int(d.get("iterations", 0)),
            warnings=tuple(d.get("warnings", [])),
            contiguous=bool(d.get("contiguous", True)),
        )


@dataclass(frozen=True, eq=False)
class Plan:
    """A territory plan (immutable; cells are kept sorted).

    Attributes
    ----------
    cells
        The study area as uint64 H3 cells (sorted; may mix resolutions where heavy
        cells were split into children).
    labels
        Territory index (0..K-1) of each cell.
    territory_ids
        Territory names: rep ids when reps were given, else ``T01``..``TK``.
    rep_ids
        Rep owning each territory, or None.
    resolution
        Base H3 resolution.
    overrides
        Account id -> territory id for accounts whose territory is not their cell's.
    locked_cells, locked_accounts
        What the engine must not move.
    params
        The parameters that produced the plan (JSON-ready).
    report
        The engine's :class:`DesignReport`, or None for a hand-made plan.
    """

    cells: NDArray[np.uint64]
    labels: NDArray[np.int32]
    territory_ids: tuple[str, ...]
    rep_ids: tuple[str | None, ...]
    resolution: int
    overrides: Mapping[str, str] = field(default_factory=dict)
    locked_cells: frozenset[int] = frozenset()
    locked_accounts: frozenset[str] = frozenset()
    params: Mapping[str, Any] = field(default_factory=dict)
    report: DesignReport | None = None

    def __post_init__(self) -> None:
        cells = np.asarray(self.cells, dtype=np.uint64)
        labels = np.asarray(self.labels, dtype=np.int32)
        if cells.shape != labels.shape or cells.ndim != 1:
            raise ValueError(f"cells {cells.shape} and labels {labels.shape} must be 1-d, equal")
        k = len(self.territory_ids)
        if len(self.rep_ids) != k:
            raise ValueError(f"{len(self.rep_ids)} rep_ids for {k} territories")
        if len(set(self.territory_ids)) != k:
            raise ValueError("territory_ids must be unique")
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"labels must be in 0..{k - 1}")
        order = np.argsort(cells, kind="stable")
        cells, labels = cells[order], labels[order]
        if cells.size > 1 and (np.diff(cells) == 0).any():
            raise ValueError("a cell appears twice in the plan")
        bad = set(self.overrides.values()) - set(self.territory_ids)
        if bad:
            raise ValueError(f"overrides name unknown territories: {sorted(bad)[:5]}")
        cells.setflags(write=False)
        labels.setflags(write=False)
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "territory_ids", tuple(str(t) for t in self.territory_ids))
        ordered = dict(sorted((str(a), str(t)) for a, t in self.overrides.items()))
        object.__setattr__(self, "overrides", MappingProxyType(ordered))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "locked_cells", frozenset(int(c) for c in self.locked_cells))
        object.__setattr__(self, "locked_accounts", frozenset(map(str, self.locked_accounts)))

    @property
    def k(self) -> int:
        """Number of territories."""
        return len(self.territory_ids)

    def index_of(self, territory_id: str) -> int:
        """Territory index of ``territory_id`` (KeyError naming the known ids if absent)."""
        try:
            return self.territory_ids.index(territory_id)
        except ValueError:
            known = ", ".join(self.territory_ids[:10])
            raise KeyError(f"unknown territory {territory_id!r}; known: {known}") from None

    def territory_of_cells(self, cells: ArrayLike) -> NDArray[np.int64]:
        """Territory index holding each cell (any resolution); -1 outside the study area."""
        pos = locate_cells(self.cells, cells)
        out = np.full(pos.shape, -1, dtype=np.int64)
        out[pos >= 0] = self.labels[pos[pos >= 0]]
        return out

    def cells_of(self, territory_id: str) -> NDArray[np.uint64]:
        """The cells of one territory."""
        out: NDArray[np.uint64] = self.cells[self.labels == self.index_of(territory_id)]
        return out

    def account_cells(
        self, accounts: pd.DataFrame, *, fine_cells: ArrayLike | None = None
    ) -> NDArray[np.uint64]:
        """The plan cell each account stands on (0 outside the study area).

        ``fine_cells`` may pass the accounts' cells at ``grid.MAX_RESOLUTION`` when
        already computed.
        """
        # Always locate at the finest engine resolution and walk up the hierarchy: H3
        # children do not nest geometrically, so this is the one consistent rule.
        if fine_cells is None:
            fine = latlon_to_cells(
                accounts["lat"].to_numpy(float, na_value=np.nan),
                accounts["lon"].to_numpy(float, na_value=np.nan),
                MAX_RESOLUTION,
            )
        else:
            fine = np.asarray(fine_cells, dtype=np.uint64)
        pos = locate_cells(self.cells, fine)
        out = np.zeros(len(accounts), dtype=np.uint64)
        out[pos >= 0] = self.cells[pos[pos >= 0]]
        return out

    def assign(self, accounts: pd.DataFrame, *, fine_cells: ArrayLike | None = None) -> pd.Series:
        """Territory id of each account (index aligned; ``<NA>`` outside the study area).

        An account's territory is that of the ground it stands on unless it has an
        override. ``fine_cells``: see :meth:`account_cells`.
        """
        cells = self.account_cells(accounts, fine_cells=fine_cells)
        lab = self.territory_of_cells(cells)
        ids = np.array((*self.territory_ids, ""), dtype=object)[lab]
        out = pd.Series(ids, index=accounts.index, dtype="string", name="territory_id")
        out[lab < 0] = pd.NA
        if self.overrides and "account_id" in accounts.columns:
            ov = accounts["account_id"].astype("string").map(dict(self.overrides))
            has = ov.notna().to_numpy()
            out[has] = ov[has].astype("string")
        return out

    def equals(self, other: Plan) -> bool:
        """Same partition, ids, overrides and locks (params and report are ignored)."""
        return (
            np.array_equal(self.cells, other.cells)
            and np.array_equal(self.labels, other.labels)
            and self.territory_ids == other.territory_ids
            and self.rep_ids == other.rep_ids
            and dict(self.overrides) == dict(other.overrides)
            and self.locked_cells == other.locked_cells
            and self.locked_accounts == other.locked_accounts
        )

    def reassign_cells(self, cells: ArrayLike, territory_id: str) -> Plan:
        """A new plan with ``cells`` (plan cells or finer/coarser) moved to a territory.

        Locked cells are left where they are.
        """
        k = self.index_of(territory_id)
        pos = locate_cells(self.cells, cells)
        pos = pos[pos >= 0]
        if self.locked_cells:
            locked = np.fromiter(self.locked_cells, dtype=np.uint64)
            pos = pos[~np.isin(self.cells[pos], locked)]
        labels = self.labels.copy()
        labels[pos] = k
        return replace(self, labels=labels, report=None)

    def with_locks(
        self, *, cells: Iterable[int] | None = None, accounts: Iterable[str] | None = None
    ) -> Plan:
        """A new plan with the given locks (None keeps the current ones)."""
        return replace(
            self,
            locked_cells=self.locked_cells if cells is None else frozenset(cells),
            locked_accounts=self.locked_accounts if accounts is None else frozenset(accounts),
        )

    def with_overrides(self, overrides: Mapping[str, str | None]) -> Plan:
        """A new plan with account overrides added (a value of None removes one)."""
        merged = dict(self.overrides)
        for acc, tid in overrides.items():
            if tid is None:
                merged.pop(acc, None)
            else:
                self.index_of(tid)
                merged[acc] = tid
        return replace(self, overrides=merged, report=None)

    def territory_shapes(self) -> dict[str, shapely.Geometry]:
        """Territory id -> dissolved (Multi)Polygon in lng/lat order."""
        return {
            tid: cells_to_shape(self.cells[self.labels == i])
            for i, tid in enumerate(self.territory_ids)
        }


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict | MappingProxyType):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA or value is None:
        return None
    return value


def _geojson_geometry(geom: shapely.Geometry) -> dict[str, Any]:
    # RFC 7946: exterior rings counter-clockwise, 6 decimals (~0.1 m) are plenty.
    geom = shapely.orient_polygons(shapely.set_precision(geom, 1e-6), exterior_cw=False)
    out: dict[str, Any] = shapely.geometry.mapping(geom)
    return out


def write_plan_dir(
    plan: Plan, accounts: pd.DataFrame, out_dir: str | Path, *, reps: pd.DataFrame | None = None
) -> Path:
    """Write a plan as files a CRM and a diff tool can read.

    Files: ``assignments.csv`` (``account_id,territory_id,cell``; one row per account),
    ``territories.geojson`` (one feature per territory with its metrics),
    ``summary.json`` (per-territory and plan metrics, moved accounts, seconds, params)
    and ``cells.csv`` (``cell,territory_id,locked``: the full partition, so the plan
    reads back exactly).

    Returns
    -------
    pathlib.Path
        The directory.
    """
    from terrmap.metrics import plan_health, territory_table

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cell = plan.account_cells(accounts)
    hexes = pd.array([h3n.int_to_str(int(c)) if c else pd.NA for c in cell], dtype="string")
    pd.DataFrame(
        {
            "account_id": accounts["account_id"].astype("string").to_numpy(),
            "territory_id": plan.assign(accounts).to_numpy(),
            "cell": hexes,
        }
    ).to_csv(out / "assignments.csv", index=False)
    locked = np.isin(plan.cells, np.fromiter(plan.locked_cells, np.uint64, len(plan.locked_cells)))
    pd.DataFrame(
        {
            "cell": [h3n.int_to_str(int(c)) for c in plan.cells],
            "territory_id": np.array(plan.territory_ids, dtype=object)[plan.labels],
            "locked": locked,
        }
    ).to_csv(out / "cells.csv", index=False)
    table = territory_table(plan, accounts, reps)
    rows = [_json_ready(r) for r in table.astype(object).to_dict(orient="records")]
    shapes = plan.territory_shapes()
    features = [
        {
            "type": "Feature",
            "geometry": _geojson_geometry(shapes[r["territory_id"]]),
            "properties": r,
        }
        for r in rows
    ]
    with open(out / "territories.geojson", "w", encoding="utf-8") as fh:
        json.dump({"type": "FeatureCollection", "features": features}, fh)
    summary = _summary(plan, accounts, rows, plan_health(plan, accounts))
    with open(out / "summary.json", "w", encoding="utf-8") as fh:
        json.dump(_json_ready(summary), fh, indent=2)
    return out


def _summary(
    plan: Plan, accounts: pd.DataFrame, rows: list[Any], health: Mapping[str, Any]
) -> dict[str, Any]:
    rep = plan.report
    return {
        "territories": rows,
        "plan": dict(health),
        "moved_accounts": len(rep.moved_accounts) if rep else 0,
        "seconds": rep.seconds if rep else None,
        "n_accounts": len(accounts),
        "territory_ids": list(plan.territory_ids),
        "rep_ids": list(plan.rep_ids),
        "resolution": plan.resolution,
        "overrides": dict(sorted(plan.overrides.items())),
        "locked_accounts": sorted(plan.locked_accounts),
        "params": dict(plan.params),
        "report": rep.to_dict() if rep else None,
    }


def read_plan_dir(directory: str | Path, accounts: pd.DataFrame | None = None) -> Plan:
    """Read a plan written by :func:`write_plan_dir`.

    ``cells.csv`` gives the partition. Without it (a hand-edited export), the
    partition is rebuilt from ``assignments.csv``: each cell goes to the territory of
    most of its accounts and the others become overrides (``accounts`` is then
    required for nothing; the cell column is used).

    Raises
    ------
    InputError
        When the directory lacks the files or they contradict each other.
    """
    d = Path(directory)
    src = str(d)
    if not (d / "summary.json").exists():
        raise InputError(
            [Problem(None, None, str(d), "summary.json missing", "point at a plan directory")],
            source=src,
        )
    with open(d / "summary.json", encoding="utf-8") as fh:
        summary = json.load(fh)
    tids = tuple(str(t) for t in summary["territory_ids"])
    index = {t: i for i, t in enumerate(tids)}
    overrides: dict[str, str] = dict(summary.get("overrides", {}))
    if (d / "cells.csv").exists():
        cf = pd.read_csv(d / "cells.csv", dtype={"cell": "string", "territory_id": "string"})
        cells = np.array([h3n.str_to_int(c) for c in cf["cell"]], dtype=np.uint64)
        unknown = sorted(set(cf["territory_id"].dropna()) - set(tids))
        if unknown:
            msg = f"cells.csv names territories not in summary.json: {unknown[:5]}"
            raise InputError([Problem(None, "territory_id", None, msg, "fix the file")], source=src)
        labels = np.asarray(cf["territory_id"].map(index).to_numpy(np.int32), dtype=np.int32)
        locked = frozenset(cells[cf["locked"].astype(bool).to_numpy()].tolist())
    else:
        cells, labels, overrides = _partition_from_assignments(d, index)
        locked = frozenset()
    report = summary.get("report")
    return Plan(
        cells=cells,
        labels=labels,
        territory_ids=tids,
        rep_ids=tuple(summary.get("rep_ids") or [None] * len(tids)),
        resolution=int(summary.get("resolution", int(cell_resolution(cells).min()))),
        overrides=overrides,
        locked_cells=locked,
        locked_accounts=frozenset(summary.get("locked_accounts", [])),
        params=summary.get("params", {}),
        report=DesignReport.from_dict(report) if report else None,
    )


def _partition_from_assignments(
    d: Path, index: Mapping[str, int]
) -> tuple[NDArray[np.uint64], NDArray[np.int32], dict[str, str]]:
    af = pd.read_csv(d / "assignments.csv", dtype="string").dropna(subset=["cell", "territory_id"])
    af = af[af["territory_id"].isin(list(index))]
    counts = af.groupby(["cell", "territory_id"]).size().reset_index(name="n")
    counts = counts.sort_values(["cell", "n", "territory_id"], ascending=[True, False, True])
    major = counts.drop_duplicates("cell").set_index("cell")["territory_id"]
    cells = np.array([h3n.str_to_int(c) for c in major.index], dtype=np.uint64)
    labels = np.asarray(major.map(index).to_numpy(np.int32), dtype=np.int32)
    off = af[af["territory_id"].to_numpy() != major.reindex(af["cell"]).to_numpy()]
    overrides = {
        str(a): str(t) for a, t in zip(off["account_id"], off["territory_id"], strict=True)
    }
    return cells, labels, overrides
