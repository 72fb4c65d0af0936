"""``terrmap plans list|show|export|import|diff``: the text the command line prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pg
import pytest
from edit_world import store_world, stored

from terrmap import store_cli
from terrmap.edits import assign_cells
from terrmap.plan import Plan
from terrmap.store import PlanStore, StoreError


@pytest.fixture
def world() -> tuple[Plan, pd.DataFrame]:
    return store_world()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlanStore]:
    """An empty plan store on SQLite, and on PostgreSQL (see tests/pg.py)."""
    with PlanStore(pg.empty_target(request.param, request.config, tmp_path)) as s:
        yield s


def test_cli_list_show_diff(db: PlanStore, world: Any) -> None:
    plan, accounts = world
    assert "no plans yet" in store_cli.plans_list(db)
    stored(db, world)
    a = assign_cells(plan, accounts, plan.cells[:8], "T02")
    db.save("north", a.plan, expected_version=1, edit=a.edit, author="bob")
    db.duplicate("north", "south", version=1, author="carol")
    listing = store_cli.plans_list(db)
    assert "north" in listing and "south" in listing and "bob" in listing
    shown = store_cli.plans_show(db, "north")
    assert "version 2 of 2" in shown and "T01" in shown and a.edit.summary() in shown
    text = store_cli.plans_diff(db, "south", "north")
    moved = sum(1 for c in a.edit.changes if c.item == "account")
    assert f"{moved:,} account(s) moved" in text
    diff = db.diff("south", "north")
    assert diff.moved_accounts == moved
    assert diff.table["accounts_in"].sum() == diff.table["accounts_out"].sum() == moved


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
        store_cli.plans_import(db, made, name="fy26")
    message = store_cli.plans_import(db, made, name="fy26", accounts=accounts_csv, reps=reps_csv)
    assert "stored plan 'fy26'" in message
    out = store_cli.plans_export(db, "fy26", tmp_path / "back")
    for name in ("assignments.csv", "cells.csv", "summary.json", "territories.geojson"):
        assert (out / name).read_bytes() == (made / name).read_bytes(), name
    assert "0 account(s) moved" in store_cli.plans_diff(db, "fy26", "fy26")


def test_terrmap_plans_command_runs_on_a_database_file(
    tmp_path: Path, world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from terrmap.cli import main

    path = tmp_path / "plans.db"
    with PlanStore(path) as db:
        stored(db, world)
    assert main(["plans", "--db", str(path), "list"]) == 0
    assert "north" in capsys.readouterr().out
    assert main(["plans", "--db", str(path), "show", "north"]) == 0
    assert "plan 'north' (id 1) version 1 of 1" in capsys.readouterr().out
    assert main(["plans", "--db", str(path), "show", "south"]) == 2
    assert "no plan 'south'" in capsys.readouterr().err
