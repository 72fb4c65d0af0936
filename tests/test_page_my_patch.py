"""The "My patch" page through AppTest (st_folium patched: it needs a browser)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pyrosm
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "pages/my_patch.py"
TIMEOUT = 240  # the first run designs the sample plan

pytestmark = pytest.mark.slow


class FakeFolium:
    """Stands in for ``st_folium``: renders the map (layers must build) and keeps the HTML."""

    def __init__(self) -> None:
        self.html: list[str] = []

    def __call__(self, fig: Any, key: str | None = None, **kwargs: Any) -> None:
        for layer in kwargs.get("feature_group_to_add") or []:
            layer.add_to(fig)  # what the component does in the browser
        self.html.append(fig.get_root().render())


@pytest.fixture(autouse=True)
def _no_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERRMAP_TILES", "none")


@pytest.fixture
def folium_calls() -> Iterator[FakeFolium]:
    fake = FakeFolium()
    with mock.patch("streamlit_folium.st_folium", fake):
        yield fake


def _open(fake: FakeFolium) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: str(m.value) for m in at.metric}


def test_page_shows_the_reps_day_map_and_exports(folium_calls: FakeFolium) -> None:
    at = _open(folium_calls)
    assert at.title[0].value == "My patch"
    metrics = _metrics(at)
    assert int(metrics["Stops today"]) >= 1
    assert metrics["Driving"].endswith("min") and metrics["Travel / month"].endswith("h")
    captions = " ".join(str(c.value) for c in at.caption)
    assert "travel model **estimate:default**" in captions and "overdue" in captions
    # The map got the route with numbered stops, the rings and the accounts.
    html = folium_calls.html[-1]
    assert "terrmap-stop" in html and "terrmap-home" in html
    assert "within 30 min of home (estimate:default)" in html
    assert "within 90 min of home" in html and "priority" in html
    # Route table, Google Maps link(s), GPX/CSV downloads.
    route = at.dataframe[0].value
    assert route["#"].tolist() == list(range(1, len(route) + 1))
    stops = int(metrics["Stops today"])
    assert len(route) == stops
    # Visits start inside the accounts' own windows (the sample has them by industry).
    for arrive, window in zip(route["Arrive"], route["Window"], strict=True):
        if "-" in window:
            assert arrive <= window.split("-")[1]  # may wait for it to open, never late
    links = list(at.get("link_button"))
    assert links and all("google.com/maps/dir/" in b.proto.url for b in links)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["GPX", "CSV"]


def test_switching_rep_and_hours_replans(folium_calls: FakeFolium) -> None:
    at = _open(folium_calls)
    first = _metrics(at)
    reps = at.selectbox(key="patch_rep").options
    assert len(reps) >= 2
    at.selectbox(key="patch_rep").set_value(at.selectbox(key="patch_rep").options[1]).run()
    assert not at.exception
    assert "Territory" in " ".join(str(c.value) for c in at.caption)
    at.slider(key="patch_hours").set_value(4.0).run()
    assert not at.exception
    short = _metrics(at)
    assert int(short["Stops today"]) <= int(first["Stops today"]) + 5
    back = dt.datetime.strptime(short["Back home"], "%H:%M").time()
    assert back <= dt.time(12, 0)  # leaves at 08:00 with 4 hours


def test_week_plan_and_ranked_list(folium_calls: FakeFolium) -> None:
    at = _open(folium_calls)
    at.toggle(key="patch_week").set_value(True).run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    planned, _, due = str(labels["Visits planned"]).partition(" of ")
    assert 0 < int(planned) <= int(due.split()[0])
    frames = [d.value for d in at.dataframe]
    week = next(f for f in frames if "Day" in f.columns)
    assert len(week) == 5 and week["Stops"].sum() == int(planned)
    ranked = next(f for f in frames if "Priority" in f.columns)
    assert ranked["Priority"].is_monotonic_decreasing
    assert ranked["Visit window"].str.contains("-|from|until").any()
    assert ranked["Stop today"].notna().sum() == int(_metrics(at)["Stops today"])


def test_a_road_network_that_misses_the_territory_is_explained(
    folium_calls: FakeFolium,
) -> None:
    at = _open(folium_calls)
    data = Path(pyrosm.get_data("helsinki_pbf")).read_bytes()
    at.get("file_uploader")[0].set_value(("Helsinki.osm.pbf", data, "application/octet-stream"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # The sample's reps work in the US north-east: a Helsinki extract does not cover them.
    (error,) = at.error
    assert error.value.startswith("Planning the day: home (")
    assert "km from the nearest road of network 'Helsinki'" in error.value
    assert "Fix: load a road network that covers the territory" in error.value
    assert not at.metric  # the page stops rather than show meaningless numbers
