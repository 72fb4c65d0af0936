"""Scenarios page latency: slider release to updated KPIs and map, in a real browser.

python -m bench.dashboard

A fresh ``streamlit run app.py`` on the bundled sample, driven by Debian's Chromium
(offline: the app serves Leaflet itself). One manager's session, every step a scenario
not seen before (so no cached result): the rep-count slider pressed the moment the
page is idle, the rep-count slider after a 3-second look at the result (the page has
computed one step either way on both sliders ahead by then), and the capacity slider
after a look. The clock runs from the key press until the "Reps" or
capacity KPIs show the new value and the app is idle again.

For the engine share, the same one-rep-more scenario is also computed in-process both
ways: terrmap's warm rerun from the current plan (``run_scenario``) and a cold rebuild
of the new roster from scratch (``build_plan`` without a baseline), with the map
outlines each time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.browser import chromium, metric, offline_context, serve_app, wait_idle, wait_metric

ROOT = Path(__file__).resolve().parents[1]
LOOK_S = 3.0


def _press(page: Any, slider: Any, key: str, label: str, value: str) -> float:
    started = time.monotonic()
    slider.press(key)
    wait_metric(page, label, value)
    return time.monotonic() - started


def browser_session(app_url: str, steps: int) -> dict[str, list[float]]:
    """Seconds per slider step, by kind of step."""
    out: dict[str, list[float]] = {"immediate": [], "after_look": [], "capacity": []}
    offsite: list[tuple[str, str]] = []
    with chromium() as browser, offline_context(browser, app_url, offsite) as context:
        page = context.new_page()
        page.set_default_timeout(120_000)
        started = time.monotonic()
        page.goto(f"{app_url}/scenarios")
        wait_idle(page)
        page.get_by_text("Accounts moved").first.wait_for()
        out["first_load"] = [time.monotonic() - started]
        k = int(metric(page, "Reps"))
        reps = page.get_by_role("slider", name=re.compile("Number of reps"))
        for direction, key in ((1, "ArrowRight"), (-1, "ArrowLeft")):
            reps.focus()
            for i in range(1, steps + 1):
                kind = "immediate" if i == 1 else "after_look"
                if kind == "after_look":
                    time.sleep(LOOK_S)  # the manager reads the result
                out[kind].append(_press(page, reps, key, "Reps", str(k + direction * i)))
            page.get_by_role("button", name="Reset to the current plan").click()
            wait_metric(page, "Reps", str(k))
        capacity = page.get_by_role("slider", name=re.compile("Capacity of every rep"))
        capacity.focus()
        for _ in range(steps):
            time.sleep(LOOK_S)
            before = page.locator("[data-testid='stMetric']").all_inner_texts()
            started = time.monotonic()
            capacity.press("ArrowRight")
            page.wait_for_function(
                """(before) => { const now = [...document.querySelectorAll(
                       "[data-testid='stMetric']")].map(e => e.innerText);
                     return JSON.stringify(now) !== JSON.stringify(before); }""",
                arg=before,
            )
            wait_idle(page)
            out["capacity"].append(time.monotonic() - started)
    out["offsite_scripts"] = [float(sum(k in ("script", "stylesheet") for k, _ in offsite))]
    return out


def _median_time(fn: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def engine_share() -> dict[str, float]:
    """One rep more on the sample: warm rerun vs cold rebuild (plan + outlines), seconds."""
    from terrmap.design import DesignConfig, build_plan
    from terrmap.layers import territory_outlines
    from terrmap.load import load_accounts, load_reps
    from terrmap.scenarios import Scenario, run_scenario, scenario_roster, snapshot
    from terrmap.scoring import ScoringConfig, score_accounts

    samples = ROOT / "data" / "samples"
    reps = load_reps(samples / "reps.csv").frame
    loaded = load_accounts(samples / "accounts.csv", rep_ids=list(reps["rep_id"])).frame
    scored = score_accounts(loaded, ScoringConfig())
    design = DesignConfig()
    base = snapshot(build_plan(scored, reps, config=design), scored, reps, scoring=ScoringConfig())
    scenario = Scenario(team_size=len(reps) + 1)
    roster = scenario_roster(reps, scenario, accounts=scored, territory=base.assignment)

    def outlines(plan: Any) -> None:
        territory_outlines(plan.cells, plan.labels, plan.territory_ids)

    def warm() -> None:
        outlines(run_scenario(loaded, base, scenario, design=design).plan)

    def cold() -> None:
        outlines(build_plan(scored, roster, config=design))

    return {"warm_s": _median_time(warm), "cold_s": _median_time(cold)}


def _stats(xs: Sequence[float]) -> str:
    if not xs:
        return "–"
    return f"{statistics.median(xs):.2f} (max {max(xs):.2f}, n={len(xs)})"


def to_markdown(result: dict[str, Any]) -> str:
    b, e, meta = result["browser"], result["engine"], result["meta"]
    lines = [
        "# Scenarios page latency (issue 4)",
        "",
        f"Run {meta['when']} with `python -m bench.dashboard`: {meta['cpus']} CPUs, "
        f"load average at start {meta['load']}. Bundled sample (5,000 accounts, 12 reps), "
        "Debian Chromium, offline. Seconds from key press to the new KPIs shown and the app "
        "idle; median (max, n). Target: under 1 s from slider release to updated map and KPIs.",
        "",
        "| step | seconds |",
        "|---|---:|",
        f"| first visit on a fresh server (imports, designing the plan, both maps) | "
        f"{_stats(b['first_load'])} |",
        f"| rep-count slider, pressed the moment the page is idle | {_stats(b['immediate'])} |",
        f"| rep-count slider after a {LOOK_S:.0f}-s look (computed ahead) | "
        f"{_stats(b['after_look'])} |",
        f"| capacity slider after a look (computed ahead) | {_stats(b['capacity'])} |",
        "",
        f"Scripts or styles requested off the app's host: {int(b['offsite_scripts'][0])}.",
        "",
        "Engine share of one rep more, in-process (plan + map outlines, median of 3):",
        "",
        "| method | seconds | × terrmap |",
        "|---|---:|---:|",
        f"| terrmap warm rerun from the current plan | {e['warm_s']:.2f} | 1.0 |",
        f"| cold rebuild of the new roster | {e['cold_s']:.2f} | {e['cold_s'] / e['warm_s']:.1f} |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.dashboard [--steps 3] [--out bench/results]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--steps", type=int, default=3, help="slider steps per kind")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    meta = {
        "when": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    engine = engine_share()
    with serve_app(args.out / "dashboard-streamlit.log", env={"TERRMAP_TILES": "none"}) as url:
        browser = browser_session(url, args.steps)
    result = {"meta": meta, "browser": browser, "engine": engine}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dashboard.json").write_text(json.dumps(result, indent=2))
    md = to_markdown(result)
    (args.out / "dashboard.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
