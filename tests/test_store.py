"""The plan database: schema and migrations, datasets, plans, versions, audit, safety."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from terrmap import store
from terrmap.edits import Edit, assign_cells, lock, override_accounts
from terrmap.grid import cells_to_latlon
from terrmap.plan import DesignReport, Plan
from terrmap.store import ConflictError, PlanStore, StoreError

RES = 7
CENTRE = (40.0, -75.0)


def _world(n_accounts: int = 240, k: int = 4, seed: int = 0) -> tuple[Plan, pd.DataFrame]:
    """A disk of res-7 cells cut into k wedge territories, accounts near cell centres."""
    rng = np.random.default_rng(seed)
    centre = h3n.latlng_to_cell(*CENTRE, RES)
    cells = np.sort(np.asarray(h3n.grid_disk(centre, 5), dtype=np.uint64))
    lat, lon = cells_to_latlon(cells)
    angle = np.arctan2(lat - CENTRE[0], lon - CENTRE[1])
    labels = (((angle + np.pi) / (2 * np.pi)) * k).astype(int) % k
    tids = tuple(f"T{i + 1:02d}" for i in range(k))
    report = DesignReport(
        deviation=dict.fromkeys(tids, 0.01),
        secondary_deviation=None,
        max_deviation=0.01,
        tolerance=0.05,
        tolerance_met=True,
        split_cells=(int(cells[3]),),
        moved_accounts=("A0001",),
        warnings=("made by a test",),
    )
    plan = Plan(
        cells,
        labels,
        tids,
        tuple(f"R{i}" for i in range(k)),
        RES,
        params={"balance": "workload", "tolerance": 0.05, "target_shares": [0.25] * k},
        report=report,
    )
    pick = rng.integers(0, cells.size, n_accounts)
    accounts = pd.DataFrame(
        {
            "account_id": pd.array([f"A{i:04d}" for i in range(n_accounts)], dtype="string"),
            "name": pd.array([f"Account {i}" for i in range(n_accounts)], dtype="string"),
            "lat": lat[pick] + rng.normal(0, 2e-4, n_accounts),
            "lon": lon[pick] + rng.normal(0, 2e-4, n_accounts),
            "segment": pd.array(rng.choice(["SMB", "MM", "ENT"], n_accounts), dtype="string"),
            "tier": pd.array(rng.integers(1, 4, n_accounts), dtype="Int8"),
            "workload_hours": rng.uniform(0.5, 6.0, n_accounts),
            "opportunity": rng.uniform(1e3, 5e4, n_accounts),
            "last_activity": pd.to_datetime("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 300, n_accounts), unit="D"),
            "locked": np.zeros(n_accounts, dtype=bool),
        }
    )
    accounts.loc[5, "last_activity"] = pd.NaT
    accounts.loc[7, "segment"] = pd.NA
    return plan, accounts


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return _world()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "plans" / "terrmap.db"


PG_URL = os.environ.get("TERRMAP_TEST_PG_URL")  # e.g. postgresql+psycopg://u@/db?host=/tmp


def _fresh_pg(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(PG_URL is None, reason="set TERRMAP_TEST_PG_URL to run"),
        ),
    ]
)
def target(request: pytest.FixtureRequest, db_path: Path) -> str | Path:
    """An empty database: a SQLite file, and PostgreSQL when a test server is configured."""
    if request.param == "postgresql":
        assert PG_URL is not None
        _fresh_pg(PG_URL)
        return PG_URL
    return db_path


@pytest.fixture
def db(target: str | Path) -> Any:
    with PlanStore(target) as s:
        yield s


def _stored(db: PlanStore, world: tuple[Plan, pd.DataFrame], name: str = "north") -> int:
    plan, accounts = world
    data = db.save_dataset(accounts, name="accounts")
    return db.create_plan(plan, name=name, dataset=data.id, author="alice").id


# --------------------------------------------------------------------------- location


def test_default_url_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TERRMAP_DB_URL", raising=False)
    monkeypatch.delenv("TERRMAP_DB_PATH", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert store.default_db_url() == f"sqlite:///{tmp_path / 'xdg' / 'terrmap' / 'terrmap.db'}"
    monkeypatch.setenv("TERRMAP_DB_PATH", str(tmp_path / "my.db"))
    assert store.default_db_url() == f"sqlite:///{tmp_path / 'my.db'}"
    monkeypatch.setenv("TERRMAP_DB_URL", "postgresql+psycopg://u@h/db")
    assert store.default_db_url() == "postgresql+psycopg://u@h/db"


def test_store_opens_default_location_and_creates_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TERRMAP_DB_URL", raising=False)
    monkeypatch.setenv("TERRMAP_DB_PATH", str(tmp_path / "a" / "b" / "plans.db"))
    with store.open_store() as s:
        assert s.plans() == []
    assert (tmp_path / "a" / "b" / "plans.db").is_file()


# --------------------------------------------------------------------------- schema


def test_schema_created_once_and_versioned(db_path: Path) -> None:
    with PlanStore(db_path) as s:
        assert s.schema_version == store.SCHEMA_VERSION
    with PlanStore(db_path) as s:  # reopening runs nothing twice
        assert s.schema_version == store.SCHEMA_VERSION
    with sqlite3.connect(db_path) as raw:
        rows = raw.execute("select version, description from schema_version").fetchall()
        tables = {r[0] for r in raw.execute("select name from sqlite_master where type='table'")}
    assert [r[0] for r in rows] == [m[0] for m in store.MIGRATIONS]
    assert {"datasets", "plans", "plan_versions", "blobs", "audit_log"} <= tables


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


def test_older_database_is_migrated_in_order(db_path: Path, world: Any) -> None:
    with PlanStore(db_path) as s:
        _stored(s, world)

    def add_note_column(conn: sa.Connection) -> None:
        conn.exec_driver_sql("ALTER TABLE plans ADD COLUMN note TEXT")

    newer = (*store.MIGRATIONS, (store.SCHEMA_VERSION + 1, "plans.note", add_note_column))
    with PlanStore(db_path, migrations=newer) as s:
        assert s.schema_version == store.SCHEMA_VERSION + 1
        assert s.open("north").plan.equals(world[0])  # data survived the upgrade
    with sqlite3.connect(db_path) as raw:
        cols = [r[1] for r in raw.execute("pragma table_info(plans)")]
    assert "note" in cols
    with pytest.raises(StoreError, match=r"newer than this terrmap understands"):
        PlanStore(db_path)  # the plain app meets a database from the future


def test_failed_migration_leaves_schema_version_alone(db_path: Path) -> None:
    PlanStore(db_path).close()

    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE half_done (x INTEGER)")
        conn.exec_driver_sql("SELECT * FROM no_such_table")

    newer = (*store.MIGRATIONS, (store.SCHEMA_VERSION + 1, "broken", broken))
    with pytest.raises(StoreError):
        PlanStore(db_path, migrations=newer)
    with sqlite3.connect(db_path) as raw:
        versions = [r[0] for r in raw.execute("select version from schema_version")]
        tables = {r[0] for r in raw.execute("select name from sqlite_master where type='table'")}
    assert max(versions) == store.SCHEMA_VERSION
    assert "half_done" not in tables  # the migration's DDL was rolled back too


# --------------------------------------------------------------------------- failures


def test_corrupt_database_file_gives_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "terrmap.db"
    path.write_bytes(b"this is not a database, just some text\n" * 200)
    with pytest.raises(StoreError, match=r"corrupt or is not a terrmap database") as err:
        PlanStore(path)
    assert str(path) in str(err.value)
    assert "Fix:" in str(err.value)


def test_missing_database_without_create_gives_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"there is no plan database at .*missing\.db"):
        PlanStore(tmp_path / "missing.db", create=False)
    with pytest.raises(StoreError, match=r"is a folder"):
        PlanStore(tmp_path)


def test_database_deleted_while_running_gives_clear_error(db_path: Path, world: Any) -> None:
    s = PlanStore(db_path)
    _stored(s, world)
    s.close()  # drop pooled connections, then the file disappears under the app
    os.remove(db_path)
    with pytest.raises(StoreError, match=r"lost its terrmap tables"):
        s.plans()


def test_bad_url_and_missing_driver_are_explained() -> None:
    with pytest.raises(StoreError, match=r"not a database URL"):
        PlanStore("not a url://")
    with pytest.raises(StoreError, match=r"no database driver"):
        PlanStore("nosuchdb://user@host/db")


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
    _stored(db, world)
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
    _stored(db, (plan, accounts))
    opened = db.open("north")
    assert opened.version == 1
    assert opened.plan.equals(plan)
    assert dict(opened.plan.params) == {
        "balance": "workload",
        "tolerance": 0.05,
        "target_shares": [0.25] * 4,
    }
    assert opened.plan.report is None  # edits drop the engine report ...
    _stored(db, world, name="fresh")
    fresh = db.open("fresh").plan
    assert fresh.report == world[0].report  # ... and a design's report round-trips
    assert opened.plan.assign(accounts).equals(plan.assign(accounts))


def test_every_saved_edit_is_a_version_that_can_be_opened(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    _stored(db, world)
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
    _stored(db, world)
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
    _stored(db, world)
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
    _stored(db, world)
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
    _stored(db, world)
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
    _stored(db, world)
    a = assign_cells(plan, accounts, plan.cells[:4], "T03")
    db.save("north", a.plan, expected_version=1, edit=a.edit)

    def blobs() -> int:
        with db.engine.connect() as conn:
            return int(conn.exec_driver_sql("select count(*) from blobs").scalar_one())

    assert blobs() == 3  # cells are shared by both versions: 1 cells + 2 label blobs
    db.delete("north")
    assert blobs() == 0


# --------------------------------------------------------------------------- safety


def test_concurrent_update_is_detected_not_lost(target: str | Path, world: Any) -> None:
    plan, accounts = world
    with PlanStore(target) as setup:
        _stored(setup, world)
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
        assert isinstance(err.value, store.TerrmapError)
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
        _stored(setup, world)
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
    _stored(db, world)
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


# --------------------------------------------------------------------------- files and CLI


def test_export_writes_the_plan_directory_back(db: PlanStore, world: Any, tmp_path: Path) -> None:
    from terrmap.plan import write_plan_dir

    plan, accounts = world
    original = write_plan_dir(plan, accounts, tmp_path / "made")
    info = db.import_plan_dir(original, name="imported", accounts=accounts, author="ci")
    assert db.versions(info.id)[0].kind == "import"
    out = store.plans_export(db, "imported", tmp_path / "exported")
    for name in ("assignments.csv", "cells.csv"):
        assert (out / name).read_bytes() == (original / name).read_bytes()
    assert db.open("imported").plan.equals(plan)


def test_import_refuses_accounts_the_plan_was_not_made_from(
    db: PlanStore, world: Any, tmp_path: Path
) -> None:
    from terrmap.plan import write_plan_dir

    plan, accounts = world
    made = write_plan_dir(plan, accounts, tmp_path / "made")
    with pytest.raises(StoreError, match=r"10 of its accounts are missing"):
        db.import_plan_dir(made, name="x", accounts=accounts.iloc[10:].reset_index(drop=True))
    assert db.plans() == [] and db.datasets() == []


def test_cli_list_show_diff(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    assert "no plans yet" in store.plans_list(db)
    _stored(db, world)
    a = assign_cells(plan, accounts, plan.cells[:8], "T02")
    db.save("north", a.plan, expected_version=1, edit=a.edit, author="bob")
    db.duplicate("north", "south", version=1, author="carol")
    listing = store.plans_list(db)
    assert "north" in listing and "south" in listing and "bob" in listing
    shown = store.plans_show(db, "north")
    assert "version 2 of 2" in shown and "T01" in shown and a.edit.summary() in shown
    text = store.plans_diff(db, "south", "north")
    moved = sum(1 for c in a.edit.changes if c.item == "account")
    assert f"{moved:,} account(s) moved" in text
    diff = db.diff("south", "north")
    assert diff.moved_accounts == moved
    assert diff.table["accounts_in"].sum() == diff.table["accounts_out"].sum() == moved


def test_edit_records_round_trip_through_json() -> None:
    plan, accounts = _world(60)
    edit = assign_cells(plan, accounts, plan.cells[:3], "T01").edit
    assert Edit.from_dict(edit.to_dict()) == edit


def test_cli_import_then_export_reproduces_the_plan_directory(
    db: PlanStore, tmp_path: Path, sample_accounts_path: Path, sample_reps_path: Path
) -> None:
    """What ``terrmap plan`` wrote comes back byte for byte from ``plans export``."""
    from terrmap.design import DesignConfig, build_plan
    from terrmap.load import load_accounts, load_reps
    from terrmap.plan import write_plan_dir
    from terrmap.scoring import score_accounts

    rows = pd.read_csv(sample_accounts_path, dtype=str, keep_default_na=False)
    small = rows[rows["owner"].isin(["R01", "R02", "R03"])].head(450)
    accounts_csv = tmp_path / "accounts.csv"
    small.to_csv(accounts_csv, index=False)
    reps_csv = tmp_path / "reps.csv"
    pd.read_csv(sample_reps_path, dtype=str, keep_default_na=False).head(3).to_csv(
        reps_csv, index=False
    )
    # what `terrmap plan accounts.csv --reps reps.csv --out made` does
    reps = load_reps(reps_csv).frame
    accounts = score_accounts(load_accounts(accounts_csv, rep_ids=list(reps["rep_id"])).frame)
    plan = build_plan(accounts, reps, config=DesignConfig(tolerance=0.05), random_state=0)
    made = write_plan_dir(plan, accounts, tmp_path / "made", reps=reps)

    with pytest.raises(StoreError, match=r"needs the accounts it was planned from"):
        store.plans_import(db, made, name="fy26")
    message = store.plans_import(db, made, name="fy26", accounts=accounts_csv, reps=reps_csv)
    assert "stored plan 'fy26'" in message
    out = store.plans_export(db, "fy26", tmp_path / "back")
    for name in ("assignments.csv", "cells.csv", "summary.json", "territories.geojson"):
        assert (out / name).read_bytes() == (made / name).read_bytes(), name
    assert "0 account(s) moved" in store.plans_diff(db, "fy26", "fy26")


def test_save_without_a_record_logs_what_changed(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    _stored(db, world)
    moved = assign_cells(plan, accounts, plan.cells[:3], "T04")
    db.save("north", moved.plan, expected_version=1)
    last = db.versions("north")[-1]
    assert last.kind == "save" and last.edit is not None
    cells = {c.key for c in moved.edit.changes if c.item == "cell"}
    assert {c.key for c in last.edit.changes if c.item == "cell"} == cells
