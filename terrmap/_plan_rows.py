"""Stored plans as records, and the SQL steps that read and write their rows.

A plan is a ``plans`` row (its header and head version), one ``plan_versions`` row per
applied edit (arrays in ``blobs``), and ``audit_log`` rows saying who moved what from
where to where. Every function here runs inside a transaction the caller opened
(:class:`terrmap.store.PlanStore` decides where transactions begin and end, and turns
driver errors into :class:`~terrmap._schema_db.StoreError`); ``where`` arguments name
the database in error messages.

Private to the store modules; :mod:`terrmap.store` re-exports the records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from terrmap._schema_db import (
    StoreError,
    audit_log,
    blobs,
    check_name,
    datasets,
    default_author,
    new_id,
    now,
    plan_versions,
    plans,
    utc,
)
from terrmap._store_codec import jsonable, plan_from_rows, plan_to_rows
from terrmap.edits import Edit
from terrmap.plan import Plan

__all__ = [
    "PlanInfo",
    "PlanRef",
    "StoredPlan",
    "VersionInfo",
    "audit_frame",
    "audit_plan_action",
    "delete_plan",
    "insert_plan",
    "insert_version",
    "load_version",
    "plan_infos",
    "plan_row",
    "require_free_name",
    "version_infos",
]

PlanRef = int | str
"""A plan is named by its id (int) or its name (str)."""


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


def _insert_blob(conn: Connection, sha: str, data: bytes) -> None:
    """Insert a content-addressed blob unless present (race-free where the dialect allows)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(blobs)
        conn.execute(
            insert.values(sha256=sha, data=data).on_conflict_do_nothing(index_elements=["sha256"])
        )
        return
    if conn.execute(sa.select(blobs.c.sha256).where(blobs.c.sha256 == sha)).first() is None:
        conn.execute(sa.insert(blobs).values(sha256=sha, data=data))


# --------------------------------------------------------------------------- plans

_parent = plans.alias("parent")
_PLAN_SELECT = sa.select(plans, _parent.c.name.label("parent_name")).outerjoin(
    _parent, plans.c.parent_id == _parent.c.id
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
        created_at=utc(m["created_at"]),
        updated_by=str(m["updated_by"]),
        updated_at=utc(m["updated_at"]),
        params=dict(m["params"] or {}),
    )


def plan_infos(conn: Connection) -> list[PlanInfo]:
    """Every stored plan, most recently updated first."""
    rows = conn.execute(_PLAN_SELECT.order_by(plans.c.updated_at.desc(), plans.c.id))
    return [_plan_info(r) for r in rows]


def plan_row(conn: Connection, ref: PlanRef, *, where: str) -> PlanInfo:
    """A plan's header by id or name (raises naming the known plans when absent)."""
    cond = plans.c.id == ref if isinstance(ref, int) else plans.c.name == str(ref).strip()
    row = conn.execute(_PLAN_SELECT.where(cond)).first()
    if row is None:
        names = conn.execute(sa.select(plans.c.name).order_by(plans.c.name)).scalars().all()
        known = ", ".join(f"'{n}'" for n in names[:20]) or "(none yet)"
        more = f" and {len(names) - 20} more" if len(names) > 20 else ""
        raise StoreError(
            f"no plan {ref!r} in the plan database {where}. Known plans: {known}{more}. "
            "Fix: check the name (terrmap plans list)."
        )
    return _plan_info(row)


def require_free_name(conn: Connection, name: str) -> None:
    """Raise unless no plan has this name."""
    taken = conn.execute(sa.select(plans.c.id).where(plans.c.name == name)).first()
    if taken is not None:
        raise StoreError(
            f"a plan named '{name}' already exists. Fix: choose another name, or open that plan."
        )


def insert_plan(
    conn: Connection,
    plan: Plan,
    *,
    name: str,
    dataset: int | None,
    parent: PlanRef | None,
    author: str | None,
    edit: Edit | None,
    where: str,
) -> PlanInfo:
    """Store a new plan as version 1 (``edit``: its record, default ``create``)."""
    name = check_name(name)
    require_free_name(conn, name)
    parent_id = plan_row(conn, parent, where=where).id if parent is not None else None
    if dataset is not None:
        exists = conn.execute(sa.select(datasets.c.id).where(datasets.c.id == dataset))
        if exists.first() is None:
            raise StoreError(f"no dataset {dataset} in the plan database {where}.")
    who, at = author or default_author(), now()
    values = {
        "name": name,
        "dataset_id": dataset,
        "parent_id": parent_id,
        "author": who,
        "created_at": at,
        "updated_by": who,
        "updated_at": at,
        "version": 1,
        "params": jsonable(plan.params),
    }
    plan_id = new_id(conn.execute(sa.insert(plans).values(**values)))
    insert_version(conn, plan_id, name, 1, plan, edit or Edit("create"), who, at)
    return plan_row(conn, plan_id, where=where)


def insert_version(
    conn: Connection,
    plan_id: int,
    plan_name: str,
    version: int,
    plan: Plan,
    edit: Edit,
    who: str,
    at: datetime,
) -> None:
    """Store one version of a plan and the audit rows of its edit."""
    (cells_sha, cells), (labels_sha, labels), state = plan_to_rows(plan)
    for sha, data in ((cells_sha, cells), (labels_sha, labels)):
        _insert_blob(conn, sha, data)
    conn.execute(
        sa.insert(plan_versions).values(
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
    conn.execute(sa.insert(audit_log), [base | r for r in rows])


def audit_plan_action(conn: Connection, info: PlanInfo, action: str, detail: str, who: str) -> None:
    """One audit row for an action on a whole plan (rename, delete)."""
    conn.execute(
        sa.insert(audit_log).values(
            at=now(),
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


def load_version(conn: Connection, info: PlanInfo, number: int) -> Plan:
    """The plan at one stored version (raises naming the versions there are)."""
    row = conn.execute(
        sa.select(plan_versions).where(
            plan_versions.c.plan_id == info.id, plan_versions.c.version == number
        )
    ).first()
    if row is None:
        raise StoreError(
            f"plan '{info.name}' has versions 1 to {info.version}; there is no version "
            f"{number}. Fix: pick one from its history (terrmap plans show)."
        )
    found = conn.execute(
        sa.select(blobs.c.sha256, blobs.c.data).where(
            blobs.c.sha256.in_([row.cells_sha, row.labels_sha])
        )
    ).all()
    stored = {str(sha): bytes(data) for sha, data in found}
    return plan_from_rows(stored[row.cells_sha], stored[row.labels_sha], row.state)


def version_infos(conn: Connection, plan_id: int) -> list[VersionInfo]:
    """A plan's history, oldest first."""
    cols = [plan_versions.c[n] for n in ("version", "author", "created_at", "kind", "summary")]
    rows = conn.execute(
        sa.select(*cols, plan_versions.c.edit)
        .where(plan_versions.c.plan_id == plan_id)
        .order_by(plan_versions.c.version)
    ).all()
    return [
        VersionInfo(
            version=int(r.version),
            author=str(r.author),
            created_at=utc(r.created_at),
            kind=str(r.kind),
            summary=str(r.summary),
            edit=Edit.from_dict(r.edit) if r.edit else None,
        )
        for r in rows
    ]


def delete_plan(conn: Connection, info: PlanInfo) -> None:
    """Delete a plan's rows and the blobs no other version uses (its copies lose a parent)."""
    conn.execute(sa.update(plans).where(plans.c.parent_id == info.id).values(parent_id=None))
    conn.execute(sa.delete(plan_versions).where(plan_versions.c.plan_id == info.id))
    conn.execute(sa.delete(plans).where(plans.c.id == info.id))
    used = sa.union(sa.select(plan_versions.c.cells_sha), sa.select(plan_versions.c.labels_sha))
    conn.execute(sa.delete(blobs).where(blobs.c.sha256.not_in(used.scalar_subquery())))


def audit_frame(conn: Connection, ref: PlanRef | None, limit: int | None) -> pd.DataFrame:
    """The audit log, newest first, of one plan (id, or name: also a deleted plan's) or all."""
    columns = [c for c in audit_log.c if c.name != "id"]
    query = sa.select(*columns).order_by(audit_log.c.id.desc())
    if isinstance(ref, str):
        name = ref.strip()
        found = conn.execute(sa.select(plans.c.id).where(plans.c.name == name)).first()
        ref = int(found[0]) if found is not None else name
    if isinstance(ref, int):
        query = query.where(audit_log.c.plan_id == ref)
    elif ref is not None:
        query = query.where(audit_log.c.plan_name == ref)
    if limit is not None:
        query = query.limit(int(limit))
    frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in columns])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame.rename(columns={"item_key": "key"})
