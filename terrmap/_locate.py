"""Location checks: coordinate ranges, swapped or sign-flipped pairs, null island, ZIPs.

A row is placed by its lat/lon, or by its ZIP centre when both coordinates are blank
(flagged ``approximate``). Wrong coordinates are reported, never silently replaced by
the ZIP: out-of-range values (with a hint when they look like projected metres), a
swapped pair, (0, 0), Antarctica, points far from all other rows that land among
them once swapped or sign-flipped, and coordinates far from their own ZIP's centre.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from terrmap._cells import factor, missing_text, take, take_text, to_coordinate
from terrmap._problems import Collector, count_text, head_text
from terrmap._zips import normalize_zips, zip_centres
from terrmap.errors import Problem
from terrmap.geodesy import haversine_km
from terrmap.schema import Kind, suggest_column

__all__ = ["ZIP_MISMATCH_KM", "Where", "check_location"]

#: Coordinates further than this from their own ZIP's centre are a problem.
ZIP_MISMATCH_KM = 300.0


@dataclass(frozen=True)
class Where:
    """Canonical names of one table's location columns."""

    lat: str
    lon: str
    zip: str
    what: str  # "account" / "rep home", for messages


def check_location(
    frame: pd.DataFrame,
    src: Mapping[str, str],
    col: Collector,
    where: Where,
    *,
    kind: Kind,
    decimal_comma: bool,
) -> tuple[np.ndarray, np.ndarray, pd.Series, np.ndarray]:
    """Parse and check lat/lon/ZIP; returns ``(lat, lon, zip, approximate)``.

    ``src`` maps canonical names to the file's columns; problems go to ``col``.
    """
    n = len(frame)
    lat_c, lon_c, zip_c = src.get(where.lat), src.get(where.lon), src.get(where.zip)
    zips, approx = missing_text(n), np.zeros(n, dtype=bool)
    cols = [str(c) for c in frame.columns]
    if lat_c is None and lon_c is None and zip_c is None:
        col.file.append(_no_location_columns(where, cols, kind))
        return np.full(n, np.nan), np.full(n, np.nan), zips, approx
    if (lat_c is None) != (lon_c is None):
        col.missing(
            where.lon if lon_c is None else where.lat,
            cols,
            kind,
            "latitude and longitude come in pairs",
        )
    lat, bad_lat = _coordinate(frame, lat_c, "lat", col, decimal_comma=decimal_comma)
    lon, bad_lon = _coordinate(frame, lon_c, "lon", col, decimal_comma=decimal_comma)
    has_lat, has_lon = np.isfinite(lat), np.isfinite(lon)
    flagged = np.zeros(n, dtype=bool)
    if lat_c is not None and lon_c is not None:
        fix_half = "fill in both coordinates, or clear both and give a ZIP"
        col.add(
            has_lat & ~has_lon & ~bad_lon,
            lon_c,
            frame[lon_c],
            "longitude is blank but latitude is given",
            fix_half,
        )
        col.add(
            has_lon & ~has_lat & ~bad_lat,
            lat_c,
            frame[lat_c],
            "latitude is blank but longitude is given",
            fix_half,
        )
        flagged = _check_ranges(lat, lon, (lat_c, lon_c), frame, col)
    unplaced = ~has_lat & ~has_lon & ~bad_lat & ~bad_lon
    if zip_c is not None:
        zips, approx, given = _locate_by_zip(
            frame, zip_c, unplaced, has_lat & has_lon & ~flagged, lat, lon, col
        )
        unplaced &= ~given
    first = lat_c or zip_c or where.zip
    col.add(
        unplaced,
        first,
        None,
        f"no location: the {where.what}'s coordinates and ZIP are blank",
        f"give '{where.lat}' and '{where.lon}', or a 5-digit US ZIP in '{where.zip}'",
    )
    return lat, lon, zips, approx


def _no_location_columns(where: Where, cols: Sequence[str], kind: Kind) -> Problem:
    near = [
        c
        for c in (suggest_column(w, cols, kind=kind) for w in (where.lat, where.lon, where.zip))
        if c
    ]
    fix = (
        f"rename {', '.join(repr(c) for c in near)} or choose them on the Data page"
        if near
        else f"add '{where.lat}' and '{where.lon}' columns (decimal degrees) "
        f"or a '{where.zip}' column"
    )
    message = f"no location columns: need '{where.lat}' and '{where.lon}' or '{where.zip}'"
    return Problem(None, where.lat, None, message, fix)


def _coordinate(
    frame: pd.DataFrame, c: str | None, axis: str, col: Collector, *, decimal_comma: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One coordinate column parsed (NaN when absent): ``(values, bad)``."""
    if c is None:
        return np.full(len(frame), np.nan), np.zeros(len(frame), dtype=bool)
    values, bad = to_coordinate(frame[c], axis, decimal_comma=decimal_comma)
    name, example = ("latitude", "40.7128") if axis == "lat" else ("longitude", "-74.006")
    col.add(bad, c, frame[c], f"{name} is not a number", f"write decimal degrees, e.g. {example}")
    return values, bad


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _check_ranges(
    lat: np.ndarray, lon: np.ndarray, cols: tuple[str, str], frame: pd.DataFrame, col: Collector
) -> np.ndarray:
    """Range, swap, (0, 0) and Antarctica checks; returns the rows flagged."""
    lat_c, lon_c = cols
    has_lat, has_lon = np.isfinite(lat), np.isfinite(lon)
    with np.errstate(invalid="ignore"):
        lat_out = has_lat & (np.abs(lat) > 90)
        lon_out = has_lon & (np.abs(lon) > 180)
        swapped = lat_out & (np.abs(lat) <= 180) & has_lon & (np.abs(lon) <= 90)
    col.add(
        swapped,
        lat_c,
        frame[lat_c],
        lambda i: [
            f"latitude {_fmt(lat[j])} is outside -90..90 while longitude "
            f"{_fmt(lon[j])} would be a valid latitude: lat and lon look swapped"
            for j in i
        ],
        "swap the lat and lon values (or the two column headers)",
    )
    _outside(lat, lat_out & ~swapped, lat_c, "latitude", 90, frame, col)
    _outside(lon, lon_out & ~swapped, lon_c, "longitude", 180, frame, col)
    in_range = has_lat & has_lon & ~lat_out & ~lon_out
    zero = in_range & (lat == 0) & (lon == 0)
    col.add(
        zero,
        lat_c,
        frame[lat_c],
        "(0, 0) is a placeholder ('null island'), not a location",
        "enter the real coordinates, or clear both and give a ZIP",
    )
    polar = in_range & ~zero & (lat < -60)
    col.add(
        polar,
        lat_c,
        frame[lat_c],
        lambda i: [
            f"latitude {_fmt(lat[j])} is in Antarctica"
            + (
                f"; with longitude {_fmt(lon[j])} lat and lon look swapped"
                if abs(lon[j]) <= 90
                else ""
            )
            for j in i
        ],
        lambda i: [
            "swap the lat and lon values"
            if abs(lon[j]) <= 90
            else "check the value and its sign (south is negative)"
            for j in i
        ],
    )
    flagged: np.ndarray = lat_out | lon_out | zero | polar
    region: np.ndarray = _check_region(lat, lon, in_range & ~flagged, cols, frame, col)
    return np.asarray(flagged | region, dtype=bool)


def _outside(
    values: np.ndarray,
    mask: np.ndarray,
    column: str,
    name: str,
    bound: int,
    frame: pd.DataFrame,
    col: Collector,
) -> None:
    col.add(
        mask,
        column,
        frame[column],
        f"{name} is outside -{bound}..{bound}",
        lambda i: [
            "the value looks like projected metres: convert to WGS84 degrees"
            if abs(values[j]) > 1000
            else f"use decimal degrees between -{bound} and {bound}"
            for j in i
        ],
    )


def _check_region(
    lat: np.ndarray,
    lon: np.ndarray,
    ok: np.ndarray,
    cols: tuple[str, str],
    frame: pd.DataFrame,
    col: Collector,
) -> np.ndarray:
    """Points far from all others that land among them once swapped or sign-flipped."""
    out = np.zeros(len(lat), dtype=bool)
    if ok.sum() < 10:
        return out
    clat, clon = float(np.median(lat[ok])), float(np.median(lon[ok]))
    idx = np.flatnonzero(ok)
    dist = haversine_km(lat[idx], lon[idx], clat, clon)
    limit = max(2.0 * float(np.quantile(dist, 0.9)), 300.0)
    far = idx[dist > limit]
    if far.size == 0:
        return out
    la, lo = lat[far], lon[far]
    variants = (
        ("swap", lo, la, np.abs(lo) <= 90),
        ("lon", la, -lo, lo != 0),
        ("lat", -la, lo, la != 0),
    )
    kind = np.full(far.size, "", dtype=object)
    for name, vlat, vlon, valid in variants:
        near = valid & (haversine_km(vlat, vlon, clat, clon) <= limit) & (kind == "")
        kind[near] = name
    d_far = dict(zip(far.tolist(), dist[dist > limit].tolist(), strict=True))
    for name, column, text, fix in (
        ("swap", cols[0], "lat and lon look swapped", "swap the lat and lon values"),
        ("lon", cols[1], "the longitude's sign looks wrong", "flip the sign (west is negative)"),
        ("lat", cols[0], "the latitude's sign looks wrong", "flip the sign (south is negative)"),
    ):
        rows = far[kind == name]
        mask = np.zeros(len(lat), dtype=bool)
        mask[rows] = True
        col.add(
            mask,
            column,
            frame[column],
            _far_messages(lat, lon, d_far, text),
            fix,
        )
        out |= mask
    return out


def _far_messages(
    lat: np.ndarray, lon: np.ndarray, dist: Mapping[int, float], text: str
) -> Callable[[np.ndarray], list[str]]:
    def messages(idx: np.ndarray) -> list[str]:
        return [
            f"point ({_fmt(lat[j])}, {_fmt(lon[j])}) is {dist[int(j)]:,.0f} km from the "
            f"other rows; {text}"
            for j in idx
        ]

    return messages


def _locate_by_zip(
    frame: pd.DataFrame,
    zip_c: str,
    unplaced: np.ndarray,
    good: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    col: Collector,
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Fill the coordinates of ``unplaced`` rows from ZIP centres (in place).

    ``good`` marks rows whose own coordinates passed the checks; they are compared
    with their ZIP's centre. Returns ``(zip, approximate, given)``; ``given`` marks
    rows with a non-blank ZIP.
    """
    raw = frame[zip_c]
    codes, texts = factor(raw)  # a few thousand distinct ZIPs, however many rows
    norm = normalize_zips(pd.Series(texts, dtype="str"))
    zlat_u, zlon_u = zip_centres(norm)
    given_u = np.array([t is not None for t in texts], dtype=bool)
    valid_u = norm.notna().to_numpy(dtype=bool)
    malformed = take(codes, given_u & ~valid_u, False, "bool")
    unknown = take(codes, given_u & valid_u & np.isnan(zlat_u), False, "bool")
    zlat = take(codes, zlat_u, np.nan, "float64")
    zlon = take(codes, zlon_u, np.nan, "float64")
    zips = take_text(codes, norm)
    given = take(codes, given_u, False, "bool")
    use = unplaced & given
    col.add(
        use & malformed,
        zip_c,
        raw,
        "not a 5-digit US ZIP code",
        "write a 5-digit ZIP such as 02134, or give lat/lon",
    )
    col.add(
        use & unknown,
        zip_c,
        raw,
        "ZIP code not found in the US ZIP list",
        "check the ZIP, or give lat/lon",
    )
    approx = use & ~np.isnan(zlat)
    lat[approx], lon[approx] = zlat[approx], zlon[approx]
    ignored = ~use & (malformed | unknown)
    if ignored.any():
        col.notes.append(
            f"{count_text(int(ignored.sum()), 'ZIP code')} in '{zip_c}' not known as US ZIPs "
            f"(rows {head_text(col.rows[ignored])}); those rows are placed by their "
            "coordinates."
        )
    _check_zip_distance(good, (lat, lon), (zlat, zlon), zips, raw, zip_c, col)
    return zips, approx, given


def _check_zip_distance(
    good: np.ndarray,
    point: tuple[np.ndarray, np.ndarray],
    centre: tuple[np.ndarray, np.ndarray],
    zips: pd.Series,
    raw: pd.Series,
    zip_c: str,
    col: Collector,
) -> None:
    """Coordinates more than :data:`ZIP_MISMATCH_KM` from their own ZIP's centre."""
    (lat, lon), (zlat, zlon) = point, centre
    check = good & ~np.isnan(zlat)
    dist = np.full(len(lat), np.nan)
    dist[check] = haversine_km(lat[check], lon[check], zlat[check], zlon[check])
    with np.errstate(invalid="ignore"):
        off = check & (dist > ZIP_MISMATCH_KM)
    col.add(
        off,
        zip_c,
        raw,
        lambda i: [
            f"ZIP {zips.iloc[j]} is centred {dist[j]:,.0f} km from this row's "
            f"coordinates ({_fmt(lat[j])}, {_fmt(lon[j])})"
            for j in i
        ],
        "correct the coordinates or the ZIP (or clear the ZIP)",
    )
