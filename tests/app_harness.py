"""What the AppTest suites of the Territories and Plans pages share.

A local, tile-free environment with its own plan database, and checked access to the
app state and the editing session an AppTest run keeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from terrmap.ui.editing import EditSession
from terrmap.ui.state import STATE_KEY, AppState


def set_app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No map tiles, and a fresh SQLite plan store under ``tmp_path``."""
    monkeypatch.setenv("TERRMAP_TILES", "none")
    monkeypatch.setenv("TERRMAP_DB_PATH", str(tmp_path / "plans.db"))
    monkeypatch.delenv("TERRMAP_DB_URL", raising=False)


def ran_ok(at: AppTest) -> AppTest:
    """``at`` after asserting its run raised nothing."""
    assert not at.exception, [e.value for e in at.exception]
    return at


def app_state(at: AppTest) -> AppState:
    """The :class:`AppState` the app keeps in its session."""
    state = at.session_state[STATE_KEY]
    assert isinstance(state, AppState)
    return state


def edit_session(at: AppTest) -> EditSession:
    """The editing session of the app state."""
    session = app_state(at).editing
    assert isinstance(session, EditSession)
    return session
