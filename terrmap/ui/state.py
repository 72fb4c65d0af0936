"""The one typed session-state object of the dashboard, under one key.

Session state holds small values only: the current :class:`Dataset` (whose frames are
shared, read-only, with the cache for the bundled sample), the engine and scoring
settings, the scenario the sliders describe, the map selection, the outcome of the last
upload, the author name for saved plans and the edit session of the Territories page
(:mod:`terrmap.ui.editing`). Everything heavy is recomputed through
:mod:`terrmap.ui.cache`, keyed by ``Dataset.version`` and the settings.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
import streamlit as st

from terrmap.design import DesignConfig
from terrmap.errors import InputError, Problem, TerrmapError
from terrmap.layers import MapSelection
from terrmap.scenarios import PlanSnapshot, Scenario
from terrmap.scoring import ScoringConfig

if TYPE_CHECKING:
    from terrmap.ui.editing import EditSession

__all__ = [
    "DEFAULT_DESIGN",
    "STATE_KEY",
    "AppState",
    "Dataset",
    "UploadOutcome",
    "get_state",
    "stable_key",
]

STATE_KEY = "terrmap"
#: The dashboard balances workload with targets proportional to each rep's capacity (a
#: new hire at 60 % capacity gets a smaller territory), within 2 %.
DEFAULT_DESIGN = DesignConfig(balance="workload", tolerance=0.02, targets="capacity")


def stable_key(*parts: object) -> str:
    """A short deterministic key for cache entries (reprs of frozen values)."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Dataset:
    """Accounts and reps as loaded and validated (before scoring); read-only frames.

    Attributes
    ----------
    accounts_source, reps_source
        Where each table came from (a file name, or "Bundled sample").
    version
        Content key: changes whenever either table changes.
    accounts, reps
        The canonical frames (``terrmap.load``).
    notes
        What loading decided (e.g. accounts placed at ZIP centroids).
    pinned
        A plan adopted from a scenario: used as this data's plan instead of designing
        one from the settings.
    """

    accounts_source: str
    reps_source: str
    version: str
    accounts: pd.DataFrame
    reps: pd.DataFrame
    notes: tuple[str, ...] = ()
    pinned: PlanSnapshot | None = None

    @property
    def name(self) -> str:
        """What the user sees: one source, or "accounts + reps" sources."""
        if self.accounts_source == self.reps_source:
            return self.accounts_source
        return f"{self.accounts_source} + {self.reps_source}"

    def with_plan(self, snap: PlanSnapshot, *, key: str, label: str) -> Dataset:
        """This data with ``snap`` as its plan (an adopted scenario), under a new version."""
        return replace(
            self,
            version=stable_key(self.version, key, "pinned"),
            reps=snap.reps,
            notes=(*self.notes, label),
            pinned=snap,
        )

    def replace_accounts(
        self, accounts: pd.DataFrame, *, source: str, digest: str, notes: tuple[str, ...] = ()
    ) -> Dataset:
        """A new dataset with ``accounts`` replaced (the version changes)."""
        return replace(
            self,
            accounts_source=source,
            version=stable_key(digest, self.version, "accounts"),
            accounts=accounts,
            notes=notes,
            pinned=None,
        )

    def replace_reps(
        self, reps: pd.DataFrame, *, source: str, digest: str, notes: tuple[str, ...] = ()
    ) -> Dataset:
        """A new dataset with ``reps`` replaced (the version changes)."""
        return replace(
            self,
            reps_source=source,
            version=stable_key(digest, self.version, "reps"),
            reps=reps,
            notes=notes,
            pinned=None,
        )


@dataclass(frozen=True)
class UploadOutcome:
    """The result of the last upload: accepted (with notes) or refused (with problems)."""

    kind: Literal["accounts", "reps"]
    filename: str
    accepted: bool
    error: InputError | None = None
    notes: tuple[str, ...] = ()
    dropped: tuple[Problem, ...] = ()


@dataclass
class AppState:
    """Everything the dashboard remembers for one browser session."""

    dataset: Dataset
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    design: DesignConfig = field(default_factory=lambda: DEFAULT_DESIGN)
    scenario: Scenario = field(default_factory=Scenario)
    selection: MapSelection | None = None
    #: The last map click applied (a rerun replays it; only a new click counts).
    last_click: MapSelection | None = None
    #: Shapes drawn on the editing map that were already handled (keys of their geometry).
    seen_drawings: set[str] = field(default_factory=set)
    #: Why the last "add a rep at …" was refused, shown until the next attempt.
    hire_error: TerrmapError | None = None
    last_upload: UploadOutcome | None = None
    #: The last headcount curve computed: (key of baseline + scenario + sizes, curve).
    curve: tuple[str, pd.DataFrame] | None = None
    history: list[str] = field(default_factory=list)
    #: Who saves plans (the sidebar's "Your name"); empty = the login name.
    author: str = ""
    #: The plan being edited on the Territories page (history, selection, where stored).
    editing: EditSession | None = None

    def plan_key(self) -> str:
        """Key of the current baseline plan (data + settings)."""
        return stable_key(self.dataset.version, self.scoring, self.design)

    def use_dataset(self, dataset: Dataset, note: str) -> None:
        """Switch to a new dataset; the selection and scenario no longer apply."""
        self.dataset = dataset
        self.selection = None
        self.scenario = Scenario()
        self.history.append(note)


#: The router (the script ``streamlit run`` is given).
APP_SCRIPT = Path(__file__).resolve().parents[2] / "app.py"
#: Set by ``app.py`` while it runs the chosen page (see :func:`page_state`).
_ROUTED: contextvars.ContextVar[bool] = contextvars.ContextVar("terrmap_routed", default=False)


@contextmanager
def routed() -> Iterator[None]:
    """``app.py`` runs the page inside this: the page knows the router ran."""
    token = _ROUTED.set(True)
    try:
        yield
    finally:
        _ROUTED.reset(token)


def page_state() -> AppState:
    """The app state, for a page: first makes sure the page runs under ``app.py``.

    Until ``st.navigation`` has been called once, Streamlit treats the ``pages/``
    folder as its legacy multipage app: on a fresh server, a first visit to
    ``/scenarios`` runs that page alone, without ``app.py`` (no sidebar, no wide
    layout, a page list of file names); AppTest does so on every run. Then switch the
    legacy mode off, as ``st.navigation`` itself does, run ``app.py`` (which routes
    to this very page) and stop this bare run.
    """
    if not _ROUTED.get():
        import runpy

        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        runpy.run_path(str(APP_SCRIPT), run_name="__main__")
        st.stop()
    return get_state()


def get_state() -> AppState:
    """The session's :class:`AppState`, created on the bundled sample on first use."""
    state = st.session_state.get(STATE_KEY)
    if not isinstance(state, AppState):
        from terrmap.ui.cache import sample_dataset

        state = AppState(dataset=sample_dataset())
        st.session_state[STATE_KEY] = state
    return state
