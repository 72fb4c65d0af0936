"""Hand edits of a plan as pure functions: the edit record and the moves.

Every operation takes an immutable :class:`~terrmap.plan.Plan` and returns a new one
together with an :class:`Edit` — a small diff record (what moved from which territory
to which) that the store writes to the audit log. Nothing here touches Streamlit or the
database, so a page calls these functions directly and tests drive them without a UI.
The other edit modules build on these records: :mod:`terrmap.selection` (which cells
a click or lasso picks), :mod:`terrmap.locks`, :mod:`terrmap.preview` (KPI deltas and
plan comparison), :mod:`terrmap.history` (undo/redo) and :mod:`terrmap.rebalance`.

Locks. A locked cell or account never moves, neither by hand nor in any automatic run.
A territory is locked when every one of its cells is locked (locking a territory locks
its cells and the accounts overridden into it). Hand edits *skip* locked items and list
them in :attr:`Edit.skipped` (so a lasso over a region with one locked cell moves the
rest); when nothing at all could move, :class:`LockedError` is raised instead of
recording an empty edit. Painting into a locked territory is refused the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from terrmap._plan_lookup import (
    account_id_array,
    account_state,
    cell_positions,
    hex_id,
    known_accounts,
    locked_cell_array,
    locked_territories,
    territory_index,
)
from terrmap.errors import TerrmapError
from terrmap.grid import locate_cells
from terrmap.plan import Plan

__all__ = [
    "Change",
    "Edit",
    "EditKind",
    "EditResult",
    "ItemKind",
    "LockedError",
    "assign_cells",
    "clear_overrides",
    "override_accounts",
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
_ITEMS: tuple[ItemKind, ...] = get_args(ItemKind)
_KINDS: tuple[str, ...] = get_args(EditKind)


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


# --------------------------------------------------------------------------- move


def _refuse_locked_target(plan: Plan, territory_id: str) -> None:
    if territory_id in locked_territories(plan):
        raise LockedError(
            f"territory {territory_id} is locked, so nothing can be moved into or out of it. "
            "Fix: unlock it first, or pick another target territory."
        )


def _cell_changes(plan: Plan, pos: NDArray[np.int64], target: int) -> tuple[Change, ...]:
    after = plan.territory_ids[target]
    return tuple(
        Change("cell", hex_id(c), plan.territory_ids[b], after)
        for c, b in zip(plan.cells[pos].tolist(), plan.labels[pos].tolist(), strict=True)
    )


def _describe_cells(plan: Plan, pos: NDArray[np.int64]) -> str:
    shown = ", ".join(hex_id(c) for c in plan.cells[pos[:5]].tolist())
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
    target = territory_index(plan, territory_id)
    pos = cell_positions(plan, cells)
    pos = pos[plan.labels[pos] != target]
    if pos.size == 0:
        return EditResult(plan, Edit("assign"))
    _refuse_locked_target(plan, plan.territory_ids[target])
    is_locked = np.isin(plan.cells[pos], locked_cell_array(plan))
    move, held = pos[~is_locked], pos[is_locked]
    if move.size == 0:
        raise LockedError(
            f"all {held.size} selected cell(s) are locked ({_describe_cells(plan, held)}). "
            "Fix: unlock them first, or select other cells."
        )
    ids = account_id_array(accounts)
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
    target = plan.territory_ids[territory_index(plan, territory_id)]
    state = account_state(plan, accounts, known_accounts(accounts, account_ids))
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
    present = set(account_id_array(accounts).tolist())
    state = account_state(plan, accounts, [a for a in wanted if a in present])
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
