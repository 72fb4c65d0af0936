"""Cell parsers (terrmap._cells): text, numbers, coordinates, dates, booleans, lookups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from terrmap._cells import (
    blank,
    factor,
    hhmm,
    lookup,
    missing_text,
    parse_coordinate,
    parse_time,
    take_text,
    text,
    to_bool,
    to_coordinate,
    to_datetime,
    to_float,
    to_time,
)
from terrmap.schema import TIER_ALIASES

CELLS = st.lists(
    st.one_of(
        st.none(),
        st.text(max_size=6),
        st.sampled_from(["", "  ", " a ", "a", "NA", "n/a", "-", "None", "x\t", "\u00a0y"]),
    ),
    max_size=30,
)


@given(CELLS, st.booleans())
def test_factor_of_text_matches_the_generic_path(cells: list[str | None], na: bool) -> None:
    """The text fast path gives what the per-value path gives for the same cells."""
    fast = factor(pd.Series(cells, dtype="str"), na_tokens=na)
    generic = factor(pd.Series(cells, dtype=object), na_tokens=na)
    np.testing.assert_array_equal(fast[0], generic[0])
    assert fast[1] == generic[1]


def test_factor_blanks_and_na_tokens() -> None:
    codes, texts = factor(pd.Series([" a ", None, "NA", "a", "  "], dtype="str"))
    assert [texts[c] if c >= 0 else "<missing>" for c in codes] == [
        "a",
        "<missing>",
        None,
        "a",
        None,
    ]
    _, kept = factor(pd.Series(["NA"], dtype="str"), na_tokens=False)
    assert kept == ["NA"]


def test_factor_of_native_cells() -> None:
    stamps = [pd.Timestamp("2024-05-31"), pd.Timestamp("2024-05-31 09:30"), None]
    assert factor(pd.Series(stamps))[1] == ["2024-05-31", "2024-05-31T09:30:00"]
    assert factor(pd.Series([2108.0, 1.5, np.nan]))[1] == ["2108", "1.5"]
    assert factor(pd.Series([b" id ", 7], dtype=object))[1] == ["id", "7"]


def test_take_text_and_missing_text_are_text_columns() -> None:
    out = take_text(np.array([1, -1, 0, 2]), ["a", "b", None])
    assert out.dtype == "str"
    assert out.isna().tolist() == [False, True, False, True]
    assert out.iloc[0] == "b"
    assert take_text(np.array([0, -1]), pd.Series(["z"], dtype="str")).iloc[0] == "z"
    empty = missing_text(3)
    assert empty.dtype == "str" and empty.isna().all() and len(empty) == 3


def test_text_keeps_ids_and_blanks_na_tokens_only_when_asked() -> None:
    s = pd.Series([" 007 ", "", "N/A", None], dtype="str")
    assert text(s).tolist()[:1] == ["007"]
    assert text(s).isna().tolist() == [False, True, False, True]
    assert text(s, na_tokens=True).isna().tolist() == [False, True, True, True]
    assert text(pd.Series([7, 8])).tolist() == ["7", "8"]
    assert text(pd.Series([7.0, None, "x"], dtype=object)).tolist()[::2] == ["7", "x"]
    assert blank(s).tolist() == [False, True, True, True]


def test_to_float_spellings() -> None:
    cells = ["12", " 3.5 ", "$1,250.50", "1,200", "N/A", "", None, "lots", "inf", "1e3", "-0"]
    values, bad, _ = to_float(pd.Series(cells, dtype="str"))
    assert bad.tolist() == [False] * 7 + [True, True, False, False]
    np.testing.assert_array_equal(values[[0, 1, 2, 3, 9, 10]], [12, 3.5, 1250.5, 1200, 1e3, 0])
    assert np.isnan(values[4:8]).all()


def test_to_float_percentages_and_decimal_comma() -> None:
    values, bad, pct = to_float(pd.Series(["35%", "0.4", "x%"], dtype="str"), percent=True)
    assert values[:2].tolist() == pytest.approx([0.35, 0.4])
    assert pct.tolist() == [True, False, False]
    assert bad.tolist() == [False, False, True]
    comma, bad_c, _ = to_float(
        pd.Series(["40,71", "1.234,5", "€ 3"], dtype="str"), decimal_comma=True
    )
    assert comma.tolist() == pytest.approx([40.71, 1234.5, 3.0])
    assert not bad_c.any()


def test_to_float_native_columns() -> None:
    values, bad, _ = to_float(pd.Series([1, None, 3], dtype="Int64"))
    assert np.isnan(values[1]) and values[2] == 3 and not bad.any()
    _, bad_inf, _ = to_float(pd.Series([1.0, np.inf]))
    assert bad_inf.tolist() == [False, True]
    _, bad_bool, _ = to_float(pd.Series([True, None], dtype="boolean"))
    assert bad_bool.tolist() == [True, False]  # a yes/no is not a number


@given(st.floats(0, 1e9, allow_nan=False).map(lambda x: round(x, 2)), st.booleans())
def test_formatted_money_reads_back(x: float, comma: bool) -> None:
    shown = f"${x:,.2f}"
    if comma:  # European: 1.234.567,89
        shown = shown.replace(",", "_").replace(".", ",").replace("_", ".")
    values, bad, _ = to_float(pd.Series([shown], dtype="str"), decimal_comma=comma)
    assert not bad[0]
    assert values[0] == pytest.approx(x, abs=1e-6)


@given(
    st.integers(0, 179),
    st.integers(0, 59),
    st.floats(0, 59.99).map(lambda s: round(s, 2)),
    st.sampled_from("NSEW"),
)
def test_degrees_minutes_seconds(deg: int, mins: int, secs: float, hemi: str) -> None:
    axis = "lat" if hemi in "NS" else "lon"
    expected = (deg + mins / 60 + secs / 3600) * (-1 if hemi in "SW" else 1)
    for spelled in (f"{deg}°{mins}'{secs}\"{hemi}", f"{deg} {mins} {secs} {hemi}"):
        assert parse_coordinate(spelled, axis) == pytest.approx(expected, abs=1e-9)
    other = "lon" if axis == "lat" else "lat"
    assert np.isnan(parse_coordinate(f"{deg}°{mins}'{secs}\"{hemi}", other))


@pytest.mark.parametrize(
    ("cell", "axis", "expected"),
    [("40.7128 N", "lat", 40.7128), ("S 33.86", "lat", -33.86), ("74.006W", "lon", -74.006),
     ("-74°0'21.6\"", "lon", -74.006), ("north", "lat", np.nan), ("40.7 E", "lat", np.nan)],
)  # fmt: skip
def test_coordinate_spellings(cell: str, axis: str, expected: float) -> None:
    got = parse_coordinate(cell, axis)
    assert np.isnan(got) if np.isnan(expected) else got == pytest.approx(expected)


def test_to_coordinate_only_reparses_what_the_number_parser_rejects() -> None:
    values, bad = to_coordinate(
        pd.Series(["40.5", "40,5", "40°30'N", "far"], dtype="str"), "lat", decimal_comma=False
    )
    assert values[[0, 2]].tolist() == pytest.approx([40.5, 40.5])
    assert bad.tolist() == [False, True, False, True]


def test_to_datetime_spellings_and_range() -> None:
    cells = ["2024-05-31", "05/31/2024", "31.05.2024", "1850-01-01", "2999-01-01", "20240531", ""]
    values, bad, early, late = to_datetime(pd.Series(cells, dtype="str"))
    assert values.dtype == "datetime64[ns]"
    assert (values[:3] == np.datetime64("2024-05-31")).all()
    assert early.tolist() == [False, False, False, True, False, False, False]
    assert late.tolist() == [False, False, False, False, True, False, False]
    assert bad.tolist() == [False] * 5 + [True, False]  # digits alone are not a date
    assert np.isnat(values[3:]).all()


def test_to_datetime_of_native_timestamps() -> None:
    aware = pd.Series(pd.to_datetime(["2024-05-31 22:00"]).tz_localize("America/New_York"))
    values, bad, _, _ = to_datetime(aware)
    assert values[0] == np.datetime64("2024-06-01T02:00")  # kept in UTC
    assert not bad.any()


def test_to_bool_and_lookup() -> None:
    values, bad = to_bool(pd.Series(["yes", "No", "1.0", "", "maybe", None], dtype="str"))
    assert values.tolist() == [True, False, True, False, False, False]
    assert bad.tolist() == [False, False, False, False, True, False]
    codes, mapped, bad_t = lookup(pd.Series(["T1", "tier 2", "3.0", "x", None]), TIER_ALIASES)
    assert [mapped[c] if c >= 0 else None for c in codes] == [1, 2, 3, None, None]
    assert bad_t.tolist() == [False, False, False, True, False]


@pytest.mark.parametrize(
    ("cell", "minutes"),
    [("9:30", 570), ("09:30:00", 570), ("9.30", 570), ("9h30", 570), ("9:30 am", 570),
     ("2 pm", 840), ("12 am", 0), ("12pm", 720), ("14", 840), ("0.375", 540),
     ("25:00", None), ("9:75", None), ("13pm", None), ("noon", None), ("930", None),
     ("1.5", None)],
)  # fmt: skip
def test_time_of_day_spellings(cell: str, minutes: float | None) -> None:
    got = parse_time(cell)
    assert np.isnan(got) if minutes is None else got == minutes


def test_to_time_of_native_cells() -> None:
    import datetime as dt

    values, bad = to_time(pd.Series([dt.time(9, 30), None, "x", "17:00", 0.5], dtype=object))
    np.testing.assert_array_equal(values, [570.0, np.nan, np.nan, 1020.0, 720.0])
    assert bad.tolist() == [False, False, True, False, False]
    assert hhmm(1439.99) == "23:59"
