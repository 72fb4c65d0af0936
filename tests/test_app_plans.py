"""The Plans page through AppTest (list, rename, duplicate, delete, history, compare) and
the store glue of ``terrmap.ui.plans`` (hashes, exports, plans made on other data)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from app_harness import app_state, edit_session, ran_ok, set_app_env
from streamlit.testing.v1 import AppTest

from terrmap.design import build_plan
from terrmap.edits import assign_cells
from terrmap.plan import Plan
from terrmap.scoring import score_accounts
from terrmap.store import PlanStore, dataset_hash
from terrmap.ui.editing import EditSession
from terrmap.ui.plans import plan_store, plan_zip, unscored
from terrmap.ui.plans_page import changed_cells, rep_diff_table
from terrmap.ui.state import DEFAULT_DESIGN

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PLANS = "pages/plans.py"


class FakeMap:
    """Stands in for ``st_folium`` (a custom component AppTest cannot run); counts maps."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, fig: Any, key: str | None = None, **kwargs: Any) -> Any:
        fig.get_root().render()
        self.keys.append(str(key))
        return None


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    set_app_env(monkeypatch, tmp_path)


@pytest.fixture()
def fake() -> Iterator[FakeMap]:
    fake = FakeMap()
    with mock.patch("streamlit_folium.st_folium", fake):
        yield fake


def _moved(plan: Plan, session: EditSession, source: int, target: int, n: int) -> Plan:
    cells = plan.cells_of(plan.territory_ids[source])[:n]
    return assign_cells(plan, session.accounts, cells, plan.territory_ids[target]).plan


@pytest.fixture()
def seeded(fake: FakeMap) -> tuple[AppTest, PlanStore, dict[str, Plan]]:
    """The app, and a database with "Base" (2 versions) and "Alt" on the sample data."""
    at = AppTest.from_file(APP, default_timeout=240)
    ran_ok(at.run())
    session = edit_session(at)
    store = plan_store()
    data = store.save_dataset(session.accounts, session.reps, name="sample", author="carol")
    v1 = session.plan
    store.create_plan(v1, name="Base", dataset=data.id, author="carol")
    v2 = _moved(v1, session, 0, 1, 4)
    store.save("Base", v2, expected_version=1, author="dave")
    alt = _moved(v1, session, 2, 3, 6)
    store.create_plan(alt, name="Alt", dataset=data.id, author="erin")
    ran_ok(at.switch_page(PLANS).run())
    return at, store, {"v1": v1, "v2": v2, "alt": alt}


def test_lists_renames_duplicates_and_deletes(seeded: Any) -> None:
    at, store, _ = seeded
    listed = at.dataframe[0].value
    assert set(listed["Plan"]) == {"Base", "Alt"}
    assert listed.set_index("Plan").loc["Base", "Version"] == 2
    assert listed.set_index("Plan").loc["Base", "By"] == "dave"

    ran_ok(at.selectbox(key="pl_pick").set_value("Base").run())
    ran_ok(at.text_input(key="pl_rename").set_value("Base FY27").run())
    ran_ok(at.button(key="pl_rename_go").click().run())
    assert "Renamed 'Base' to 'Base FY27'." in [s.value for s in at.success]
    assert set(at.dataframe[0].value["Plan"]) == {"Base FY27", "Alt"}
    assert at.selectbox(key="pl_pick").value == "Base FY27"

    ran_ok(at.text_input(key="pl_dup_name").set_value("Base copy").run())
    ran_ok(at.button(key="pl_dup").click().run())
    copy = store.info("Base copy")
    assert copy.parent_name == "Base FY27" and copy.version == 1
    assert store.open("Base copy").plan.equals(store.open("Base FY27").plan)

    ran_ok(at.selectbox(key="pl_pick").set_value("Alt").run())
    assert at.button(key="pl_delete").disabled  # needs the confirmation first
    ran_ok(at.checkbox(key="pl_del_ok").check().run())
    ran_ok(at.button(key="pl_delete").click().run())
    assert {p.name for p in store.plans()} == {"Base FY27", "Base copy"}
    assert "delete" in set(store.audit("Alt")["action"])

    # A clear message for a name that is taken, nothing changed.
    ran_ok(at.selectbox(key="pl_pick").set_value("Base copy").run())
    ran_ok(at.text_input(key="pl_rename").set_value("Base FY27").run())
    ran_ok(at.button(key="pl_rename_go").click().run())
    assert at.error and "Base FY27" in str(at.error[0].value)
    assert {p.name for p in store.plans()} == {"Base FY27", "Base copy"}


def test_compare_two_plans_per_rep_and_map_toggle(seeded: Any, fake: FakeMap) -> None:
    at, store, plans = seeded
    ran_ok(at.selectbox(key="pl_cmp_a").set_value("Base").run())
    ran_ok(at.selectbox(key="pl_cmp_b").set_value("Alt").run())
    diff = store.diff("Base", "Alt")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accounts moved"] == f"{diff.moved_accounts:,}" and diff.moved_accounts > 0
    table = next(d.value for d in at.dataframe if "Net h" in d.value.columns)
    assert table["In"].sum() == table["Out"].sum() == diff.moved_accounts
    reps = edit_session(at).reps
    assert set(table["Rep"]) <= set(reps["name"].astype(str))  # named by rep, not by id
    fake.keys.clear()
    ran_ok(at.run())
    assert {"pl_cmp_map_A", "pl_cmp_map_B"} <= set(fake.keys)  # side by side
    fake.keys.clear()
    ran_ok(at.segmented_control(key="pl_cmp_map").set_value("B").run())
    assert "pl_cmp_map_B" in fake.keys and "pl_cmp_map_A" not in fake.keys
    # The changed cells are exactly where the two partitions differ.
    changed = changed_cells(plans["v1"], plans["alt"])
    v1, alt = plans["v1"], plans["alt"]
    assert sorted(changed.tolist()) == sorted(v1.cells_of(v1.territory_ids[2])[:6].tolist())
    assert set(changed.tolist()) <= set(alt.cells_of(alt.territory_ids[3]).tolist())


def test_open_a_past_version_and_save_it_as_the_newest(seeded: Any) -> None:
    at, store, plans = seeded
    ran_ok(at.selectbox(key="pl_pick").set_value("Base").run())
    history = next(d.value for d in at.dataframe if "Step" in d.value.columns)
    assert list(history["Version"]) == [2, 1] and list(history["Who"]) == ["dave", "carol"]
    ran_ok(at.selectbox(key="pl_version").set_value(1).run())
    ran_ok(at.button(key="pl_open_version").click().run())
    session = edit_session(at)
    assert session.plan.equals(plans["v1"])
    assert session.stored is not None and session.stored.version == 2
    assert session.unsaved == 1 and session.journal[0][1].kind == "revert"
    at.switch_page("pages/territories.py").run()
    ran_ok(at.button(key="ed_save").click().run())
    head = store.open("Base")
    assert head.version == 3 and head.plan.equals(plans["v1"])
    assert [v.kind for v in store.versions("Base")][-1] == "revert"


def test_export_zip_holds_the_plan_files(seeded: Any) -> None:
    _, store, plans = seeded
    data = plan_zip(store, "Base", version=2)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert {"assignments.csv", "territories.geojson", "summary.json"} <= set(zf.namelist())
        assignments = pd.read_csv(zf.open("assignments.csv"), dtype="string")
    accounts = store.dataset(store.info("Base").dataset_id).accounts
    expected = plans["v2"].assign(accounts)
    assert list(assignments["territory_id"].fillna("")) == list(expected.fillna(""))


def test_dataset_hash_and_unscored_match_the_store(sample_accounts: Any, sample_reps: Any) -> None:
    db = PlanStore(":memory:")
    stored = db.save_dataset(sample_accounts, sample_reps, name="s")
    assert dataset_hash(sample_accounts, sample_reps) == stored.content_hash
    raw = unscored(sample_accounts)
    assert "fit_score" not in raw.columns and "opportunity" not in raw.columns
    again = score_accounts(raw)
    for col in ("tier", "workload_hours", "opportunity", "tier_source", "workload_source"):
        pd.testing.assert_series_equal(again[col], sample_accounts[col], check_names=False)


def test_opening_a_plan_made_on_other_data_loads_its_data(
    fake: FakeMap, sample_accounts: Any, sample_reps: Any
) -> None:
    subset = sample_accounts.iloc[:1500].reset_index(drop=True)
    plan = build_plan(subset, sample_reps, config=DEFAULT_DESIGN, random_state=0)
    store = plan_store()
    data = store.save_dataset(subset, sample_reps, name="subset")
    store.create_plan(plan, name="Subset plan", dataset=data.id, author="fay")
    at = AppTest.from_file(APP, default_timeout=240)
    ran_ok(at.run())
    ran_ok(at.switch_page(PLANS).run())
    ran_ok(at.button(key="pl_open").click().run())
    state = app_state(at)
    assert state.dataset.name == "Plan 'Subset plan'" and len(state.dataset.accounts) == 1500
    assert "fit_score" not in state.dataset.accounts.columns  # kept as loaded
    at.switch_page("pages/territories.py").run()
    ran_ok(at)
    kpis = at.dataframe[-1].value
    assert int(kpis["Accounts"].sum()) == int(plan.assign(subset).notna().sum())


def test_rep_diff_table_names_reps(sample_reps: Any) -> None:
    from terrmap.preview import PlanDiff

    table = pd.DataFrame(
        {
            "territory_id": ["R01", "R02"],
            "accounts_a": [10, 5],
            "accounts_b": [8, 7],
            "accounts_in": [0, 2],
            "accounts_out": [2, 0],
            "workload_a": [10.0, 5.0],
            "workload_b": [8.0, 7.0],
            "workload_in": [0.0, 2.0],
            "workload_out": [2.0, 0.0],
        }
    )
    diff = PlanDiff(table, pd.DataFrame())
    plan = Plan(np.array([], np.uint64), np.array([], np.int32), ("R01", "R02"), ("R01", "R02"), 7)
    out = rep_diff_table(diff, plan, plan, sample_reps)
    names = sample_reps.set_index("rep_id")["name"]
    assert list(out["Rep"]) == [names["R01"], names["R02"]]
    assert list(out["Net h"]) == [-2.0, 2.0]
