"""The dashboard in a real browser: the map renders offline, a slider re-plans live."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.browser import metric, wait_idle, wait_metric

pytestmark = pytest.mark.browser

MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'


def test_territories_map_renders_polygons(page, app_url: str, artifacts: Path, offsite) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    page.goto(app_url)
    wait_idle(page)
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
    # Leaflet and its plugins came from the app itself: no script or style went off-host.
    assert not [url for kind, url in offsite if kind in ("script", "stylesheet")]
    page.screenshot(path=str(artifacts / "territories.png"), full_page=True)
    # Clicking a territory shows its details beside the map.
    frame.locator("path.leaflet-interactive").nth(3).dispatch_event("click")
    page.get_by_role("heading", name=re.compile(r"^Territory \S+")).first.wait_for()
    wait_idle(page)
    page.screenshot(path=str(artifacts / "territory-details.png"), full_page=True)
    (artifacts / "timings.txt").write_text(f"first_load_s={first_load:.2f}\n")


def test_scenario_slider_replans_live(page, app_url: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_url}/scenarios")
    wait_idle(page)
    page.get_by_text("Accounts moved").first.wait_for()
    before_reps = metric(page, "Reps")
    before_moved = metric(page, "Accounts moved")
    assert before_moved == "0"
    slider = page.get_by_role("slider", name=re.compile("Number of reps"))
    slider.focus()
    started = time.monotonic()
    slider.press("ArrowRight")
    wait_metric(page, "Reps", str(int(before_reps) + 1))
    latency = time.monotonic() - started
    assert metric(page, "Reps") == str(int(before_reps) + 1)
    assert int(metric(page, "Accounts moved").replace(",", "")) > 0
    scenario_map = page.frame_locator(MAP_FRAME).first  # the baseline is a static frame
    scenario_map.locator("path.leaflet-interactive").first.wait_for(state="attached")
    assert scenario_map.locator(".terrmap-rep").count() == 13  # the open hire has a home
    page.screenshot(path=str(artifacts / "scenarios.png"), full_page=True)
    # A manager looks at the result before the next step; meanwhile the page has
    # computed one rep more ahead, so that step shows at once.
    time.sleep(3.0)  # think time of the simulated user, not a wait for the app
    started = time.monotonic()
    slider.press("ArrowRight")
    wait_metric(page, "Reps", str(int(before_reps) + 2))
    ahead = time.monotonic() - started
    assert int(metric(page, "Accounts moved").replace(",", "")) > 0
    with (artifacts / "timings.txt").open("a") as fh:
        fh.write(f"slider_to_kpis_s={latency:.2f}\nslider_step_after_look_s={ahead:.2f}\n")


def test_coverage_heat_map_and_downloads(page, app_url: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_url}/coverage")
    wait_idle(page)
    frame = page.frame_locator(MAP_FRAME).first
    frame.locator("path.leaflet-interactive").first.wait_for(state="attached")
    assert frame.locator("path.leaflet-interactive").count() >= 12  # heat classes + outlines
    assert page.get_by_text("per cell").first.is_visible()  # the legend
    page.screenshot(path=str(artifacts / "coverage.png"), full_page=True)
    page.goto(f"{app_url}/data")
    wait_idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="CRM assignments (CSV)").click()
    path = download.value.path()
    header = Path(path).read_text().splitlines()[0]
    assert header == "account_id,territory_id,rep_id,rep_name"
    page.screenshot(path=str(artifacts / "data.png"), full_page=True)


def _kpi_accounts(page) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Territory -> accounts, read from the KPI table (the page's last data frame)."""
    table = page.locator("[data-testid='stDataFrame']").last
    table.locator("td").first.wait_for(state="attached")
    header = table.locator("th").all_inner_texts()
    cells = table.locator("td").all_inner_texts()
    width = len(header)
    rows = [cells[i : i + width] for i in range(0, len(cells), width)]
    at = header.index("Accounts")
    return {row[0]: int(row[at].replace(",", "")) for row in rows}


def _kpi_accounts_after(page, before: dict[str, int], timeout: float = 60.0) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The KPI table once it differs from ``before`` (polled: the table redraws after the
    rerun that applied the edit has settled), or as it is after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        now = _kpi_accounts(page)
        if now != before or time.monotonic() > deadline:
            return now
        page.wait_for_timeout(250)


def _pick(page, group: int, label: str) -> None:  # type: ignore[no-untyped-def]
    """Click an option of the ``group``-th segmented control and wait for the rerun."""
    page.locator("[data-testid='stButtonGroup']").nth(group).get_by_text(label, exact=True).click()
    wait_idle(page)


def _choose(page, label: str, option: re.Pattern[str]) -> None:  # type: ignore[no-untyped-def]
    """Pick an option of a selectbox (reopened if a fragment rerun closed the list)."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label)
    wanted = page.get_by_role("option", name=option)
    for _ in range(5):
        box.get_by_role("button", name="Open").click()
        try:
            wanted.wait_for(timeout=3_000)
        except PlaywrightTimeout:
            continue  # a rerun redrew the widget and closed the list: open it again
        wanted.click()
        return
    pytest.fail(f"option {option.pattern} of {label!r} never showed")


def test_paint_a_cell_into_another_territory(page, app_url: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    accounts = pd.read_csv(Path(__file__).resolve().parents[2] / "data/samples/accounts.csv")
    # An account near the middle of the data: its cell holds at least that account.
    mid = ((accounts["lat"] - accounts["lat"].median()) ** 2
           + (accounts["lon"] - accounts["lon"].median()) ** 2).idxmin()  # fmt: skip
    lat, lon = float(accounts.loc[mid, "lat"]), float(accounts.loc[mid, "lon"])
    page.goto(app_url)
    wait_idle(page)
    frame = page.frame_locator(MAP_FRAME).first
    frame.locator("path.leaflet-interactive").first.wait_for(state="attached", timeout=120_000)
    _pick(page, 0, "Paint")
    _pick(page, 1, "Hidden")  # account clusters would catch the click
    before = _kpi_accounts(page)
    x, y = page.evaluate(
        """([lat, lon]) => {
               const win = document.querySelector('iframe[title="streamlit_folium.st_folium"]')
                 .contentWindow;
               // Close in, so a small city cell is many pixels wide (pans are client-side).
               win.map_div.setView([lat, lon], 15, {animate: false});
               const p = win.map_div.latLngToContainerPoint([lat, lon]);
               return [p.x, p.y];
           }""",
        [lat, lon],
    )
    started = time.monotonic()
    frame.locator(".leaflet-container").first.click(position={"x": x, "y": y})
    picked = page.locator("p", has_text=re.compile(r"^Selected: 1 cell")).first
    picked.wait_for()
    click_to_selection = time.monotonic() - started
    wait_idle(page)  # a rerun in flight would close the dropdown opened next
    match = re.search(r"([\d,]+) account\(s\) in (\S+)", picked.inner_text())
    assert match is not None, picked.inner_text()
    assert int(match.group(1).replace(",", "")) >= 1
    source = match.group(2)
    target = next(t for t in before if t != source)
    _choose(page, "Paint into", re.compile(rf"^{target}\b"))
    started = time.monotonic()
    apply = page.get_by_role("button", name=f"Apply: move to {target}")
    apply.wait_for()
    target_to_preview = time.monotonic() - started
    summary = page.locator("p", has_text=re.compile(r"^Moves 1 cell")).first.inner_text()
    moving = int(re.sub(r"[^\d]", "", summary.split(",")[1]))  # locked accounts stay put
    assert moving >= 1, summary
    page.screenshot(path=str(artifacts / "paint-preview.png"), full_page=True)
    started = time.monotonic()
    apply.click()
    page.get_by_role("button", name=re.compile(r"Undo \(1\)")).wait_for()
    wait_idle(page)
    after = _kpi_accounts_after(page, before)
    apply_to_table = time.monotonic() - started
    assert after[source] == before[source] - moving
    assert after[target] == before[target] + moving
    assert {t: n for t, n in after.items() if t not in (source, target)} == {
        t: n for t, n in before.items() if t not in (source, target)
    }
    # The map kept the view the user zoomed to: it was never remounted.
    zoom = page.evaluate(
        """() => document.querySelector('iframe[title="streamlit_folium.st_folium"]')
                   .contentWindow.map_div.getZoom()"""
    )
    assert zoom == 15
    page.screenshot(path=str(artifacts / "paint-applied.png"), full_page=True)
    with (artifacts / "timings.txt").open("a") as fh:
        fh.write(f"click_to_selection_s={click_to_selection:.2f}\n")
        fh.write(f"target_to_preview_s={target_to_preview:.2f}\n")
        fh.write(f"apply_to_kpi_table_s={apply_to_table:.2f}\n")
