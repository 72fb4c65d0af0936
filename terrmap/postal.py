"""Offline US ZIP-code centroids (from the ``zipcodes`` package, no network).

The table is built once per process and is read-only. ZIP centroids are coarse:
accounts placed by ZIP are flagged approximate and are not routed to without a
real address.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["normalize_zip", "zip_table", "zips_to_latlon"]


@lru_cache(maxsize=1)
def zip_table() -> pd.DataFrame:
    """All US ZIP codes with their centroid, indexed by the 5-digit ZIP string.

    Columns: ``lat``, ``lon`` (float), ``city``, ``state``, ``county``, ``zip_type``
    (STANDARD / PO BOX / UNIQUE / MILITARY), ``active`` (bool). Treat as read-only.

    Building the table from the ``zipcodes`` package takes most of a second, so it is
    kept as Parquet in the user cache folder (``TERRMAP_CACHE_DIR``, default
    ``~/.cache/terrmap``), keyed by the package version; a cache that cannot be read or
    written is simply rebuilt.
    """
    from importlib.metadata import version

    path = _cache_dir() / f"zipcodes-{version('zipcodes')}.parquet"
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError):
        pass
    table = _build_zip_table()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        table.to_parquet(tmp)
        os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    except OSError:
        pass
    return table


def _cache_dir() -> Path:
    env = os.environ.get("TERRMAP_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "terrmap"


def _build_zip_table() -> pd.DataFrame:
    import zipcodes

    rows = zipcodes.list_all()  # type: ignore[no-untyped-call]
    df = pd.DataFrame.from_records(
        [
            (
                r["zip_code"],
                r["lat"],
                r["long"],
                r["city"],
                r["state"],
                r["county"],
                r["zip_code_type"],
                bool(r["active"]),
            )
            for r in rows
        ],
        columns=["zip", "lat", "lon", "city", "state", "county", "zip_type", "active"],
    )
    df["lat"] = pd.to_numeric(df["lat"], errors="coerce")
    df["lon"] = pd.to_numeric(df["lon"], errors="coerce")
    # A handful of records carry no usable centroid; they cannot place an account.
    df = df[df["lat"].notna() & df["lon"].notna() & ~((df["lat"] == 0) & (df["lon"] == 0))]
    return df.set_index("zip").sort_index()


def normalize_zip(values: pd.Series) -> pd.Series:
    """Normalise ZIP codes to 5-digit strings; unparseable entries become ``<NA>``.

    Accepts ``2134`` (leading zero lost by a spreadsheet), ``"02134"``, ``"02134-1234"``
    and ``2134.0``.
    """
    s = values.astype("string").str.strip()
    s = s.str.replace(r"\.0$", "", regex=True)
    s = s.str.replace(r"^([0-9]{5})-[0-9]{4}$", r"\1", regex=True)
    ok = s.str.fullmatch(r"[0-9]{3,5}").fillna(False).astype(bool)
    out = s.where(ok).str.zfill(5)
    return out


def zips_to_latlon(zips: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Look ZIPs up in :func:`zip_table` (vectorised join).

    Returns ``(lat, lon, found)``; ``lat``/``lon`` are NaN where ``found`` is False.
    """
    table = zip_table()
    norm = normalize_zip(zips)
    joined = table.reindex(norm.fillna("").to_numpy())
    lat = joined["lat"].to_numpy(dtype=float)
    lon = joined["lon"].to_numpy(dtype=float)
    found = ~np.isnan(lat)
    return lat, lon, found
