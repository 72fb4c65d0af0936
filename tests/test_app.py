"""The dashboard through AppTest: every page, map clicks (patched st_folium), uploads."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import h3
import numpy as np
import pandas as pd
import pytest
from app_harness import app_state, ran_ok, set_app_env
from streamlit.testing.v1 import AppTest

from terrmap.layers import MapSelection
from terrmap.scenarios import Scenario
from terrmap.ui.details import cell_details, resolve_selection, territory_details

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 240  # the first run designs the sample plan


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_app_env(monkeypatch, tmp_path)


def _fake_folium(payload: dict[str, Any] | None) -> Any:
    """A stand-in for ``st_folium`` that returns a click payload (the real one needs JS)."""

    def fake(fig: Any, key: str | None = None, **kwargs: Any) -> dict[str, Any] | None:
        fig.get_root().render()  # the map and layers must still build
        return payload

    return fake


def _start(page: str | None = None, payload: dict[str, Any] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    with mock.patch("streamlit_folium.st_folium", _fake_folium(payload)):
        at.run()
        if page is not None:
            at.switch_page(page).run()
    ran_ok(at)
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [s.value for s in at.subheader]
    parts += [c.value for c in at.caption] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


@pytest.fixture(scope="module")
def snap() -> Iterator[Any]:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        at.run()
    from terrmap.ui.cache import baseline_snapshot

    state = app_state(at)
    yield baseline_snapshot(state.dataset.version, state.scoring, state.design, state.dataset)


def test_opens_on_the_sample_with_a_plan() -> None:
    at = _start()
    assert at.title[0].value == "Territories"
    state = app_state(at)
    assert state.dataset.name == "Bundled sample" and len(state.dataset.accounts) >= 4000
    labels = [m.label for m in at.metric]
    assert {"Max deviation", "Contiguous", "Compactness", "Unassigned", "Doubly owned"} <= set(
        labels
    )
    frames = [d.value for d in at.dataframe]
    table = frames[-1]
    assert len(table) == len(state.dataset.reps)
    assert {"Territory", "Rep", "Utilisation", "Deviation", "Travel h"} <= set(table.columns)
    # The sample's reps have regions and districts: the roll-up adds up to the same totals.
    roll = next(f for f in frames if "District" in f.columns)
    assert roll["Territories"].sum() == len(table)
    assert roll["Accounts"].sum() == table["Accounts"].sum()
    assert "By region and district" in [h.value for h in at.subheader]
    assert "Click a territory" in "\n".join(i.value for i in at.info)


def test_territory_click_shows_details(snap: Any) -> None:
    tid = snap.plan.territory_ids[2]
    point = {"lat": 41.0, "lng": -74.0}
    payload = {
        "last_active_drawing": {"type": "Feature", "properties": {"territory_id": tid}},
        "last_object_clicked": point,
        "last_clicked": point,
    }
    at = _start(payload=payload)
    assert app_state(at).selection == MapSelection(territory_id=tid, lat=41.0, lon=-74.0)
    heads = [s.value for s in at.subheader]
    assert any(h.startswith(f"Territory {tid}") for h in heads), heads
    assert at.selectbox(key="territories_pick").value == tid


def test_cell_click_shows_cell_details(snap: Any) -> None:
    tid = snap.plan.territory_ids[0]
    cell = int(snap.plan.cells_of(tid)[0])
    point = {"lat": 40.5, "lng": -75.0}
    payload = {
        "last_active_drawing": {"properties": {"territory_id": tid, "cell": h3.int_to_str(cell)}},
        "last_object_clicked": point,
        "last_clicked": point,
    }
    at = _start(payload=payload)
    heads = [s.value for s in at.subheader]
    assert f"Cell {h3.int_to_str(cell)}" in heads
    assert any(h.startswith(f"Territory {tid}") for h in heads)


@pytest.mark.slow
def test_switching_pages_renders_each(snap: Any) -> None:
    at = _start("pages/scenarios.py")
    assert at.title[0].value == "Scenarios"
    assert {"Reps", "Accounts moved", "Max deviation"} <= {m.label for m in at.metric}
    at.switch_page("pages/coverage.py").run()
    assert not at.exception and at.title[0].value == "Coverage"
    at.switch_page("pages/data.py").run()
    assert not at.exception and at.title[0].value == "Data"
    assert len(at.download_button) == 5


@pytest.mark.slow
def test_scenario_slider_replans(snap: Any) -> None:
    at = _start("pages/scenarios.py")
    n = len(snap.reps)
    assert next(m for m in at.metric if m.label == "Reps").value == str(n)
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        at.slider(key="sc_team").set_value(n + 1).run()
    ran_ok(at)
    metrics = {m.label: m for m in at.metric}
    assert metrics["Reps"].value == str(n + 1)
    assert int(metrics["Accounts moved"].value.replace(",", "")) > 0
    # The hire joins the district of the nearest rep: one district gains a territory.
    change = next(d.value for d in at.dataframe if "territories_after" in d.value.columns)
    gained = change["territories_after"] - change["territories_before"]
    assert gained.sum() == 1 and gained.max() == 1 and (change["district"] != "(none)").all()
    assert app_state(at).scenario.team_size == n + 1


@pytest.mark.slow
def test_adopting_a_scenario_makes_it_the_plan(snap: Any) -> None:
    at = _start("pages/scenarios.py")
    n = len(snap.reps)
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        at.slider(key="sc_team").set_value(n + 1).run()
        scenario_moved = next(m for m in at.metric if m.label == "Accounts moved").value
        at.button(key="sc_adopt").click().run()
        ran_ok(at)
        state = app_state(at)
        assert len(state.dataset.reps) == n + 1 and state.dataset.pinned is not None
        assert state.scenario == Scenario()
        # The adopted plan is now the baseline: no change, nothing moved.
        assert next(m for m in at.metric if m.label == "Reps").value == str(n + 1)
        assert next(m for m in at.metric if m.label == "Accounts moved").value == "0"
        assert scenario_moved != "0"
        at.switch_page("pages/territories.py").run()
    ran_ok(at)
    assert len(at.dataframe[-1].value) == n + 1


@pytest.mark.slow
def test_headcount_curve(snap: Any) -> None:
    at = _start("pages/scenarios.py")
    n = len(snap.reps)
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        at.select_slider(key="sc_curve_range").set_value((n - 1, n)).run()
        at.button(key="sc_curve").click().run()
    ran_ok(at)
    curve = app_state(at).curve
    assert curve is not None
    frame = curve[1]
    assert list(frame["reps"]) == [n - 1, n]
    # One more rep spreads the same workload: utilisation does not rise.
    assert frame["mean_utilisation"].iloc[1] <= frame["mean_utilisation"].iloc[0] + 1e-9
    assert (frame["share_within_capacity"] <= 1 + 1e-9).all()


@pytest.mark.slow
def test_rep_leaves_and_hire_by_zip(snap: Any) -> None:
    at = _start("pages/scenarios.py")
    leaver = str(snap.reps["rep_id"].iloc[0])
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        at.multiselect(key="sc_leaving").set_value([leaver]).run()
        assert app_state(at).scenario.leaving == (leaver,)
        at.text_input(key="sc_hire_at").set_value("99999").run()
        at.button(key="sc_add_hire").click().run()
        # An unknown ZIP is reported, nothing is added.
        assert app_state(at).scenario.hires == ()
        assert any("unknown US ZIP" in str(e.value) or "problem" in str(e.value) for e in at.error)
        at.text_input(key="sc_hire_at").set_value("06103").run()
        at.button(key="sc_add_hire").click().run()
    ran_ok(at)
    state = app_state(at)
    assert len(state.scenario.hires) == 1 and state.scenario.team_size is None
    metrics = {m.label: m for m in at.metric}
    assert metrics["Reps"].value == str(len(snap.reps))  # one left, one hired


def test_coverage_metrics_all_render(snap: Any) -> None:
    at = _start("pages/coverage.py")
    options = at.selectbox(key="cov_metric").options
    assert len(options) == 8
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        for metric in options:
            at.selectbox(key="cov_metric").set_value(metric).run()
            assert not at.exception, (metric, [e.value for e in at.exception])
    assert "Hidden-territory candidates" in _texts(at)


def _defective_csv() -> bytes:
    return (
        b"account_id,name,lat,lon,acv\n"
        b"A1,Good Co,41.76,-72.68,1000\n"
        b"A1,Duplicate Co,41.70,-72.60,1000\n"
        b"A3,Bad Lat,141.0,-72.6,1000\n"
        b"A4,Null Island,0,0,1000\n"
        b"A5,Negative,41.7,-72.6,-50\n"
    )


@pytest.mark.slow
def test_defective_upload_lists_problems_and_keeps_data() -> None:
    at = _start("pages/data.py")
    before = app_state(at).dataset
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        at.file_uploader(key="data_accounts_file").set_value(
            ("broken.csv", _defective_csv(), "text/csv")
        ).run()
        ran_ok(at)
        submit = next(b for b in at.button if "Validate and use these accounts" in b.label)
        submit.click().run()
    ran_ok(at)
    state = app_state(at)
    assert state.dataset is before  # the previous data is still in use
    assert state.last_upload is not None and not state.last_upload.accepted
    errors = "\n".join(str(e.value) for e in at.error)
    assert "broken.csv was not loaded" in errors
    problems = next(d.value for d in at.dataframe if "fix" in d.value.columns)
    assert {"row", "column", "value", "problem", "fix"} <= set(problems.columns)
    assert len(problems) >= 4
    assert {3, 4, 5, 6} <= set(problems["row"].dropna().astype(int))


def test_unreadable_upload_is_reported_not_raised() -> None:
    at = _start("pages/data.py")
    before = app_state(at).dataset
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        at.file_uploader(key="data_reps_file").set_value(("empty.csv", b"", "text/csv")).run()
    ran_ok(at)
    assert app_state(at).dataset is before
    assert any("Reading empty.csv" in str(e.value) for e in at.error)
    assert not [b for b in at.button if "Validate and use" in b.label]  # nothing to submit


@pytest.mark.slow
def test_good_upload_replaces_accounts() -> None:
    sample = pd.read_csv(ROOT / "data" / "samples" / "accounts.csv", dtype=str)
    subset = sample.iloc[:1500].rename(columns={"lat": "Latitude", "lon": "Lng"})
    data = subset.to_csv(index=False).encode()
    at = _start("pages/data.py")
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        at.file_uploader(key="data_accounts_file").set_value(("mine.csv", data, "text/csv")).run()
        assert at.selectbox(key="data_accounts_map_lat").value == "Latitude"
        submit = next(b for b in at.button if "Validate and use these accounts" in b.label)
        submit.click().run()
    ran_ok(at)
    state = app_state(at)
    assert state.last_upload is not None and state.last_upload.accepted
    assert len(state.dataset.accounts) == 1500
    assert state.dataset.name.startswith("mine.csv")
    assert any("accounts replaced" in str(s.value) for s in at.success)


# --------------------------------------------------------------- pure detail helpers


def test_resolve_point_click_to_cell_and_territory(snap: Any) -> None:
    tid = snap.plan.territory_ids[1]
    acc = snap.accounts.loc[(snap.assignment == tid).fillna(False).to_numpy(bool)].iloc[0]
    got = resolve_selection(MapSelection(lat=float(acc["lat"]), lon=float(acc["lon"])), snap)
    assert got is not None and got.territory_id == tid and got.cell is not None
    assert resolve_selection(MapSelection(lat=0.0, lon=0.0), snap) is None
    assert resolve_selection(None, snap) is None
    assert resolve_selection(MapSelection(territory_id="NOPE"), snap) is None


def test_details_match_the_table(snap: Any) -> None:
    tid = snap.plan.territory_ids[0]
    d = territory_details(snap, tid, limit=5)
    row = snap.table.set_index("territory_id").loc[tid]
    assert d.facts["Accounts"] == int(row["accounts"])
    assert len(d.accounts) == 5
    assert list(d.accounts["opportunity"]) == sorted(d.accounts["opportunity"], reverse=True)
    cell = int(snap.plan.account_cells(snap.accounts)[0])
    c = cell_details(snap, cell)
    on_cell = int((snap.plan.account_cells(snap.accounts) == np.uint64(cell)).sum())
    assert c.facts["Accounts"] == on_cell == min(on_cell, len(c.accounts)) or len(c.accounts) == 15
    assert c.facts["Territory"] in snap.plan.territory_ids


def test_csv_download_is_crm_ready(snap: Any) -> None:
    from terrmap.exports import assignments_csv

    frame = pd.read_csv(io.BytesIO(assignments_csv(snap.plan, snap.accounts, snap.reps)))
    assert list(frame.columns) == ["account_id", "territory_id", "rep_id", "rep_name"]


def test_every_run_goes_through_the_router() -> None:
    """Regression: a page reached before ``st.navigation`` ever ran (a fresh server's first
    visit to /scenarios; every AppTest run) ran bare, without app.py's sidebar or layout."""
    at = _start("pages/scenarios.py")
    for _ in range(2):
        with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
            at.run()
        ran_ok(at)
        assert at.title[0].value == "Scenarios"
        assert "terrmap" in [m.value.strip("# ") for m in at.sidebar.markdown]
        assert at.sidebar.text_input(key="terrmap_author") is not None


@pytest.mark.slow
def test_reset_puts_every_control_back(snap: Any) -> None:
    """Regression: Reset deleted the widget keys, which left the browser's sliders where
    they were while the KPIs showed the current plan."""
    at = _start("pages/scenarios.py")
    n = len(snap.reps)
    with mock.patch("streamlit_folium.st_folium", _fake_folium(None)):
        at.slider(key="sc_team").set_value(n + 1).run()
        at.slider(key="sc_tolerance").set_value(0.05).run()
        assert app_state(at).scenario.tolerance == 0.05
        at.button(key="sc_reset").click().run()
    ran_ok(at)
    assert at.slider(key="sc_team").value == n
    assert at.slider(key="sc_tolerance").value == pytest.approx(app_state(at).design.tolerance)
    assert app_state(at).scenario == Scenario()
    assert next(m for m in at.metric if m.label == "Reps").value == str(n)
    assert not at.warning  # no "value set via the Session State API" warnings
