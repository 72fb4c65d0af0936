"""The plan database handle: opening it, transactions, and the datasets stored in it.

:class:`StoreBase` opens the engine, migrates the schema, and runs every read and
write in one transaction whose driver errors become a
:class:`~terrmap._schema_db.StoreError`; it keeps datasets (accounts and reps, stored
once per content hash). :class:`terrmap.store.PlanStore` builds the plans, versions
and audit log on it.

Private to the store modules; :mod:`terrmap.store` re-exports the records.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from terrmap._schema_db import (
    MIGRATIONS,
    Migration,
    StoreError,
    check_name,
    default_author,
    default_db_url,
    make_engine,
    migrate,
    new_id,
    now,
    translate_error,
    utc,
    write_txn,
)
from terrmap._schema_db import datasets as datasets_table
from terrmap._schema_db import plans as plans_table
from terrmap._store_codec import dataset_hash, frame_to_parquet, parquet_to_frame

if TYPE_CHECKING:
    from terrmap._plan_rows import PlanInfo

__all__ = ["Dataset", "DatasetInfo", "StoreBase", "insert_dataset"]


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


_DATASET_COLUMNS = [c for c in datasets_table.c if c.name not in ("accounts", "reps")]


def _dataset_info(row: sa.Row[Any]) -> DatasetInfo:
    m = row._mapping
    return DatasetInfo(
        id=int(m["id"]),
        name=str(m["name"]),
        content_hash=str(m["content_hash"]),
        n_accounts=int(m["n_accounts"]),
        n_reps=m["n_reps"],
        author=str(m["author"]),
        created_at=utc(m["created_at"]),
    )


def insert_dataset(
    conn: Connection,
    accounts: pd.DataFrame,
    reps: pd.DataFrame | None,
    *,
    name: str,
    author: str | None,
) -> DatasetInfo:
    """Store accounts (and reps) unless the same content is stored already."""
    content_hash = dataset_hash(accounts, reps)
    found = conn.execute(
        sa.select(*_DATASET_COLUMNS).where(datasets_table.c.content_hash == content_hash)
    ).first()
    if found is not None:
        return _dataset_info(found)
    values = {
        "name": check_name(name),
        "content_hash": content_hash,
        "n_accounts": len(accounts),
        "n_reps": None if reps is None else len(reps),
        "accounts": frame_to_parquet(accounts),
        "reps": None if reps is None else frame_to_parquet(reps),
        "author": author or default_author(),
        "created_at": now(),
    }
    dataset_id = new_id(conn.execute(sa.insert(datasets_table).values(**values)))
    row = conn.execute(sa.select(*_DATASET_COLUMNS).where(datasets_table.c.id == dataset_id)).one()
    return _dataset_info(row)


class StoreBase:
    """A handle on the plan database and its datasets (see :class:`terrmap.store.PlanStore`).

    Parameters
    ----------
    url
        A SQLAlchemy URL or a SQLite file path; default
        :func:`~terrmap._schema_db.default_db_url`.
    create
        Create a missing SQLite file (and its folder). With ``False`` a missing file
        raises :class:`StoreError` (read-only command-line use).
    migrations
        The schema steps to bring the database to (tests add steps).
    """

    def __init__(
        self,
        url: str | Path | None = None,
        *,
        create: bool = True,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.engine = make_engine(str(url) if url is not None else default_db_url(), create=create)
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise translate_error(exc, action, self.where) from exc

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        with self._errors(action), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        with self._errors(action), write_txn(self.engine) as conn:
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
            return insert_dataset(conn, accounts, reps, name=name, author=author)

    def datasets(self) -> list[DatasetInfo]:
        """Every stored dataset, newest first."""
        with self._read("list datasets") as conn:
            found = conn.execute(sa.select(*_DATASET_COLUMNS).order_by(datasets_table.c.id.desc()))
            return [_dataset_info(r) for r in found]

    def dataset(self, ref: int | str) -> Dataset:
        """A stored dataset with its frames, by id or content hash (a unique prefix works)."""
        with self._read("read the dataset") as conn:
            if isinstance(ref, int):
                cond = datasets_table.c.id == ref
            else:
                cond = datasets_table.c.content_hash.startswith(str(ref), autoescape=True)
            found = conn.execute(sa.select(datasets_table).where(cond).limit(2)).all()
        if len(found) != 1:
            what = "no" if not found else "more than one"
            raise StoreError(
                f"{what} dataset matches {ref!r} in the plan database {self.where}. Fix: use a "
                "dataset id or a longer content hash (see PlanStore.datasets())."
            )
        m = found[0]._mapping
        reps = parquet_to_frame(m["reps"]) if m["reps"] is not None else None
        return Dataset(_dataset_info(found[0]), parquet_to_frame(m["accounts"]), reps)

    def delete_dataset(self, dataset_id: int) -> None:
        """Delete a dataset no plan uses (raises :class:`StoreError` naming the plans that do)."""
        with self._write("delete the dataset") as conn:
            users = conn.execute(
                sa.select(plans_table.c.name).where(plans_table.c.dataset_id == dataset_id)
            )
            names = sorted(users.scalars())
            if names:
                raise StoreError(
                    f"dataset {dataset_id} is used by plan(s) {', '.join(names)}. Fix: delete "
                    "those plans first."
                )
            conn.execute(sa.delete(datasets_table).where(datasets_table.c.id == dataset_id))

    def _frames_for(
        self, info: PlanInfo, accounts: pd.DataFrame | None, reps: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The accounts and reps given, else those stored with the plan."""
        if accounts is not None:
            return accounts, reps
        if info.dataset_id is None:
            raise StoreError(
                f"plan '{info.name}' was stored without its accounts. Fix: pass the accounts "
                "it was made from."
            )
        data = self.dataset(info.dataset_id)
        return data.accounts, reps if reps is not None else data.reps
