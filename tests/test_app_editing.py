"""Editing on the Territories page through AppTest, with a patched ``st_folium``.

The map cannot be clicked in AppTest (a custom component), so ``st_folium`` is
replaced by :class:`FakeMap`, which still renders the map and its layers and returns
the click or drawing payload a test sets -- exactly what the browser component sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import folium
import h3
import numpy as np
import pandas as pd
import pytest
from app_harness import app_state, edit_session, ran_ok, set_app_env
from edit_world import world
from streamlit.testing.v1 import AppTest

from terrmap.plan import Plan
from terrmap.scenarios import snapshot
from terrmap.scoring import ScoringConfig
from terrmap.selection import cells_in_geometry
from terrmap.ui.editing import EditSession, publish
from terrmap.ui.map_events import handle_payload
from terrmap.ui.state import AppState, Dataset

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 240


class FakeMap:
    """Stands in for ``st_folium``: renders the map, records its layers, returns a payload."""

    def __init__(self) -> None:
        self.payload: dict[str, Any] | None = None
        self.layers: list[str] = []
        self.clicks = 0

    def __call__(self, fig: Any, key: str | None = None, **kwargs: Any) -> Any:
        fig.get_root().render()  # the map and its layers must still build
        groups = kwargs.get("feature_group_to_add") or []
        self.layers = [g.layer_name for g in groups]
        holder = folium.Map(tiles=None)  # as st_folium does: the layers must render too
        for group in groups:
            group.add_to(holder)
        holder.get_root().render()
        return self.payload

    def click(self, cell: int, territory_id: str | None = None) -> None:
        """A click on a territory feature, near the centre of ``cell``.

        Each click lands a hair away from the last one, as a user's clicks do (the
        component only reports a click whose coordinates differ from the last).
        """
        self.clicks += 1
        lat, lng = h3.cell_to_latlng(h3.int_to_str(cell))
        point = {"lat": lat + 1e-7 * self.clicks, "lng": lng}
        props = {"territory_id": territory_id} if territory_id else {}
        self.payload = {
            "last_active_drawing": {"type": "Feature", "properties": props},
            "last_object_clicked": point,
            "last_clicked": point,
            "all_drawings": None,
        }

    def draw(self, geometry: dict[str, Any]) -> None:
        """A shape drawn with the lasso (and the click that closed it)."""
        feature = {"type": "Feature", "properties": {}, "geometry": geometry}
        lng, lat = geometry["coordinates"][0][0]
        self.payload = {
            "last_active_drawing": feature,
            "all_drawings": [feature],
            "last_object_clicked": None,
            "last_clicked": {"lat": lat, "lng": lng},
        }


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_app_env(monkeypatch, tmp_path)


@pytest.fixture()
def fake() -> Iterator[FakeMap]:
    fake = FakeMap()
    with mock.patch("streamlit_folium.st_folium", fake):
        yield fake


def _start(author: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    ran_ok(at.run())
    assert at.text_input(key="terrmap_author").value == ""  # the sidebar's "Your name"
    if author is not None:
        ran_ok(at.text_input(key="terrmap_author").input(author).run())
        assert app_state(at).author == author
    return at


def _kpis(at: AppTest) -> pd.DataFrame:
    table = at.dataframe[-1].value
    assert "Territory" in table.columns and "Workload h" in table.columns
    return table.set_index("Territory")


def _busy_cell(session: EditSession, territory_id: str, *, min_accounts: int = 3) -> int:
    """A cell of ``territory_id`` holding at least ``min_accounts`` accounts."""
    plan = session.plan
    on = pd.Series(plan.account_cells(session.accounts)).value_counts()
    cells = plan.cells_of(territory_id)
    busy = [int(c) for c in cells.tolist() if on.get(np.uint64(c), 0) >= min_accounts]
    assert busy, f"no cell of {territory_id} with {min_accounts} accounts"
    return busy[0]


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [w.value for w in at.warning]
    parts += [i.value for i in at.info] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def _select_cell(at: AppTest, fake: FakeMap, cell: int, territory_id: str) -> None:
    ran_ok(at.segmented_control(key="ed_mode").set_value("select").run())
    fake.click(cell, territory_id)
    ran_ok(at.run())


def test_click_preview_apply_undo_redo(fake: FakeMap) -> None:
    at = _start()
    session = edit_session(at)
    a, b = session.plan.territory_ids[:2]
    cell = _busy_cell(session, a)
    n_moving = int((session.plan.account_cells(session.accounts) == np.uint64(cell)).sum())
    before = _kpis(at)
    _select_cell(at, fake, cell, a)
    assert edit_session(at).cells == {cell}
    assert f"1 cell(s) · {n_moving:,} account(s) in {a}" in _texts(at)
    # A rerun replays the same payload: the click is not toggled off again.
    ran_ok(at.run())
    assert edit_session(at).cells == {cell}

    ran_ok(at.selectbox(key="ed_target").set_value(b).run())
    preview = next(d.value for d in at.dataframe if "Δ accounts" in d.value.columns)
    assert list(preview["Role"]) == ["gives", "gets"]
    assert list(preview["Δ accounts"]) == [-n_moving, n_moving]
    assert _kpis(at).equals(before)  # nothing applied yet

    ran_ok(at.button(key="ed_apply").click().run())
    after = _kpis(at)
    assert after.loc[a, "Accounts"] == before.loc[a, "Accounts"] - n_moving
    assert after.loc[b, "Accounts"] == before.loc[b, "Accounts"] + n_moving
    session = edit_session(at)
    assert session.plan.territory_ids[session.plan.labels[session.plan.cells == cell][0]] == b
    assert session.cells == frozenset() and session.unsaved == 1
    # The edited plan is the app's plan now (other pages see it).
    assert app_state(at).dataset.pinned is not None
    assert app_state(at).dataset.pinned.plan is session.plan

    ran_ok(at.button(key="ed_undo").click().run())
    assert _kpis(at).equals(before)
    assert app_state(at).dataset.pinned is None  # back to the designed plan
    ran_ok(at.button(key="ed_redo").click().run())
    assert _kpis(at).equals(after)
    assert edit_session(at).unsaved == 3  # apply, undo, redo: each is a step to save


def test_lock_prevents_a_move_and_survives_rebalance(fake: FakeMap) -> None:
    at = _start()
    session = edit_session(at)
    a, b = session.plan.territory_ids[:2]
    cell = _busy_cell(session, a)
    _select_cell(at, fake, cell, a)
    ran_ok(at.button(key="ed_lock_cells").click().run())
    assert cell in edit_session(at).plan.locked_cells
    assert "Locked" in fake.layers  # drawn on the map
    fake.click(cell, a)  # the lock cleared the selection; select it again
    ran_ok(at.run())
    assert edit_session(at).cells == {cell}
    ran_ok(at.selectbox(key="ed_target").set_value(b).run())
    assert any("locked" in str(w.value) for w in at.warning)
    assert not [x for x in at.button if x.key == "ed_apply"]  # nothing to apply

    # A rebalance never moves it either.
    ran_ok(at.button(key="ed_rebalance").click().run())
    proposal = edit_session(at).proposal
    assert proposal is not None
    plan = proposal.plan
    assert plan.territory_ids[int(plan.labels[plan.cells == np.uint64(cell)][0])] == a
    assert cell in plan.locked_cells


def test_lasso_selects_every_cell_inside(fake: FakeMap) -> None:
    at = _start()
    plan = edit_session(at).plan
    lat, lng = h3.cell_to_latlng(h3.int_to_str(int(plan.cells[len(plan.cells) // 2])))
    d = 0.08
    ring = [[lng - d, lat - d], [lng + d, lat - d], [lng + d, lat + d], [lng - d, lat + d]]
    geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    expected = {int(c) for c in cells_in_geometry(plan, geometry).tolist()}
    assert len(expected) > 3
    ran_ok(at.segmented_control(key="ed_mode").set_value("select").run())
    fake.draw(geometry)
    ran_ok(at.run())
    assert edit_session(at).cells == expected
    ran_ok(at.run())  # the same drawing again is not added twice (or toggled)
    assert edit_session(at).cells == expected
    assert "Selection" in fake.layers


def test_paint_at_once_and_whole_territory(fake: FakeMap) -> None:
    at = _start()
    session = edit_session(at)
    a, b, c = session.plan.territory_ids[:3]
    cell = _busy_cell(session, a)
    ran_ok(at.segmented_control(key="ed_mode").set_value("paint").run())
    ran_ok(at.selectbox(key="ed_target").set_value(b).run())
    ran_ok(at.checkbox(key="ed_paint_now").check().run())
    before = _kpis(at)
    fake.click(cell, a)
    ran_ok(at.run())
    session = edit_session(at)
    assert session.history.cursor == 1
    assert session.last_change is not None
    assert _kpis(at).loc[b, "Accounts"] > before.loc[b, "Accounts"]
    # Whole territory: one click selects every cell of it.
    ran_ok(at.segmented_control(key="ed_mode").set_value("territory").run())
    other = _busy_cell(session, c)
    fake.click(other, c)
    ran_ok(at.run())
    assert edit_session(at).cells == {int(x) for x in session.plan.cells_of(c).tolist()}
    # The same from the details panel, without the map.
    ran_ok(at.button(key="ed_select_terr").click().run())  # selection replaced by the same cells
    assert edit_session(at).cells == {int(x) for x in session.plan.cells_of(c).tolist()}
    ran_ok(at.selectbox(key="territories_pick").set_value(a).run())
    ran_ok(at.button(key="ed_select_terr").click().run())
    assert edit_session(at).cells == {int(x) for x in edit_session(at).plan.cells_of(a).tolist()}


def test_account_override_is_shown_on_map_and_table(fake: FakeMap) -> None:
    at = _start()
    session = edit_session(at)
    plan = session.plan
    assignment = plan.assign(session.accounts).astype(str).to_numpy()
    free = (
        ~session.accounts["account_id"]
        .astype(str)
        .isin([*plan.overrides, *plan.locked_accounts])
        .to_numpy()
    )
    row = session.accounts.loc[free & (assignment == plan.territory_ids[0])].iloc[0]
    acc, target = str(row["account_id"]), plan.territory_ids[3]
    before = _kpis(at)
    ran_ok(at.text_input(key="ed_acc_query").set_value(acc).run())
    ran_ok(at.multiselect(key="ed_accounts").set_value([acc]).run())
    ran_ok(at.selectbox(key="ed_acc_target").set_value(target).run())
    preview = next(d.value for d in at.dataframe if "Δ accounts" in d.value.columns)
    assert sorted(preview["Δ accounts"]) == [-1, 1]
    ran_ok(at.button(key="ed_acc_apply").click().run())
    session = edit_session(at)
    assert session.plan.overrides[acc] == target
    assert _kpis(at).loc[target, "Accounts"] == before.loc[target, "Accounts"] + 1
    overrides = next(d.value for d in at.dataframe if "Assigned to" in d.value.columns)
    assert overrides.set_index("Account").loc[acc, "Assigned to"] == target
    assert "Account overrides" in fake.layers
    # Locking the account keeps it from moving back.
    ran_ok(at.multiselect(key="ed_accounts").set_value([acc]).run())
    ran_ok(at.button(key="ed_acc_lock").click().run())
    assert acc in edit_session(at).plan.locked_accounts
    ran_ok(at.multiselect(key="ed_accounts").set_value([acc]).run())
    ran_ok(at.selectbox(key="ed_acc_target").set_value(plan.territory_ids[0]).run())
    assert any("locked" in str(w.value) for w in at.warning)


def test_rebalance_keeps_hand_edits(fake: FakeMap) -> None:
    at = _start()
    session = edit_session(at)
    a, b = session.plan.territory_ids[:2]
    cell = _busy_cell(session, a)
    _select_cell(at, fake, cell, a)
    ran_ok(at.selectbox(key="ed_target").set_value(b).run())
    ran_ok(at.button(key="ed_apply").click().run())
    ran_ok(at.button(key="ed_rebalance").click().run())
    assert "The engine would move" in _texts(at)
    proposal = edit_session(at).proposal
    assert proposal is not None
    if proposal.diff.moved_accounts:
        ran_ok(at.button(key="ed_rebalance_apply").click().run())
        assert edit_session(at).history.cursor == 2
    plan: Plan = edit_session(at).plan
    assert plan.territory_ids[int(plan.labels[plan.cells == np.uint64(cell)][0])] == b


# --------------------------------------------------------------- persistence


def _save_as_new(at: AppTest, name: str) -> None:
    ran_ok(at.text_input(key="ed_new_name").set_value(name).run())
    ran_ok(at.button(key="ed_save_new").click().run())


def _edit_once(at: AppTest, fake: FakeMap, nth: int = 0) -> tuple[str, str, int]:
    session = edit_session(at)
    a, b = session.plan.territory_ids[nth], session.plan.territory_ids[nth + 1]
    cell = _busy_cell(session, a)
    _select_cell(at, fake, cell, a)
    ran_ok(at.selectbox(key="ed_target").set_value(b).run())
    ran_ok(at.button(key="ed_apply").click().run())
    return a, b, cell


@pytest.mark.slow
def test_save_then_reopen_from_the_plans_page(fake: FakeMap) -> None:
    at = _start(author="Ann")
    _edit_once(at, fake)
    edited = _kpis(at)
    _save_as_new(at, "FY27 draft")
    session = edit_session(at)
    assert session.stored is not None and session.stored.name == "FY27 draft"
    assert session.unsaved == 0
    assert "**FY27 draft** (version 1)" in _texts(at)

    # Every applied step becomes a version: an edit, its undo and the redo.
    a, b, cell = _edit_once(at, fake, 3)
    ran_ok(at.button(key="ed_undo").click().run())
    ran_ok(at.button(key="ed_redo").click().run())
    edited = _kpis(at)
    ran_ok(at.button(key="ed_save").click().run())
    from terrmap.ui.plans import plan_store

    store = plan_store()
    assert [v.kind for v in store.versions("FY27 draft")] == ["create", "assign", "undo", "redo"]
    assert {v.author for v in store.versions("FY27 draft")} == {"Ann"}
    audit = store.audit("FY27 draft")
    moved = audit[(audit["action"] == "assign") & (audit["item"] == "cell")]
    assert (moved["key"] == h3.int_to_str(cell)).any()
    assert set(moved["from_territory"]) == {a} and set(moved["to_territory"]) == {b}

    other = _start()  # another browser session on the same database
    other.switch_page("pages/plans.py").run()
    ran_ok(other)
    plans = other.dataframe[0].value
    assert list(plans["Plan"]) == ["FY27 draft"] and list(plans["By"]) == ["Ann"]
    other.button(key="pl_open").click().run()
    ran_ok(other)
    assert other.title[0].value == "Territories"
    reopened = edit_session(other)
    assert reopened.stored is not None and reopened.stored.version == 4
    assert _kpis(other).equals(edited)


@pytest.mark.slow
def test_concurrent_save_is_refused_with_who_and_when(fake: FakeMap) -> None:
    ann = _start(author="Ann")
    _save_as_new(ann, "Shared")
    bob = _start(author="Bob")
    bob.switch_page("pages/plans.py").run()
    bob.button(key="pl_open").click().run()
    ran_ok(bob)
    assert bob.title[0].value == "Territories", [e.value for e in bob.error]
    bob.switch_page("pages/territories.py")  # AppTest does not keep a page switched to in-script
    _edit_once(ann, fake, 0)
    ran_ok(ann.button(key="ed_save").click().run())
    assert edit_session(ann).stored is not None and edit_session(ann).stored.version == 2  # type: ignore[union-attr]
    _edit_once(bob, fake, 2)
    ran_ok(bob.button(key="ed_save").click().run())
    warning = "\n".join(str(w.value) for w in bob.warning)
    assert (
        "changed by Ann at" in warning and "reload it, or save your edits as a new plan" in warning
    )
    session = edit_session(bob)
    assert session.conflict is not None and session.unsaved == 1  # nothing lost
    # Reloading takes Ann's version (dropping Bob's step); redoing it and saving as new works.
    ran_ok(bob.button(key="ed_reload").click().run())
    session = edit_session(bob)
    assert session.conflict is None and session.unsaved == 0
    assert session.stored is not None and session.stored.version == 2
    assert session.plan.equals(edit_session(ann).plan)
    _edit_once(bob, fake, 2)
    # Save as new is always possible; Ann's version is untouched.
    _save_as_new(bob, "Shared (Bob)")
    assert edit_session(bob).stored is not None and edit_session(bob).conflict is None
    from terrmap.ui.plans import plan_store

    store = plan_store()
    assert store.info("Shared").version == 2 and store.info("Shared (Bob)").version == 1


def test_corrupt_database_gives_a_clear_error(fake: FakeMap, tmp_path: Path) -> None:
    broken = tmp_path / "plans.db"
    broken.write_bytes(b"this is not a database" * 100)
    at = _start()
    at.switch_page("pages/plans.py").run()
    ran_ok(at)
    errors = "\n".join(str(e.value) for e in at.error)
    assert "corrupt" in errors and str(broken) in errors
    at.switch_page("pages/territories.py").run()
    _edit_once(at, fake)
    _save_as_new(at, "Will fail")
    assert any("corrupt" in str(e.value) for e in at.error)
    assert edit_session(at).stored is None and edit_session(at).unsaved == 1


@pytest.mark.slow
def test_history_jump_and_territory_locks(fake: FakeMap) -> None:
    at = _start()
    origin = edit_session(at).plan
    _edit_once(at, fake, 0)
    _edit_once(at, fake, 4)
    steps = next(d.value for d in at.dataframe if "Edit" in d.value.columns)
    assert list(steps["Step"]) == [0, 1, 2] and steps["Edit"].iloc[1].startswith("assign: 1 cell")
    ran_ok(at.selectbox(key="ed_goto_step").set_value(0).run())
    ran_ok(at.button(key="ed_goto").click().run())
    assert edit_session(at).plan.equals(origin)
    ran_ok(at.selectbox(key="ed_goto_step").set_value(2).run())
    ran_ok(at.button(key="ed_goto").click().run())
    assert edit_session(at).history.cursor == 2

    plan = edit_session(at).plan
    a, b = plan.territory_ids[6], plan.territory_ids[7]
    ran_ok(at.multiselect(key="ed_lock_terrs").set_value([b]).run())
    ran_ok(at.button(key="ed_lock_terr").click().run())
    from terrmap.locks import locked_territories

    assert locked_territories(edit_session(at).plan) == (b,)
    assert f"({b})" in _texts(at)
    cell = _busy_cell(edit_session(at), a)
    _select_cell(at, fake, cell, a)
    ran_ok(at.selectbox(key="ed_target").set_value(b).run())
    assert any(f"territory {b} is locked" in str(w.value) for w in at.warning)
    ran_ok(at.button(key="ed_unlock_all").click().run())
    final = edit_session(at).plan
    assert not final.locked_cells and not final.locked_accounts
    ran_ok(at.button(key="ed_lock_all").click().run())
    assert set(locked_territories(edit_session(at).plan)) == set(plan.territory_ids)


# --------------------------------------------------------------- the session model


@pytest.fixture()
def small() -> tuple[AppState, EditSession]:
    """A session on the small synthetic wedge plan (no Streamlit run needed)."""
    plan, accounts = world()
    snap = snapshot(plan, accounts, None, scoring=ScoringConfig())
    dataset = Dataset("world", "world", "v-world", accounts, snap.reps)
    state = AppState(dataset=dataset)
    session = EditSession.start(dataset, snap, base_key="k")
    state.editing = session
    return state, session


def test_session_journal_records_every_step_and_undo_restores(
    small: tuple[AppState, EditSession],
) -> None:
    state, session = small
    origin = session.plan
    cells = origin.cells_of("T01")[:3]
    session.select(cells)
    preview = session.preview_cells("T02")
    assert session.preview_cells("T02") is preview  # cached while nothing changes
    assert session.apply(preview)
    publish(state, session)
    assert state.dataset.pinned is not None and state.dataset.version != "v-world"
    assert session.cells == frozenset() and session.unsaved == 1
    assert not session.apply(preview)  # the same edit again changes nothing
    session.paint(origin.cells_of("T03")[:2], "T04")
    assert session.last_change is not None and session.history.cursor == 2
    session.undo()
    session.undo()
    publish(state, session)
    assert session.plan.equals(origin) and state.dataset is session.base
    assert [e.kind for _, e in session.journal] == ["assign", "assign", "undo", "undo"]
    session.goto(2)
    assert session.journal[-1][1].kind == "redo" and session.history.cursor == 2
    # Selection arithmetic: toggle, add, remove, replace; foreign cells are ignored.
    a, b = (int(c) for c in origin.cells[:2])
    session.select([a, 12345], how="toggle")
    session.select([a, b], how="toggle")
    assert session.cells == {b}
    session.select([a], how="add")
    session.select([b], how="remove")
    assert session.cells == {a}
    session.select([], how="replace")
    assert not session.cells


def test_payloads_are_handled_once_per_click_and_drawing(
    small: tuple[AppState, EditSession],
) -> None:
    state, session = small
    fake = FakeMap()
    cell = int(session.plan.cells_of("T02")[0])
    fake.click(cell, "T02")
    for _ in range(2):  # a rerun replays the payload: still one toggle
        handle_payload(state, session, fake.payload, mode="select", target=None, paint_now=False)
    assert session.cells == {cell}
    assert state.selection is not None and state.selection.cell == cell
    fake.click(cell, "T02")  # a new click on the same cell toggles it off
    handle_payload(state, session, fake.payload, mode="select", target=None, paint_now=False)
    assert session.cells == frozenset()

    lat, lng = h3.cell_to_latlng(h3.int_to_str(cell))
    ring = [[lng - 0.01, lat - 0.01], [lng + 0.01, lat - 0.01], [lng, lat + 0.01]]
    fake.draw({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})
    changed = handle_payload(
        state, session, fake.payload, mode="paint", target="T04", paint_now=True
    )
    assert changed and session.history.cursor == 1
    assert (
        session.plan.territory_ids[int(session.plan.labels[session.plan.cells == cell][0])] == "T04"
    )
    assert not handle_payload(
        state, session, fake.payload, mode="paint", target="T04", paint_now=True
    )  # the same drawing is not painted twice
    fake.click(cell, "T04")
    handle_payload(state, session, fake.payload, mode="territory", target=None, paint_now=False)
    assert session.cells == {int(c) for c in session.plan.cells_of("T04").tolist()}
