"""Row and column checks (terrmap.validate): one test per defect type, plus properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from terrmap.errors import InputError, Problem
from terrmap.load import load_accounts
from terrmap.validate import check_accounts, check_reps, format_report

DATA = Path(__file__).resolve().parent / "data"

# Twelve real Northeast places (lat, lon, ZIP), so the regional checks have company.
PLACES = [
    (42.3601, -71.0589, "02108"), (40.7128, -74.0060, "10007"), (39.9526, -75.1652, "19107"),
    (41.7658, -72.6734, "06103"), (41.8240, -71.4128, "02903"), (42.6526, -73.7562, "12207"),
    (40.7357, -74.1724, "07102"), (40.4406, -79.9959, "15222"), (42.8864, -78.8784, "14202"),
    (42.2626, -71.8023, "01608"), (42.1015, -72.5898, "01103"), (41.3083, -72.9279, "06510"),
]  # fmt: skip


def good_accounts(n: int = 12) -> pd.DataFrame:
    """A clean, file-shaped accounts table (all text, as a CSV reads)."""
    rows = []
    for i in range(n):
        lat, lon, zip_ = PLACES[i % len(PLACES)]
        rows.append({
            "account_id": f"A{i + 1:03d}", "name": f"Account {i + 1}", "lat": str(lat),
            "lon": str(lon), "zip": zip_, "segment": "SMB", "employees": "10", "acv": "5000",
            "win_rate": "0.3", "tier": "2", "workload_hours": "", "owner": "R01",
            "last_activity": "2024-05-01", "locked": "false",
        })  # fmt: skip
    return pd.DataFrame(rows, dtype="str")


def with_row(**cells: str) -> pd.DataFrame:
    """The good table plus one row (row 14 as the user sees it) with ``cells`` changed."""
    frame = good_accounts()
    extra = frame.iloc[[0]].copy()
    extra["account_id"] = "BAD"
    for key, value in cells.items():
        extra[key] = value
    return pd.concat([frame, extra], ignore_index=True)


def problems_of(frame: pd.DataFrame, **kwargs: object) -> list[Problem]:
    checked = check_accounts(frame, **kwargs)  # type: ignore[arg-type]
    return [*checked.file_problems, *checked.problems]


def only_problem(frame: pd.DataFrame, **kwargs: object) -> Problem:
    found = problems_of(frame, **kwargs)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_a_clean_table_has_no_problems() -> None:
    checked = check_accounts(good_accounts(), rep_ids=["R01"])
    assert checked.problems == ()
    assert checked.file_problems == ()
    assert not checked.bad.any()
    f = checked.frame
    assert f["lat"].dtype == np.float64
    assert f["zip"].tolist()[0] == "02108"
    assert f["tier"].dtype == "Int8"
    assert f["last_activity"].dtype == "datetime64[ns]"
    assert not f["approximate"].any()


# --------------------------------------------------------------------- file level


def test_missing_required_column_suggests_the_nearest_header() -> None:
    frame = good_accounts().rename(columns={"account_id": "Acount ID"})
    p = only_problem(frame)
    assert p.row is None
    assert p.column == "account_id"
    assert "required column 'account_id' is missing" in p.message
    assert "'Acount ID'" in p.fix


def test_missing_location_columns() -> None:
    frame = good_accounts().drop(columns=["lat", "lon", "zip"])
    p = only_problem(frame)
    assert "no location columns" in p.message


def test_half_a_coordinate_pair_is_missing() -> None:
    frame = good_accounts().drop(columns=["lon"]).rename(columns={"lat": "latitude"})
    p = only_problem(frame)
    assert p.column == "lon"
    assert "missing" in p.message


# ---------------------------------------------------------------------------- ids


def test_duplicate_ids_name_every_row_involved() -> None:
    frame = good_accounts()
    frame.loc[[4, 9], "account_id"] = "A001"
    found = problems_of(frame)
    assert [p.row for p in found] == [6, 11]
    assert all("rows 2, 6, 11" in p.message for p in found)
    assert found[0].value == "A001"


def test_blank_id() -> None:
    p = only_problem(with_row(account_id="  "))
    assert (p.row, p.column) == (14, "account_id")
    assert "blank" in p.message


def test_ids_keep_leading_zeros() -> None:
    frame = good_accounts()
    frame["account_id"] = [f"{i:05d}" for i in range(12)]
    out = check_accounts(frame).frame
    assert out["account_id"].iloc[1] == "00001"


# -------------------------------------------------------------------- coordinates


@pytest.mark.parametrize(
    ("cells", "column", "text"),
    [
        ({"lat": "forty"}, "lat", "latitude is not a number"),
        ({"lon": "west"}, "lon", "longitude is not a number"),
        ({"lat": "95.5", "lon": "120"}, "lat", "outside -90..90"),
        ({"lon": "-190"}, "lon", "outside -180..180"),
        ({"lat": "0", "lon": "0"}, "lat", "(0, 0) is a placeholder"),
        ({"lat": "142.81", "lon": "-73.94"}, "lat", "look swapped"),
        ({"lat": "-73.9857", "lon": "40.7484"}, "lat", "Antarctica"),
        ({"lat": "40.7484", "lon": "73.9857"}, "lon", "longitude's sign looks wrong"),
        ({"lat": "-40.7484", "lon": "-73.9857"}, "lat", "latitude's sign looks wrong"),
        ({"lon": ""}, "lon", "longitude is blank but latitude is given"),
        ({"lat": ""}, "lat", "latitude is blank but longitude is given"),
        ({"lat": "", "lon": "", "zip": ""}, "lat", "no location"),
    ],
)  # fmt: skip
def test_coordinate_defects(cells: dict[str, str], column: str, text: str) -> None:
    p = only_problem(with_row(**cells))
    assert (p.row, p.column) == (14, column)
    assert text in p.message
    assert p.fix


def test_swapped_coordinates_inside_the_valid_range_are_found_by_region() -> None:
    # (-74.0, 40.7) is a valid point in the Antarctic ocean; swapped it is New York.
    p = only_problem(with_row(lat="-60.5", lon="40.7"))
    assert "swapped" in p.message


def test_projected_metres_get_a_conversion_hint() -> None:
    found = problems_of(with_row(lat="4500000", lon="-8200000"))
    assert any("projected metres" in p.fix for p in found)


def test_region_check_needs_company() -> None:
    """With few rows there is no 'region', so a far point is not second-guessed."""
    frame = good_accounts(3)
    frame.loc[2, ["lat", "lon", "zip"]] = ["48.8566", "2.3522", ""]  # Paris, on its own
    assert problems_of(frame) == []


def test_loose_coordinate_spellings_are_read() -> None:
    frame = good_accounts()
    frame.loc[0, ["lat", "lon"]] = ["42.3601 N", "71.0589 W"]
    frame.loc[1, ["lat", "lon"]] = ["40°42'46\"N", "74°0'21.6\"W"]
    out = check_accounts(frame)
    assert out.problems == ()
    assert out.frame["lon"].iloc[0] == pytest.approx(-71.0589)
    assert out.frame["lat"].iloc[1] == pytest.approx(40.7128, abs=1e-3)
    assert out.frame["lon"].iloc[1] == pytest.approx(-74.006, abs=1e-3)


def test_decimal_comma_coordinates() -> None:
    frame = good_accounts()
    frame["lat"] = frame["lat"].str.replace(".", ",")
    frame["lon"] = frame["lon"].str.replace(".", ",")
    out = check_accounts(frame, decimal_comma=True)
    assert out.problems == ()
    assert out.frame["lat"].iloc[0] == pytest.approx(42.3601)


# ----------------------------------------------------------------------------- ZIP


def test_zip_only_rows_are_placed_at_the_zip_centre_and_flagged() -> None:
    checked = check_accounts(with_row(lat="", lon="", zip="2134"))  # leading zero lost
    assert checked.problems == ()
    row = checked.frame.iloc[-1]
    assert row["zip"] == "02134"
    assert row["approximate"]
    assert 42.0 < row["lat"] < 42.5
    assert any("1 account placed at ZIP centroids" in n for n in checked.notes)


@pytest.mark.parametrize(
    ("zip_", "text"),
    [("99999", "not found in the US ZIP list"), ("ABCDE", "not a 5-digit US ZIP code")],
)
def test_unusable_zip_for_a_row_without_coordinates(zip_: str, text: str) -> None:
    p = only_problem(with_row(lat="", lon="", zip=zip_))
    assert (p.row, p.column, p.value) == (14, "zip", zip_)
    assert text in p.message


def test_unknown_zip_with_good_coordinates_is_only_noted() -> None:
    checked = check_accounts(with_row(zip="99999"))
    assert checked.problems == ()
    assert any("not known as US ZIPs" in n for n in checked.notes)


def test_coordinates_far_from_their_own_zip() -> None:
    p = only_problem(with_row(zip="90210"))
    assert p.column == "zip"
    assert "km from this row's coordinates" in p.message


def test_zip_only_file_without_coordinate_columns() -> None:
    frame = good_accounts().drop(columns=["lat", "lon"])
    checked = check_accounts(frame)
    assert checked.problems == ()
    assert checked.frame["approximate"].all()


# ------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("cells", "column", "text"),
    [
        ({"employees": "-5"}, "employees", "must not be negative"),
        ({"employees": "many"}, "employees", "not a number"),
        ({"acv": "lots"}, "acv", "not a number"),
        ({"acv": "-100"}, "acv", "must not be negative"),
        ({"acv": "inf"}, "acv", "not a number"),
        ({"win_rate": "1.7"}, "win_rate", "between 0 and 1"),
        ({"win_rate": "-0.1"}, "win_rate", "between 0 and 1"),
        ({"win_rate": "150%"}, "win_rate", "between 0 and 1"),
        ({"win_rate": "likely"}, "win_rate", "not a number"),
        ({"workload_hours": "900"}, "workload_hours", "hours in a month"),
        ({"workload_hours": "-1"}, "workload_hours", "must not be negative"),
    ],
)  # fmt: skip
def test_number_defects(cells: dict[str, str], column: str, text: str) -> None:
    p = only_problem(with_row(**cells))
    assert (p.row, p.column, p.value) == (14, column, next(iter(cells.values())))
    assert text in p.message


def test_money_and_percent_spellings_are_read() -> None:
    checked = check_accounts(with_row(acv="$12,500.50", win_rate="35%", employees="1,200"))
    assert checked.problems == ()
    row = checked.frame.iloc[-1]
    assert row["acv"] == 12500.5
    assert row["win_rate"] == pytest.approx(0.35)
    assert row["employees"] == 1200


def test_a_percentage_column_is_scaled_with_a_note() -> None:
    frame = good_accounts()
    frame["win_rate"] = [str(v) for v in (35, 40, 25, 50, 10, 0, 80, 45, 30, 20, 15, 60)]
    checked = check_accounts(frame)
    assert checked.problems == ()
    assert checked.frame["win_rate"].max() == pytest.approx(0.8)
    assert any("percentages" in n for n in checked.notes)


def test_na_tokens_are_blank_not_errors() -> None:
    checked = check_accounts(with_row(acv="N/A", employees="-", win_rate="null"))
    assert checked.problems == ()
    assert np.isnan(checked.frame["acv"].iloc[-1])


# ---------------------------------------------------------------- categories etc.


@pytest.mark.parametrize(
    ("cells", "column", "text"),
    [
        ({"tier": "4"}, "tier", "unknown tier"),
        ({"tier": "gold"}, "tier", "unknown tier"),
        ({"segment": "Huge"}, "segment", "unknown segment"),
        ({"last_activity": "2024-13-45"}, "last_activity", "not a date"),
        ({"last_activity": "soon"}, "last_activity", "not a date"),
        ({"last_activity": "2999-01-01"}, "last_activity", "in the future"),
        ({"last_activity": "1850-01-01"}, "last_activity", "before 1900"),
        ({"locked": "maybe"}, "locked", "not a yes/no value"),
        ({"visit_from": "noon"}, "visit_from", "not a time of day"),
        ({"visit_until": "25:00"}, "visit_until", "not a time of day"),
        ({"visit_from": "15:00", "visit_until": "2 pm"}, "visit_until",
         "visit window closes before it opens (15:00)"),
    ],
)  # fmt: skip
def test_category_and_date_defects(cells: dict[str, str], column: str, text: str) -> None:
    p = only_problem(with_row(**cells))
    assert (p.row, p.column) == (14, column)
    assert text in p.message


def test_owner_not_in_roster_suggests_the_nearest_rep() -> None:
    p = only_problem(with_row(owner="R1"), rep_ids=["R01", "R02"])
    assert (p.row, p.column, p.value) == (14, "owner", "R1")
    assert "did you mean 'R01'" in p.fix


def test_owner_is_not_checked_without_a_roster() -> None:
    assert problems_of(with_row(owner="R99")) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("T1", 1), ("Tier 2", 2), ("3", 3), ("3.0", 3), ("A", 1), ("c", 3), ("", None)],
)
def test_tier_spellings(value: str, expected: int | None) -> None:
    out = check_accounts(with_row(tier=value)).frame["tier"].iloc[-1]
    assert (out is pd.NA) if expected is None else out == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("smb", "SMB"), ("Mid-Market", "MM"), ("Enterprise", "ENT"), ("ent", "ENT")],
)
def test_segment_spellings(value: str, expected: str) -> None:
    assert check_accounts(with_row(segment=value)).frame["segment"].iloc[-1] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("Y", True), ("1", True), ("TRUE", True), ("x", True), ("no", False),
     ("0", False), ("", False), ("False", False)],
)  # fmt: skip
def test_boolean_spellings(value: str, expected: bool) -> None:
    assert check_accounts(with_row(locked=value)).frame["locked"].iloc[-1] == expected


@pytest.mark.parametrize(
    "value", ["2024-05-31", "05/31/2024", "5/31/24", "31.05.2024", "May 31, 2024",
              "2024-05-31T09:30:00Z"],
)  # fmt: skip
def test_date_spellings(value: str) -> None:
    out = check_accounts(with_row(last_activity=value)).frame["last_activity"].iloc[-1]
    assert out.normalize() == pd.Timestamp("2024-05-31")


@pytest.mark.parametrize(
    ("opens", "closes", "expected"),
    [("9:00", "11:30 am", ("09:00", "11:30")), ("2 pm", "", ("14:00", None)),
     ("", "16h30", (None, "16:30")), ("0.375", "0.5", ("09:00", "12:00")),
     ("23:59:59", "", ("23:59", None))],
)  # fmt: skip
def test_visit_window_spellings(opens: str, closes: str, expected: tuple) -> None:
    frame = check_accounts(with_row(visit_from=opens, visit_until=closes)).frame
    got = tuple(None if pd.isna(v) else v for v in frame[["visit_from", "visit_until"]].iloc[-1])
    assert got == expected


# --------------------------------------------------------------------------- reps


def good_reps() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rep_id": ["R01", "R02", "R03"],
            "name": ["Ann", "", "Cy"],
            "home_lat": ["42.36", "", "40.44"],
            "home_lon": ["-71.06", "", "-79.99"],
            "home_zip": ["", "10007", ""],
            "capacity_hours": ["140", "", "120"],
            "segment": ["", "all", "Enterprise"],
            "industries": ["Retail, Healthcare", "", "Finance|Retail"],
            "start_date": ["2020-01-01", "", "2030-01-01"],
        },
        dtype="str",
    )


def test_reps_defaults_and_normalisation() -> None:
    checked = check_reps(good_reps())
    assert checked.problems == ()
    f = checked.frame
    assert f["name"].tolist() == ["Ann", "R02", "Cy"]
    assert f["capacity_hours"].tolist() == [140.0, 140.0, 120.0]
    assert f["approximate"].tolist() == [False, True, False]
    assert f["segment"].isna().tolist() == [True, True, False]
    assert f["industries"].tolist()[0] == "Retail;Healthcare"
    assert f["start_date"].iloc[2] == pd.Timestamp("2030-01-01")  # a planned hire is fine
    assert any("default 140" in n for n in checked.notes)


def test_reps_region_and_district_headers_and_blanks() -> None:
    frame = good_reps().assign(**{"Sales Region": ["East", "n/a", " East "], "Team": "Metro"})
    f = check_reps(frame).frame
    assert f["region"].tolist()[0::2] == ["East", "East"] and pd.isna(f["region"].iloc[1])
    assert f["district"].eq("Metro").all()


@pytest.mark.parametrize(
    ("column", "value", "text"),
    [
        ("capacity_hours", "0", "greater than 0"),
        ("capacity_hours", "2000", "hours in a month"),
        ("capacity_hours", "lots", "not a number"),
        ("rep_id", "R01", "used by more than one row"),
        ("home_lat", "91", "outside -90..90"),
        ("segment", "Galactic", "unknown segment"),
        ("start_date", "someday", "not a date"),
    ],
)
def test_rep_defects(column: str, value: str, text: str) -> None:
    frame = good_reps()
    frame.loc[2, column] = value
    checked = check_reps(frame)
    assert len(checked.problems) == 1, checked.problems
    p = checked.problems[0]
    assert (p.row, p.column) == (4, column)
    assert text in p.message


def test_rep_without_any_home_is_a_problem() -> None:
    frame = good_reps()
    frame.loc[1, "home_zip"] = ""
    p = check_reps(frame).problems[0]
    assert p.row == 3
    assert "no location" in p.message


# ---------------------------------------------------------------- many problems


def test_problems_are_capped_per_check_and_summarised() -> None:
    frame = pd.concat([good_accounts()] * 30, ignore_index=True)
    frame["account_id"] = [f"A{i}" for i in range(len(frame))]
    frame["acv"] = "lots"
    checked = check_accounts(frame, limit=50)
    assert checked.bad.all()
    assert len(checked.problems) == 51
    summary = checked.problems[-1]
    assert summary.message.startswith(f"{len(frame) - 50:,} more rows have the same problem")


def test_the_defective_file_reports_every_defect() -> None:
    """The dozen-defect fixture: each defect with its row, column, value and fix."""
    with pytest.raises(InputError) as info:
        load_accounts(DATA / "defective_accounts.csv", rep_ids=["R01", "R02", "R03"])
    got = {(p.row, p.column): p for p in info.value.problems}
    expected = {
        (14, "account_id"): ("A002", "used by more than one row (rows 3, 14)"),
        (15, "lat"): ("forty", "not a number"),
        (16, "lat"): ("-73.9857", "look swapped"),
        (17, "lat"): ("0", "(0, 0)"),
        (18, "lon"): ("71.0760", "sign looks wrong"),
        (19, "lat"): ("142.8142", "look swapped"),
        (20, "zip"): ("99999", "not found"),
        (21, "zip"): ("ABCDE", "not a 5-digit"),
        (22, "segment"): ("Huge", "unknown segment"),
        (23, "employees"): ("-5", "negative"),
        (24, "acv"): ("lots", "not a number"),
        (25, "win_rate"): ("1.7", "between 0 and 1"),
        (26, "tier"): ("4", "unknown tier"),
        (27, "owner"): ("R99", "not a rep_id"),
        (28, "last_activity"): ("2024-13-45", "not a date"),
        (29, "locked"): ("maybe", "yes/no"),
        (30, "account_id"): ("", "blank"),
        (31, "workload_hours"): ("900", "hours in a month"),
        (32, "lat"): (None, "no location"),
        (33, "lon"): ("", "blank but latitude is given"),
        (34, "last_activity"): ("2999-01-01", "in the future"),
        (35, "zip"): ("90210", "km from this row's coordinates"),
    }
    assert set(got) == set(expected)
    for key, (value, text) in expected.items():
        assert got[key].value == value, key
        assert text in got[key].message, (key, got[key].message)
        assert got[key].fix, key
    report = str(info.value)
    assert report.startswith(f"defective_accounts.csv: {len(expected)} problems found")
    assert "row 24, column 'acv': not a number (value: 'lots'). Fix:" in report


def test_format_report_one_line_per_problem() -> None:
    problems = [
        Problem(None, "account_id", None, "required column 'account_id' is missing", "add it"),
        Problem(7, "lat", "95", "latitude is outside -90..90", "use degrees"),
    ]
    text = format_report(problems, source="a.geojson", row_label="feature")
    lines = text.splitlines()
    assert lines[0] == "a.geojson: 2 problems found"
    assert lines[1].startswith("  column 'account_id': required column")
    assert lines[2] == (
        "  feature 7, column 'lat': latitude is outside -90..90 (value: '95'). Fix: use degrees"
    )
    assert format_report([]) == "no problems"


def test_records_for_a_table() -> None:
    with pytest.raises(InputError) as info:
        load_accounts(with_row(acv="lots"))
    records = info.value.to_records()
    assert records == [
        {"row": 14, "column": "acv", "value": "lots", "problem": "not a number",
         "fix": "write a plain number, e.g. 12000"},
    ]  # fmt: skip


# ---------------------------------------------------------------------- properties

CELL = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", " ", "nan", "NA", "-", "1e400", "-0", "0x1F", "12,5", "½", "∞", "None",
                     "2024-02-30", "T4", "yes", "95", "-200", "35%", "$", "1,2,3", "\x00"]),
)  # fmt: skip
COLUMNS = [
    "account_id", "name", "lat", "lon", "zip", "segment", "employees", "acv", "win_rate",
    "tier", "workload_hours", "owner", "last_activity", "locked",
]  # fmt: skip


@given(st.dictionaries(st.sampled_from(COLUMNS), CELL, min_size=1))
def test_any_malformed_row_gives_input_error_or_a_clean_load(cells: dict[str, str]) -> None:
    frame = with_row(**cells)
    try:
        result = load_accounts(frame, rep_ids=["R01"])
    except InputError as exc:
        assert exc.problems
        assert all(isinstance(p, Problem) and p.message and p.fix for p in exc.problems)
        assert all(p.row is None or 2 <= p.row <= 14 for p in exc.problems)
    else:
        assert len(result.frame) == 13


@given(st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=6))
def test_arbitrary_tables_never_crash(rows: list[list[str]]) -> None:
    frame = pd.DataFrame(rows, columns=["account_id", "lat", "lon"], dtype="str")
    try:
        result = load_accounts(frame, drop_invalid=True)
    except InputError as exc:
        assert exc.problems
    else:
        assert result.frame["account_id"].notna().all()
        assert result.frame["lat"].between(-90, 90).all()
        assert len(result.frame) + len({p.row for p in result.dropped}) == len(rows)


def test_na_owner_means_unassigned() -> None:
    checked = check_accounts(with_row(owner="N/A", industry="-"), rep_ids=["R01"])
    assert checked.problems == ()
    assert pd.isna(checked.frame["owner"].iloc[-1])


def _typed_column(kind: str, values: list[object]) -> pd.Series:
    if kind == "Int64":
        return pd.Series([v if isinstance(v, int) else None for v in values], dtype="Int64")
    if kind == "float":
        return pd.Series([float(v) if isinstance(v, int | float) else np.nan for v in values])
    if kind == "boolean":
        return pd.Series([bool(v) if isinstance(v, int) else None for v in values],
                         dtype="boolean")  # fmt: skip
    if kind == "category":
        return pd.Series([str(v) for v in values], dtype="category")
    if kind == "datetime":
        return pd.Series(pd.to_datetime([1_700_000_000 + 86_400 * (hash(str(v)) % 999)
                                         for v in values], unit="s", utc=True))  # fmt: skip
    return pd.Series(values, dtype=object)


@given(
    st.sampled_from(COLUMNS),
    st.sampled_from(["Int64", "float", "boolean", "category", "datetime", "object"]),
    st.lists(st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.text(max_size=5),
                       st.none(), st.booleans()), min_size=12, max_size=12),
)  # fmt: skip
def test_any_column_dtype_gives_input_error_or_a_clean_load(
    column: str, kind: str, values: list[object]
) -> None:
    frame = good_accounts().astype(object)
    frame[column] = _typed_column(kind, values)
    try:
        result = load_accounts(frame, rep_ids=["R01"])
    except InputError as exc:
        assert all(p.message and p.fix for p in exc.problems)
    else:
        assert len(result.frame) == 12
