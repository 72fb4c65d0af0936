"""The dashboard in a real browser: the map renders offline, a slider re-plans live."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

APP_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'


def _wait_idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("[data-testid='stApp']", state="attached")
    page.wait_for_selector(APP_IDLE, state="attached", timeout=120_000)


def _metric(page, label: str) -> str:  # type: ignore[no-untyped-def]
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_territories_map_renders_polygons(page, app_url: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    page.goto(app_url)
    _wait_idle(page)
    frame = page.frame_locator(MAP_FRAME).first
    polygons = frame.locator("path.leaflet-interactive")
    polygons.first.wait_for(state="attached", timeout=120_000)
    first_load = time.monotonic() - started
    page.wait_for_function(
        """() => [...document.querySelectorAll('iframe')].some(f => {
               try { return f.contentDocument.querySelectorAll('.terrmap-label').length >= 12 }
               catch (e) { return false } })""",
        timeout=60_000,
    )
    assert polygons.count() >= 12  # twelve territories, drawn as dissolved outlines
    assert frame.locator(".terrmap-rep").count() == 12  # a home marker per rep
    assert frame.locator(".marker-cluster").count() >= 1  # accounts clustered in the browser
    assert page.get_by_text("Per-territory workload and balance").is_visible()
    page.screenshot(path=str(artifacts / "territories.png"), full_page=True)
    # Clicking a territory shows its details beside the map.
    frame.locator("path.leaflet-interactive").nth(3).dispatch_event("click")
    page.get_by_role("heading", name=re.compile(r"^Territory \S+")).first.wait_for()
    _wait_idle(page)
    page.screenshot(path=str(artifacts / "territory-details.png"), full_page=True)
    (artifacts / "timings.txt").write_text(f"first_load_s={first_load:.2f}\n")


def test_scenario_slider_replans_live(page, app_url: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_url}/scenarios")
    _wait_idle(page)
    page.get_by_text("Accounts moved").first.wait_for()
    before_reps = _metric(page, "Reps")
    before_moved = _metric(page, "Accounts moved")
    assert before_moved == "0"
    slider = page.get_by_role("slider", name=re.compile("Number of reps"))
    slider.focus()
    started = time.monotonic()
    slider.press("ArrowRight")
    page.wait_for_function(
        """(before) => {
               const m = [...document.querySelectorAll("[data-testid='stMetric']")]
                 .find(e => e.innerText.includes('Reps'));
               return m && !m.innerText.includes('+0') &&
                      m.querySelector("[data-testid='stMetricValue']").innerText.trim() !== before;
           }""",
        arg=before_reps,
        timeout=60_000,
    )
    _wait_idle(page)
    latency = time.monotonic() - started
    assert _metric(page, "Reps") == str(int(before_reps) + 1)
    assert int(_metric(page, "Accounts moved").replace(",", "")) > 0
    scenario_map = page.frame_locator(MAP_FRAME).nth(1)
    scenario_map.locator("path.leaflet-interactive").first.wait_for(state="attached")
    assert scenario_map.locator(".terrmap-rep").count() == 13  # the open hire has a home
    page.screenshot(path=str(artifacts / "scenarios.png"), full_page=True)
    with (artifacts / "timings.txt").open("a") as fh:
        fh.write(f"slider_to_kpis_s={latency:.2f}\n")


def test_coverage_heat_map_and_downloads(page, app_url: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_url}/coverage")
    _wait_idle(page)
    frame = page.frame_locator(MAP_FRAME).first
    frame.locator("path.leaflet-interactive").first.wait_for(state="attached")
    assert frame.locator("path.leaflet-interactive").count() >= 12  # heat classes + outlines
    assert page.get_by_text("per cell").first.is_visible()  # the legend
    page.screenshot(path=str(artifacts / "coverage.png"), full_page=True)
    page.goto(f"{app_url}/data")
    _wait_idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="CRM assignments (CSV)").click()
    path = download.value.path()
    header = Path(path).read_text().splitlines()[0]
    assert header == "account_id,territory_id,rep_id,rep_name"
    page.screenshot(path=str(artifacts / "data.png"), full_page=True)
