"""The plan database underneath :mod:`terrmap.store`: tables, migrations, engines, errors.

* Tables and the ordered :data:`MIGRATIONS` that create and upgrade them; :func:`migrate`
  applies the missing steps, each in its own transaction, exactly once even when two
  servers start together.
* Opening an engine from a URL or a SQLite path (folders created, missing or foreign
  files explained) with SQLite set up for safe concurrent writers.
* :func:`translate_error`: every driver error the store can meet becomes a
  :class:`StoreError` that says what is wrong and how to fix it.

Private to the store modules; :mod:`terrmap.store` re-exports the public names.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from terrmap.errors import TerrmapError

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "StoreError",
    "audit_log",
    "blobs",
    "check_name",
    "datasets",
    "default_author",
    "default_db_url",
    "make_engine",
    "migrate",
    "new_id",
    "now",
    "plan_versions",
    "plans",
    "translate_error",
    "utc",
    "write_txn",
]


class StoreError(TerrmapError):
    """The plan database cannot do what was asked (missing, corrupt, unknown plan, ...)."""


# --------------------------------------------------------------------------- schema

_metadata = sa.MetaData()
_TS = sa.DateTime(timezone=True)

schema_version = sa.Table(
    "schema_version",
    _metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", _TS, nullable=False),
)
datasets = sa.Table(
    "datasets",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("n_accounts", sa.Integer, nullable=False),
    sa.Column("n_reps", sa.Integer, nullable=True),
    sa.Column("accounts", sa.LargeBinary, nullable=False),
    sa.Column("reps", sa.LargeBinary, nullable=True),
    sa.Column("author", sa.String(100), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)
blobs = sa.Table(
    "blobs",
    _metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
plans = sa.Table(
    "plans",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("dataset_id", sa.ForeignKey("datasets.id", ondelete="RESTRICT"), nullable=True),
    sa.Column("parent_id", sa.ForeignKey("plans.id", ondelete="SET NULL"), nullable=True),
    sa.Column("author", sa.String(100), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
)
plan_versions = sa.Table(
    "plan_versions",
    _metadata,
    sa.Column("plan_id", sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("author", sa.String(100), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("cells_sha", sa.ForeignKey("blobs.sha256"), nullable=False),
    sa.Column("labels_sha", sa.ForeignKey("blobs.sha256"), nullable=False),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("edit", sa.JSON, nullable=True),
)
# No foreign key to plans: the audit trail outlives a deleted plan.
audit_log = sa.Table(
    "audit_log",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", _TS, nullable=False),
    sa.Column("who", sa.String(100), nullable=False),
    sa.Column("plan_id", sa.Integer, nullable=False),
    sa.Column("plan_name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("item", sa.String(16), nullable=True),
    sa.Column("item_key", sa.String(200), nullable=True),
    sa.Column("from_territory", sa.String(100), nullable=True),
    sa.Column("to_territory", sa.String(100), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
)
sa.Index("ix_audit_plan_at", audit_log.c.plan_id, audit_log.c.at)


def _migration_1(conn: Connection) -> None:
    _metadata.create_all(conn, tables=[datasets, blobs, plans, plan_versions, audit_log])


Migration = tuple[int, str, Callable[[Connection], None]]
"""A schema step: its number, what it does, and the function that does it."""
# Ordered; append new steps (never edit an applied one). Each runs in its own transaction.
MIGRATIONS: tuple[Migration, ...] = (
    (1, "datasets, blobs, plans, plan_versions, audit_log", _migration_1),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _schema_in_place(conn: Connection) -> int | None:
    if not sa.inspect(conn).has_table(schema_version.name):
        return None
    have = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
    return None if have is None else int(have)


@contextmanager
def write_txn(engine: Engine) -> Iterator[Connection]:
    """A transaction that takes the write lock at once (SQLite: BEGIN IMMEDIATE)."""
    with engine.connect() as conn:
        conn.execution_options(terrmap_write=True)
        with conn.begin():
            yield conn


def _migration_lock(conn: Connection) -> None:
    # SQLite serialises through BEGIN IMMEDIATE; PostgreSQL needs an explicit lock so
    # two servers starting together do not both create the tables.
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727372) -- terrmap schema")


def migrate(engine: Engine, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database schema up to date; returns the schema version now in place.

    Each step runs in its own write transaction together with its ``schema_version``
    row, so a failed step leaves the database at the previous version, and two
    processes starting at once apply every step exactly once.

    Raises :class:`StoreError` when the database was written by a newer terrmap.
    """
    newest = migrations[-1][0] if migrations else 0
    with engine.connect() as conn:
        have = _schema_in_place(conn)
    if have is not None and have > newest:
        raise StoreError(
            f"the database has schema version {have}, newer than this terrmap understands "
            f"({newest}). Fix: upgrade terrmap, or use another database."
        )
    if have is not None and have == newest:
        return have  # the usual case: no write lock taken on open
    with write_txn(engine) as conn:
        _migration_lock(conn)
        schema_version.create(conn, checkfirst=True)
    for number, description, step in migrations:
        with write_txn(engine) as conn:
            _migration_lock(conn)
            done = _schema_in_place(conn)
            if done is not None and done >= number:
                continue  # applied earlier, or by another process meanwhile
            step(conn)
            values = {"version": number, "description": description, "applied_at": now()}
            conn.execute(sa.insert(schema_version).values(**values))
    with engine.connect() as conn:
        return _schema_in_place(conn) or 0


# --------------------------------------------------------------------------- engines


def now() -> datetime:
    """The current time in UTC (every timestamp the store writes)."""
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """A timestamp read back from the database, as UTC."""
    # SQLite gives back naive datetimes; everything is written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def default_db_url() -> str:
    """The database URL used when none is given.

    ``TERRMAP_DB_URL`` (any SQLAlchemy URL), else the SQLite file ``TERRMAP_DB_PATH``,
    else ``$XDG_DATA_HOME/terrmap/terrmap.db`` (default ``~/.local/share/terrmap``).
    """
    url = os.environ.get("TERRMAP_DB_URL")
    if url:
        return url
    path = os.environ.get("TERRMAP_DB_PATH")
    if path:
        return _sqlite_url(Path(path).expanduser())
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return _sqlite_url(base / "terrmap" / "terrmap.db")


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (pysqlite's implicit transactions skip SELECT and
    # DDL), so reads see one snapshot and migrations are atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # Writers take the write lock up front: two saves never both read version N and
    # then deadlock on the upgrade; the second waits (busy timeout) and sees N+1.
    write = conn.get_execution_options().get("terrmap_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str, *, create: bool) -> Engine:
    """An engine for a SQLAlchemy URL or a SQLite file path (``create``: make the folder).

    Raises :class:`StoreError` for a malformed URL, a missing driver, a SQLite path that
    is a folder, or a missing file when ``create`` is False.
    """
    if url == ":memory:":  # SQLite's own name for a private in-memory database
        url = "sqlite://"
    elif "://" not in url:
        url = _sqlite_url(Path(url).expanduser())
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            f"{url!r} is not a database URL. Fix: give a SQLite file path or a SQLAlchemy URL "
            "such as postgresql+psycopg://user@host/dbname."
        ) from exc
    if parsed.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(parsed, pool_pre_ping=True)
        except (ModuleNotFoundError, sa.exc.NoSuchModuleError) as exc:
            raise StoreError(
                f"no database driver for {parsed.drivername!r} ({exc}). Fix: install the "
                "driver package (e.g. psycopg for PostgreSQL) into the same environment."
            ) from exc
    db = parsed.database or ""
    if db and db != ":memory:" and not db.startswith("file:"):
        _check_sqlite_path(Path(db), create=create)
    engine = sa.create_engine(parsed, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _check_sqlite_path(path: Path, *, create: bool) -> None:
    if path.is_dir():
        raise StoreError(
            f"the plan database path {path} is a folder. Fix: point TERRMAP_DB_PATH (or --db) "
            f"at a file, e.g. {path}/terrmap.db."
        )
    if path.exists():
        return
    if not create:
        raise StoreError(
            f"there is no plan database at {path}. Fix: check TERRMAP_DB_PATH / TERRMAP_DB_URL "
            "(or --db); a new database is created when the app first saves a plan."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder for the plan database {path} ({exc.strerror}). Fix: set "
            "TERRMAP_DB_PATH to a file in a writable folder."
        ) from exc


def translate_error(exc: sa.exc.SQLAlchemyError, action: str, where: str) -> StoreError:
    """The :class:`StoreError` to raise for a driver error while trying to ``action``."""
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    low = detail.lower()
    if "not a database" in low or "malformed" in low or "file is encrypted" in low:
        return StoreError(
            f"the plan database {where} is corrupt or is not a terrmap database ({detail}). "
            "Fix: restore it from a backup, or move the file aside so a new empty one is "
            "created, or set TERRMAP_DB_PATH to another file."
        )
    if "no such table" in low or ("does not exist" in low and "relation" in low):
        return StoreError(
            f"the plan database {where} has lost its terrmap tables ({detail}); the file was "
            "probably deleted or replaced while terrmap was running. Fix: restart terrmap to "
            "create a new database, or restore the file from a backup."
        )
    if "unable to open" in low or "readonly" in low or "read-only" in low:
        return StoreError(
            f"cannot {action}: the plan database {where} cannot be written ({detail}). Fix: "
            "check that the file and its folder exist and are writable, or set TERRMAP_DB_PATH."
        )
    if "locked" in low or "busy" in low:
        return StoreError(
            f"cannot {action}: the plan database {where} stayed busy for 30 s ({detail}). "
            "Fix: retry; if it persists, close other programs that write to it."
        )
    return StoreError(f"cannot {action} in the plan database {where}: {detail}")


# --------------------------------------------------------------------------- rows


def default_author() -> str:
    """Who is saving: ``TERRMAP_USER``, else the login name, else ``unknown``."""
    name = os.environ.get("TERRMAP_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


def check_name(name: str) -> str:
    """The plan or dataset name, stripped (raises unless 1 to 200 characters)."""
    clean = str(name).strip()
    if not clean or len(clean) > 200:
        raise StoreError(
            f"plan name {name!r} must be 1 to 200 characters. Fix: give a short descriptive name."
        )
    return clean


def new_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports it
        raise StoreError("the database did not report the id of the new row")
    return int(key[0])
