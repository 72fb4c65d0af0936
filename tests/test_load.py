"""Loaders (terrmap.load): column choices, drop_invalid, validate_file, the bundled sample."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from terrmap.errors import InputError
from terrmap.load import LoadResult, describe, load_accounts, load_reps, validate_file

DATA = Path(__file__).resolve().parent / "data"


def test_geojson_attributes_win_over_geometry() -> None:
    frame = pd.DataFrame({"account_id": ["A"], "lat": [40.5], "lon": [-74.5]})
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy([-70.0], [41.0]), crs=4326)
    r = load_accounts(gdf.to_json().encode(), filename="a.geojson")
    assert (r.frame["lat"].iloc[0], r.frame["lon"].iloc[0]) == (40.5, -74.5)
    assert any("geometry was ignored" in n for n in r.notes)


def test_column_map_and_extra_columns() -> None:
    text = "Customer Number,Y,X,Region\nC1,40.7,-74.0,East\n"
    r = load_accounts(
        text.encode(),
        filename="a.csv",
        column_map={"Customer Number": "account_id", "Y": "lat", "X": "lon"},
    )
    assert r.frame["account_id"].tolist() == ["C1"]
    assert r.frame.columns[-1] == "Region"
    assert (
        "Region"
        not in load_accounts(
            text.encode(),
            filename="a.csv",
            keep_extra=False,
            column_map={"Customer Number": "account_id"},
        ).frame
    )


# ----------------------------------------------------------------- drop_invalid


def test_drop_invalid_lists_what_it_dropped() -> None:
    r = load_accounts(
        DATA / "defective_accounts.csv", rep_ids=["R01", "R02", "R03"], drop_invalid=True
    )
    assert len(r.frame) == 13  # 35 rows, 22 of them with one problem each
    assert len(r.dropped) == 22
    assert any("Dropped 22 rows" in n for n in r.notes)
    assert r.frame["account_id"].is_unique
    assert "A002" in r.frame["account_id"].tolist()  # the first occurrence is kept
    assert "dropped" in describe(r)


def test_drop_invalid_still_raises_for_file_problems() -> None:
    with pytest.raises(InputError, match="required column 'account_id' is missing"):
        load_accounts(b"acct,lat,lon\n1,40,-74\n", filename="a.csv", drop_invalid=True)


def test_drop_invalid_with_nothing_left_raises() -> None:
    with pytest.raises(InputError, match="every row has a problem"):
        load_accounts(b"account_id,lat,lon\nA,95,200\n", filename="a.csv", drop_invalid=True)


# ---------------------------------------------------------------- validate_file


def test_validate_file_checks_owners_against_the_roster() -> None:
    with pytest.raises(InputError) as info:
        validate_file(DATA / "defective_accounts.csv", reps_path=DATA / "reps.csv")
    assert (27, "owner") in [(p.row, p.column) for p in info.value.problems]
    accounts, reps = validate_file(
        DATA / "defective_accounts.csv", reps_path=DATA / "reps.csv", drop_invalid=True
    )
    assert reps is not None and len(reps.frame) == 3
    assert isinstance(accounts, LoadResult)


def test_validate_file_reports_both_files(tmp_path: Path) -> None:
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id,home_lat,home_lon\nR1,95,-71\n")
    with pytest.raises(InputError) as info:
        validate_file(DATA / "defective_accounts.csv", reps_path=reps)
    messages = [p.message for p in info.value.problems]
    assert messages[0].startswith("[reps.csv]")
    assert any(m.startswith("[defective_accounts.csv]") for m in messages)


def test_the_bundled_sample_loads_cleanly() -> None:
    reps = load_reps(DATA.parent.parent / "data" / "samples" / "reps.csv")
    accounts = load_accounts(
        DATA.parent.parent / "data" / "samples" / "accounts.csv",
        rep_ids=reps.frame["rep_id"].tolist(),
    )
    assert len(accounts.frame) > 1000
    assert accounts.dropped == []
