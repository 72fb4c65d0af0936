"""Exports of a day plan for a rep's phone (Google Maps links, GPX, CSV) and ``terrmap route``.

Google Maps directions URLs accept an origin, a destination and a limited number of
waypoints (9 on desktop and in the apps; mobile *browsers* honour only 3), so a longer day
is split into consecutive legs, each starting where the previous one ended. GPX 1.1 is
written with :mod:`xml.etree` (waypoints for the stops, a route home -> stops -> home and,
when a road network is given, a track along the roads).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
import pandas as pd

from terrmap.errors import InputError, Problem
from terrmap.load import load_accounts
from terrmap.network import RoadNetwork
from terrmap.network_io import load_network
from terrmap.routing import DayPlan, plan_day
from terrmap.scoring import score_accounts
from terrmap.travel import EstimateModel, Travel, calibrate, travel_matrix
from terrmap.travel_geometry import path_coords

__all__ = [
    "GPX_NS",
    "MAX_WAYPOINTS",
    "calibrate_command",
    "google_maps_urls",
    "plan_to_csv",
    "plan_to_gpx",
    "route_command",
    "route_csv",
    "route_points",
]

GPX_NS = "http://www.topografix.com/GPX/1/1"
#: Waypoints a Google Maps directions URL accepts besides origin and destination.
MAX_WAYPOINTS = 9
_MAPS_DIR = "https://www.google.com/maps/dir/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def route_points(plan: DayPlan) -> list[tuple[float, float]]:
    """``(lat, lon)`` of home, every stop in order, and home again."""
    return [plan.home, *((s.lat, s.lon) for s in plan.stops), plan.home]


def google_maps_urls(plan: DayPlan, *, max_waypoints: int = MAX_WAYPOINTS) -> list[str]:
    """Directions links covering the whole day, each with at most ``max_waypoints`` stops.

    Link ``k + 1`` starts at the destination of link ``k``, so opening them in turn drives
    the full route. An empty day gives no link.
    """
    if max_waypoints < 0:
        raise ValueError(f"max_waypoints must be >= 0, got {max_waypoints}")
    if not plan.stops:
        return []
    pts = route_points(plan)
    step = max_waypoints + 1
    urls = []
    for first in range(0, len(pts) - 1, step):
        last = min(first + step, len(pts) - 1)
        query = {
            "api": "1",
            "origin": _latlon(pts[first]),
            "destination": _latlon(pts[last]),
            "travelmode": "driving",
        }
        if last - first > 1:
            query["waypoints"] = "|".join(_latlon(p) for p in pts[first + 1 : last])
        urls.append(_MAPS_DIR + "?" + urlencode(query, quote_via=quote, safe=","))
    return urls


def _latlon(p: tuple[float, float]) -> str:
    return f"{p[0]:.6f},{p[1]:.6f}"


def plan_to_gpx(plan: DayPlan, *, network: RoadNetwork | None = None, name: str = "") -> str:
    """The day as a GPX 1.1 document (UTF-8 text).

    Times are local wall-clock times and therefore go in the descriptions, not in GPX
    ``<time>`` elements (which must be UTC).
    """
    ET.register_namespace("", GPX_NS)
    ET.register_namespace("xsi", _XSI)
    title = name or f"Route {plan.date:%Y-%m-%d}"
    root = ET.Element(
        _q("gpx"),
        {
            "version": "1.1",
            "creator": "terrmap",
            f"{{{_XSI}}}schemaLocation": f"{GPX_NS} https://www.topografix.com/GPX/1/1/gpx.xsd",
        },
    )
    meta = ET.SubElement(root, _q("metadata"))
    ET.SubElement(meta, _q("name")).text = title
    ET.SubElement(meta, _q("desc")).text = (
        f"{len(plan.stops)} stops, {plan.drive_min:.0f} min driving, "
        f"{plan.service_min:.0f} min on site; travel model {plan.model}"
    )
    for s in plan.stops:
        wpt = ET.SubElement(root, _q("wpt"), _attrs(s.lat, s.lon))
        ET.SubElement(wpt, _q("name")).text = f"{s.order}. {s.name or s.account_id}"
        ET.SubElement(wpt, _q("desc")).text = (
            f"account {s.account_id}; arrive {s.arrival:%H:%M}, {s.service_min:.0f} min on "
            f"site, leave {s.departure:%H:%M}"
        )
        ET.SubElement(wpt, _q("type")).text = "stop"
    rte = ET.SubElement(root, _q("rte"))
    ET.SubElement(rte, _q("name")).text = title
    labels = ["Home", *(f"{s.order}. {s.name or s.account_id}" for s in plan.stops), "Home"]
    for (lat, lon), label in zip(route_points(plan), labels, strict=True):
        ET.SubElement(ET.SubElement(rte, _q("rtept"), _attrs(lat, lon)), _q("name")).text = label
    if network is not None and plan.stops:
        pts = route_points(plan)
        trk = ET.SubElement(root, _q("trk"))
        ET.SubElement(trk, _q("name")).text = f"{title} (roads, {network.model})"
        seg = ET.SubElement(trk, _q("trkseg"))
        for lat, lon in path_coords(network, [p[0] for p in pts], [p[1] for p in pts]):
            ET.SubElement(seg, _q("trkpt"), _attrs(lat, lon))
    ET.indent(root)
    body: str = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _q(tag: str) -> str:
    """A GPX element name with its namespace."""
    return f"{{{GPX_NS}}}{tag}"


def _attrs(lat: float, lon: float) -> dict[str, str]:
    return {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}"}


def plan_to_csv(plan: DayPlan) -> str:
    """The stops with times, drive and service minutes, as CSV text (for a phone/CRM)."""
    frame = plan.to_frame()
    for col in ("arrival", "start", "departure"):
        frame[col] = frame[col].map(lambda t: t.strftime("%Y-%m-%d %H:%M"))
    for col in ("drive_min", "wait_min", "service_min"):
        frame[col] = frame[col].round(1)
    buf = io.StringIO()
    frame.drop(columns=["snap_m"]).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def route_csv(plan: DayPlan) -> str:
    """The CLI's ``route.csv``: ``order,account_id,arrival,drive_min``.

    ``arrival`` is ISO 8601 local time (``YYYY-MM-DDTHH:MM``); ``drive_min`` is from the
    previous stop (from home for the first).
    """
    frame = pd.DataFrame(
        {
            "order": [s.order for s in plan.stops],
            "account_id": [s.account_id for s in plan.stops],
            "arrival": [s.arrival.strftime("%Y-%m-%dT%H:%M") for s in plan.stops],
            "drive_min": [round(s.drive_min, 2) for s in plan.stops],
        }
    )
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def route_command(
    network: Path | None,
    accounts: Path,
    *,
    ids: Sequence[str] | None = None,
    start: tuple[float, float],
    hours: float = 8.0,
    date: str | dt.date | None = None,
    out: Path,
    model: Path | None = None,
    shift_start: dt.time = dt.time(8, 0),
) -> dict[str, Any]:
    """``terrmap route``: plan one day and write ``route.csv``, ``matrix.csv``, ``summary.json``.

    Parameters
    ----------
    network
        Road network file (see :func:`terrmap.network.load_network`), or ``None`` for the
        straight-line estimate.
    accounts
        Accounts file (any format :func:`terrmap.load.load_accounts` reads); scored for
        tiers and opportunity.
    ids
        Account ids to consider (default: every account in the file).
    start
        ``(lat, lon)`` of home (the day starts and ends there).
    hours, shift_start
        Shift length and start time.
    date
        ``YYYY-MM-DD`` (default: today).
    out
        Output folder (created). Also gets ``route.gpx`` and the Google Maps links in the
        summary.
    model
        JSON of a calibrated :class:`~terrmap.travel.EstimateModel` used when no network
        is given.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    t0 = time.perf_counter()
    day = _parse_date(date)
    frame = score_accounts(load_accounts(accounts).frame)
    frame, wanted = _select_ids(frame, ids, accounts)
    travel: Travel = None
    if network is not None:
        travel = load_network(network)
    elif model is not None:
        travel = _read_model(Path(model))
    plan = plan_day(frame, home=start, date=day, hours=hours, start=shift_start, travel=travel)
    chosen = wanted or list(plan.considered)
    rows = frame.set_index(frame["account_id"].astype(str)).loc[chosen]
    located = rows["lat"].notna().to_numpy() & rows["lon"].notna().to_numpy()
    rows = rows[located]
    mat = travel_matrix(travel, np.r_[start[0], rows["lat"]], np.r_[start[1], rows["lon"]])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "route.csv").write_text(route_csv(plan))
    labels = ["start", *rows.index]
    matrix = pd.DataFrame(np.round(mat.minutes, 2), index=labels, columns=labels)
    matrix.to_csv(out / "matrix.csv", index_label="from", lineterminator="\n")
    (out / "route.gpx").write_text(
        plan_to_gpx(plan, network=travel if isinstance(travel, RoadNetwork) else None)
    )
    summary = _summary(plan, start, hours, time.perf_counter() - t0)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def calibrate_command(network: Path, out: Path, *, random_state: int = 0) -> dict[str, Any]:
    """``terrmap calibrate``: fit the estimate to a road network and save it as JSON.

    The file can be passed to :func:`route_command` (``model=``) to plan with the
    calibrated estimate where no network is loaded. Returns what was written: the model
    and its held-out error report.
    """
    model = calibrate(load_network(network), random_state=random_state)
    data = model.to_dict()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(data, indent=2) + "\n")
    return data


def _parse_date(date: str | dt.date | None) -> dt.date:
    if date is None:
        return dt.date.today()
    if isinstance(date, dt.date):
        return date
    try:
        return dt.date.fromisoformat(date)
    except ValueError as exc:
        raise InputError(
            [Problem(None, "date", date, "not a date", "give the date as YYYY-MM-DD")],
            source="route",
        ) from exc


def _read_model(path: Path) -> EstimateModel:
    try:
        return EstimateModel.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        fix = "give a JSON file written from EstimateModel.to_dict() (e.g. after calibrate)"
        raise InputError(
            [Problem(None, None, str(path), f"unusable travel model: {exc}", fix)]
        ) from exc


def _select_ids(
    frame: pd.DataFrame, ids: Sequence[str] | None, source: Path
) -> tuple[pd.DataFrame, list[str]]:
    if not ids:
        return frame, []
    wanted = list(dict.fromkeys(str(i).strip() for i in ids if str(i).strip()))
    have = set(frame["account_id"].astype(str))
    unknown = [i for i in wanted if i not in have]
    if unknown:
        shown = ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise InputError(
            [
                Problem(
                    None,
                    "account_id",
                    shown,
                    f"{len(unknown)} id(s) not in the accounts file",
                    "check --ids against the account_id column",
                )
            ],
            source=str(source),
        )
    return frame[frame["account_id"].astype(str).isin(wanted)].reset_index(drop=True), wanted


def _summary(
    plan: DayPlan, start: tuple[float, float], hours: float, seconds: float
) -> dict[str, Any]:
    return {
        "date": plan.date.isoformat(),
        "start": [start[0], start[1]],
        "hours": hours,
        "travel_model": plan.model,
        "stops": len(plan.stops),
        "depart": plan.depart.isoformat(timespec="minutes"),
        "back": plan.back.isoformat(timespec="minutes"),
        "total_drive_min": round(plan.drive_min, 2),
        "total_service_min": round(plan.service_min, 2),
        "total_idle_min": round(plan.idle_min, 2),
        "return_drive_min": round(plan.return_drive_min, 2),
        "dropped": [
            {"account_id": d.account_id, "code": d.code, "reason": d.reason} for d in plan.dropped
        ],
        "warnings": list(plan.warnings),
        "google_maps_urls": google_maps_urls(plan),
        "solve_seconds": round(plan.seconds, 3),
        "seconds": round(seconds, 3),
    }
