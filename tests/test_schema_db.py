"""The plan database underneath the store: location, schema, migrations, failures.

SQLite only: these check files on disk (corrupt, missing, deleted, a folder) and the
schema through ``sqlite3``; the behaviour shared with PostgreSQL is in test_store.py.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from edit_world import store_world, stored

from terrmap import store
from terrmap.plan import Plan
from terrmap.store import PlanStore, StoreError


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return store_world()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "plans" / "terrmap.db"


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


def test_older_database_is_migrated_in_order(db_path: Path, world: Any) -> None:
    with PlanStore(db_path) as s:
        stored(s, world)

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
    stored(s, world)
    s.close()  # drop pooled connections, then the file disappears under the app
    os.remove(db_path)
    with pytest.raises(StoreError, match=r"lost its terrmap tables"):
        s.plans()


def test_bad_url_and_missing_driver_are_explained() -> None:
    with pytest.raises(StoreError, match=r"not a database URL"):
        PlanStore("not a url://")
    with pytest.raises(StoreError, match=r"no database driver"):
        PlanStore("nosuchdb://user@host/db")
