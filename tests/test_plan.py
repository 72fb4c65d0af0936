"""Tests for terrmap.plan: the immutable plan, assignment, edits and plan directories."""

from __future__ import annotations

import json

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
import shapely

from terrmap.errors import InputError
from terrmap.plan import DesignReport, Plan, read_plan_dir, write_plan_dir

CENTRE = int(h3n.latlng_to_cell(41.5, -72.5, 6))


def _plan(**kw) -> Plan:
    cells = np.asarray(h3n.grid_disk(CENTRE, 3), dtype=np.uint64)
    lat = np.array([h3n.cell_to_latlng(int(c))[0] for c in cells])
    labels = (lat > np.median(lat)).astype(np.int32)  # north / south halves
    args = {
        "cells": cells,
        "labels": labels,
        "territory_ids": ("T01", "T02"),
        "rep_ids": ("R1", "R2"),
        "resolution": 6,
        "params": {"balance": "workload", "target_shares": [0.5, 0.5]},
    }
    args.update(kw)
    return Plan(**args)


def _accounts(plan: Plan, n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = rng.choice(plan.cells, n)
    pts = np.array([h3n.cell_to_latlng(int(c)) for c in pick])
    return pd.DataFrame(
        {
            "account_id": pd.array([f"A{i:03d}" for i in range(n)], dtype="string"),
            "lat": pts[:, 0],
            "lon": pts[:, 1],
            "workload_hours": rng.uniform(1, 5, n),
            "opportunity": rng.uniform(100, 500, n),
            "tier": pd.array(rng.integers(1, 4, n), dtype="Int8"),
        }
    )


def test_plan_is_sorted_and_read_only():
    plan = _plan()
    assert np.all(np.diff(plan.cells.astype(np.float64)) > 0)
    with pytest.raises(ValueError):
        plan.labels[0] = 1
    with pytest.raises(TypeError):
        plan.overrides["x"] = "T01"  # type: ignore[index]
    assert plan.k == 2


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"labels": np.full(37, 5)}, "labels must be in"),
        ({"labels": np.zeros(3)}, "must be 1-d, equal"),
        ({"rep_ids": ("R1",)}, "rep_ids"),
        ({"territory_ids": ("T01", "T01")}, "unique"),
        ({"overrides": {"A1": "T99"}}, "unknown territories"),
    ],
)
def test_plan_validation(change, match):
    with pytest.raises(ValueError, match=match):
        _plan(**change)


def test_duplicate_cells_rejected():
    cells = np.asarray(h3n.grid_disk(CENTRE, 1), dtype=np.uint64)
    with pytest.raises(ValueError, match="twice"):
        Plan(np.append(cells, cells[0]), np.zeros(8), ("T01",), (None,), 6)


def test_assign_follows_ground_and_overrides():
    plan = _plan()
    acc = _accounts(plan)
    far = pd.DataFrame({"account_id": ["FAR"], "lat": [0.0], "lon": [0.0]})
    acc = pd.concat([acc, far], ignore_index=True)
    ids = plan.assign(acc)
    assert ids.index.equals(acc.index)
    assert pd.isna(ids.iloc[-1])
    ground = plan.territory_of_cells(plan.account_cells(acc))
    expected = np.array(["T01", "T02"], dtype=object)[ground[:-1]]
    assert (ids.iloc[:-1].to_numpy() == expected).all()
    first = str(acc["account_id"].iloc[0])
    flipped = "T02" if ids.iloc[0] == "T01" else "T01"
    moved = plan.with_overrides({first: flipped})
    assert moved.assign(acc).iloc[0] == flipped
    assert moved.with_overrides({first: None}).assign(acc).iloc[0] == ids.iloc[0]


def test_territory_of_cells_any_resolution():
    plan = _plan()
    inside = int(plan.cells[3])
    fine = int(h3n.cell_to_center_child(inside, 9))
    coarse = int(h3n.cell_to_parent(inside, 5))
    out = plan.territory_of_cells([inside, fine, int(h3n.latlng_to_cell(0, 0, 6))])
    assert out[0] == out[1] == plan.labels[3] and out[2] == -1
    assert plan.territory_of_cells([coarse])[0] in (-1, 0, 1)


def test_reassign_respects_locks_and_returns_new_plan():
    plan = _plan()
    south = plan.cells_of("T01")
    locked = _plan(locked_cells=frozenset(south[:2].tolist()))
    new = locked.reassign_cells(south, "T02")
    assert (new.territory_of_cells(south[2:]) == 1).all()
    assert (new.territory_of_cells(south[:2]) == 0).all()
    assert (locked.territory_of_cells(south) == 0).all()  # the original is unchanged
    with pytest.raises(KeyError, match="unknown territory"):
        plan.reassign_cells(south, "T09")


def test_equals_and_locks():
    a, b = _plan(), _plan()
    assert a.equals(b)
    assert not a.equals(a.with_locks(accounts=["A001"]))
    assert a.with_locks(cells=[int(a.cells[0])]).locked_cells == {int(a.cells[0])}


def test_territory_shapes():
    shapes = _plan().territory_shapes()
    assert set(shapes) == {"T01", "T02"}
    union = shapely.union_all(list(shapes.values()))
    assert union.area == pytest.approx(sum(s.area for s in shapes.values()), rel=1e-6)


def _report() -> DesignReport:
    return DesignReport(
        deviation={"T01": 0.01, "T02": -0.01},
        secondary_deviation=None,
        max_deviation=0.01,
        tolerance=0.02,
        tolerance_met=True,
        split_cells=(CENTRE,),
        moved_accounts=("A001",),
        seconds=0.5,
        warnings=("note",),
    )


def test_report_round_trip():
    rep = _report()
    assert DesignReport.from_dict(json.loads(json.dumps(rep.to_dict()))) == rep


def test_plan_dir_round_trip(tmp_path):
    plan = _plan(report=_report(), overrides={"A001": "T02"}, locked_accounts=frozenset({"A002"}))
    plan = plan.with_locks(cells=[int(plan.cells[0])])
    acc = _accounts(plan)
    write_plan_dir(plan, acc, tmp_path)
    back = read_plan_dir(tmp_path, acc)
    assert back.equals(plan)
    assert back.report == plan.report
    assert back.params["target_shares"] == [0.5, 0.5]

    assign = pd.read_csv(tmp_path / "assignments.csv", dtype="string")
    assert list(assign.columns) == ["account_id", "territory_id", "cell"]
    assert len(assign) == len(acc) and assign["account_id"].is_unique
    assert (assign["territory_id"].to_numpy() == plan.assign(acc).to_numpy()).all()

    gj = json.loads((tmp_path / "territories.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 2
    for feat in gj["features"]:
        geom = shapely.geometry.shape(feat["geometry"])
        assert geom.is_valid
        polys = geom.geoms if hasattr(geom, "geoms") else [geom]
        assert all(p.exterior.is_ccw for p in polys)  # RFC 7946 winding
        assert {"territory_id", "workload_hours", "deviation"} <= set(feat["properties"])

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"territories", "plan", "moved_accounts", "seconds"} <= set(summary)
    assert summary["plan"]["unassigned_accounts"] == 0


def test_read_plan_dir_without_cells_file(tmp_path):
    plan = _plan()
    acc = _accounts(plan, n=80)
    write_plan_dir(plan, acc, tmp_path)
    (tmp_path / "cells.csv").unlink()
    back = read_plan_dir(tmp_path)
    assert (back.assign(acc).to_numpy() == plan.assign(acc).to_numpy()).all()


def test_read_plan_dir_errors(tmp_path):
    with pytest.raises(InputError, match=r"summary\.json"):
        read_plan_dir(tmp_path)
    plan = _plan()
    write_plan_dir(plan, _accounts(plan), tmp_path)
    cells = pd.read_csv(tmp_path / "cells.csv", dtype="string")
    cells.loc[0, "territory_id"] = "T77"
    cells.to_csv(tmp_path / "cells.csv", index=False)
    with pytest.raises(InputError, match="T77"):
        read_plan_dir(tmp_path)
