"""Hand edits of a plan as pure functions: select, move, lock, preview, rebalance, undo.

Every operation takes an immutable :class:`~terrmap.plan.Plan` and returns a new one
together with an :class:`Edit` — a small diff record (what moved from which territory
to which) that the store writes to the audit log. Nothing here touches Streamlit or the
database, so a page calls these functions directly and tests drive them without a UI.

Locks. A locked cell or account never moves, neither by hand nor in any automatic run.
A territory is locked when every one of its cells is locked (locking a territory locks
its cells and the accounts overridden into it). Hand edits *skip* locked items and list
them in :attr:`Edit.skipped` (so a lasso over a region with one locked cell moves the
rest); when nothing at all could move, :class:`LockedError` is raised instead of
recording an empty edit. Painting into a locked territory is refused the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal, cast

import h3
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from terrmap.errors import TerrmapError
from terrmap.grid import (
    MAX_RESOLUTION,
    adjacency,
    cell_resolution,
    cells_to_latlon,
    latlon_to_cells,
    locate_cells,
)
from terrmap.metrics import (
    BALANCE_COLUMNS,
    contiguity,
    deviations,
    haversine_km,
    territory_loads,
    weighted_centroids,
)
from terrmap.plan import Plan

if TYPE_CHECKING:
    from terrmap.design import DesignConfig

__all__ = [
    "Change",
    "Edit",
    "EditKind",
    "EditResult",
    "History",
    "ItemKind",
    "LockedError",
    "PlanDiff",
    "Preview",
    "Rebalance",
    "accounts_in_geometry",
    "assign_cells",
    "cell_at",
    "cells_in_geometry",
    "clear_overrides",
    "diff_plans",
    "lock",
    "lock_all",
    "locked_territories",
    "override_accounts",
    "plan_changes",
    "preview",
    "rebalance",
    "select_from_payload",
    "unlock",
    "unlock_all",
]

ItemKind = Literal["cell", "account", "territory"]
EditKind = Literal[
    "create",
    "import",
    "assign",
    "override",
    "clear_override",
    "lock",
    "unlock",
    "rebalance",
    "undo",
    "redo",
    "revert",
    "save",
]
_ITEMS: tuple[ItemKind, ...] = ("cell", "account", "territory")
_KINDS: tuple[str, ...] = (
    "create",
    "import",
    "assign",
    "override",
    "clear_override",
    "lock",
    "unlock",
    "rebalance",
    "undo",
    "redo",
    "revert",
    "save",
)


class LockedError(TerrmapError):
    """An edit that would only move locked items (nothing else could move)."""


@dataclass(frozen=True)
class Change:
    """One item an edit touched.

    Attributes
    ----------
    item
        ``"cell"`` (key: the H3 index as a hex string), ``"account"`` (key: account_id)
        or ``"territory"`` (key: territory_id).
    key
        Which cell, account or territory.
    before, after
        Territory id before and after the edit (``None`` = unassigned / no override).
        For lock and unlock changes both are the territory the item is in.
    """

    item: ItemKind
    key: str
    before: str | None
    after: str | None

    def to_dict(self) -> dict[str, str | None]:
        """The change as a JSON-ready dict."""
        return {"item": self.item, "key": self.key, "before": self.before, "after": self.after}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """Rebuild a change written by :meth:`to_dict`."""
        item = str(data["item"])
        if item not in _ITEMS:
            raise TerrmapError(f"unknown edit item {item!r}; expected one of {_ITEMS}")
        before, after = data.get("before"), data.get("after")
        return cls(
            item,
            str(data["key"]),
            None if before is None else str(before),
            None if after is None else str(after),
        )


@dataclass(frozen=True)
class Edit:
    """A small diff record of one applied edit (what the audit log stores).

    Attributes
    ----------
    kind
        What kind of edit: ``assign`` (cells painted into a territory), ``override``
        (accounts moved independently of their cell), ``clear_override``, ``lock``,
        ``unlock``, ``rebalance`` (engine run with edits and locks fixed), ``undo``,
        ``redo``, ``revert`` (back to a stored version), ``save`` (a whole plan saved
        without a record; the store computes the changes), ``create`` or ``import``.
    changes
        The items that changed. Cell moves also list the accounts they carried.
    skipped
        Items the edit left alone because they are locked (``after`` is the territory
        they would have gone to).
    note
        Free text (e.g. the parameters of a rebalance).
    """

    kind: EditKind
    changes: tuple[Change, ...] = ()
    skipped: tuple[Change, ...] = ()
    note: str = field(default="")

    def count(self, item: ItemKind) -> int:
        """How many changes concern ``item`` (``"cell"``, ``"account"``, ``"territory"``)."""
        return sum(1 for c in self.changes if c.item == item)

    def summary(self) -> str:
        """One line for a history list, e.g. ``assign: 12 cells, 85 accounts -> T03``."""
        parts = [f"{n} {item}{'s' if n != 1 else ''}" for item in _ITEMS if (n := self.count(item))]
        if parts:
            text = f"{self.kind}: " + ", ".join(parts)
        else:
            text = self.kind if self.kind in ("create", "import") else f"{self.kind}: no changes"
        targets = sorted({c.after for c in self.changes if c.after is not None})
        if self.kind in ("assign", "override") and len(targets) == 1:
            text += f" -> {targets[0]}"
        if self.skipped:
            text += (
                f" ({len(self.skipped)} locked item{'s' if len(self.skipped) != 1 else ''} skipped)"
            )
        if self.note:
            text += f" — {self.note}"
        return text

    def inverted(self, kind: EditKind = "undo") -> Edit:
        """The record of reverting this edit (before and after swapped)."""
        changes = tuple(Change(c.item, c.key, c.after, c.before) for c in self.changes)
        return Edit(kind, changes, (), f"reverts {self.kind}")

    def to_dict(self) -> dict[str, Any]:
        """The edit as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "changes": [c.to_dict() for c in self.changes],
            "skipped": [c.to_dict() for c in self.skipped],
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Edit:
        """Rebuild an edit written by :meth:`to_dict`."""
        kind = str(data["kind"])
        if kind not in _KINDS:
            raise TerrmapError(f"unknown edit kind {kind!r}; expected one of {_KINDS}")
        return cls(
            cast(EditKind, kind),
            tuple(Change.from_dict(c) for c in data.get("changes", ())),
            tuple(Change.from_dict(c) for c in data.get("skipped", ())),
            str(data.get("note", "")),
        )


@dataclass(frozen=True)
class EditResult:
    """A new plan and the record of how it differs from the old one."""

    plan: Plan
    edit: Edit

    @property
    def changed(self) -> bool:
        """False for a no-op (everything selected was already there)."""
        return bool(self.edit.changes) or bool(self.edit.skipped)


# --------------------------------------------------------------------------- helpers


def _hex(cell: int) -> str:
    return str(h3n.int_to_str(int(cell)))


def _territory(plan: Plan, territory_id: str) -> int:
    try:
        return plan.index_of(str(territory_id))
    except KeyError:
        known = ", ".join(plan.territory_ids)
        raise TerrmapError(
            f"there is no territory {territory_id!r} in this plan. Fix: pick one of {known}."
        ) from None


def _locked_array(plan: Plan) -> NDArray[np.uint64]:
    return np.fromiter(plan.locked_cells, dtype=np.uint64, count=len(plan.locked_cells))


def locked_territories(plan: Plan) -> tuple[str, ...]:
    """Territories whose every cell is locked (a territory with no cells is never locked)."""
    if not plan.locked_cells:
        return ()
    locked = np.isin(plan.cells, _locked_array(plan))
    total = np.bincount(plan.labels, minlength=plan.k)
    held = np.bincount(plan.labels[locked], minlength=plan.k)
    return tuple(t for t, n, m in zip(plan.territory_ids, total, held, strict=True) if n and n == m)


def _refuse_locked_target(plan: Plan, territory_id: str) -> None:
    if territory_id in locked_territories(plan):
        raise LockedError(
            f"territory {territory_id} is locked, so nothing can be moved into or out of it. "
            "Fix: unlock it first, or pick another target territory."
        )


def _account_ids(accounts: pd.DataFrame) -> NDArray[np.str_]:
    return np.asarray(accounts["account_id"].astype(str).to_numpy(), dtype=str)


def _account_labels(
    plan: Plan, accounts: pd.DataFrame, account_cells: NDArray[np.uint64] | None = None
) -> NDArray[np.int64]:
    """Territory index per account (overrides win; -1 outside the study area)."""
    cells = plan.account_cells(accounts) if account_cells is None else account_cells
    lab = plan.territory_of_cells(cells)
    if plan.overrides:
        index = {t: i for i, t in enumerate(plan.territory_ids)}
        over = {a: index[t] for a, t in plan.overrides.items()}
        ov = pd.Series(_account_ids(accounts)).map(over).to_numpy(float, na_value=np.nan)
        has = ~np.isnan(ov)
        lab = lab.copy()
        lab[has] = ov[has].astype(np.int64)
    return lab


def _name(plan: Plan, label: int) -> str | None:
    return plan.territory_ids[label] if label >= 0 else None


# --------------------------------------------------------------------------- select


def cell_at(plan: Plan, lat: float, lon: float) -> int | None:
    """The plan cell (any of its resolutions) that holds a point, or None outside it."""
    finest = int(cell_resolution(plan.cells).max()) if plan.cells.size else plan.resolution
    fine = latlon_to_cells([lat], [lon], finest)
    pos = int(locate_cells(plan.cells, fine)[0])
    return int(plan.cells[pos]) if pos >= 0 else None


def _geometry_of(shape: Any) -> Any:
    if isinstance(shape, Mapping):
        if shape.get("type") == "Feature":
            return shape.get("geometry")
        if shape.get("type") == "FeatureCollection":
            return shapely.union_all(
                [shapely.geometry.shape(f["geometry"]) for f in shape.get("features", [])]
            )
    return shape


def _shape_of(geometry: Any) -> shapely.Geometry | None:
    """A shapely geometry from GeoJSON (geometry, Feature, collection) or shapely; None if bad."""
    geom = _geometry_of(geometry)
    if geom is None:
        return None
    try:
        shape = shapely.geometry.shape(geom) if isinstance(geom, Mapping) else geom
    except (ValueError, TypeError, KeyError, IndexError, shapely.errors.GEOSException):
        return None  # a half-drawn or foreign shape selects nothing
    if not isinstance(shape, shapely.Geometry) or shape.is_empty:
        return None
    return shape if shape.is_valid else shapely.make_valid(shape)


def _extent(plan: Plan) -> shapely.Geometry:
    """The box around the plan's cell centres, grown by two of its largest cells."""
    lat, lon = cells_to_latlon(plan.cells)
    coarsest = int(cell_resolution(plan.cells).min())
    pad = 2 * h3.average_hexagon_edge_length(coarsest, unit="km") / 111.0
    pad_lon = pad / max(np.cos(np.radians(np.abs(lat).max())), 0.05)
    return shapely.box(lon.min() - pad_lon, lat.min() - pad, lon.max() + pad_lon, lat.max() + pad)


def cells_in_geometry(plan: Plan, geometry: Any) -> NDArray[np.uint64]:
    """Plan cells whose centre lies inside a drawn shape (lasso, rectangle, circle).

    ``geometry`` is a GeoJSON geometry dict (lng/lat order), a Feature or
    FeatureCollection (their geometry is used) or a shapely geometry. Mixed-resolution
    plans are filled at each of their resolutions. A shape smaller than one cell
    selects the cell under its centre, so a small rectangle is never a silent no-op.
    """
    none = np.empty(0, dtype=np.uint64)
    shape = _shape_of(geometry)
    if shape is None or shape.geom_type not in ("Polygon", "MultiPolygon") or not plan.cells.size:
        return none
    # Clip to the study area first: a shape drawn over half a continent at a fine
    # resolution would otherwise enumerate millions of cells.
    shape = shape.intersection(_extent(plan))
    if shape.is_empty or shape.geom_type not in ("Polygon", "MultiPolygon"):
        return none
    picked: list[NDArray[np.uint64]] = []
    for res in np.unique(cell_resolution(plan.cells)).tolist():
        inside = np.asarray(h3n.geo_to_cells(shape, int(res)), dtype=np.uint64)
        picked.append(inside[np.isin(inside, plan.cells)])
    found = np.unique(np.concatenate(picked)) if picked else np.empty(0, np.uint64)
    if found.size == 0:
        point = shape.representative_point()
        cell = cell_at(plan, point.y, point.x)
        return np.array([] if cell is None else [cell], dtype=np.uint64)
    return found


def select_from_payload(plan: Plan, payload: Mapping[str, Any] | None) -> NDArray[np.uint64]:
    """Cells picked on the map from a ``st_folium`` payload (``last_active_drawing``).

    A clicked hex Feature carries its H3 index in ``properties.h3`` (or ``cell``); a
    drawn shape carries a Polygon geometry and no ``h3`` property; a point (marker or
    click) selects the cell under it. Anything else selects nothing.
    """
    if not payload:
        return np.empty(0, dtype=np.uint64)
    props = payload.get("properties") or {}
    key = props.get("h3") or props.get("cell")
    if key is not None:
        try:
            cell = int(h3.str_to_int(key)) if isinstance(key, str) else int(key)
        except (ValueError, TypeError):
            return np.empty(0, dtype=np.uint64)  # not one of our hexes
        pos = int(locate_cells(plan.cells, np.array([cell], dtype=np.uint64))[0])
        return plan.cells[[pos]] if pos >= 0 else np.empty(0, dtype=np.uint64)
    geom = _geometry_of(payload)
    if isinstance(geom, Mapping) and geom.get("type") == "Point":
        lon, lat = geom["coordinates"][:2]
        hit = cell_at(plan, float(lat), float(lon))
        return np.array([] if hit is None else [hit], dtype=np.uint64)
    if isinstance(geom, Mapping) and "lat" in geom and "lng" in geom:  # last_clicked
        hit = cell_at(plan, float(geom["lat"]), float(geom["lng"]))
        return np.array([] if hit is None else [hit], dtype=np.uint64)
    return cells_in_geometry(plan, geom)


def accounts_in_geometry(accounts: pd.DataFrame, geometry: Any) -> list[str]:
    """Account ids whose location lies inside a drawn shape (for account-level moves)."""
    shape = _shape_of(geometry)
    if shape is None:
        return []
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    inside = shapely.contains_xy(shape, lon, lat)
    return list(_account_ids(accounts)[inside])


# --------------------------------------------------------------------------- move


def _cell_changes(plan: Plan, pos: NDArray[np.int64], target: int) -> tuple[Change, ...]:
    after = plan.territory_ids[target]
    return tuple(
        Change("cell", _hex(c), plan.territory_ids[b], after)
        for c, b in zip(plan.cells[pos].tolist(), plan.labels[pos].tolist(), strict=True)
    )


def _describe_cells(plan: Plan, pos: NDArray[np.int64]) -> str:
    shown = ", ".join(_hex(c) for c in plan.cells[pos[:5]].tolist())
    return shown + (f" and {pos.size - 5} more" if pos.size > 5 else "")


def assign_cells(
    plan: Plan, accounts: pd.DataFrame, cells: ArrayLike, territory_id: str
) -> EditResult:
    """Paint cells into a territory (click, paint or lasso).

    Cells may be given at any resolution (a coarser cell selects the plan cell under
    its centre; a finer one its ancestor); cells outside the study area are ignored.
    Locked cells stay and are listed in ``edit.skipped``; accounts with an override
    stay where their override puts them; locked accounts on a moved cell get an
    override that keeps them in their territory (and are listed as skipped).

    Raises
    ------
    LockedError
        When every selected cell that would move is locked, or the target territory is.
    """
    target = _territory(plan, territory_id)
    pos = locate_cells(plan.cells, np.atleast_1d(np.asarray(cells, dtype=np.uint64)))
    pos = np.unique(pos[pos >= 0])
    pos = pos[plan.labels[pos] != target]
    if pos.size == 0:
        return EditResult(plan, Edit("assign"))
    _refuse_locked_target(plan, plan.territory_ids[target])
    is_locked = np.isin(plan.cells[pos], _locked_array(plan))
    move, held = pos[~is_locked], pos[is_locked]
    if move.size == 0:
        raise LockedError(
            f"all {held.size} selected cell(s) are locked ({_describe_cells(plan, held)}). "
            "Fix: unlock them first, or select other cells."
        )
    ids = _account_ids(accounts)
    acc_pos = locate_cells(plan.cells, plan.account_cells(accounts))
    carried = np.isin(acc_pos, move) & ~np.isin(ids, list(plan.overrides))
    pinned = carried & np.isin(ids, list(plan.locked_accounts))
    moving = carried & ~pinned
    labels = plan.labels.copy()
    labels[move] = target
    pin_pos = zip(ids[pinned].tolist(), acc_pos[pinned].tolist(), strict=True)
    pins = {a: plan.territory_ids[plan.labels[p]] for a, p in pin_pos}
    new = replace(plan, labels=labels, overrides={**plan.overrides, **pins}, report=None)
    after = plan.territory_ids[target]
    account_moves = tuple(
        Change("account", a, plan.territory_ids[plan.labels[p]], after)
        for a, p in zip(ids[moving].tolist(), acc_pos[moving].tolist(), strict=True)
    )
    skipped = _cell_changes(plan, held, target) + tuple(
        Change("account", a, t, after) for a, t in pins.items()
    )
    return EditResult(
        new, Edit("assign", _cell_changes(plan, move, target) + account_moves, skipped)
    )


def _known_accounts(accounts: pd.DataFrame, account_ids: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(str(a) for a in account_ids))
    unknown = sorted(set(wanted) - set(_account_ids(accounts).tolist()))
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise TerrmapError(
            f"{len(unknown)} account id(s) are not in the accounts data: {shown}. "
            "Fix: pick accounts from the current dataset."
        )
    return wanted


def _account_state(plan: Plan, accounts: pd.DataFrame, wanted: Sequence[str]) -> pd.DataFrame:
    """For the wanted accounts (in order): current territory, its cell's, cell locked."""
    sub = accounts[accounts["account_id"].astype(str).isin(wanted)]
    sub = sub.drop_duplicates("account_id")
    cells = plan.account_cells(sub)
    ground = plan.territory_of_cells(cells)
    now = _account_labels(plan, sub, cells)
    names = np.array([*plan.territory_ids, None], dtype=object)
    state = pd.DataFrame(
        {
            "now": names[now],
            "ground": names[ground],
            "cell_locked": np.isin(cells, _locked_array(plan)),
        },
        index=_account_ids(sub),
    )
    return state.reindex(list(wanted))


def override_accounts(
    plan: Plan, accounts: pd.DataFrame, account_ids: Iterable[str], territory_id: str
) -> EditResult:
    """Move single accounts to a territory independently of their cell.

    Moving an account back to the territory of its cell removes its override instead
    of recording a redundant one. Locked accounts, and accounts without an override
    on a locked cell, are skipped.

    Raises
    ------
    LockedError
        When every account that would move is locked, or the target territory is.
    """
    target = plan.territory_ids[_territory(plan, territory_id)]
    state = _account_state(plan, accounts, _known_accounts(accounts, account_ids))
    changes: list[Change] = []
    skipped: list[Change] = []
    new_overrides = dict(plan.overrides)
    for acc, row in state.iterrows():
        if row["now"] == target:
            continue
        change = Change("account", str(acc), row["now"], target)
        pinned_by_cell = acc not in plan.overrides and bool(row["cell_locked"])
        if acc in plan.locked_accounts or pinned_by_cell:
            skipped.append(change)
            continue
        changes.append(change)
        if row["ground"] == target:
            new_overrides.pop(str(acc), None)
        else:
            new_overrides[str(acc)] = target
    if not changes and skipped:
        raise LockedError(
            f"the selected account(s) {', '.join(c.key for c in skipped[:5])} are locked "
            "(directly or by their cell). Fix: unlock them first."
        )
    if changes:
        _refuse_locked_target(plan, target)
    new = replace(plan, overrides=new_overrides, report=None) if changes else plan
    return EditResult(new, Edit("override", tuple(changes), tuple(skipped)))


def clear_overrides(
    plan: Plan, accounts: pd.DataFrame, account_ids: Iterable[str] | None = None
) -> EditResult:
    """Drop account overrides (all of them when ``account_ids`` is None).

    Each account goes back to the territory of its cell; locked accounts keep theirs.
    """
    wanted = list(plan.overrides) if account_ids is None else [str(a) for a in account_ids]
    wanted = [a for a in dict.fromkeys(wanted) if a in plan.overrides]
    present = set(_account_ids(accounts).tolist())
    state = _account_state(plan, accounts, [a for a in wanted if a in present])
    ground: dict[str, str | None] = {str(a): g for a, g in state["ground"].items()}
    changes: list[Change] = []
    skipped: list[Change] = []
    new_overrides = dict(plan.overrides)
    for acc in wanted:
        change = Change("account", acc, plan.overrides[acc], ground.get(acc))
        if acc in plan.locked_accounts:
            skipped.append(change)
            continue
        new_overrides.pop(acc)
        if change.before != change.after:
            changes.append(change)
    dropped = len(new_overrides) != len(plan.overrides)
    new = replace(plan, overrides=new_overrides, report=None) if dropped else plan
    return EditResult(new, Edit("clear_override", tuple(changes), tuple(skipped)))


# --------------------------------------------------------------------------- locks


def _lock_targets(
    plan: Plan, cells: ArrayLike, territories: Iterable[str]
) -> tuple[NDArray[np.int64], list[str]]:
    pos = locate_cells(plan.cells, np.atleast_1d(np.asarray(cells, dtype=np.uint64)))
    tids = [plan.territory_ids[_territory(plan, t)] for t in dict.fromkeys(territories)]
    return np.unique(pos[pos >= 0]), tids


def _set_locks(
    plan: Plan,
    accounts: pd.DataFrame | None,
    *,
    cells: ArrayLike,
    account_ids: Iterable[str],
    territories: Iterable[str],
    locking: bool,
) -> EditResult:
    pos, tids = _lock_targets(plan, cells, territories)
    held = plan.locked_cells
    terr_cells = {t: plan.cells_of(t) for t in tids}
    cell_set = {int(c) for c in plan.cells[pos].tolist()}
    for arr in terr_cells.values():
        cell_set.update(int(c) for c in arr.tolist())
    into = {a for a, t in plan.overrides.items() if t in tids}
    named = _known_accounts(accounts, account_ids) if accounts is not None else account_ids
    acc_set = set(map(str, named)) | into
    if locking:
        new_cells, new_accs = held | cell_set, plan.locked_accounts | acc_set
    else:
        new_cells, new_accs = held - cell_set, plan.locked_accounts - acc_set
    # Record only what actually changes state: individual cells, whole territories, accounts.
    whole = [plan.index_of(t) for t in tids]
    flipped = [
        i
        for i in pos.tolist()
        if (int(plan.cells[i]) in held) != locking and plan.labels[i] not in whole
    ]
    locked_now = _locked_array(plan)
    changes = [
        Change("territory", t, t, t)
        for t, arr in terr_cells.items()
        if (~np.isin(arr, locked_now) if locking else np.isin(arr, locked_now)).any()
    ]
    changes += [
        Change("cell", _hex(plan.cells[i]), plan.territory_ids[plan.labels[i]], None)
        for i in flipped
    ]
    where = _account_territories(plan, accounts, sorted(acc_set - into))
    changes += [
        Change("account", a, where.get(a), None)
        for a in sorted(acc_set - into)
        if (a in plan.locked_accounts) != locking
    ]
    changes = [replace(c, after=c.before) for c in changes]
    new = replace(plan, locked_cells=frozenset(new_cells), locked_accounts=frozenset(new_accs))
    return EditResult(new, Edit("lock" if locking else "unlock", tuple(changes)))


def _account_territories(
    plan: Plan, accounts: pd.DataFrame | None, ids: Sequence[str]
) -> dict[str, str | None]:
    if accounts is None or not ids:
        return {a: plan.overrides.get(a) for a in ids}
    present = set(_account_ids(accounts).tolist())
    state = _account_state(plan, accounts, [a for a in ids if a in present])
    return {a: (state["now"].get(a) if a in present else None) for a in ids}


def lock(
    plan: Plan,
    *,
    cells: ArrayLike = (),
    account_ids: Iterable[str] = (),
    territories: Iterable[str] = (),
    accounts: pd.DataFrame | None = None,
) -> EditResult:
    """Lock cells, accounts and whole territories in one step.

    Locking a territory locks all its cells and the accounts overridden into it.
    ``accounts`` (optional) only names the territory of locked accounts in the record.
    """
    return _set_locks(
        plan, accounts, cells=cells, account_ids=account_ids, territories=territories, locking=True
    )


def unlock(
    plan: Plan,
    *,
    cells: ArrayLike = (),
    account_ids: Iterable[str] = (),
    territories: Iterable[str] = (),
    accounts: pd.DataFrame | None = None,
) -> EditResult:
    """Unlock cells, accounts and whole territories in one step (see :func:`lock`)."""
    return _set_locks(
        plan,
        accounts,
        cells=cells,
        account_ids=account_ids,
        territories=territories,
        locking=False,
    )


def lock_all(plan: Plan) -> EditResult:
    """Lock every cell and every overridden account (nothing moves until unlocked)."""
    return lock(plan, territories=plan.territory_ids)


def unlock_all(plan: Plan) -> EditResult:
    """Remove every lock (cells and accounts, including locks that came with the data)."""
    had = np.unique(plan.labels[np.isin(plan.cells, _locked_array(plan))])
    tids = [plan.territory_ids[i] for i in had.tolist()]
    changes = tuple(Change("territory", t, t, t) for t in tids) + tuple(
        Change("account", a, plan.overrides.get(a), plan.overrides.get(a))
        for a in sorted(plan.locked_accounts)
    )
    new = replace(plan, locked_cells=frozenset(), locked_accounts=frozenset())
    return EditResult(new, Edit("unlock", changes))


# --------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class Preview:
    """What an edit would do, computed before it is applied.

    Attributes
    ----------
    plan, edit
        The plan after the edit and its record (apply with ``History.apply(preview)``).
    table
        One row per affected territory: ``territory_id, role`` (gives / gets / both),
        then ``_before``, ``_after`` and ``_delta`` of ``accounts``, ``workload_hours``,
        ``opportunity``, ``travel_km`` (workload-weighted mean km from the rep's home,
        or from the territory's centre when there is no home), ``deviation_before`` /
        ``deviation_after`` (from target, in the plan's balance metric) and
        ``contiguous_before`` / ``contiguous_after``.
    donors_contiguous
        Whether every territory that gives something away is still in one piece.
    moved_accounts
        Accounts whose territory changes.
    """

    plan: Plan
    edit: Edit
    table: pd.DataFrame
    donors_contiguous: bool
    moved_accounts: int

    @property
    def result(self) -> EditResult:
        """The edit as an :class:`EditResult` (to apply it)."""
        return EditResult(self.plan, self.edit)


def _weights(accounts: pd.DataFrame, metric: str) -> NDArray[np.float64]:
    col = BALANCE_COLUMNS.get(metric)
    if col is None or col not in accounts.columns:
        return np.ones(len(accounts)) if col is None else np.zeros(len(accounts))
    vals = pd.to_numeric(accounts[col], errors="coerce").to_numpy(float, na_value=np.nan)
    return np.asarray(np.nan_to_num(vals, nan=0.0), dtype=np.float64)


def _target_shares(plan: Plan) -> NDArray[np.float64]:
    shares = plan.params.get("target_shares")
    if shares is None or len(shares) != plan.k:
        return np.full(plan.k, 1.0 / max(plan.k, 1))
    arr = np.asarray(shares, dtype=float)
    return np.asarray(arr / arr.sum(), dtype=np.float64)


def _homes(
    plan: Plan, accounts: pd.DataFrame, labels: NDArray[np.int64], reps: pd.DataFrame | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rep home per territory; the workload centre of the territory where there is none."""
    work = _weights(accounts, "workload")
    w = work if work.sum() > 0 else np.ones(len(accounts))
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    ok = np.isfinite(lat) & np.isfinite(lon)
    clat, clon = weighted_centroids(
        lat[ok], lon[ok], w[ok], np.where(ok, labels, -1)[ok], n_territories=plan.k
    )
    if reps is not None and {"rep_id", "home_lat", "home_lon"} <= set(reps.columns):
        home = reps.drop_duplicates("rep_id").set_index(
            reps["rep_id"].drop_duplicates().astype(str)
        )
        rid = pd.Series([r if r is not None else "" for r in plan.rep_ids])
        hlat = pd.to_numeric(rid.map(home["home_lat"]), errors="coerce").to_numpy(float)
        hlon = pd.to_numeric(rid.map(home["home_lon"]), errors="coerce").to_numpy(float)
        has = np.isfinite(hlat) & np.isfinite(hlon)
        clat, clon = np.where(has, hlat, clat), np.where(has, hlon, clon)
    return clat, clon


def _kpis(
    plan: Plan,
    accounts: pd.DataFrame,
    labels: NDArray[np.int64],
    homes: tuple[NDArray[np.float64], NDArray[np.float64]],
    adj: sparse.csr_matrix,
) -> pd.DataFrame:
    k = plan.k
    work = _weights(accounts, "workload")
    bal = territory_loads(
        _weights(accounts, str(plan.params.get("balance", "workload"))), labels, n_territories=k
    )
    lat = accounts["lat"].to_numpy(float, na_value=np.nan)
    lon = accounts["lon"].to_numpy(float, na_value=np.nan)
    ok = (labels >= 0) & np.isfinite(lat) & np.isfinite(lon)
    w = work if work.sum() > 0 else np.ones(len(accounts))
    dist = haversine_km(lat[ok], lon[ok], homes[0][labels[ok]], homes[1][labels[ok]])
    num = np.bincount(labels[ok], dist * w[ok], minlength=k)
    den = np.bincount(labels[ok], w[ok], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        travel = num / den
    return pd.DataFrame(
        {
            "accounts": territory_loads(np.ones(len(accounts)), labels, n_territories=k).astype(
                int
            ),
            "workload_hours": territory_loads(work, labels, n_territories=k),
            "opportunity": territory_loads(
                _weights(accounts, "opportunity"), labels, n_territories=k
            ),
            "travel_km": travel,
            "deviation": deviations(bal, _target_shares(plan) * bal.sum()),
            "contiguous": contiguity(plan.cells, plan.labels, n_territories=k, adj=adj),
        },
        index=pd.Index(plan.territory_ids, name="territory_id"),
    )


def preview(
    plan: Plan,
    result: EditResult,
    accounts: pd.DataFrame,
    *,
    reps: pd.DataFrame | None = None,
    adj: sparse.csr_matrix | None = None,
) -> Preview:
    """KPI deltas of the territories an edit touches, before it is applied.

    Parameters
    ----------
    plan
        The plan as it is now.
    result
        The edit to preview, e.g. ``assign_cells(plan, accounts, cells, "T03")``.
    accounts
        The scored accounts.
    reps
        The roster (for rep homes in the travel figure); optional.
    adj
        ``terrmap.grid.adjacency(plan.cells)`` if the caller caches it (saves time on
        large plans); computed when omitted.
    """
    after = result.plan
    if after.territory_ids != plan.territory_ids:
        raise TerrmapError("an edit must keep the territories; compare such plans with diff_plans")
    same = after.cells is plan.cells or np.array_equal(after.cells, plan.cells)
    cells = plan.account_cells(accounts)
    lab_b = _account_labels(plan, accounts, cells)
    lab_a = _account_labels(after, accounts, cells if same else None)
    adj_b = adjacency(plan.cells) if adj is None else adj
    homes = _homes(plan, accounts, lab_b, reps)
    kb = _kpis(plan, accounts, lab_b, homes, adj_b)
    ka = _kpis(after, accounts, lab_a, homes, adj_b if same else adjacency(after.cells))
    gives = {c.before for c in result.edit.changes if c.before != c.after} - {None}
    gets = {c.after for c in result.edit.changes if c.before != c.after} - {None}
    moved = lab_a != lab_b
    gives |= {plan.territory_ids[i] for i in np.unique(lab_b[moved & (lab_b >= 0)])}
    gets |= {plan.territory_ids[i] for i in np.unique(lab_a[moved & (lab_a >= 0)])}
    affected = [t for t in plan.territory_ids if t in gives | gets]
    table = pd.DataFrame({"territory_id": pd.array(affected, dtype="string")})
    table["role"] = [
        "both" if t in gives and t in gets else ("gives" if t in gives else "gets")
        for t in affected
    ]
    for col in ("accounts", "workload_hours", "opportunity", "travel_km"):
        table[f"{col}_before"] = kb.loc[affected, col].to_numpy()
        table[f"{col}_after"] = ka.loc[affected, col].to_numpy()
        table[f"{col}_delta"] = table[f"{col}_after"] - table[f"{col}_before"]
    for col in ("deviation", "contiguous"):
        table[f"{col}_before"] = kb.loc[affected, col].to_numpy()
        table[f"{col}_after"] = ka.loc[affected, col].to_numpy()
    donors = [t for t in affected if t in gives]
    donors_ok = bool(ka.loc[donors, "contiguous"].all()) if donors else True
    return Preview(after, result.edit, table, donors_ok, int(moved.sum()))


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class PlanDiff:
    """How plan B differs from plan A over the same accounts.

    Attributes
    ----------
    table
        One row per territory in either plan: ``territory_id, accounts_a, accounts_b,
        accounts_in, accounts_out, workload_a, workload_b, workload_in, workload_out``.
    moves
        One row per moved account: ``account_id, from_territory, to_territory,
        workload_hours`` (``<NA>`` = outside both plans' study area).
    """

    table: pd.DataFrame
    moves: pd.DataFrame

    @property
    def moved_accounts(self) -> int:
        """Number of accounts whose territory differs."""
        return len(self.moves)

    @property
    def moved_workload(self) -> float:
        """Workload hours (per month) that changed hands."""
        return float(self.moves["workload_hours"].sum())

    def to_text(self, name_a: str = "A", name_b: str = "B") -> str:
        """A plain-text report (for the command line)."""
        shown = self.table.copy()
        for col in ("workload_a", "workload_b", "workload_in", "workload_out"):
            shown[col] = shown[col].round(1)
        head = (
            f"{name_a} -> {name_b}: {self.moved_accounts:,} account(s) moved, "
            f"{self.moved_workload:,.1f} workload hours/month changed hands"
        )
        return head + "\n" + shown.to_string(index=False)


def diff_plans(a: Plan, b: Plan, accounts: pd.DataFrame) -> PlanDiff:
    """Per-territory accounts and workload in/out from plan ``a`` to plan ``b``."""
    ta = a.assign(accounts).astype("string")
    tb = b.assign(accounts).astype("string")
    moved = (ta.fillna("") != tb.fillna("")).to_numpy()
    work = pd.Series(_weights(accounts, "workload"), index=accounts.index)
    moves = pd.DataFrame(
        {
            "account_id": accounts["account_id"].astype("string")[moved].to_numpy(),
            "from_territory": ta[moved].to_numpy(),
            "to_territory": tb[moved].to_numpy(),
            "workload_hours": work[moved].to_numpy(),
        }
    )
    ids = list(dict.fromkeys([*a.territory_ids, *b.territory_ids]))

    def per(series: pd.Series, weights: pd.Series) -> NDArray[np.float64]:
        return weights.groupby(series).sum().reindex(ids).fillna(0.0).to_numpy(float)

    ones = pd.Series(1.0, index=accounts.index)
    mw, mo = work[moved], ones[moved]
    table = pd.DataFrame(
        {
            "territory_id": pd.array(ids, dtype="string"),
            "accounts_a": per(ta, ones).astype(int),
            "accounts_b": per(tb, ones).astype(int),
            "accounts_in": per(tb[moved], mo).astype(int),
            "accounts_out": per(ta[moved], mo).astype(int),
            "workload_a": per(ta, work),
            "workload_b": per(tb, work),
            "workload_in": per(tb[moved], mw),
            "workload_out": per(ta[moved], mw),
        }
    )
    return PlanDiff(table, moves)


def plan_changes(
    before: Plan,
    after: Plan,
    *,
    accounts: pd.DataFrame | None = None,
    kind: EditKind = "rebalance",
    note: str = "",
) -> Edit:
    """The edit record that turns ``before`` into ``after`` (cells and accounts moved).

    Cells are compared on ``after``'s grid (so a re-gridded plan is compared cell by
    cell at its own resolution). With ``accounts`` every account that changes
    territory is listed; without them, the accounts whose override changed.
    """
    names = np.array([*before.territory_ids, None], dtype=object)
    prev = names[before.territory_of_cells(after.cells)]
    now = np.array(after.territory_ids, dtype=object)[after.labels]
    diff = np.flatnonzero(prev != now)
    changes = [Change("cell", _hex(after.cells[i]), prev[i], now[i]) for i in diff.tolist()]
    if accounts is not None:
        ta = before.assign(accounts).astype("string").fillna("")
        tb = after.assign(accounts).astype("string").fillna("")
        ids = _account_ids(accounts)
        moved = np.flatnonzero((ta != tb).to_numpy())
        changes += [
            Change("account", ids[i], ta.iloc[i] or None, tb.iloc[i] or None)
            for i in moved.tolist()
        ]
    else:
        keys = sorted(set(before.overrides) | set(after.overrides))
        changes += [
            Change("account", a, before.overrides.get(a), after.overrides.get(a))
            for a in keys
            if before.overrides.get(a) != after.overrides.get(a)
        ]
    return Edit(kind, tuple(changes), (), note)


# --------------------------------------------------------------------------- history


@dataclass(frozen=True)
class History:
    """Undo/redo over the whole edit history of a plan (an immutable value).

    ``plans[i + 1]`` is ``plans[i]`` after ``edits[i]``; ``cursor`` is the step shown.
    Applying an edit after undoing drops the undone steps (as every editor does).

    Examples
    --------
    >>> h = History.start(plan)                                    # doctest: +SKIP
    >>> h = h.apply(assign_cells(h.current, accounts, cells, "T03"))  # doctest: +SKIP
    >>> h.undo().current is plan                                   # doctest: +SKIP
    True
    """

    plans: tuple[Plan, ...]
    edits: tuple[Edit, ...] = ()
    cursor: int = 0

    def __post_init__(self) -> None:
        if not self.plans or len(self.edits) != len(self.plans) - 1:
            raise ValueError(f"{len(self.plans)} plans need {len(self.plans) - 1} edits")
        if not 0 <= self.cursor < len(self.plans):
            raise ValueError(f"cursor {self.cursor} outside 0..{len(self.plans) - 1}")

    @classmethod
    def start(cls, plan: Plan) -> History:
        """A history holding one plan and no edits."""
        return cls((plan,))

    @property
    def current(self) -> Plan:
        """The plan at the cursor."""
        return self.plans[self.cursor]

    @property
    def can_undo(self) -> bool:
        """Whether there is an applied edit to undo."""
        return self.cursor > 0

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone edit to redo."""
        return self.cursor < len(self.plans) - 1

    def applied(self) -> tuple[Edit, ...]:
        """The edits that lead to the current plan, oldest first."""
        return self.edits[: self.cursor]

    def push(self, plan: Plan, edit: Edit) -> History:
        """Apply ``plan`` (made by ``edit``) after the cursor; drops any redo steps."""
        return History(
            (*self.plans[: self.cursor + 1], plan),
            (*self.edits[: self.cursor], edit),
            self.cursor + 1,
        )

    def apply(self, result: EditResult | Preview) -> History:
        """Apply an edit result or an accepted preview; a no-op edit changes nothing."""
        plan, edit = (result.plan, result.edit)
        if plan is self.current or (not edit.changes and plan.equals(self.current)):
            return self
        return self.push(plan, edit)

    def undo(self) -> History:
        """One step back (raises :class:`TerrmapError` at the start)."""
        if not self.can_undo:
            raise TerrmapError("nothing to undo: this is the plan as it was opened")
        return replace(self, cursor=self.cursor - 1)

    def redo(self) -> History:
        """One step forward again (raises :class:`TerrmapError` when nothing was undone)."""
        if not self.can_redo:
            raise TerrmapError("nothing to redo")
        return replace(self, cursor=self.cursor + 1)

    def goto(self, step: int) -> History:
        """Jump to any step (0 = as opened, ``len(plans) - 1`` = newest)."""
        if not 0 <= step < len(self.plans):
            raise TerrmapError(f"step {step} outside 0..{len(self.plans) - 1}")
        return replace(self, cursor=step)

    def undo_record(self) -> Edit:
        """The audit record of undoing the step at the cursor (before :meth:`undo`)."""
        if not self.can_undo:
            raise TerrmapError("nothing to undo: this is the plan as it was opened")
        return self.edits[self.cursor - 1].inverted("undo")

    def redo_record(self) -> Edit:
        """The audit record of redoing the next step (before :meth:`redo`)."""
        if not self.can_redo:
            raise TerrmapError("nothing to redo")
        edit = self.edits[self.cursor]
        return Edit("redo", edit.changes, edit.skipped, f"redoes {edit.kind}")

    def edited_cells(self) -> NDArray[np.uint64]:
        """Cells painted by hand in the applied edits (kept fixed by a rebalance)."""
        keys = {
            c.key
            for e in self.applied()
            if e.kind == "assign"
            for c in e.changes
            if c.item == "cell"
        }
        return np.array(sorted(h3.str_to_int(k) for k in keys), dtype=np.uint64)


# --------------------------------------------------------------------------- rebalance


@dataclass(frozen=True)
class Rebalance:
    """A proposed engine run with the hand edits and locks held fixed (not yet applied).

    Attributes
    ----------
    preview
        KPI deltas of the territories that change, the proposed plan and its record
        (apply with ``History.apply(rebalance.preview)``).
    diff
        Per-territory accounts and workload in/out, and every account that would move.
    """

    preview: Preview
    diff: PlanDiff

    @property
    def plan(self) -> Plan:
        """The proposed plan."""
        return self.preview.plan

    @property
    def edit(self) -> Edit:
        """The record of what would move."""
        return self.preview.edit


def _design_config(plan: Plan, config: DesignConfig | None, resolution: int | None) -> DesignConfig:
    from terrmap.design import DesignConfig

    if config is None:
        stored = plan.params.get("config")
        known = {f.name for f in fields(DesignConfig)}
        options = {k: v for k, v in dict(stored or {}).items() if k in known}
        if "balance" in plan.params and "balance" not in options:
            options["balance"] = plan.params["balance"]
        config = DesignConfig(**options)
    if resolution is not None and resolution != config.resolution:
        config = replace(config, resolution=int(resolution))
    return config


def _roster_in_plan_order(plan: Plan, reps: pd.DataFrame | None) -> pd.DataFrame | None:
    named = [r for r in plan.rep_ids if r is not None]
    if not named:
        return None
    if reps is None:
        raise TerrmapError(
            "this plan's territories belong to reps; rebalancing it needs the rep roster. "
            "Fix: pass reps (the roster the plan was made for)."
        )
    by_id = reps.drop_duplicates("rep_id").set_index(reps["rep_id"].drop_duplicates().astype(str))
    missing = [r for r in named if r not in by_id.index]
    if missing or len(named) != plan.k:
        raise TerrmapError(
            f"the roster lacks reps {missing[:5]} of this plan. Fix: pass the roster the plan "
            "was made for (or rebuild the plan for the new roster)."
        )
    return by_id.loc[list(named)].reset_index(drop=True)


def _pinned_accounts(
    plan: Plan, accounts: pd.DataFrame, held_cells: NDArray[np.uint64]
) -> frozenset[str]:
    """Accounts standing on held cells (without an override of their own)."""
    if held_cells.size == 0:
        return frozenset()
    on_held = np.isin(plan.account_cells(accounts), held_cells)
    ids = _account_ids(accounts)
    return frozenset(ids[on_held & ~np.isin(ids, list(plan.overrides))].tolist())


def rebalance(
    plan: Plan,
    accounts: pd.DataFrame,
    reps: pd.DataFrame | None = None,
    *,
    config: DesignConfig | None = None,
    keep_cells: ArrayLike = (),
    resolution: int | None = None,
    random_state: int | None = 0,
    adj: sparse.csr_matrix | None = None,
) -> Rebalance:
    """Run the engine on the rest of the plan with edits and locks fixed, minimal disruption.

    Held fixed: locked cells and accounts, account overrides, and ``keep_cells`` (the
    cells painted by hand, e.g. ``history.edited_cells()``). The current plan is the
    baseline, so the engine moves as little as the balance needs (``config.max_moved``
    caps it). With ``resolution`` the plan is re-gridded: locked and kept cells then
    hold through their accounts, and overrides survive as they are.

    Parameters
    ----------
    config
        A ``terrmap.design.DesignConfig``; default: the one that made the plan.

    Raises
    ------
    terrmap.errors.InfeasibleError
        When the locks leave no way to meet the band (with the numbers).
    """
    from terrmap.design import build_plan

    regrid = resolution is not None and resolution != plan.resolution
    cfg = _design_config(plan, config, resolution if regrid else plan.resolution)
    roster = _roster_in_plan_order(plan, reps)
    keep = plan.cells[np.unique(_located(plan, keep_cells))]
    held = np.union1d(_locked_array(plan), keep)
    pins = frozenset(plan.overrides) | (_pinned_accounts(plan, accounts, held) if regrid else set())
    if regrid:
        held = _descendants(held, min(cfg.resolution or plan.resolution, MAX_RESOLUTION))
    base = replace(plan, locked_cells=frozenset(held.tolist()))
    new = build_plan(
        accounts,
        roster,
        k=None if roster is not None else plan.k,
        config=cfg,
        baseline=base,
        locked_accounts=tuple(sorted(pins | plan.locked_accounts)),
        random_state=random_state,
        warm_start=None if regrid else base,
    )
    new = _restore_bookkeeping(plan, new, accounts, pins, keep)
    edit = plan_changes(plan, new, accounts=accounts, kind="rebalance", note=_note(new))
    shown = preview(plan, EditResult(new, edit), accounts, reps=reps, adj=None if regrid else adj)
    return Rebalance(shown, diff_plans(plan, new, accounts))


def _descendants(cells: NDArray[np.uint64], res: int) -> NDArray[np.uint64]:
    """Held cells as their descendants down to the finest cells a finer grid may use.

    The engine pins a grid cell when any held id lies inside it, so listing every
    descendant holds all of a locked cell's ground after re-gridding, including cells
    the engine splits further (up to ``res + 3``, as the engine's adaptive grid does).
    """
    finest = min(res + 3, MAX_RESOLUTION)
    parts = [
        np.asarray(h3n.cell_to_children(int(c), finest), dtype=np.uint64)
        if int(h3n.get_resolution(int(c))) < finest
        else np.array([c], dtype=np.uint64)
        for c in cells.tolist()
    ]
    return np.concatenate(parts) if parts else cells


def _located(plan: Plan, cells: ArrayLike) -> NDArray[np.int64]:
    pos = locate_cells(plan.cells, np.atleast_1d(np.asarray(cells, dtype=np.uint64)))
    return pos[pos >= 0]


def _restore_bookkeeping(
    plan: Plan, new: Plan, accounts: pd.DataFrame, pins: frozenset[str], keep: NDArray[np.uint64]
) -> Plan:
    """Locks and overrides as the user set them (the engine's own pins are internal)."""
    if "locked" in accounts.columns:
        flagged = accounts["locked"].fillna(False).astype(bool).to_numpy()
        from_data = frozenset(_account_ids(accounts)[flagged].tolist())
    else:
        from_data = frozenset()
    locked_accounts = plan.locked_accounts | (new.locked_accounts & from_data)
    old_locked = _locked_array(plan)
    if np.array_equal(new.cells, plan.cells):
        locked_cells = frozenset(old_locked.tolist())
    else:  # re-gridded: a new cell is locked when its centre lies in a locked old cell
        inside = np.isin(plan.cells[np.maximum(locate_cells(plan.cells, new.cells), 0)], old_locked)
        inside &= locate_cells(plan.cells, new.cells) >= 0
        locked_cells = frozenset(new.cells[inside].tolist())
    overrides = {**new.overrides, **{a: plan.overrides[a] for a in pins if a in plan.overrides}}
    return replace(
        new, overrides=overrides, locked_cells=locked_cells, locked_accounts=locked_accounts
    )


def _note(plan: Plan) -> str:
    rep = plan.report
    if rep is None:
        return ""
    band = "within" if rep.tolerance_met else "outside"
    return (
        f"max deviation {rep.max_deviation:.1%} ({band} ±{rep.tolerance:.0%}), "
        f"{len(rep.moved_accounts)} accounts moved"
    )
