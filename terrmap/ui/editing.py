"""The edit session of the Territories page: history, selection, previews, publishing.

One :class:`EditSession` per browser session (``AppState.editing``) holds the undo/redo
:class:`~terrmap.history.History` of the plan being edited, the cells selected on the
map, the steps applied since the last save (the *journal*, written to the plan
database one version per step) and where the plan is stored. All moves go through the
pure core (:mod:`terrmap.edits`, :mod:`terrmap.locks`, :mod:`terrmap.preview`,
:mod:`terrmap.rebalance`); this module only keeps the session's bookkeeping.

The edited plan is *published* to the rest of the app by pinning it to the dataset
(``Dataset.with_plan``), the same mechanism an adopted scenario uses: every page that
asks ``baseline_snapshot`` for the plan -- Scenarios, Coverage, the exports on Data --
then sees the edited plan. Undoing back to the start unpins it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from terrmap.edits import Edit, EditResult, assign_cells, override_accounts
from terrmap.errors import TerrmapError
from terrmap.grid import adjacency
from terrmap.history import History
from terrmap.plan import Plan
from terrmap.preview import Preview, plan_changes, preview
from terrmap.rebalance import Rebalance, rebalance
from terrmap.scenarios import PlanSnapshot, snapshot
from terrmap.scoring import ScoringConfig
from terrmap.ui.state import AppState, Dataset

__all__ = [
    "EditSession",
    "Mode",
    "StoredRef",
    "ensure_session",
    "partition_key",
    "plan_key",
    "publish",
]

Mode = Literal["inspect", "select", "paint", "territory"]
SelectHow = Literal["add", "toggle", "replace", "remove"]
_SNAPSHOTS_KEPT = 6


def partition_key(plan: Plan) -> str:
    """Content key of what the KPIs depend on: cells, labels, territories, overrides."""
    digest = hashlib.sha256(np.ascontiguousarray(plan.cells).tobytes())
    digest.update(np.ascontiguousarray(plan.labels, dtype=np.int32).tobytes())
    digest.update(repr((plan.territory_ids, plan.rep_ids, sorted(plan.overrides.items()))).encode())
    return digest.hexdigest()[:20]


def plan_key(plan: Plan) -> str:
    """Content key of a plan (the partition plus its locks)."""
    locks = repr((sorted(plan.locked_cells), sorted(plan.locked_accounts)))
    return hashlib.sha256((partition_key(plan) + locks).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class StoredRef:
    """Where the edited plan lives in the plan database.

    Attributes
    ----------
    plan_id, name
        The stored plan.
    version
        The head version the unsaved steps are based on (the optimistic check).
    dataset_id
        The stored accounts and reps of the plan.
    """

    plan_id: int
    name: str
    version: int
    dataset_id: int | None = None


@dataclass
class EditSession:
    """The plan being edited in one browser session, with its history and selection.

    Attributes
    ----------
    base
        The dataset the history starts from (its pinned plan, if any, is step 0).
    base_key
        ``AppState.plan_key()`` when the session started (settings changes restart it).
    accounts, reps, scoring
        The scored accounts, roster and workload model the plan is shown with.
    history
        Undo/redo over every applied edit.
    shown_version
        The dataset version last published to ``AppState.dataset``.
    stored
        Where the plan is stored, if it is.
    journal
        Steps applied since the last save (plan after the step, its record), oldest first.
    cells
        The selected plan cells.
    """

    base: Dataset
    base_key: str
    accounts: pd.DataFrame
    reps: pd.DataFrame
    scoring: ScoringConfig
    history: History
    shown_version: str
    stored: StoredRef | None = None
    journal: list[tuple[Plan, Edit]] = field(default_factory=list)
    cells: frozenset[int] = frozenset()
    #: What the last move applied without a preview (paint at once) changed.
    last_change: Preview | None = None
    proposal: Rebalance | None = None
    #: A save refused because someone else saved first (``terrmap.store.ConflictError``).
    conflict: TerrmapError | None = None
    error: TerrmapError | None = None
    #: Where the page shows ``error``: "top" (plan bar) or the tab whose action failed.
    error_where: str = "top"
    notice: str | None = None
    _snaps: dict[str, PlanSnapshot] = field(default_factory=dict, repr=False)
    _adj: tuple[NDArray[np.uint64], sparse.csr_matrix] | None = field(default=None, repr=False)
    _previews: dict[tuple[Any, ...], Preview | TerrmapError] = field(
        default_factory=dict, repr=False
    )

    # -- construction ---------------------------------------------------------------

    @classmethod
    def start(
        cls,
        dataset: Dataset,
        snap: PlanSnapshot,
        *,
        base_key: str,
        stored: StoredRef | None = None,
        journal: Iterable[tuple[Plan, Edit]] = (),
    ) -> EditSession:
        """A session on ``snap.plan`` (shown as ``dataset``), with no edits yet."""
        session = cls(
            base=dataset,
            base_key=base_key,
            accounts=snap.accounts,
            reps=snap.reps,
            scoring=snap.scoring,
            history=History.start(snap.plan),
            shown_version=dataset.version,
            stored=stored,
            journal=list(journal),
        )
        session._snaps[partition_key(snap.plan)] = snap
        return session

    # -- the current plan -----------------------------------------------------------

    @property
    def plan(self) -> Plan:
        """The plan at the history cursor."""
        return self.history.current

    @property
    def unsaved(self) -> int:
        """Steps applied since the last save."""
        return len(self.journal)

    @property
    def edited(self) -> bool:
        """Whether the current plan differs from the one the session started with."""
        return self.plan is not self.history.plans[0]

    def snapshot(self) -> PlanSnapshot:
        """The current plan with its KPI table and health (cached by content)."""
        plan = self.plan
        key = partition_key(plan)
        snap = self._snaps.get(key)
        if snap is None:
            snap = snapshot(plan, self.accounts, self.reps, scoring=self.scoring)
            self._snaps[key] = snap
            while len(self._snaps) > _SNAPSHOTS_KEPT:
                self._snaps.pop(next(iter(self._snaps)))
        elif snap.plan is not plan:  # only locks differ: same KPIs
            snap = PlanSnapshot(
                plan=plan,
                accounts=snap.accounts,
                reps=snap.reps,
                assignment=snap.assignment,
                table=snap.table,
                health=snap.health,
                scoring=snap.scoring,
            )
        return snap

    def adjacency(self) -> sparse.csr_matrix:
        """Cell adjacency of the plan's grid (edits keep the grid, so it is kept)."""
        cells = self.plan.cells
        if self._adj is None or not (self._adj[0] is cells or np.array_equal(self._adj[0], cells)):
            self._adj = (cells, adjacency(cells))
        return self._adj[1]

    # -- selection ------------------------------------------------------------------

    def select(self, cells: ArrayLike, *, how: SelectHow = "add") -> None:
        """Change the selected cells (plan cells; others are ignored)."""
        arr = np.atleast_1d(np.asarray(cells, dtype=np.uint64))
        picked = {int(c) for c in arr[np.isin(arr, self.plan.cells)].tolist()}
        if how == "replace":
            self.cells = frozenset(picked)
        elif how == "add":
            self.cells = self.cells | picked
        elif how == "remove":
            self.cells = self.cells - picked
        else:
            self.cells = self.cells ^ picked

    def selected_array(self) -> NDArray[np.uint64]:
        """The selection as a sorted uint64 array."""
        return np.array(sorted(self.cells), dtype=np.uint64)

    def selected_territories(self) -> list[str]:
        """Territories the selected cells are in now, in plan order."""
        if not self.cells:
            return []
        idx = np.unique(self.plan.territory_of_cells(self.selected_array()))
        return [self.plan.territory_ids[i] for i in idx.tolist() if i >= 0]

    def accounts_on_selection(self) -> pd.DataFrame:
        """The accounts standing on the selected cells."""
        if not self.cells:
            return self.accounts.iloc[:0]
        on = np.isin(self.plan.account_cells(self.accounts), self.selected_array())
        return self.accounts.loc[on]

    # -- previews -------------------------------------------------------------------

    def _cached_preview(self, key: tuple[Any, ...], make: Any) -> Preview:
        full = (plan_key(self.plan), *key)
        found = self._previews.get(full)
        if found is None:
            try:
                found = make()
            except TerrmapError as error:
                found = error
            self._previews = {full: found}  # only the latest preview is worth keeping
        if isinstance(found, TerrmapError):
            raise found
        assert isinstance(found, Preview)
        return found

    def _preview_of(self, result: EditResult) -> Preview:
        return preview(self.plan, result, self.accounts, reps=self.reps, adj=self.adjacency())

    def preview_cells(self, target: str) -> Preview:
        """What moving the selected cells into ``target`` would change (not applied).

        Raises
        ------
        terrmap.edits.LockedError
            When everything selected is locked, or ``target`` is.
        """
        cells = self.selected_array()
        return self._cached_preview(
            ("cells", cells.tobytes(), target),
            lambda: self._preview_of(assign_cells(self.plan, self.accounts, cells, target)),
        )

    def preview_accounts(self, account_ids: Iterable[str], target: str) -> Preview:
        """What moving single accounts into ``target`` would change (overrides)."""
        ids = tuple(dict.fromkeys(str(a) for a in account_ids))
        return self._cached_preview(
            ("accounts", ids, target),
            lambda: self._preview_of(override_accounts(self.plan, self.accounts, ids, target)),
        )

    # -- applying -------------------------------------------------------------------

    def apply(self, result: EditResult | Preview) -> bool:
        """Apply an edit (or an accepted preview); False when it changed nothing."""
        before = self.history
        self.history = before.apply(result)
        if self.history is before:
            return False
        self.journal.append((self.plan, result.edit))
        self.cells = frozenset()
        self.proposal = None
        self.error = None
        return True

    def paint(self, cells: ArrayLike, target: str) -> bool:
        """Move cells into ``target`` at once (paint without a preview step)."""
        shown = self._preview_of(assign_cells(self.plan, self.accounts, cells, target))
        if not self.apply(shown):
            return False
        self.last_change = shown
        return True

    def undo(self) -> None:
        """One step back (recorded as an ``undo`` step for the plan database)."""
        record = self.history.undo_record()
        self.history = self.history.undo()
        self._after_jump(record)

    def redo(self) -> None:
        """One step forward again (recorded as a ``redo`` step)."""
        record = self.history.redo_record()
        self.history = self.history.redo()
        self._after_jump(record)

    def goto(self, step: int) -> None:
        """Jump to any step of the history (0 = as opened)."""
        if step == self.history.cursor:
            return
        kind: Literal["undo", "redo"] = "undo" if step < self.history.cursor else "redo"
        before = self.plan
        self.history = self.history.goto(step)
        record = plan_changes(before, self.plan, kind=kind, note=f"jump to step {step}")
        self._after_jump(record)

    def _after_jump(self, record: Edit) -> None:
        self.journal.append((self.plan, record))
        self.proposal = None
        self.last_change = None
        self.error = None

    def propose_rebalance(self) -> Rebalance:
        """An engine run on the rest with hand edits and locks fixed (not applied)."""
        self.proposal = rebalance(
            self.plan,
            self.accounts,
            self.reps if len(self.reps) else None,
            keep_cells=self.history.edited_cells(),
            adj=self.adjacency(),
        )
        return self.proposal

    def mark_saved(self, ref: StoredRef) -> None:
        """The journal is in the database now, at ``ref.version``."""
        self.stored = ref
        self.journal.clear()
        self.conflict = None


# --------------------------------------------------------------------------- app glue


def _valid_for(session: EditSession, state: AppState) -> bool:
    if state.dataset.version != session.shown_version:
        return False  # new data, an adopted scenario, or another tab's plan
    fixed_plan = session.shown_version != session.base.version or session.base.pinned is not None
    return fixed_plan or state.plan_key() == session.base_key


def ensure_session(state: AppState) -> EditSession:
    """The session's edit session, (re)started on the current plan when the data changed."""
    session = state.editing
    if isinstance(session, EditSession) and _valid_for(session, state):
        return session
    from terrmap.ui.cache import baseline_snapshot

    snap = baseline_snapshot(state.dataset.version, state.scoring, state.design, state.dataset)
    fresh = EditSession.start(state.dataset, snap, base_key=state.plan_key())
    if isinstance(session, EditSession) and session.unsaved:
        what = f"plan '{session.stored.name}'" if session.stored else "previous plan"
        fresh.notice = (
            "The plan changed outside this page (new data, new settings or an adopted "
            f"scenario), so editing starts again from it. The {what} had "
            f"{session.unsaved} unsaved step(s), which were not saved."
        )
    state.editing = fresh
    return fresh


def publish(state: AppState, session: EditSession) -> None:
    """Make the session's current plan the app's plan (or unpin it at step 0)."""
    if session.plan is session.history.plans[0]:
        dataset = session.base
    else:
        dataset = session.base.with_plan(
            session.snapshot(), key=plan_key(session.plan), label="Territories edited by hand"
        )
    state.dataset = dataset
    session.shown_version = dataset.version
    sel = state.selection
    if sel is not None and sel.territory_id not in (None, *session.plan.territory_ids):
        state.selection = None
