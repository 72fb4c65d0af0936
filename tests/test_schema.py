"""Column specs and header matching (terrmap.schema)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terrmap import schema
from terrmap.schema import (
    ACCOUNT_COLUMNS,
    REP_COLUMNS,
    match_columns,
    normalize_header,
    suggest_column,
)

KINDS: tuple[schema.Kind, ...] = ("accounts", "reps")


def test_output_columns_follow_the_contract() -> None:
    assert schema.output_columns("accounts") == [
        "account_id", "name", "lat", "lon", "zip", "approximate", "industry", "segment",
        "employees", "acv", "win_rate", "tier", "workload_hours", "owner", "last_activity",
        "locked", "visit_from", "visit_until",
    ]  # fmt: skip
    assert schema.output_columns("reps") == [
        "rep_id", "name", "home_lat", "home_lon", "home_zip", "approximate",
        "capacity_hours", "segment", "industries", "start_date", "region", "district",
    ]  # fmt: skip
    assert schema.required_columns("accounts") == ["account_id"]
    assert schema.required_columns("reps") == ["rep_id"]
    assert "lat" in schema.optional_columns("accounts")


def test_dtypes_are_the_contract_dtypes() -> None:
    d = schema.dtypes("accounts")
    assert d["account_id"] == "str"
    assert d["lat"] == d["acv"] == "float64"
    assert d["tier"] == "Int8"
    assert d["last_activity"] == "datetime64[ns]"
    assert d["locked"] == d["approximate"] == "bool"
    assert schema.dtypes("reps")["start_date"] == "datetime64[ns]"


@pytest.mark.parametrize("kind", KINDS)
def test_every_alias_points_to_exactly_one_column(kind: schema.Kind) -> None:
    owner: dict[str, str] = {}
    for spec in schema.column_specs(kind):
        for alias in (spec.name, *spec.aliases):
            key = normalize_header(alias)
            assert owner.setdefault(key, spec.name) == spec.name, (alias, owner[key])


@pytest.mark.parametrize("kind", KINDS)
def test_each_canonical_name_matches_itself(kind: schema.Kind) -> None:
    names = schema.output_columns(kind)
    assert match_columns(names, kind=kind).mapping == {n: n for n in names}


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("Latitude", "lat"), ("LAT", "lat"), ("lat ", "lat"), ("Lat.", "lat"),
        ("LON", "lon"), ("lng", "lon"), ("Long", "lon"), ("longitude", "lon"),
        ("BillingLatitude", "lat"), ("Billing Longitude", "lon"),
        ("Account ID", "account_id"), ("ACCOUNT-ID", "account_id"), ("AccountId", "account_id"),
        ("Zip Code", "zip"), ("zipcode", "zip"), ("postal_code", "zip"), ("Postal Code", "zip"),
        ("Win Probability", "win_rate"), ("ARR", "acv"), ("Employee Count", "employees"),
        ("Account Owner", "owner"), ("Last Activity Date", "last_activity"),
        ("Do Not Move", "locked"), ("Hours per month", "workload_hours"),
    ],
)  # fmt: skip
def test_account_aliases(header: str, canonical: str) -> None:
    assert match_columns([header], kind="accounts").mapping == {header: canonical}


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("Rep ID", "rep_id"), ("home_latitude", "home_lat"), ("Latitude", "home_lat"),
        ("lng", "home_lon"), ("ZIP", "home_zip"), ("Capacity", "capacity_hours"),
        ("Hire Date", "start_date"), ("Industry", "industries"),
    ],
)  # fmt: skip
def test_rep_aliases(header: str, canonical: str) -> None:
    assert match_columns([header], kind="reps").mapping == {header: canonical}


def test_x_y_are_a_last_resort_with_a_note() -> None:
    m = match_columns(["id", "x", "y"], kind="accounts")
    assert m.mapping == {"id": "account_id", "x": "lon", "y": "lat"}
    assert any("projected" in n for n in m.notes)
    m = match_columns(["id", "x", "y", "lat", "lon"], kind="accounts")
    assert m.mapping == {"id": "account_id", "lat": "lat", "lon": "lon"}
    assert set(m.ignored) == {"x", "y"}


def test_better_alias_wins_and_the_loser_is_noted() -> None:
    m = match_columns(["account_id", "latitude", "lat", "lon"], kind="accounts")
    assert m.source_of("lat") == "lat"
    assert m.ignored == ("latitude",)
    assert any("'latitude' ignored" in n for n in m.notes)


def test_two_equally_good_headers_are_a_problem() -> None:
    m = match_columns(["account_id", "Lat", "LAT", "lon"], kind="accounts")
    assert len(m.problems) == 1
    assert "both look like 'lat'" in m.problems[0].message


def test_unrecognised_columns_stay_unmapped() -> None:
    m = match_columns(["account_id", "Notes", "city"], kind="accounts")
    assert m.mapping == {"account_id": "account_id"}
    assert m.ignored == ()


def test_user_column_map_wins() -> None:
    cols = ["Customer Number", "Y-coord", "X-coord", "latitude"]
    m = match_columns(
        cols,
        kind="accounts",
        column_map={"Customer Number": "account_id", "Y-coord": "lat", "X-coord": "lon"},
    )
    assert m.mapping == {"Customer Number": "account_id", "Y-coord": "lat", "X-coord": "lon"}
    # 'latitude' cannot feed lat any more: the user chose another column for it.
    assert "latitude" not in m.mapping


def test_user_column_map_can_ignore_a_column() -> None:
    m = match_columns(
        ["account_id", "lat", "lon", "zip"], kind="accounts", column_map={"zip": None}
    )
    assert "zip" not in m.mapping
    assert "zip" in m.ignored


def test_bad_user_column_map_entries_are_problems() -> None:
    m = match_columns(
        ["a", "b", "c"],
        kind="accounts",
        column_map={"missing": "lat", "a": "latitude_typo", "b": "lon", "c": "lon"},
    )
    messages = [p.message for p in m.problems]
    assert any("does not have" in x for x in messages)
    assert any("not a accounts column" in x for x in messages)
    assert any("both 'b' and 'c'" in x for x in messages)


def test_suggest_column_finds_near_misses() -> None:
    assert suggest_column("account_id", ["Acount ID", "Latitude"], kind="accounts") == "Acount ID"
    assert suggest_column("lat", ["Lattitude", "Name"], kind="accounts") == "Lattitude"
    assert suggest_column("account_id", ["foo", "bar"], kind="accounts") is None


@given(st.text(max_size=12))
def test_normalize_header_is_idempotent_and_alnum(text: str) -> None:
    key = normalize_header(text)
    assert normalize_header(key) == key
    assert key == "" or key.isalnum()


@given(st.lists(st.text(max_size=10), max_size=8, unique=True))
def test_match_columns_never_maps_two_columns_to_one_name(headers: list[str]) -> None:
    for kind in KINDS:
        m = match_columns(headers, kind=kind)
        targets = list(m.mapping.values())
        assert len(targets) == len(set(targets))
        assert set(m.mapping) <= set(headers)


def test_specs_have_descriptions_for_the_mapping_form() -> None:
    for spec in (*ACCOUNT_COLUMNS, *REP_COLUMNS):
        assert spec.description, spec.name
