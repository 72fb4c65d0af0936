"""Fast ZIP lookups (terrmap._zips) agree with terrmap.postal."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from terrmap import postal
from terrmap._zips import normalize_zips, zip_centres

ZIP_LIKE = st.one_of(
    st.none(),
    st.from_regex(r"\d{3,5}(-\d{4}|\.0)?", fullmatch=True),  # includes non-ASCII digits
    st.sampled_from(["02134", "2134", "02134-1234", "99999", "00000", "10007", "ABCDE"]),
    st.text(max_size=7),
)


@given(st.lists(ZIP_LIKE, max_size=25))
def test_zip_lookup_matches_postal(zips: list[str | None]) -> None:
    """Normalising only what needs it and the array lookup agree with terrmap.postal."""
    cells = pd.Series([z.strip() if z else z for z in zips], dtype="str")
    norm = normalize_zips(cells)
    expected = postal.normalize_zip(cells)
    assert norm.isna().tolist() == expected.isna().tolist()
    assert norm.dropna().tolist() == expected.dropna().tolist()
    lat, lon = zip_centres(norm)
    want_lat, want_lon, _ = postal.zips_to_latlon(cells)
    np.testing.assert_array_equal(lat, want_lat)
    np.testing.assert_array_equal(lon, want_lon)


def test_every_known_zip_is_found() -> None:
    table = postal.zip_table()
    lat, lon = zip_centres(pd.Series(table.index, dtype="str"))
    np.testing.assert_array_equal(lat, table["lat"].to_numpy())
    np.testing.assert_array_equal(lon, table["lon"].to_numpy())
