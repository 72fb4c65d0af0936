"""The text of the ``terrmap plans list|show|export|import|diff`` commands.

Each function takes an open :class:`~terrmap.store.PlanStore` (see
:func:`terrmap.store.open_store`) and returns what the command prints; the command
line parser is :mod:`terrmap.cli`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from terrmap._schema_db import StoreError
from terrmap.metrics import territory_table

if TYPE_CHECKING:
    from terrmap._plan_rows import PlanRef
    from terrmap.store import PlanStore

__all__ = ["plans_diff", "plans_export", "plans_import", "plans_list", "plans_show"]


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
