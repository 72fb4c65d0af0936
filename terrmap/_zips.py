"""Fast ZIP lookups for the location checks.

:func:`terrmap.postal.zips_to_latlon` normalises its input and reindexes the whole ZIP
table by text; the checks look up a few thousand *distinct*, already normalised ZIPs,
so they use a plain array indexed by the ZIP as a number instead (about ten times
faster), built once from :func:`terrmap.postal.zip_table`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from terrmap import postal

__all__ = ["normalize_zips", "zip_centres"]

_ZIP_SPACE = 100_000  # 5-digit ZIP codes as numbers


def normalize_zips(texts: pd.Series) -> pd.Series:
    """:func:`terrmap.postal.normalize_zip`, run only on the cells not already 5 digits."""
    five = texts.str.fullmatch(r"[0-9]{5}").fillna(False).to_numpy(dtype=bool)
    rest = ~five & texts.notna().to_numpy(dtype=bool)
    norm = texts.where(five)
    if rest.any():
        norm[rest] = postal.normalize_zip(texts[rest])
    return norm


def zip_centres(norm: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(lat, lon)`` of each normalised ZIP's centre (NaN where unknown or missing)."""
    lat_of, lon_of = _centres_by_number()
    pos = _zip_numbers(norm)  # -1 picks the trailing NaN
    return lat_of[pos], lon_of[pos]


def _zip_numbers(zips: pd.Series | pd.Index) -> np.ndarray:
    """ZIPs as numbers (int64); -1 where missing or not five ASCII digits.

    :func:`terrmap.postal.normalize_zip` lets other digits (``"١٢٣٤٥"``) through; no
    ZIP is spelled with them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(zips, type=pa.string(), from_pandas=True)
    ascii_zip = pc.match_substring_regex(text, r"^[0-9]{5}$")
    numbers = pc.cast(pc.if_else(ascii_zip, text, pa.scalar(None, pa.string())), pa.int64())
    return np.asarray(pc.fill_null(numbers, -1), dtype=np.int64)


@lru_cache(maxsize=1)
def _centres_by_number() -> tuple[np.ndarray, np.ndarray]:
    """ZIP centres indexed by the ZIP as a number (NaN for unused numbers, and at -1).

    Read-only arrays, built once per process like the table itself.
    """
    table = postal.zip_table()
    number = _zip_numbers(table.index)
    ok = number >= 0
    out = []
    for column in ("lat", "lon"):
        values = np.full(_ZIP_SPACE + 1, np.nan)
        values[number[ok]] = table[column].to_numpy(dtype=float)[ok]
        values.flags.writeable = False
        out.append(values)
    return out[0], out[1]
