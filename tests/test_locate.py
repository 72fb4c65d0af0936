"""Location checks (terrmap._locate): placement rules, ranges, region checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from terrmap._locate import Where, check_location
from terrmap._problems import Collector

WHERE = Where("lat", "lon", "zip", "account")


def locate(frame: pd.DataFrame) -> tuple[tuple[np.ndarray, ...], Collector]:
    col = Collector(np.arange(2, len(frame) + 2), limit=100)
    src = {c: c for c in frame.columns}
    lat, lon, zips, approx = check_location(
        frame, src, col, WHERE, kind="accounts", decimal_comma=False
    )
    return (lat, lon, zips.to_numpy(dtype=object), approx), col


def test_placement_rules() -> None:
    frame = pd.DataFrame(
        {
            "lat": ["40.7128", "", "forty", "", "", "95"],
            "lon": ["-74.0060", "", "-74.0", "", "", "-74"],
            "zip": ["10007", "2134", "10007", "", "ABCDE", "10007"],
        },
        dtype="str",
    )
    (lat, lon, zips, approx), col = locate(frame)
    assert approx.tolist() == [False, True, False, False, False, False]
    assert (lat[1], lon[1]) == pytest.approx((42.3535, -71.1329))  # placed at the ZIP centre
    assert np.isnan(lat[2])  # a bad coordinate is reported, never replaced by the ZIP
    assert lat[5] == 95  # so is an out-of-range one (the row is flagged)
    assert zips[:2].tolist() == ["10007", "02134"]
    assert pd.isna(zips[4])
    found = {(p.row, p.column): p.message for p in col.problems}
    assert set(found) == {(4, "lat"), (5, "lat"), (6, "zip"), (7, "lat")}
    assert "not a number" in found[(4, "lat")]
    assert "no location" in found[(5, "lat")]
    assert "5-digit" in found[(6, "zip")]
    assert col.bad.tolist() == [False, False, True, True, True, True]


def test_zip_only_table_and_no_location_columns() -> None:
    (lat, _, _, approx), col = locate(pd.DataFrame({"zip": ["10007"]}, dtype="str"))
    assert approx.all() and lat[0] == pytest.approx(40.7135, abs=0.01)
    assert col.problems == [] and col.file == []
    _, col = locate(pd.DataFrame({"name": ["x"]}, dtype="str"))
    assert "no location columns" in col.file[0].message


@pytest.mark.parametrize(
    ("centre", "point", "column", "text"),
    [((20.0, 45.0), (45.1, 20.1), "lat", "lat and lon look swapped"),
     ((40.7, -74.0), (40.7128, 74.006), "lon", "longitude's sign looks wrong"),
     ((40.7, -74.0), (-40.7128, -74.006), "lat", "latitude's sign looks wrong")],
)  # fmt: skip
def test_region_check_names_the_likely_mistake(
    centre: tuple[float, float], point: tuple[float, float], column: str, text: str
) -> None:
    lat = [centre[0] + i / 20 for i in range(11)] + [point[0]]
    lon = [centre[1] - i / 20 for i in range(11)] + [point[1]]
    frame = pd.DataFrame({"lat": [str(v) for v in lat], "lon": [str(v) for v in lon]}, dtype="str")
    _, col = locate(frame)
    (p,) = col.problems
    assert (p.row, p.column) == (13, column)
    assert text in p.message
    assert "km from the other rows" in p.message


def test_region_check_needs_ten_placed_rows() -> None:
    frame = pd.DataFrame(
        {"lat": ["40.7"] * 8 + ["40.7128"], "lon": ["-74.0"] * 8 + ["74.006"]}, dtype="str"
    )
    assert locate(frame)[1].problems == []
