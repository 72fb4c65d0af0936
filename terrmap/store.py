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

Underneath, private: :mod:`terrmap._schema_db` (tables, migrations, engines, errors),
:mod:`terrmap._store_codec` (values to bytes), :mod:`terrmap._store_base` (the
database handle, transactions, datasets) and :mod:`terrmap._plan_rows` (plan records
and their SQL steps). The ``terrmap plans`` command's text is in
:mod:`terrmap.store_cli`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from terrmap import _plan_rows as rows
from terrmap._plan_rows import PlanInfo, PlanRef, StoredPlan, VersionInfo
from terrmap._schema_db import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    StoreError,
    check_name,
    default_author,
    default_db_url,
    migrate,
    now,
)
from terrmap._schema_db import plans as plans_table
from terrmap._store_base import Dataset, DatasetInfo, StoreBase, insert_dataset
from terrmap._store_codec import dataset_hash, frame_hash, jsonable
from terrmap.edits import Edit
from terrmap.plan import Plan, read_plan_dir, write_plan_dir
from terrmap.preview import PlanDiff, diff_plans, plan_changes
from terrmap.store_cli import plans_diff, plans_export, plans_import, plans_list, plans_show

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
    "dataset_hash",
    "default_db_url",
    "frame_hash",
    "migrate",
    "open_store",
    # the ``terrmap plans`` text, kept here for terrmap.cli (defined in terrmap.store_cli)
    "plans_diff",
    "plans_export",
    "plans_import",
    "plans_list",
    "plans_show",
]


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


class PlanStore(StoreBase):
    """A handle on the plan database (one SQLAlchemy engine; safe to share across threads).

    Parameters
    ----------
    url
        A SQLAlchemy URL or a SQLite file path; default :func:`default_db_url`.
    create
        Create a missing SQLite file (and its folder). With ``False`` a missing file
        raises :class:`StoreError` (read-only command-line use).
    migrations
        The schema steps to bring the database to (default :data:`MIGRATIONS`).

    Datasets (``save_dataset``, ``datasets``, ``dataset``, ``delete_dataset``) come from
    :class:`~terrmap._store_base.StoreBase`.

    Examples
    --------
    >>> store = PlanStore("/tmp/plans.db")                      # doctest: +SKIP
    >>> info = store.create_plan(plan, name="FY26 draft")        # doctest: +SKIP
    >>> opened = store.open("FY26 draft")                        # doctest: +SKIP
    >>> store.save("FY26 draft", new_plan, expected_version=opened.version, edit=edit)  # +SKIP
    """

    # -- plans --------------------------------------------------------------------

    def plans(self) -> list[PlanInfo]:
        """Every stored plan, most recently updated first."""
        with self._read("list plans") as conn:
            return rows.plan_infos(conn)

    def info(self, ref: PlanRef) -> PlanInfo:
        """A plan's header (head version, who changed it last and when)."""
        with self._read("read the plan") as conn:
            return rows.plan_row(conn, ref, where=self.where)

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
            return rows.insert_plan(
                conn,
                plan,
                name=name,
                dataset=dataset,
                parent=parent,
                author=author,
                edit=edit,
                where=self.where,
            )

    def open(self, ref: PlanRef, *, version: int | None = None) -> StoredPlan:
        """A plan at its head version, or at any past ``version``."""
        with self._read("open the plan") as conn:
            info = rows.plan_row(conn, ref, where=self.where)
            number = info.version if version is None else int(version)
            plan = rows.load_version(conn, info, number)
        return StoredPlan(info, number, plan)

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
        who, at = author or default_author(), now()
        with self._write("save the plan") as conn:
            info = rows.plan_row(conn, ref, where=self.where)
            self._move_head(conn, info, expected_version, len(steps), steps[-1][0], who, at)
            previous: Plan | None = None
            for number, (plan, edit) in enumerate(steps, start=expected_version + 1):
                if edit is None:  # record what changed against the version before
                    if previous is None:
                        previous = rows.load_version(conn, info, expected_version)
                    edit = plan_changes(previous, plan, kind="save")
                rows.insert_version(conn, info.id, info.name, number, plan, edit, who, at)
                previous = plan
            return rows.plan_row(conn, info.id, where=self.where)

    def _move_head(
        self,
        conn: Connection,
        info: PlanInfo,
        expected: int,
        steps: int,
        head: Plan,
        who: str,
        at: datetime,
    ) -> None:
        """The optimistic check: advance the head only if it is still ``expected``."""
        done = conn.execute(
            sa.update(plans_table)
            .where(plans_table.c.id == info.id, plans_table.c.version == expected)
            .values(
                version=expected + steps,
                updated_by=who,
                updated_at=at,
                params=jsonable(head.params),
            )
        )
        if done.rowcount != 1:
            now_info = rows.plan_row(conn, info.id, where=self.where)  # who won, and when
            raise ConflictError(
                now_info.name,
                expected=expected,
                current=now_info.version,
                changed_by=now_info.updated_by,
                changed_at=now_info.updated_at,
            )

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
            return rows.version_infos(conn, rows.plan_row(conn, ref, where=self.where).id)

    def rename(self, ref: PlanRef, new_name: str, *, author: str | None = None) -> PlanInfo:
        """Rename a plan (names are unique)."""
        new_name = check_name(new_name)
        who = author or default_author()
        with self._write("rename the plan") as conn:
            info = rows.plan_row(conn, ref, where=self.where)
            if new_name == info.name:
                return info
            rows.require_free_name(conn, new_name)
            conn.execute(
                sa.update(plans_table)
                .where(plans_table.c.id == info.id)
                .values(name=new_name, updated_by=who, updated_at=now())
            )
            rows.audit_plan_action(conn, info, "rename", f"'{info.name}' -> '{new_name}'", who)
            return rows.plan_row(conn, info.id, where=self.where)

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
            return rows.insert_plan(
                conn,
                source.plan,
                name=new_name,
                dataset=source.info.dataset_id,
                parent=source.info.id,
                author=author,
                edit=Edit("create", note=note),
                where=self.where,
            )

    def delete(self, ref: PlanRef, *, author: str | None = None) -> None:
        """Delete a plan and its versions; the audit log keeps a record of it."""
        who = author or default_author()
        with self._write("delete the plan") as conn:
            info = rows.plan_row(conn, ref, where=self.where)
            rows.delete_plan(conn, info)
            rows.audit_plan_action(conn, info, "delete", f"deleted at version {info.version}", who)

    def audit(self, ref: PlanRef | None = None, *, limit: int | None = None) -> pd.DataFrame:
        """The audit log (newest first): who, when, what moved from where to where.

        ``ref`` limits it to one plan (by id, or by name — deleted plans' entries are
        found by their old name).
        """
        with self._read("read the audit log") as conn:
            return rows.audit_frame(conn, ref, limit)

    # -- files and comparison -----------------------------------------------------

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
            data = insert_dataset(conn, accounts, reps, name=f"{name} (imported)", author=author)
            edit = Edit("import", note=f"from {Path(plan_dir).resolve()}")
            return rows.insert_plan(
                conn,
                plan,
                name=name,
                dataset=data.id,
                parent=None,
                author=author,
                edit=edit,
                where=self.where,
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


def open_store(db: str | Path | None = None, *, create: bool = True) -> PlanStore:
    """The plan database for the command line: ``db`` (URL or SQLite path) or the default."""
    return PlanStore(db, create=create)
