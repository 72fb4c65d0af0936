"""The engine benchmark harness (bench/engine.py): its judge, and a smoke run.

The judge is tested on hand-made grids where the right answer is known; the smoke run
puts a few hundred generated accounts through the whole harness in-process with the
fast methods, so the harness cannot rot between full benchmark runs.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest

# ``bench`` is not an installed package: make the repo root importable under any runner.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import engine, peers

CENTRE = (41.0, -75.0)
RES = 6


def _judge_on(cells: np.ndarray, lat: np.ndarray, lon: np.ndarray, w: np.ndarray) -> engine.Judge:
    accounts = pd.DataFrame({"lat": lat, "lon": lon, "workload_hours": w})
    bench = peers.BenchInput(accounts, 2, RES)
    judge = engine.make_judge(bench)
    assert np.isin(cells, judge.cells).all()
    return judge


def _row_of_cells(n: int) -> np.ndarray:
    """``n`` cells in a straight line (a grid path), from the centre cell eastwards."""
    start = h3n.latlng_to_cell(*CENTRE, RES)
    end = h3n.latlng_to_cell(CENTRE[0], CENTRE[1] + 0.25 * n, RES)
    return np.asarray(h3n.grid_path_cells(start, end), dtype=np.uint64)[:n]


def _accounts_on(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ll = np.array([h3n.cell_to_latlng(int(c)) for c in cells])
    return ll[:, 0], ll[:, 1]


def test_line_split_in_two_halves_is_contiguous_and_interleaved_is_not() -> None:
    cells = _row_of_cells(8)
    lat, lon = _accounts_on(cells)
    judge = _judge_on(cells, lat, lon, np.ones(cells.size))
    halves = np.repeat([0, 1], 4)
    good = engine.score_labels(judge, halves, 2)
    assert good["contiguous_share"] == 1.0
    assert good["max_deviation"] == pytest.approx(0.0)
    assert good["split_share"] == 0.0
    interleaved = np.tile([0, 1], 4)
    bad = engine.score_labels(judge, interleaved, 2)
    assert bad["contiguous"] == 0
    assert bad["max_deviation"] == pytest.approx(0.0)


def test_imbalance_split_cells_and_empty_territory_are_measured() -> None:
    cells = _row_of_cells(6)
    lat, lon = _accounts_on(cells)
    # two accounts on the first cell, with different labels: one is off its cell's majority
    lat, lon = np.r_[lat, lat[0]], np.r_[lon, lon[0]]
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    judge = _judge_on(cells, lat, lon, np.ones(lat.size))
    m = engine.score_labels(judge, labels, 2)
    assert m["split_share"] == pytest.approx(1 / 7)
    # loads 3 and 4 against a target of 3.5
    assert m["max_deviation"] == pytest.approx(0.5 / 3.5)
    # the same loads against unequal targets of 3:4 are exactly on target
    weighted = engine.score_labels(judge, labels, 2, shares=np.array([3.0, 4.0]))
    assert weighted["max_deviation"] == pytest.approx(0.0)
    assert weighted["cv"] == pytest.approx(0.0)
    empty = engine.score_labels(judge, np.zeros(lat.size, dtype=np.int64), 2)
    assert empty["empty_territories"] == 1
    assert empty["max_deviation"] == pytest.approx(1.0)
    assert empty["contiguous"] == 1


def test_compactness_is_weighted_great_circle_distance_to_the_centroid() -> None:
    cells = _row_of_cells(2)
    lat, lon = _accounts_on(cells)
    judge = _judge_on(cells, lat, lon, np.array([1.0, 1.0]))
    together = engine.score_labels(judge, np.array([0, 0]), 2)["compactness_km"]
    apart = engine.score_labels(judge, np.array([0, 1]), 2)["compactness_km"]
    la, lo = np.radians(lat), np.radians(lon)
    hav = (
        np.sin((la[1] - la[0]) / 2) ** 2
        + np.cos(la[0]) * np.cos(la[1]) * np.sin((lo[1] - lo[0]) / 2) ** 2
    )
    gap = 2 * peers.EARTH_RADIUS_KM * np.arcsin(np.sqrt(hav))
    assert apart == pytest.approx(0.0, abs=1e-6)
    assert together == pytest.approx(gap / 2, rel=1e-6)  # both are half-way out
    assert 4 < gap < 15  # neighbouring resolution-6 cells are ~6 km apart


def test_judge_agrees_with_terrmap_metrics_where_both_apply() -> None:
    cells = _row_of_cells(8)
    lat, lon = _accounts_on(cells)
    judge = _judge_on(cells, lat, lon, np.arange(1.0, 9.0))
    for labels in (np.repeat([0, 1], 4), np.tile([0, 1], 4)):
        m = engine.score_labels(judge, labels, 2)
        assert m["terrmap_contiguity_agrees"]
        assert m["terrmap_compactness_km"] == pytest.approx(m["compactness_km"], rel=1e-9)


def test_empty_ground_is_judged_by_the_methods_own_drawing() -> None:
    cells = _row_of_cells(7)
    lat, lon = _accounts_on(cells[[0, 3, 6]])
    judge = _judge_on(cells, lat, lon, np.ones(3))
    labels = np.array([0, 1, 0])
    at = judge.account_cell
    # territory 1 is the middle cell alone, territory 0 all the ground around it
    around = np.zeros(judge.cells.size, dtype=np.int64)
    around[at[1]] = 1
    assert engine.score_labels(judge, labels, 2, drawn=around)["contiguous"] == 2
    # territory 1 drawn everywhere, its accounts' cells excepted: territory 0 is cut
    # in two (the drawing of occupied cells never overrides their accounts' majority)
    cut = np.ones(judge.cells.size, dtype=np.int64)
    m = engine.score_labels(judge, labels, 2, drawn=cut)
    assert m["contiguous"] == 1
    assert m["split_share"] == 0.0
    # the drawing is matched to the judging cells whatever their order; other cells: none
    order = np.random.default_rng(0).permutation(judge.cells.size)
    drawn = engine.on_judge_cells(judge, judge.cells[order], around[order])
    assert drawn is not None and np.array_equal(drawn, around)
    assert engine.on_judge_cells(judge, judge.cells[1:], around[1:]) is None


def test_bridging_joins_every_component() -> None:
    from scipy import sparse
    from scipy.sparse import csgraph

    # three separate pairs of points far apart
    lat = np.array([40.0, 40.01, 45.0, 45.01, 35.0, 35.01])
    lon = np.array([-100.0, -100.0, -90.0, -90.0, -80.0, -80.0])
    adj = sparse.csr_matrix(([1, 1, 1, 1, 1, 1], ([0, 1, 2, 3, 4, 5], [1, 0, 3, 2, 5, 4])))
    bridged = peers.bridge_components(adj, peers.unit_xyz(lat, lon))
    assert csgraph.connected_components(bridged, directed=False)[0] == 1
    assert bridged.nnz == adj.nnz + 4  # two links, both directions


def _available(*methods: str) -> list[str]:
    modules = {"ward": "spopt", "gerrychain": "gerrychain"}
    return [
        m for m in methods if m not in modules or importlib.util.find_spec(modules[m]) is not None
    ]


def test_smoke_run_on_a_few_hundred_accounts(tmp_path: Path) -> None:
    spec = engine.SetSpec("smoke", 400, 4, "northeast")
    methods = _available("terrmap", "terrmap_10", "kmeans", "ward", "gerrychain")
    result = engine.run_benchmark(
        [spec],
        cap=60,
        methods=methods,
        scenarios={"warm_reruns": ("smoke",), "rep_leaves": ("smoke",)},
        isolate=False,
    )
    rows = {r["method"]: r for r in result["sets"][0]["methods"]}
    assert list(rows) == methods
    for name, row in rows.items():
        assert row["status"] == "ok", (name, row["message"])
        m = row["metrics"]
        assert m["unassigned"] == 0
        assert 0 <= m["contiguous_share"] <= 1 and 0 <= m["split_share"] <= 1
        assert m["compactness_km"] > 0
    assert rows["kmeans"]["compactness_vs_kmeans"] == pytest.approx(1.0)
    assert rows["terrmap"]["time_vs_terrmap"] == pytest.approx(1.0)
    assert rows["terrmap"]["notes"]["resolution"] == result["sets"][0]["resolution"]
    assert rows["terrmap_10"]["metrics"]["max_deviation"] <= 0.10
    warm = result["sets"][0]["scenarios"]["warm_reruns"]
    assert warm["status"] == "ok", warm["message"]
    assert {r["change"] for r in warm["runs"]} >= {"K 4->5", "K 4->3"}
    leave = result["sets"][0]["scenarios"]["rep_leaves"]
    assert leave["status"] == "ok", leave["message"]
    assert leave["metrics"]["territories"] == 3
    assert leave["metrics"]["targets"] == "given shares"
    assert 0 <= leave["notes"]["moved_other_share"] <= 1
    js, md = engine.write_results(result, tmp_path)
    assert json.loads(js.read_text())["sets"][0]["accounts"] == 400
    text = md.read_text()
    assert "| terrmap |" in text and "Warm reruns" in text and "Rep leaves" in text
    assert "| smoke | " in text.split("Balance against compactness")[1]


@pytest.mark.slow
def test_isolated_run_and_time_cap() -> None:
    accounts, reps = engine.make_set(engine.SetSpec("iso", 300, 3, "northeast"))
    bench = peers.BenchInput(accounts, 3, 6, 0, reps)
    ok = engine.run_isolated("kmeans", bench, cap=120)
    assert ok.status == "ok" and ok.labels is not None and ok.labels.shape == (300,)
    assert ok.seconds is not None and ok.seconds > 0
    capped = engine.run_isolated("kmeans", bench, cap=0)
    assert capped.status == "timeout"
    assert capped.message == "did not finish in 0 s"


def test_frontier_reports_every_band_and_the_costliest_territories() -> None:
    from bench import frontier

    result = frontier.run(engine.SetSpec("smoke", 400, 4, "northeast"))
    assert [row["band"] for row in result["frontier"]] == list(frontier.BANDS)
    for row in result["frontier"]:
        for start in ("bisection", "k-means centres"):
            assert row[start]["km"] > 0 and row[start]["max_deviation"] >= 0
    for who in ("kmeans", "terrmap"):
        top = result[f"{who}_top"]
        contributed = [r["km_contributed"] for r in top]
        assert contributed == sorted(contributed, reverse=True)
        assert sum(r["share"] for r in top) == pytest.approx(1.0)  # 4 territories, all shown
        total = result[f"{who}_km"]
        assert sum(contributed) == pytest.approx(total)
    text = frontier.to_markdown([result])
    assert text.count("| ±") == 4 and "| none |" in text
