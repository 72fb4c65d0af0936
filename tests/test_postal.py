from __future__ import annotations

import numpy as np
import pandas as pd

from terrmap.postal import normalize_zip, zip_table, zips_to_latlon


def test_zip_table_is_offline_and_complete() -> None:
    table = zip_table()
    assert len(table) > 40_000
    assert table.index.is_unique
    assert table["lat"].between(-90, 90).all()
    assert table.loc["10001", "state"] == "NY"


def test_normalize_zip_restores_leading_zeros_and_strips_plus4() -> None:
    out = normalize_zip(pd.Series(["02134", 2134, "10001-1234", "2134.0", "abc", None]))
    assert out.tolist()[:4] == ["02134", "02134", "10001", "02134"]
    assert out.isna().tolist()[4:] == [True, True]


def test_zips_to_latlon_flags_unknown() -> None:
    lat, lon, found = zips_to_latlon(pd.Series(["10001", "00000", None]))
    assert found.tolist() == [True, False, False]
    assert 40 < lat[0] < 41 and -75 < lon[0] < -73
    assert np.isnan(lat[1:]).all()


def test_zip_table_cache_round_trips(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from terrmap import postal

    monkeypatch.setenv("TERRMAP_CACHE_DIR", str(tmp_path))
    postal.zip_table.cache_clear()
    try:
        built = postal.zip_table()
        assert len(list(tmp_path.glob("zipcodes-*.parquet"))) == 1
        postal.zip_table.cache_clear()
        cached = postal.zip_table()
        pd.testing.assert_frame_equal(built, cached)
        # A corrupt cache is rebuilt, not fatal.
        next(tmp_path.glob("zipcodes-*.parquet")).write_bytes(b"not parquet")
        postal.zip_table.cache_clear()
        pd.testing.assert_frame_equal(postal.zip_table(), built)
    finally:
        postal.zip_table.cache_clear()
