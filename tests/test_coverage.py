"""Coverage metrics per H3 cell: gaps, density imbalance, hidden territories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from voronoi import voronoi_plan

from terrmap.coverage import CoverageConfig, as_of_date, cell_coverage, hidden_territories
from terrmap.grid import latlon_to_cells
from terrmap.metrics import territory_table


@pytest.fixture(scope="module")
def setup(sample_accounts: pd.DataFrame, sample_reps: pd.DataFrame):
    plan = voronoi_plan(sample_accounts, sample_reps)
    territory = plan.assign(sample_accounts)
    table = territory_table(plan, sample_accounts, sample_reps)
    return plan, territory, table


def test_totals_are_conserved(setup, sample_accounts: pd.DataFrame, sample_reps) -> None:
    _, territory, table = setup
    cov = cell_coverage(sample_accounts, territory, table,
                        rep_ids=set(sample_reps["rep_id"].astype(str)))  # fmt: skip
    assert cov["accounts"].sum() == len(sample_accounts)
    assert cov["opportunity"].sum() == pytest.approx(sample_accounts["opportunity"].sum())
    assert (cov["area_km2"] > 0).all()
    assert np.allclose(cov["opportunity_density"], cov["opportunity"] / cov["area_km2"])


def test_at_risk_opportunity_follows_over_capacity(setup, sample_accounts, sample_reps) -> None:
    _, territory, table = setup
    # Halve one rep's capacity below its workload: only its cells carry risk.
    squeezed = table.copy()
    tid = str(squeezed.loc[0, "territory_id"])
    squeezed["capacity_hours"] = squeezed["workload_hours"] * 10
    squeezed.loc[0, "capacity_hours"] = squeezed.loc[0, "workload_hours"] / 2
    cov = cell_coverage(sample_accounts, territory, squeezed,
                        rep_ids=set(sample_reps["rep_id"].astype(str)))  # fmt: skip
    in_t = (territory == tid).fillna(False).to_numpy(bool)
    expected = 0.5 * sample_accounts.loc[in_t, "opportunity"].sum()
    assert cov["at_risk_opportunity"].sum() == pytest.approx(expected)


def test_stale_unassigned_and_white_space(setup, sample_accounts, sample_reps) -> None:
    _, territory, table = setup
    acc = sample_accounts.copy()
    as_of = pd.Timestamp("2026-10-01")
    acc["last_activity"] = pd.NaT
    acc.loc[acc.index[:10], "last_activity"] = as_of - pd.Timedelta(days=120)
    acc.loc[acc.index[10:20], "last_activity"] = as_of - pd.Timedelta(days=30)
    acc["owner"] = pd.array(["R01"] * len(acc), dtype="string")
    acc.loc[acc.index[:7], "owner"] = pd.NA
    acc.loc[acc.index[7:12], "owner"] = "GONE"  # not on the roster
    terr = territory.copy()
    terr.iloc[:4] = pd.NA
    config = CoverageConfig(stale_days=90, as_of=as_of)
    cov = cell_coverage(acc, terr, table, rep_ids={"R01", "R02"}, config=config)
    assert cov["stale_accounts"].sum() == 10
    assert cov["stale_opportunity"].sum() == pytest.approx(acc["opportunity"].iloc[:10].sum())
    assert cov["unassigned_accounts"].sum() == 4
    assert cov["white_space_accounts"].sum() == 12
    assert cov["white_space_opportunity"].sum() == pytest.approx(acc["opportunity"].iloc[:12].sum())


def test_as_of_defaults_to_latest_activity(sample_accounts: pd.DataFrame) -> None:
    latest = pd.to_datetime(sample_accounts["last_activity"]).max()
    assert as_of_date(sample_accounts, CoverageConfig()) == latest
    assert as_of_date(sample_accounts.drop(columns="last_activity"), CoverageConfig()) is None
    fixed = pd.Timestamp("2020-01-01")
    assert as_of_date(sample_accounts, CoverageConfig(as_of=fixed)) == fixed


def test_load_ratio_is_relative_to_fair_share(setup, sample_accounts, sample_reps) -> None:
    _, territory, table = setup
    cov = cell_coverage(sample_accounts, territory, table,
                        rep_ids=set(sample_reps["rep_id"].astype(str)))  # fmt: skip
    ratio = cov["load_ratio"].dropna()
    assert len(ratio) > 0 and (ratio > 0).all()
    fair = table["workload_hours"] / (table["workload_hours"].sum() / len(table))
    assert set(np.round(ratio.unique(), 9)) <= set(np.round(fair.to_numpy(float), 9))


def test_hidden_territory_found_where_no_rep_lives(sample_accounts, sample_reps) -> None:
    # A dense town far from every rep: 200 accounts near Erie, PA.
    rng = np.random.default_rng(3)
    town = sample_accounts.iloc[:200].copy()
    town["account_id"] = pd.array([f"X{i}" for i in range(200)], dtype="string")
    town["lat"] = 42.13 + rng.normal(0, 0.03, 200)
    town["lon"] = -80.08 + rng.normal(0, 0.03, 200)
    town["workload_hours"] = 1.5
    acc = pd.concat([sample_accounts, town], ignore_index=True)
    plan = voronoi_plan(acc, sample_reps)
    table = territory_table(plan, acc, sample_reps)
    config = CoverageConfig(resolution=6)
    cov = cell_coverage(acc, plan.assign(acc), table, rep_ids=set(), config=config)
    candidates, member = hidden_territories(cov, sample_reps, config=config)
    assert len(candidates) >= 1
    assert list(candidates["uncovered_hours"]) == sorted(
        candidates["uncovered_hours"], reverse=True
    )
    near_erie = candidates[(candidates["lat"].sub(42.13).abs() < 0.3)
                           & (candidates["lon"].sub(-80.08).abs() < 0.3)]  # fmt: skip
    assert len(near_erie) == 1
    row = near_erie.iloc[0]
    assert row["reps_based"] == 0 and row["workload_hours"] >= 300
    assert (member >= 0).sum() == candidates["cells"].sum()
    assert set(member[member >= 0]) == set(range(len(candidates)))


def test_no_candidates_without_workload(sample_reps: pd.DataFrame) -> None:
    cov = pd.DataFrame(
        {"accounts": [0], "workload_hours": [0.0], "opportunity": [0.0]},
        index=pd.Index(latlon_to_cells([41.0], [-73.0], 6), name="cell"),
    )
    candidates, member = hidden_territories(cov, sample_reps)
    assert candidates.empty and (member == -1).all()


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="stale_days"):
        CoverageConfig(stale_days=0)
    with pytest.raises(ValueError, match="density_quantile"):
        CoverageConfig(density_quantile=1.0)
