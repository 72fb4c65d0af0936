"""The plan store on SQLite and PostgreSQL: datasets, plans, versions, audit, safety.

Every test taking ``target`` or ``db`` runs twice: on a SQLite file, and on a
PostgreSQL server (``TERRMAP_TEST_PG_URL``, else a throwaway cluster for the test run;
see tests/pg.py — without the server programs these fail and say to run
``bash .ci/ensure-postgres``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pg
import pytest
import sqlalchemy as sa
from edit_world import store_world, stored
from sqlalchemy import event

from terrmap import store
from terrmap.edits import assign_cells, override_accounts
from terrmap.errors import TerrmapError
from terrmap.locks import lock
from terrmap.plan import Plan, write_plan_dir
from terrmap.store import ConflictError, PlanStore, StoreError


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return store_world()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """An empty database: a SQLite file, or the session's PostgreSQL test database."""
    return pg.empty_target(request.param, request.config, tmp_path)


@pytest.fixture
def db(target: str | Path) -> Iterator[PlanStore]:
    with PlanStore(target) as s:
        yield s


def test_two_servers_creating_the_schema_at_once(target: str | Path) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            PlanStore(target).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with PlanStore(target) as s, s.engine.connect() as conn:
        rows = conn.exec_driver_sql("select version from schema_version").scalars().all()
    assert sorted(rows) == [m[0] for m in store.MIGRATIONS]


# --------------------------------------------------------------------------- datasets


def test_dataset_round_trip_keeps_values_and_dtypes(db: PlanStore, world: Any) -> None:
    _, accounts = world
    reps = pd.DataFrame(
        {
            "rep_id": pd.array(["R0", "R1"], dtype="string"),
            "home_lat": [40.0, 40.1],
            "home_lon": [-75.0, -75.1],
            "capacity_hours": [140.0, 120.0],
        }
    )
    info = db.save_dataset(accounts, reps, name="Q3 upload", author="carol")
    back = db.dataset(info.id)
    pd.testing.assert_frame_equal(back.accounts, accounts)
    assert back.reps is not None
    pd.testing.assert_frame_equal(back.reps, reps)
    assert (info.n_accounts, info.n_reps, info.author) == (len(accounts), 2, "carol")
    assert db.dataset(info.content_hash[:12]).info == info


def test_same_content_is_stored_once_and_any_change_is_new(db: PlanStore, world: Any) -> None:
    _, accounts = world
    first = db.save_dataset(accounts, name="a")
    again = db.save_dataset(accounts.copy(), name="same data, other name")
    assert again.id == first.id
    changed = accounts.copy()
    changed.loc[17, "workload_hours"] += 0.25
    other = db.save_dataset(changed, name="b")
    assert other.id != first.id and other.content_hash != first.content_hash
    assert [d.id for d in db.datasets()] == [other.id, first.id]


def test_dataset_in_use_cannot_be_deleted(db: PlanStore, world: Any) -> None:
    stored(db, world)
    data = db.datasets()[0]
    with pytest.raises(StoreError, match=r"used by plan\(s\) north"):
        db.delete_dataset(data.id)
    db.delete("north")
    db.delete_dataset(data.id)
    assert db.datasets() == []


# --------------------------------------------------------------------------- plans


def test_plan_round_trip_is_exact(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    plan = override_accounts(plan, accounts, ["A0003"], "T04").plan
    plan = lock(plan, cells=plan.cells[:3], account_ids=["A0009"]).plan
    stored(db, (plan, accounts))
    opened = db.open("north")
    assert opened.version == 1
    assert opened.plan.equals(plan)
    assert dict(opened.plan.params) == {
        "balance": "workload",
        "tolerance": 0.05,
        "target_shares": [0.25] * 4,
    }
    assert opened.plan.report is None  # edits drop the engine report ...
    stored(db, world, name="fresh")
    fresh = db.open("fresh").plan
    assert fresh.report == world[0].report  # ... and a design's report round-trips
    assert opened.plan.assign(accounts).equals(plan.assign(accounts))


def test_every_saved_edit_is_a_version_that_can_be_opened(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    stored(db, world)
    states = [plan]
    first = assign_cells(plan, accounts, plan.cells[:6], "T02")
    db.save("north", first.plan, expected_version=1, edit=first.edit, author="bob")
    states.append(first.plan)
    second = override_accounts(first.plan, accounts, ["A0010", "A0011"], "T03")
    info = db.save("north", second.plan, expected_version=2, edit=second.edit, author="carol")
    states.append(second.plan)
    assert (info.version, info.updated_by, info.author) == (3, "carol", "alice")
    for number, expected in enumerate(states, start=1):
        assert db.open("north", version=number).plan.equals(expected)
    history = db.versions("north")
    assert [v.kind for v in history] == ["create", "assign", "override"]
    assert history[1].edit == first.edit
    assert history[1].summary.startswith("assign: 6 cells")
    with pytest.raises(StoreError, match=r"versions 1 to 3; there is no version 9"):
        db.open("north", version=9)


def test_audit_log_says_who_moved_what_from_where_to_where(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    stored(db, world)
    result = assign_cells(plan, accounts, plan.cells[:6], "T02")
    db.save("north", result.plan, expected_version=1, edit=result.edit, author="bob")
    log = db.audit("north")
    moves = log[log["action"] == "assign"]
    assert len(moves) == len(result.edit.changes)
    assert set(moves["who"]) == {"bob"}
    cell_rows = moves[moves["item"] == "cell"]
    expected = {(c.key, c.before, c.after) for c in result.edit.changes if c.item == "cell"}
    got = set(
        zip(cell_rows["key"], cell_rows["from_territory"], cell_rows["to_territory"], strict=True)
    )
    assert got == expected
    assert str(log["at"].dtype) == "datetime64[us, UTC]" or "UTC" in str(log["at"].dtype)
    assert log.iloc[-1]["action"] == "create"


def test_save_steps_stores_each_edit_as_its_own_version(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    stored(db, world)
    a = assign_cells(plan, accounts, plan.cells[:4], "T03")
    b = lock(a.plan, territories=["T01"])
    info = db.save_steps(
        "north", [(a.plan, a.edit), (b.plan, b.edit)], expected_version=1, author="bob"
    )
    assert info.version == 3
    assert [v.kind for v in db.versions("north")] == ["create", "assign", "lock"]
    assert db.open("north", version=2).plan.equals(a.plan)
    assert db.open("north").plan.locked_cells == b.plan.locked_cells


def test_revert_makes_a_past_version_the_new_head(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    stored(db, world)
    a = assign_cells(plan, accounts, plan.cells[:4], "T03")
    db.save("north", a.plan, expected_version=1, edit=a.edit)
    info = db.revert("north", 1, expected_version=2, author="dave")
    assert info.version == 3
    assert db.open("north").plan.equals(plan)
    last = db.versions("north")[-1]
    assert last.kind == "revert" and "back to version 1" in last.summary
    assert last.edit is not None
    assert {c.key for c in last.edit.changes} == {c.key for c in a.edit.changes if c.item == "cell"}


def test_rename_duplicate_delete(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    stored(db, world)
    a = assign_cells(plan, accounts, plan.cells[:4], "T03")
    db.save("north", a.plan, expected_version=1, edit=a.edit)
    renamed = db.rename("north", "north FY26", author="bob")
    assert renamed.name == "north FY26" and renamed.version == 2
    copy = db.duplicate("north FY26", "what-if", version=1, author="carol")
    assert (copy.parent_name, copy.version, copy.author) == ("north FY26", 1, "carol")
    assert copy.dataset_id == renamed.dataset_id
    assert db.open("what-if").plan.equals(plan)
    assert {p.name for p in db.plans()} == {"north FY26", "what-if"}
    with pytest.raises(StoreError, match=r"already exists"):
        db.rename("what-if", "north FY26")
    with pytest.raises(StoreError, match=r"already exists"):
        db.create_plan(plan, name="what-if")
    db.delete("north FY26", author="erin")
    assert db.info("what-if").parent_id is None
    assert [p.name for p in db.plans()] == ["what-if"]
    with pytest.raises(StoreError, match=r"no plan 'north FY26'.*Known plans: 'what-if'"):
        db.open("north FY26")
    trail = db.audit(renamed.id)  # the audit trail outlives the plan
    assert list(trail["action"][:2]) == ["delete", "rename"]
    assert trail.iloc[0]["who"] == "erin"


def test_deleting_plans_frees_their_arrays(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    stored(db, world)
    a = assign_cells(plan, accounts, plan.cells[:4], "T03")
    db.save("north", a.plan, expected_version=1, edit=a.edit)

    def blobs() -> int:
        with db.engine.connect() as conn:
            return int(conn.exec_driver_sql("select count(*) from blobs").scalar_one())

    assert blobs() == 3  # cells are shared by both versions: 1 cells + 2 label blobs
    db.delete("north")
    assert blobs() == 0


def test_save_without_a_record_logs_what_changed(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    stored(db, world)
    moved = assign_cells(plan, accounts, plan.cells[:3], "T04")
    db.save("north", moved.plan, expected_version=1)
    last = db.versions("north")[-1]
    assert last.kind == "save" and last.edit is not None
    cells = {c.key for c in moved.edit.changes if c.item == "cell"}
    assert {c.key for c in last.edit.changes if c.item == "cell"} == cells


# --------------------------------------------------------------------------- safety


def test_concurrent_update_is_detected_not_lost(target: str | Path, world: Any) -> None:
    plan, accounts = world
    with PlanStore(target) as setup:
        stored(setup, world)
    alice, bob = PlanStore(target), PlanStore(target)  # two app servers, one database
    try:
        mine, theirs = alice.open("north"), bob.open("north")
        a = assign_cells(mine.plan, accounts, plan.cells[:5], "T02")
        alice.save("north", a.plan, expected_version=mine.version, edit=a.edit, author="alice")
        b = assign_cells(theirs.plan, accounts, plan.cells[-5:], "T01")
        with pytest.raises(ConflictError) as err:
            bob.save("north", b.plan, expected_version=theirs.version, edit=b.edit, author="bob")
        text = str(err.value)
        assert (
            "changed by alice at" in text and "reload it, or save your edits as a new plan" in text
        )
        assert (err.value.expected_version, err.value.current_version) == (1, 2)
        assert isinstance(err.value, TerrmapError)
        head = bob.open("north")
        assert head.version == 2 and head.plan.equals(a.plan)  # alice's save is intact
        assert len(bob.versions("north")) == 2
        bob.create_plan(b.plan, name="north (bob)", parent="north", author="bob")  # save as new
        assert bob.info("north (bob)").parent_name == "north"
    finally:
        alice.close()
        bob.close()


def test_simultaneous_saves_one_wins_one_conflicts(target: str | Path, world: Any) -> None:
    plan, accounts = world
    with PlanStore(target) as setup:
        stored(setup, world)
    edits = [
        assign_cells(plan, accounts, plan.cells[:5], "T02"),
        assign_cells(plan, accounts, plan.cells[-5:], "T01"),
    ]
    stores = [PlanStore(target), PlanStore(target)]
    barrier = threading.Barrier(2)
    outcome: list[str] = ["", ""]

    def save(i: int) -> None:
        barrier.wait()
        try:
            stores[i].save("north", edits[i].plan, expected_version=1, edit=edits[i].edit)
            outcome[i] = "saved"
        except ConflictError:
            outcome[i] = "conflict"

    threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(outcome) == ["conflict", "saved"]
        winner = outcome.index("saved")
        head = stores[0].open("north")
        assert head.version == 2 and head.plan.equals(edits[winner].plan)
    finally:
        for s in stores:
            s.close()


def test_failed_save_keeps_previous_state(db: PlanStore, world: Any, target: str | Path) -> None:
    plan, accounts = world
    stored(db, world)
    a = assign_cells(plan, accounts, plan.cells[:5], "T02")

    def fail_on_audit(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            raise sa.exc.OperationalError(statement, None, OSError("disk I/O error (injected)"))

    # The plan head and the version row are written before the audit rows fail.
    event.listen(db.engine, "before_cursor_execute", fail_on_audit)
    with pytest.raises(StoreError, match=r"cannot save the plan.*injected"):
        db.save("north", a.plan, expected_version=1, edit=a.edit)
    event.remove(db.engine, "before_cursor_execute", fail_on_audit)
    with PlanStore(target) as fresh:  # what any other reader sees
        assert fresh.info("north").version == 1
        assert [v.version for v in fresh.versions("north")] == [1]
        assert fresh.open("north").plan.equals(plan)
        assert set(fresh.audit("north")["action"]) == {"create"}
    info = db.save("north", a.plan, expected_version=1, edit=a.edit)  # and it still works
    assert info.version == 2


# --------------------------------------------------------------------------- plan directories


def test_export_writes_the_plan_directory_back(db: PlanStore, world: Any, tmp_path: Path) -> None:
    plan, accounts = world
    original = write_plan_dir(plan, accounts, tmp_path / "made")
    info = db.import_plan_dir(original, name="imported", accounts=accounts, author="ci")
    assert db.versions(info.id)[0].kind == "import"
    out = db.export_plan("imported", tmp_path / "exported")
    for name in ("assignments.csv", "cells.csv"):
        assert (out / name).read_bytes() == (original / name).read_bytes()
    assert db.open("imported").plan.equals(plan)


def test_import_refuses_accounts_the_plan_was_not_made_from(
    db: PlanStore, world: Any, tmp_path: Path
) -> None:
    plan, accounts = world
    made = write_plan_dir(plan, accounts, tmp_path / "made")
    with pytest.raises(StoreError, match=r"10 of its accounts are missing"):
        db.import_plan_dir(made, name="x", accounts=accounts.iloc[10:].reset_index(drop=True))
    assert db.plans() == [] and db.datasets() == []


def test_memory_is_a_private_in_memory_database_not_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = PlanStore(":memory:")
    assert store.plans() == []
    assert list(tmp_path.iterdir()) == []
