"""Undo and redo over the whole edit history of a plan, as an immutable value.

A page keeps one :class:`History` in its session state and replaces it on every
edit. Undo and redo only move a cursor: every plan is kept (edited plans share their
unchanged arrays, such as the cells). The store records undo and redo as edits of
their own (:meth:`History.undo_record`, :meth:`History.redo_record`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import h3
import numpy as np
from numpy.typing import NDArray

from terrmap.edits import Edit, EditResult
from terrmap.errors import TerrmapError
from terrmap.plan import Plan

if TYPE_CHECKING:
    from terrmap.preview import Preview

__all__ = ["History"]


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
