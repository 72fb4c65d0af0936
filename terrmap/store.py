"""Plans that persist: datasets, plans, every edit as a version, and an audit log.

The store is a real database reached through SQLAlchemy: a SQLite file by default
(``TERRMAP_DB_PATH``, else ``$XDG_DATA_HOME/terrmap/terrmap.db``, i.e.
``~/.local/share/terrmap/terrmap.db``) or any SQLAlchemy URL in ``TERRMAP_DB_URL``
(e.g. PostgreSQL). The schema is created and migrated on open; nobody runs set-up.

Safety rules:

* every save is one transaction — a crash loses at most the save in flight, and a
  failed save leaves the previous state exactly as it was;
* saves carry the version they were based on (optimistic locking): if someone saved
  in between, :class:`ConflictError` says who and when, and nothing is overwritten;
* a corrupt, foreign or vanished database file gives a :class:`StoreError` that says
  what is wrong and how to fix it, never a raw driver traceback.

Plans are stored as compressed arrays (cells, labels) in a content-addressed blob
table, so the hundreds of versions of an edited plan share their cell list. Datasets
are stored as Parquet with a content hash, so the same upload is stored once.
"""

from __future__ import annotations

import getpass
import hashlib
import io
import json
import os
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from terrmap.edits import Edit, PlanDiff, diff_plans, plan_changes
from terrmap.errors import TerrmapError
from terrmap.metrics import territory_table
from terrmap.plan import DesignReport, Plan, read_plan_dir, write_plan_dir

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ConflictError",
    "Dataset",
    "DatasetInfo",
    "Migration",
    "PlanInfo",
    "PlanRef",
    "PlanStore",
    "StoreError",
    "StoredPlan",
    "VersionInfo",
    "default_db_url",
    "frame_hash",
    "migrate",
    "open_store",
    "plans_diff",
    "plans_export",
    "plans_import",
    "plans_list",
    "plans_show",
]

PlanRef = int | str
"""A plan is named by its id (int) or its name (str)."""


class StoreError(TerrmapError):
    """The plan database cannot do what was asked (missing, corrupt, unknown plan, ...)."""


class ConflictError(StoreError):
    """Someone saved the plan after the version an edit was based on."""

    def __init__(
        self, plan_name: str, *, expected: int, current: int, changed_by: str, changed_at: datetime
    ) -> None:
        self.plan_name = plan_name
        self.expected_version = expected
        self.current_version = current
        self.changed_by = changed_by
        self.changed_at = changed_at
        super().__init__(
            f"plan '{plan_name}' was changed by {changed_by} at "
            f"{changed_at:%Y-%m-%d %H:%M:%S} UTC (now version {current}; your edits are based "
            f"on version {expected}) — reload it, or save your edits as a new plan."
        )


# --------------------------------------------------------------------------- schema

_md = sa.MetaData()
_TS = sa.DateTime(timezone=True)

_schema_version = sa.Table(
    "schema_version",
    _md,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", _TS, nullable=False),
)
_datasets = sa.Table(
    "datasets",
    _md,
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
_blobs = sa.Table(
    "blobs",
    _md,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
_plans = sa.Table(
    "plans",
    _md,
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
_versions = sa.Table(
    "plan_versions",
    _md,
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
_audit = sa.Table(
    "audit_log",
    _md,
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
sa.Index("ix_audit_plan_at", _audit.c.plan_id, _audit.c.at)


def _migration_1(conn: Connection) -> None:
    _md.create_all(conn, tables=[_datasets, _blobs, _plans, _versions, _audit])


Migration = tuple[int, str, Any]
# Ordered; append new steps (never edit an applied one). Each runs in its own transaction.
MIGRATIONS: tuple[Migration, ...] = (
    (1, "datasets, blobs, plans, plan_versions, audit_log", _migration_1),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _schema_in_place(conn: Connection) -> int | None:
    if not sa.inspect(conn).has_table(_schema_version.name):
        return None
    have = conn.execute(sa.select(sa.func.max(_schema_version.c.version))).scalar()
    return None if have is None else int(have)


@contextmanager
def _write_txn(engine: Engine) -> Iterator[Connection]:
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
    with _write_txn(engine) as conn:
        _migration_lock(conn)
        _schema_version.create(conn, checkfirst=True)
    for number, description, step in migrations:
        with _write_txn(engine) as conn:
            _migration_lock(conn)
            done = _schema_in_place(conn)
            if done is not None and done >= number:
                continue  # applied earlier, or by another process meanwhile
            step(conn)
            values = {"version": number, "description": description, "applied_at": _now()}
            conn.execute(sa.insert(_schema_version).values(**values))
    with engine.connect() as conn:
        return _schema_in_place(conn) or 0


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class DatasetInfo:
    """A stored dataset (accounts and optionally reps), without its frames."""

    id: int
    name: str
    content_hash: str
    n_accounts: int
    n_reps: int | None
    author: str
    created_at: datetime


@dataclass(frozen=True)
class Dataset:
    """A stored dataset with its frames."""

    info: DatasetInfo
    accounts: pd.DataFrame
    reps: pd.DataFrame | None


@dataclass(frozen=True)
class PlanInfo:
    """A stored plan's header: who made it, when, from what, and its head version."""

    id: int
    name: str
    version: int
    dataset_id: int | None
    parent_id: int | None
    parent_name: str | None
    author: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    params: Mapping[str, Any]


@dataclass(frozen=True)
class VersionInfo:
    """One stored version of a plan (one applied edit)."""

    version: int
    author: str
    created_at: datetime
    kind: str
    summary: str
    edit: Edit | None


@dataclass(frozen=True)
class StoredPlan:
    """A plan opened from the store at one version."""

    info: PlanInfo
    version: int
    plan: Plan


# --------------------------------------------------------------------------- helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    # SQLite gives back naive datetimes; everything is written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _default_author() -> str:
    name = os.environ.get("TERRMAP_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


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


def _jsonable(value: Any) -> Any:
    """Plain JSON types for params and reports (dataclasses, numpy, tuples, paths)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_jsonable(v) for v in items]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return str(value)


def _array_to_bytes(values: np.ndarray) -> tuple[str, bytes]:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(values), allow_pickle=False)
    raw = buf.getvalue()
    return hashlib.sha256(raw).hexdigest(), zlib.compress(raw, 6)


def _bytes_to_array(data: bytes) -> np.ndarray:
    return np.asarray(np.load(io.BytesIO(zlib.decompress(data)), allow_pickle=False))


def frame_hash(frame: pd.DataFrame) -> str:
    """A content hash of a frame: columns, dtypes, index and every value (SHA-256 hex)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def _frame_to_parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow")
    return buf.getvalue()


def _parquet_to_frame(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


def _plan_to_rows(plan: Plan) -> tuple[tuple[str, bytes], tuple[str, bytes], dict[str, Any]]:
    state = {
        "format": 1,
        "territory_ids": list(plan.territory_ids),
        "rep_ids": list(plan.rep_ids),
        "resolution": int(plan.resolution),
        "overrides": dict(sorted(plan.overrides.items())),
        "locked_cells": [h3n.int_to_str(c) for c in sorted(plan.locked_cells)],
        "locked_accounts": sorted(plan.locked_accounts),
        "params": _jsonable(plan.params),
        "report": _jsonable(plan.report.to_dict()) if plan.report is not None else None,
    }
    return _array_to_bytes(plan.cells), _array_to_bytes(plan.labels), state


def _plan_from_rows(cells: bytes, labels: bytes, state: Mapping[str, Any]) -> Plan:
    if int(state.get("format", 0)) != 1:
        raise StoreError(
            f"stored plan format {state.get('format')!r} is not understood by this terrmap. "
            "Fix: upgrade terrmap."
        )
    report = state.get("report")
    return Plan(
        cells=_bytes_to_array(cells).astype(np.uint64, copy=False),
        labels=_bytes_to_array(labels).astype(np.int32, copy=False),
        territory_ids=tuple(state["territory_ids"]),
        rep_ids=tuple(state["rep_ids"]),
        resolution=int(state["resolution"]),
        overrides=dict(state["overrides"]),
        locked_cells=frozenset(int(h3n.str_to_int(c)) for c in state["locked_cells"]),
        locked_accounts=frozenset(state["locked_accounts"]),
        params=dict(state["params"]),
        report=DesignReport.from_dict(report) if report else None,
    )


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


def _make_engine(url: str, *, create: bool) -> Engine:
    if "://" not in url:
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
            "at a file, e.g. {path}/terrmap.db."
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


def _translate(exc: sa.exc.SQLAlchemyError, action: str, where: str) -> StoreError:
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


def _insert_blob(conn: Connection, sha: str, data: bytes) -> None:
    """Insert a content-addressed blob unless present (race-free where the dialect allows)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = conn.dialect.name
    if dialect == "sqlite":
        lite = sqlite.insert(_blobs).values(sha256=sha, data=data)
        conn.execute(lite.on_conflict_do_nothing(index_elements=["sha256"]))
        return
    if dialect == "postgresql":
        pg = postgresql.insert(_blobs).values(sha256=sha, data=data)
        conn.execute(pg.on_conflict_do_nothing(index_elements=["sha256"]))
        return
    if conn.execute(sa.select(_blobs.c.sha256).where(_blobs.c.sha256 == sha)).first() is None:
        conn.execute(sa.insert(_blobs).values(sha256=sha, data=data))


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend reports it
        raise StoreError("the database did not report the id of the new row")
    return int(key[0])


def _check_name(name: str) -> str:
    clean = str(name).strip()
    if not clean or len(clean) > 200:
        raise StoreError(
            f"plan name {name!r} must be 1 to 200 characters. Fix: give a short descriptive name."
        )
    return clean


_parent = _plans.alias("parent")
_PLAN_SELECT = sa.select(_plans, _parent.c.name.label("parent_name")).outerjoin(
    _parent, _plans.c.parent_id == _parent.c.id
)


def _plan_info(row: sa.Row[Any]) -> PlanInfo:
    m = row._mapping
    return PlanInfo(
        id=int(m["id"]),
        name=str(m["name"]),
        version=int(m["version"]),
        dataset_id=m["dataset_id"],
        parent_id=m["parent_id"],
        parent_name=m["parent_name"],
        author=str(m["author"]),
        created_at=_utc(m["created_at"]),
        updated_by=str(m["updated_by"]),
        updated_at=_utc(m["updated_at"]),
        params=dict(m["params"] or {}),
    )


def _dataset_info(row: sa.Row[Any]) -> DatasetInfo:
    m = row._mapping
    return DatasetInfo(
        id=int(m["id"]),
        name=str(m["name"]),
        content_hash=str(m["content_hash"]),
        n_accounts=int(m["n_accounts"]),
        n_reps=m["n_reps"],
        author=str(m["author"]),
        created_at=_utc(m["created_at"]),
    )


_DATASET_COLUMNS = [c for c in _datasets.c if c.name not in ("accounts", "reps")]


class PlanStore:
    """A handle on the plan database (one SQLAlchemy engine; safe to share across threads).

    Parameters
    ----------
    url
        A SQLAlchemy URL or a SQLite file path; default :func:`default_db_url`.
    create
        Create a missing SQLite file (and its folder). With ``False`` a missing file
        raises :class:`StoreError` (read-only command-line use).

    Examples
    --------
    >>> store = PlanStore("/tmp/plans.db")                      # doctest: +SKIP
    >>> info = store.create_plan(plan, name="FY26 draft")        # doctest: +SKIP
    >>> opened = store.open("FY26 draft")                        # doctest: +SKIP
    >>> store.save("FY26 draft", new_plan, expected_version=opened.version, edit=edit)  # +SKIP
    """

    def __init__(
        self,
        url: str | Path | None = None,
        *,
        create: bool = True,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.engine = _make_engine(str(url) if url is not None else default_db_url(), create=create)
        backend = self.engine.url
        self.where = (
            f"at {backend.database}"
            if backend.get_backend_name() == "sqlite"
            else f"at {backend.render_as_string(hide_password=True)}"
        )
        with self._errors("open the plan database"):
            self.schema_version = migrate(self.engine, migrations)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> PlanStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise _translate(exc, action, self.where) from exc

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        with self._errors(action), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        with self._errors(action), _write_txn(self.engine) as conn:
            yield conn

    # -- datasets -----------------------------------------------------------------

    def save_dataset(
        self,
        accounts: pd.DataFrame,
        reps: pd.DataFrame | None = None,
        *,
        name: str,
        author: str | None = None,
    ) -> DatasetInfo:
        """Store accounts (and reps) once per content hash; returns the stored record."""
        with self._write("store the dataset") as conn:
            return self._insert_dataset(conn, accounts, reps, name=name, author=author)

    def _insert_dataset(
        self,
        conn: Connection,
        accounts: pd.DataFrame,
        reps: pd.DataFrame | None,
        *,
        name: str,
        author: str | None,
    ) -> DatasetInfo:
        digest = hashlib.sha256(frame_hash(accounts).encode())
        if reps is not None:
            digest.update(frame_hash(reps).encode())
        content_hash = digest.hexdigest()
        found = conn.execute(
            sa.select(*_DATASET_COLUMNS).where(_datasets.c.content_hash == content_hash)
        ).first()
        if found is not None:
            return _dataset_info(found)
        values = {
            "name": _check_name(name),
            "content_hash": content_hash,
            "n_accounts": len(accounts),
            "n_reps": None if reps is None else len(reps),
            "accounts": _frame_to_parquet(accounts),
            "reps": None if reps is None else _frame_to_parquet(reps),
            "author": author or _default_author(),
            "created_at": _now(),
        }
        new_id = _new_id(conn.execute(sa.insert(_datasets).values(**values)))
        row = conn.execute(sa.select(*_DATASET_COLUMNS).where(_datasets.c.id == new_id)).one()
        return _dataset_info(row)

    def datasets(self) -> list[DatasetInfo]:
        """Every stored dataset, newest first."""
        with self._read("list datasets") as conn:
            rows = conn.execute(sa.select(*_DATASET_COLUMNS).order_by(_datasets.c.id.desc()))
            return [_dataset_info(r) for r in rows]

    def dataset(self, ref: int | str) -> Dataset:
        """A stored dataset with its frames, by id or content hash (a unique prefix works)."""
        with self._read("read the dataset") as conn:
            if isinstance(ref, int):
                cond = _datasets.c.id == ref
            else:
                cond = _datasets.c.content_hash.startswith(str(ref), autoescape=True)
            rows = conn.execute(sa.select(_datasets).where(cond).limit(2)).all()
        if len(rows) != 1:
            what = "no" if not rows else "more than one"
            raise StoreError(
                f"{what} dataset matches {ref!r} in the plan database {self.where}. Fix: use a "
                "dataset id or a longer content hash (see PlanStore.datasets())."
            )
        m = rows[0]._mapping
        reps = _parquet_to_frame(m["reps"]) if m["reps"] is not None else None
        return Dataset(_dataset_info(rows[0]), _parquet_to_frame(m["accounts"]), reps)

    def delete_dataset(self, dataset_id: int) -> None:
        """Delete a dataset no plan uses (raises :class:`StoreError` naming the plans that do)."""
        with self._write("delete the dataset") as conn:
            users = conn.execute(
                sa.select(_plans.c.name).where(_plans.c.dataset_id == dataset_id)
            ).scalars()
            names = sorted(users)
            if names:
                raise StoreError(
                    f"dataset {dataset_id} is used by plan(s) {', '.join(names)}. Fix: delete "
                    "those plans first."
                )
            conn.execute(sa.delete(_datasets).where(_datasets.c.id == dataset_id))

    # -- plans --------------------------------------------------------------------

    def _plan_row(self, conn: Connection, ref: PlanRef) -> PlanInfo:
        cond = _plans.c.id == ref if isinstance(ref, int) else _plans.c.name == str(ref).strip()
        row = conn.execute(_PLAN_SELECT.where(cond)).first()
        if row is None:
            names = conn.execute(sa.select(_plans.c.name).order_by(_plans.c.name)).scalars().all()
            known = ", ".join(f"'{n}'" for n in names[:20]) or "(none yet)"
            more = f" and {len(names) - 20} more" if len(names) > 20 else ""
            raise StoreError(
                f"no plan {ref!r} in the plan database {self.where}. Known plans: {known}{more}. "
                "Fix: check the name (terrmap plans list)."
            )
        return _plan_info(row)

    def _require_free_name(self, conn: Connection, name: str) -> None:
        taken = conn.execute(sa.select(_plans.c.id).where(_plans.c.name == name)).first()
        if taken is not None:
            raise StoreError(
                f"a plan named '{name}' already exists. Fix: choose another name, or open "
                "that plan."
            )

    def plans(self) -> list[PlanInfo]:
        """Every stored plan, most recently updated first."""
        with self._read("list plans") as conn:
            rows = conn.execute(_PLAN_SELECT.order_by(_plans.c.updated_at.desc(), _plans.c.id))
            return [_plan_info(r) for r in rows]

    def info(self, ref: PlanRef) -> PlanInfo:
        """A plan's header (head version, who changed it last and when)."""
        with self._read("read the plan") as conn:
            return self._plan_row(conn, ref)

    def create_plan(
        self,
        plan: Plan,
        *,
        name: str,
        dataset: int | None = None,
        parent: PlanRef | None = None,
        author: str | None = None,
        edit: Edit | None = None,
    ) -> PlanInfo:
        """Store a new plan as version 1 (``dataset``: a :meth:`save_dataset` id)."""
        with self._write("create the plan") as conn:
            return self._insert_plan(
                conn, plan, name=name, dataset=dataset, parent=parent, author=author, edit=edit
            )

    def _insert_plan(
        self,
        conn: Connection,
        plan: Plan,
        *,
        name: str,
        dataset: int | None,
        parent: PlanRef | None,
        author: str | None,
        edit: Edit | None,
    ) -> PlanInfo:
        name = _check_name(name)
        self._require_free_name(conn, name)
        parent_id = self._plan_row(conn, parent).id if parent is not None else None
        if dataset is not None:
            exists = conn.execute(sa.select(_datasets.c.id).where(_datasets.c.id == dataset))
            if exists.first() is None:
                raise StoreError(f"no dataset {dataset} in the plan database {self.where}.")
        who, at = author or _default_author(), _now()
        values = {
            "name": name,
            "dataset_id": dataset,
            "parent_id": parent_id,
            "author": who,
            "created_at": at,
            "updated_by": who,
            "updated_at": at,
            "version": 1,
            "params": _jsonable(plan.params),
        }
        plan_id = _new_id(conn.execute(sa.insert(_plans).values(**values)))
        record = edit or Edit("create")
        self._insert_version(conn, plan_id, name, 1, plan, record, who, at)
        return self._plan_row(conn, plan_id)

    def _insert_version(
        self,
        conn: Connection,
        plan_id: int,
        plan_name: str,
        version: int,
        plan: Plan,
        edit: Edit,
        who: str,
        at: datetime,
    ) -> None:
        (cells_sha, cells), (labels_sha, labels), state = _plan_to_rows(plan)
        for sha, data in ((cells_sha, cells), (labels_sha, labels)):
            _insert_blob(conn, sha, data)
        conn.execute(
            sa.insert(_versions).values(
                plan_id=plan_id,
                version=version,
                author=who,
                created_at=at,
                kind=edit.kind,
                summary=edit.summary(),
                cells_sha=cells_sha,
                labels_sha=labels_sha,
                state=state,
                edit=edit.to_dict(),
            )
        )
        rows = [
            {"item": c.item, "item_key": c.key, "from_territory": c.before, "to_territory": c.after}
            for c in edit.changes
        ] or [{"item": None, "item_key": None, "from_territory": None, "to_territory": None}]
        base = {"at": at, "who": who, "plan_id": plan_id, "plan_name": plan_name}
        base |= {"version": version, "action": edit.kind, "detail": edit.summary()}
        conn.execute(sa.insert(_audit), [base | r for r in rows])

    def _audit_plan_action(
        self, conn: Connection, info: PlanInfo, action: str, detail: str, who: str
    ) -> None:
        conn.execute(
            sa.insert(_audit).values(
                at=_now(),
                who=who,
                plan_id=info.id,
                plan_name=info.name,
                version=info.version,
                action=action,
                item="plan",
                item_key=info.name,
                detail=detail,
            )
        )

    def open(self, ref: PlanRef, *, version: int | None = None) -> StoredPlan:
        """A plan at its head version, or at any past ``version``."""
        with self._read("open the plan") as conn:
            info = self._plan_row(conn, ref)
            number = info.version if version is None else int(version)
            plan = self._load_version(conn, info, number)
        return StoredPlan(info, number, plan)

    def _load_version(self, conn: Connection, info: PlanInfo, number: int) -> Plan:
        row = conn.execute(
            sa.select(_versions).where(
                _versions.c.plan_id == info.id, _versions.c.version == number
            )
        ).first()
        if row is None:
            raise StoreError(
                f"plan '{info.name}' has versions 1 to {info.version}; there is no version "
                f"{number}. Fix: pick one from its history (terrmap plans show)."
            )
        found = conn.execute(
            sa.select(_blobs.c.sha256, _blobs.c.data).where(
                _blobs.c.sha256.in_([row.cells_sha, row.labels_sha])
            )
        ).all()
        blobs = {str(sha): bytes(data) for sha, data in found}
        return _plan_from_rows(blobs[row.cells_sha], blobs[row.labels_sha], row.state)

    def save(
        self,
        ref: PlanRef,
        plan: Plan,
        *,
        expected_version: int,
        edit: Edit | None = None,
        author: str | None = None,
    ) -> PlanInfo:
        """Store ``plan`` as the next version, if the head is still ``expected_version``.

        ``edit`` is the record of what changed (from :mod:`terrmap.edits`); without one,
        the cells and overrides that differ from the previous version are recorded.
        One transaction: the version, its audit rows and the new head all land, or
        nothing does.

        Raises
        ------
        ConflictError
            When someone saved the plan after ``expected_version`` (says who and when).
        """
        return self.save_steps(
            ref, [(plan, edit)], expected_version=expected_version, author=author
        )

    def save_steps(
        self,
        ref: PlanRef,
        steps: Sequence[tuple[Plan, Edit | None]],
        *,
        expected_version: int,
        author: str | None = None,
    ) -> PlanInfo:
        """Store several applied edits at once, one version each, in one transaction."""
        if not steps:
            raise StoreError("nothing to save: no edits were given.")
        who, at = author or _default_author(), _now()
        with self._write("save the plan") as conn:
            info = self._plan_row(conn, ref)
            head = expected_version + len(steps)
            done = conn.execute(
                sa.update(_plans)
                .where(_plans.c.id == info.id, _plans.c.version == expected_version)
                .values(
                    version=head,
                    updated_by=who,
                    updated_at=at,
                    params=_jsonable(steps[-1][0].params),
                )
            )
            if done.rowcount != 1:
                now = self._plan_row(conn, info.id)  # re-read: who won, and when
                raise ConflictError(
                    now.name,
                    expected=expected_version,
                    current=now.version,
                    changed_by=now.updated_by,
                    changed_at=now.updated_at,
                )
            previous: Plan | None = None
            for number, (plan, edit) in enumerate(steps, start=expected_version + 1):
                if edit is None:  # record what changed against the version before
                    if previous is None:
                        previous = self._load_version(conn, info, expected_version)
                    edit = plan_changes(previous, plan, kind="save")
                self._insert_version(conn, info.id, info.name, number, plan, edit, who, at)
                previous = plan
            return self._plan_row(conn, info.id)

    def revert(
        self,
        ref: PlanRef,
        version: int,
        *,
        expected_version: int,
        author: str | None = None,
    ) -> PlanInfo:
        """Make a past version the new head (history is kept; this is a new version)."""
        old = self.open(ref, version=version)
        head = self.open(ref, version=expected_version)
        edit = plan_changes(head.plan, old.plan, kind="revert", note=f"back to version {version}")
        return self.save(ref, old.plan, expected_version=expected_version, edit=edit, author=author)

    def versions(self, ref: PlanRef) -> list[VersionInfo]:
        """A plan's history, oldest first."""
        with self._read("read the plan history") as conn:
            info = self._plan_row(conn, ref)
            cols = [_versions.c[n] for n in ("version", "author", "created_at", "kind", "summary")]
            rows = conn.execute(
                sa.select(*cols, _versions.c.edit)
                .where(_versions.c.plan_id == info.id)
                .order_by(_versions.c.version)
            ).all()
        return [
            VersionInfo(
                version=int(r.version),
                author=str(r.author),
                created_at=_utc(r.created_at),
                kind=str(r.kind),
                summary=str(r.summary),
                edit=Edit.from_dict(r.edit) if r.edit else None,
            )
            for r in rows
        ]

    def rename(self, ref: PlanRef, new_name: str, *, author: str | None = None) -> PlanInfo:
        """Rename a plan (names are unique)."""
        new_name = _check_name(new_name)
        who = author or _default_author()
        with self._write("rename the plan") as conn:
            info = self._plan_row(conn, ref)
            if new_name == info.name:
                return info
            self._require_free_name(conn, new_name)
            conn.execute(
                sa.update(_plans)
                .where(_plans.c.id == info.id)
                .values(name=new_name, updated_by=who, updated_at=_now())
            )
            self._audit_plan_action(conn, info, "rename", f"'{info.name}' -> '{new_name}'", who)
            return self._plan_row(conn, info.id)

    def duplicate(
        self,
        ref: PlanRef,
        new_name: str,
        *,
        version: int | None = None,
        author: str | None = None,
    ) -> PlanInfo:
        """Copy a plan (at its head or a past version) into a new plan whose parent it is."""
        source = self.open(ref, version=version)
        note = f"copy of '{source.info.name}' version {source.version}"
        with self._write("duplicate the plan") as conn:
            return self._insert_plan(
                conn,
                source.plan,
                name=new_name,
                dataset=source.info.dataset_id,
                parent=source.info.id,
                author=author,
                edit=Edit("create", note=note),
            )

    def delete(self, ref: PlanRef, *, author: str | None = None) -> None:
        """Delete a plan and its versions; the audit log keeps a record of it."""
        who = author or _default_author()
        with self._write("delete the plan") as conn:
            info = self._plan_row(conn, ref)
            conn.execute(
                sa.update(_plans).where(_plans.c.parent_id == info.id).values(parent_id=None)
            )
            conn.execute(sa.delete(_versions).where(_versions.c.plan_id == info.id))
            conn.execute(sa.delete(_plans).where(_plans.c.id == info.id))
            used = sa.union(sa.select(_versions.c.cells_sha), sa.select(_versions.c.labels_sha))
            conn.execute(sa.delete(_blobs).where(_blobs.c.sha256.not_in(used.scalar_subquery())))
            self._audit_plan_action(conn, info, "delete", f"deleted at version {info.version}", who)

    def audit(self, ref: PlanRef | None = None, *, limit: int | None = None) -> pd.DataFrame:
        """The audit log (newest first): who, when, what moved from where to where.

        ``ref`` limits it to one plan (by id, or by name — deleted plans' entries are
        found by their old name).
        """
        query = sa.select(*[c for c in _audit.c if c.name != "id"]).order_by(_audit.c.id.desc())
        with self._read("read the audit log") as conn:
            if isinstance(ref, str):
                name = ref.strip()
                found = conn.execute(sa.select(_plans.c.id).where(_plans.c.name == name)).first()
                ref = int(found[0]) if found is not None else name
            if isinstance(ref, int):
                query = query.where(_audit.c.plan_id == ref)
            elif ref is not None:
                query = query.where(_audit.c.plan_name == ref)
            if limit is not None:
                query = query.limit(int(limit))
            columns = [c.name for c in _audit.c if c.name != "id"]
            frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=columns)
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame.rename(columns={"item_key": "key"})

    # -- files and comparison -----------------------------------------------------

    def _frames_for(
        self, info: PlanInfo, accounts: pd.DataFrame | None, reps: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        if accounts is not None:
            return accounts, reps
        if info.dataset_id is None:
            raise StoreError(
                f"plan '{info.name}' was stored without its accounts. Fix: pass the accounts "
                "it was made from."
            )
        data = self.dataset(info.dataset_id)
        return data.accounts, reps if reps is not None else data.reps

    def export_plan(
        self,
        ref: PlanRef,
        out_dir: str | Path,
        *,
        version: int | None = None,
        accounts: pd.DataFrame | None = None,
        reps: pd.DataFrame | None = None,
    ) -> Path:
        """Write a stored plan as a plan directory (``terrmap.plan.write_plan_dir``).

        The accounts and reps stored with the plan are used unless given.
        """
        stored = self.open(ref, version=version)
        acc, rp = self._frames_for(stored.info, accounts, reps)
        return write_plan_dir(stored.plan, acc, out_dir, reps=rp)

    def import_plan_dir(
        self,
        plan_dir: str | Path,
        *,
        name: str,
        accounts: pd.DataFrame,
        reps: pd.DataFrame | None = None,
        author: str | None = None,
    ) -> PlanInfo:
        """Store a plan directory written by ``terrmap plan`` with its accounts (one transaction).

        Raises :class:`StoreError` when the accounts are not the ones the plan was made
        from (its ``assignments.csv`` would not be reproduced).
        """
        plan = read_plan_dir(plan_dir, accounts)
        _check_assignments(Path(plan_dir), plan, accounts)
        with self._write("import the plan") as conn:
            data = self._insert_dataset(
                conn, accounts, reps, name=f"{name} (imported)", author=author
            )
            edit = Edit("import", note=f"from {Path(plan_dir).resolve()}")
            return self._insert_plan(
                conn, plan, name=name, dataset=data.id, parent=None, author=author, edit=edit
            )

    def diff(
        self,
        a: PlanRef,
        b: PlanRef,
        *,
        version_a: int | None = None,
        version_b: int | None = None,
    ) -> PlanDiff:
        """Per-territory accounts and workload in/out between two stored plans."""
        pa, pb = self.open(a, version=version_a), self.open(b, version=version_b)
        acc_a, _ = self._frames_for(pa.info, None, None)
        if pb.info.dataset_id not in (None, pa.info.dataset_id):
            acc_b, _ = self._frames_for(pb.info, None, None)
            extra = acc_b[~acc_b["account_id"].isin(acc_a["account_id"])]
            acc_a = pd.concat([acc_a, extra], ignore_index=True) if len(extra) else acc_a
        return diff_plans(pa.plan, pb.plan, acc_a)


def _check_assignments(plan_dir: Path, plan: Plan, accounts: pd.DataFrame) -> None:
    path = plan_dir / "assignments.csv"
    if not path.exists():
        return
    written = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    ours = plan.assign(accounts)
    ours.index = accounts["account_id"].astype("string").to_numpy()
    theirs = written.set_index("account_id")["territory_id"]
    missing = theirs.index.difference(ours.index)
    extra = ours.index.difference(theirs.index)
    common = theirs.index.intersection(ours.index)
    differ = (ours[common].fillna("") != theirs[common].fillna("")).to_numpy()
    if len(missing) or len(extra) or differ.any():
        raise StoreError(
            f"the accounts given do not match {path}: {len(missing)} of its accounts are "
            f"missing, {len(extra)} are extra and {int(differ.sum())} would land in another "
            "territory. Fix: import with the accounts file the plan was made from."
        )


# --------------------------------------------------------------------------- command line


def open_store(db: str | Path | None = None, *, create: bool = True) -> PlanStore:
    """The plan database for the command line: ``db`` (URL or SQLite path) or the default."""
    return PlanStore(db, create=create)


def _when(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


def plans_list(store: PlanStore) -> str:
    """``terrmap plans list``: one line per plan."""
    infos = store.plans()
    if not infos:
        return f"no plans yet in the plan database {store.where}"
    frame = pd.DataFrame(
        {
            "name": [i.name for i in infos],
            "version": [i.version for i in infos],
            "updated": [_when(i.updated_at) for i in infos],
            "by": [i.updated_by for i in infos],
            "author": [i.author for i in infos],
            "parent": [i.parent_name or "" for i in infos],
            "dataset": [i.dataset_id if i.dataset_id is not None else "" for i in infos],
        }
    )
    return frame.to_string(index=False)


def plans_show(store: PlanStore, name: PlanRef, *, version: int | None = None) -> str:
    """``terrmap plans show``: header, per-territory table and the version history."""
    stored = store.open(name, version=version)
    info = stored.info
    lines = [
        f"plan '{info.name}' (id {info.id}) version {stored.version} of {info.version}",
        f"created {_when(info.created_at)} by {info.author}; "
        f"last changed {_when(info.updated_at)} by {info.updated_by}",
    ]
    if info.parent_name:
        lines.append(f"copied from '{info.parent_name}'")
    plan = stored.plan
    lines.append(
        f"{plan.k} territories, {plan.cells.size:,} cells at resolution {plan.resolution}, "
        f"{len(plan.overrides)} account overrides, {len(plan.locked_cells)} locked cells, "
        f"{len(plan.locked_accounts)} locked accounts"
    )
    if info.dataset_id is not None:
        data = store.dataset(info.dataset_id)
        table = territory_table(plan, data.accounts, data.reps)
        cols = ["territory_id", "rep_name", "accounts", "workload_hours", "opportunity"]
        shown = table[[*cols, "deviation"]].copy()
        shown["workload_hours"] = shown["workload_hours"].round(1)
        shown["opportunity"] = shown["opportunity"].round(0)
        shown["deviation"] = (shown["deviation"] * 100).round(1).astype(str) + "%"
        lines += ["", shown.to_string(index=False)]
    history = store.versions(info.id)
    lines += ["", "history:"]
    lines += [
        f"  v{v.version:<4} {_when(v.created_at)}  {v.author:<12} {v.summary}" for v in history
    ]
    return "\n".join(lines)


def plans_export(
    store: PlanStore, name: PlanRef, out_dir: str | Path, *, version: int | None = None
) -> Path:
    """``terrmap plans export NAME --out DIR``: write the plan directory back."""
    return store.export_plan(name, out_dir, version=version)


def plans_import(
    store: PlanStore,
    plan_dir: str | Path,
    *,
    name: str,
    accounts: str | Path | None = None,
    reps: str | Path | None = None,
    author: str | None = None,
) -> str:
    """``terrmap plans import DIR --name N --accounts FILE [--reps FILE]``.

    The accounts file (and roster) must be the ones ``terrmap plan`` was run on: they
    are loaded and scored the same way and stored with the plan, so that ``export``
    reproduces ``assignments.csv`` exactly.
    """
    from terrmap.load import load_accounts, load_reps
    from terrmap.scoring import score_accounts

    if accounts is None:
        raise StoreError(
            f"importing {plan_dir} needs the accounts it was planned from. Fix: add "
            "--accounts FILE (the same file given to terrmap plan)."
        )
    rep_frame = load_reps(reps).frame if reps is not None else None
    rep_ids = list(rep_frame["rep_id"]) if rep_frame is not None else None
    scored = score_accounts(load_accounts(accounts, rep_ids=rep_ids).frame)
    info = store.import_plan_dir(
        plan_dir, name=name, accounts=scored, reps=rep_frame, author=author
    )
    return f"stored plan '{info.name}' (id {info.id}, version {info.version}) from {plan_dir}"


def plans_diff(store: PlanStore, a: PlanRef, b: PlanRef) -> str:
    """``terrmap plans diff A B``: per-territory accounts and workload in/out, total moved."""
    return store.diff(a, b).to_text(str(a), str(b))
