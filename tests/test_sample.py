"""Tests of the sample generator (terrmap.sample) and the committed sample files."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from terrmap.errors import TerrmapError
from terrmap.postal import zip_table
from terrmap.sample import (
    ACCOUNT_COLUMNS,
    REFERENCE_DATE,
    REGIONS,
    REP_COLUMNS,
    RegionName,
    make_sample,
    write_sample,
)
from terrmap.scoring import score_accounts

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
#: The zipcodes release the committed files were generated with (see data/samples/README.md).
SAMPLE_ZIPCODES_VERSION = "3.0.0"


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


@pytest.fixture(scope="module")
def northeast() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_sample(5_000, 12, region="northeast", random_state=0)


@pytest.fixture(scope="module")
def scored(northeast: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return score_accounts(northeast[0])


# --------------------------------------------------------------------------- shape


def test_columns_counts_and_ids(northeast: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    accounts, reps = northeast
    assert list(accounts.columns) == list(ACCOUNT_COLUMNS)
    assert list(reps.columns) == list(REP_COLUMNS)
    assert len(accounts) == 5_000 and len(reps) == 12
    assert accounts["account_id"].is_unique and reps["rep_id"].is_unique
    assert reps["name"].is_unique
    assert "workload_hours" not in accounts.columns
    assert set(accounts["owner"].dropna()) <= set(reps["rep_id"])
    assert accounts["zip"].str.fullmatch(r"\d{5}").all()


def test_same_seed_same_output_other_seed_differs() -> None:
    a1, r1 = make_sample(800, 5, region="midwest", random_state=7)
    a2, r2 = make_sample(800, 5, region="midwest", random_state=7)
    pd.testing.assert_frame_equal(a1, a2)
    pd.testing.assert_frame_equal(r1, r2)
    a3, _ = make_sample(800, 5, region="midwest", random_state=8)
    assert not a1["lat"].equals(a3["lat"])


@pytest.mark.parametrize("region", ["northeast", "midwest", "southeast", "texas", "pacific", "us"])
def test_accounts_stay_in_region_near_their_zip(region: RegionName) -> None:
    accounts, reps = make_sample(1_500, 6, region=region, random_state=1)
    states = set(REGIONS[region].states)
    assert set(accounts["state"]) <= states
    assert set(reps["home_state"]) <= states
    table = zip_table().loc[accounts["zip"]]
    assert (table["state"].to_numpy() == accounts["state"].to_numpy()).all()
    assert (table["zip_type"] == "STANDARD").all() and table["active"].all()
    # jitter keeps each account within ~2 km of its ZIP centre, but off the exact point
    km = haversine_km(
        accounts["lat"].to_numpy(),
        accounts["lon"].to_numpy(),
        table["lat"].to_numpy(),
        table["lon"].to_numpy(),
    )
    assert km.max() < 2.5
    assert (km > 0.01).mean() > 0.95
    if len(states) > 1:
        assert accounts["state"].nunique() >= min(len(states), 5)


def test_metros_are_dense(northeast: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    accounts, _ = northeast
    km = haversine_km(accounts["lat"].to_numpy(), accounts["lon"].to_numpy(), 40.758, -73.985)
    nyc_share = (km < 60).mean()  # within 60 km of Midtown Manhattan
    assert 0.25 < nyc_share < 0.5  # the NYC metro holds ~1/3 of the Northeast's people
    maine = (accounts["state"] == "ME").mean()
    assert 0.01 < maine < 0.06  # ~2% of the population; present but sparse


# --------------------------------------------------------------------------- distributions


def test_segments_employees_and_acv(northeast: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    accounts, _ = northeast
    seg = accounts["segment"]
    shares = seg.value_counts(normalize=True)
    assert shares["SMB"] > shares["MM"] > shares["ENT"] > 0.03
    emp = accounts["employees"]
    assert emp[seg == "SMB"].dropna().between(2, 99).all()
    assert emp[seg == "MM"].dropna().between(100, 999).all()
    assert (emp[seg == "ENT"].dropna() >= 1_000).all()
    acv = accounts["acv"].astype(float)
    assert acv.mean() > 1.5 * acv.median()  # right-skewed
    assert acv.skew() > 2
    medians = acv.groupby(seg).median()
    assert medians["SMB"] < medians["MM"] < medians["ENT"]
    win = accounts["win_rate"].dropna()
    assert win.between(0.01, 0.95).all() and 0.2 < win.mean() < 0.35
    assert accounts["industry"].nunique() >= 10


def test_crm_gaps_exist_but_are_few(northeast: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    accounts, _ = northeast
    missing = accounts.isna().mean()
    for col, share in {"tier": 0.15, "win_rate": 0.08, "employees": 0.06, "acv": 0.04}.items():
        assert share / 2 < missing[col] < share * 1.5, col
    for col in ("account_id", "name", "lat", "lon", "zip", "city", "state", "locked"):
        assert missing[col] == 0, col


def test_visit_windows_follow_the_industry(northeast: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    accounts, _ = northeast
    has = accounts["visit_from"].notna() | accounts["visit_until"].notna()
    share = has.groupby(accounts["industry"]).mean()
    assert 0.6 < share["Hospitality"] < 0.8 and 0.4 < share["Healthcare"] < 0.6
    assert 0.3 < share["Retail"] < 0.5 and share["Manufacturing"] < 0.15
    hospitality = accounts[has & accounts["industry"].eq("Hospitality")]
    assert hospitality["visit_from"].eq("14:00").all()
    assert hospitality["visit_until"].eq("17:00").all()
    opens = pd.to_datetime(accounts["visit_from"].dropna(), format="%H:%M")
    assert opens.dt.hour.between(8, 14).all()


def test_reps_roll_up_by_state_and_census_division(
    northeast: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, reps = northeast
    assert reps["district"].tolist() == reps["home_state"].tolist()
    new_england = reps["home_state"].isin(["CT", "MA", "ME", "NH", "RI", "VT"])
    assert reps["region"].where(new_england).dropna().eq("New England").all()
    assert reps["region"].where(~new_england).dropna().eq("Mid-Atlantic").all()


def test_activity_dates(northeast: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    accounts, _ = northeast
    days = (pd.Timestamp(REFERENCE_DATE) - accounts["last_activity"]).dt.days
    assert days.min() >= 0
    assert 0.15 < (days >= 90).mean() < 0.6
    assert 0.01 < accounts["last_activity"].isna().mean() < 0.08
    by_tier = days.groupby(accounts["tier"]).median()
    assert by_tier[1] < by_tier[2] < by_tier[3]  # important accounts are visited more often


def test_locked_are_few_strategic_accounts(northeast: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    accounts, _ = northeast
    locked = accounts[accounts["locked"]]
    assert 0 < len(locked) < 0.05 * len(accounts)
    assert (locked["segment"] == "ENT").all()


def test_tiers_mix_and_given_tiers_mostly_agree_with_the_model(scored: pd.DataFrame) -> None:
    shares = scored["tier"].value_counts(normalize=True)
    assert 0.05 < shares[1] < 0.15 and 0.2 < shares[2] < 0.4 and shares[3] > 0.5
    assert 0.1 < (scored["tier_source"] == "derived").mean() < 0.2


# --------------------------------------------------------------------------- reps and owners


def test_reps_live_in_distinct_cities_with_capacities(
    northeast: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, reps = northeast
    assert reps["capacity_hours"].between(80, 160).all()
    assert (reps["capacity_hours"] == 84).sum() == 1  # one new hire at 60% of 140 hours
    new_hire = reps.loc[reps["capacity_hours"] == 84, "start_date"].iloc[0]
    assert new_hire == reps["start_date"].max()
    lat, lon = reps["home_lat"].to_numpy(), reps["home_lon"].to_numpy()
    dist = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert dist[~np.eye(len(reps), dtype=bool)].min() > 10
    # homes at the region's big cities, spread over it
    assert {"New York", "Philadelphia", "Pittsburgh", "Boston"} <= set(reps["home_city"])
    assert reps["home_state"].nunique() >= 4


def test_legacy_owners_are_unbalanced(scored: pd.DataFrame) -> None:
    load = scored.groupby("owner")["workload_hours"].sum()
    assert len(load) == 12
    assert load.max() / load.min() > 2.5
    assert 0 < scored["owner"].isna().mean() < 0.03  # a few new accounts have no owner


def test_workload_fits_capacity(
    scored: pd.DataFrame, northeast: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    ratio = scored["workload_hours"].sum() / northeast[1]["capacity_hours"].sum()
    assert 0.85 <= ratio <= 0.95


def test_team_sized_automatically() -> None:
    accounts, reps = make_sample(3_000, None, region="texas", random_state=2)
    ratio = score_accounts(accounts)["workload_hours"].sum() / reps["capacity_hours"].sum()
    assert 0.8 <= ratio <= 1.0


# --------------------------------------------------------------------------- files and errors


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_sample_round_trips(tmp_path: Path, fmt: str) -> None:
    acc_path, rep_path = write_sample(
        tmp_path / "out", n_accounts=300, n_reps=4, region="northeast", random_state=5, fmt=fmt
    )
    accounts, reps = make_sample(300, 4, region="northeast", random_state=5)
    if fmt == "csv":
        back = pd.read_csv(acc_path, dtype={"zip": str}, parse_dates=["last_activity"])
        assert back["zip"].tolist() == accounts["zip"].tolist()  # leading zeros kept
        pd.testing.assert_series_equal(
            back["last_activity"].astype("datetime64[ns]"), accounts["last_activity"]
        )
        assert "T" not in acc_path.read_text().splitlines()[1]
    else:
        back = pd.read_parquet(acc_path)
        pd.testing.assert_frame_equal(back, accounts)
    assert len(back) == 300 and list(back.columns) == list(ACCOUNT_COLUMNS)
    reps_back = (
        pd.read_csv(rep_path, dtype={"home_zip": str})
        if fmt == "csv"
        else pd.read_parquet(rep_path)
    )
    assert reps_back["rep_id"].tolist() == reps["rep_id"].tolist()
    assert reps_back["home_zip"].tolist() == reps["home_zip"].tolist()


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        ((100, 3), {"region": "atlantis"}, "northeast"),
        ((0, 3), {}, "n_accounts"),
        ((100, 0), {}, "n_reps"),
        ((100, 10**6), {}, "n_reps"),
    ],
)
def test_bad_arguments(args: tuple[int, int], kwargs: dict[str, str], text: str) -> None:
    with pytest.raises(TerrmapError, match=text):
        make_sample(*args, **kwargs)  # type: ignore[arg-type]


def test_bad_format(tmp_path: Path) -> None:
    with pytest.raises(TerrmapError, match="parquet"):
        write_sample(tmp_path, n_accounts=10, n_reps=2, fmt="xlsx")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- committed files


def test_committed_sample_loads_cleanly(
    sample_accounts: pd.DataFrame, sample_reps: pd.DataFrame
) -> None:
    assert len(sample_accounts) == 5_000 and len(sample_reps) == 12
    assert not sample_accounts["approximate"].any()
    assert set(sample_accounts["owner"].dropna()) <= set(sample_reps["rep_id"])


def test_committed_files_are_what_the_command_makes(tmp_path: Path) -> None:
    """``terrmap sample --accounts 5000 --reps 12 --region northeast --seed 0`` made them."""
    # pyproject pins the zipcodes release: another release holds other ZIP data.
    assert version("zipcodes") == SAMPLE_ZIPCODES_VERSION
    paths = write_sample(tmp_path, n_accounts=5_000, n_reps=12, region="northeast", random_state=0)
    for path in paths:
        assert path.read_bytes() == (SAMPLES / path.name).read_bytes(), path.name
