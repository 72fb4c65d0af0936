"""Where balance costs compactness: the evidence behind issue 3's open compactness target.

Run ``python -m bench.frontier --sizes 5k,50k``. For each generated set (the same
``bench.engine.make_set`` data) it measures, against weighted k-means on the same
accounts and with the same metric (``bench.engine.compactness_km``):

* the *frontier*: terrmap's bare capacitated allocation (``terrmap._allocate``, the
  min-cost-flow core without contiguity, polish or the plan's safety margin) on
  terrmap's cells at bands from ±2% to unbounded, from two kinds of start;
* *where the distance goes*: the territories contributing most to the workload-weighted
  mean distance, in k-means and in terrmap's default plan.

Writes ``bench/results/frontier.md``. In-process, no time cap; ~1 min for 5k and 50k.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench import engine, peers

BANDS = (0.02, 0.05, 0.10, 0.20, None)  # None: no balance at all
ITERATIONS = 40


def _per_territory(judge: engine.Judge, labels: np.ndarray, k: int) -> list[dict[str, Any]]:
    """Load (× mean), mean km and km contributed to the plan's figure, per territory."""
    w = judge.workload
    total = engine.compactness_km(judge, labels, k) * w.sum()
    rows = []
    for t in range(k):
        mine = labels == t
        if not mine.any():
            continue
        sub = np.where(mine, 0, -1)
        km = engine.compactness_km(judge, sub, 1)
        load = w[mine].sum()
        centre = np.average(judge.xyz[mine], axis=0, weights=w[mine])
        lat = np.degrees(np.arctan2(centre[2], np.hypot(centre[0], centre[1])))
        lon = np.degrees(np.arctan2(centre[1], centre[0]))
        rows.append(
            {
                "lat": lat,
                "lon": lon,
                "load_x_mean": load / (w.sum() / k),
                "mean_km": km,
                "km_contributed": km * load / w.sum(),
                "share": km * load / total,
            }
        )
    return sorted(rows, key=lambda r: -r["km_contributed"])


def _frontier(bench: peers.BenchInput, judge: engine.Judge) -> list[dict[str, Any]]:
    from sklearn.cluster import KMeans

    from terrmap import _allocate

    graph = peers.build_cell_graph(bench)
    x, w, k = graph.xyz, graph.weight, bench.k
    demand = np.full(k, w.sum() / k)
    occupied = w > 0
    km = KMeans(k, n_init=10, random_state=0).fit(x[occupied], sample_weight=w[occupied])
    starts = {
        "bisection": _allocate.bisection_seeds(x, w, np.ones(k)),
        "k-means centres": km.cluster_centers_
        / np.linalg.norm(km.cluster_centers_, axis=1)[:, None]
        * peers.EARTH_RADIUS_KM,
    }
    out = []
    for band in BANDS:
        slack = 1e6 if band is None else band
        row: dict[str, Any] = {"band": band}
        for name, seeds in starts.items():
            labels, _, _ = _allocate.capacitated_kmeans(
                x, w, seeds, demand, fixed_seeds=False, iterations=ITERATIONS, slack=slack
            )
            acc = labels[graph.account_cell]
            loads = np.bincount(acc[acc >= 0], judge.workload[acc >= 0], minlength=k)
            row[name] = {
                "km": engine.compactness_km(judge, acc, k),
                "max_deviation": float(np.max(np.abs(loads / loads.mean() - 1))),
            }
        out.append(row)
    return out


def run(spec: engine.SetSpec) -> dict[str, Any]:
    """Frontier and per-territory breakdown of one set."""
    from terrmap.design import build_plan

    accounts, reps = engine.make_set(spec)
    plan = build_plan(accounts, k=spec.k, random_state=spec.random_state)
    bench = peers.BenchInput(accounts, spec.k, int(plan.resolution), spec.random_state, reps)
    bench = replace(bench, cells=np.asarray(plan.cells))
    judge = engine.make_judge(bench)
    km_labels, _ = peers.run_kmeans(bench)
    plan_labels = peers.territory_codes(plan.assign(accounts), tuple(plan.territory_ids))
    return {
        "set": spec.name,
        "k": spec.k,
        "kmeans_km": engine.compactness_km(judge, km_labels, spec.k),
        "terrmap_km": engine.compactness_km(judge, plan_labels, spec.k),
        "frontier": _frontier(bench, judge),
        "kmeans_top": _per_territory(judge, km_labels, spec.k)[:5],
        "terrmap_top": _per_territory(judge, plan_labels, spec.k)[:5],
    }


def _place(r: dict[str, Any]) -> str:
    return f"{r['lat']:.1f}, {r['lon']:.1f}"


def to_markdown(results: Sequence[dict[str, Any]]) -> str:
    """The frontier tables."""
    lines = [
        "## Balance against compactness: the frontier (issue 3)",
        "",
        "`python -m bench.frontier` — terrmap's bare capacitated allocation (no contiguity, "
        "no polish) on its cells at each band, two starts; × k-means km on the same accounts "
        "(achieved max deviation). Then the five territories that contribute most to the "
        "workload-weighted mean km, in k-means and in terrmap's default plan.",
        "",
    ]
    for s in results:
        base = s["kmeans_km"]
        starts = [key for key in s["frontier"][0] if key != "band"]
        lines += [
            f"### {s['set']} ({s['k']} territories): k-means {base:.1f} km, "
            f"terrmap plan {s['terrmap_km']:.1f} km (× {s['terrmap_km'] / base:.2f})",
            "",
            "| band | " + " | ".join(starts) + " |",
            "|---|" + "---:|" * len(starts),
        ]
        for row in s["frontier"]:
            band = "none" if row["band"] is None else f"±{100 * row['band']:.0f}%"
            cells = [
                f"{row[key]['km'] / base:.3f} ({100 * row[key]['max_deviation']:.1f}%)"
                for key in starts
            ]
            lines.append(f"| {band} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "| | centre (lat, lon) | load × mean | mean km | km of the total | share |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for who in ("kmeans", "terrmap"):
            lines += [
                f"| {who} | {_place(r)} | {r['load_x_mean']:.2f} | {r['mean_km']:.0f} "
                f"| {r['km_contributed']:.1f} | {100 * r['share']:.0f}% |"
                for r in s[f"{who}_top"]
            ]
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.frontier --sizes 5k,50k``."""
    parser = argparse.ArgumentParser(prog="python -m bench.frontier", description=__doc__)
    parser.add_argument("--sizes", default="5k,50k", help="sets, as for bench.engine")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    results = []
    for spec in engine.parse_sets(args.sizes):
        print(f"{spec.name} ...", file=sys.stderr, flush=True)
        results.append(run(spec))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "frontier.md").write_text(to_markdown(results), encoding="utf-8")
    print(to_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
