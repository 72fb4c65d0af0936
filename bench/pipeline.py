"""Benchmark: load + validate + score + grid, terrmap against the per-row ``apply`` way.

Each measurement runs in a fresh Python process so that wall time includes nothing
cached and the peak memory (``ru_maxrss`` of that process) belongs to that run alone.

    python -m bench.pipeline --sizes 50k,1M

The baseline is what a typical one-file Streamlit geo app does: ``pd.read_csv``, a
per-row ``apply`` that checks each record and calls ``h3.latlng_to_cell`` for it, then a
``groupby``. It validates less than terrmap does, so the comparison flatters it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
RESULTS = Path(__file__).resolve().parent / "results"
SIZES = {"50k": 50_000, "200k": 200_000, "1M": 1_000_000}
RESOLUTION = 7


def ensure_data(label: str) -> Path:
    """Write the US-wide generated accounts CSV for ``label`` once; return its path."""
    path = DATA / f"accounts_us_{label}.csv"
    if not path.exists():
        from terrmap.sample import make_sample

        DATA.mkdir(parents=True, exist_ok=True)
        accounts, _ = make_sample(SIZES[label], 60, region="us", random_state=1)
        accounts.to_csv(path, index=False)
    return path


_TERRMAP = """
import resource, sys, time
t0 = time.perf_counter()
from terrmap.load import load_accounts
from terrmap.scoring import score_accounts
from terrmap.grid import aggregate_cells
t1 = time.perf_counter()
res = load_accounts(sys.argv[1])
t2 = time.perf_counter()
scored = score_accounts(res.frame)
t3 = time.perf_counter()
cells = aggregate_cells(scored, int(sys.argv[2]))
t4 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print({"load_validate": t2 - t1, "score": t3 - t2, "grid": t4 - t3, "total": t4 - t1,
       "peak_mib": peak, "rows": len(scored), "cells": len(cells)})
"""

_APPLY = """
import resource, sys, time
t0 = time.perf_counter()
import h3, pandas as pd
t1 = time.perf_counter()
df = pd.read_csv(sys.argv[1], dtype={"account_id": str, "zip": str})
def check(r):
    ok = -90 <= r["lat"] <= 90 and -180 <= r["lon"] <= 180 and r["acv"] >= 0
    return ok
ok = df.apply(check, axis=1)
t2 = time.perf_counter()
visits = {1: 2.0, 2: 1.0, 3: 0.5}
minutes = {1: 90, 2: 60, 3: 45}
df["workload_hours"] = df.apply(
    lambda r: visits.get(r["tier"], 0.5) * (minutes.get(r["tier"], 45) + 30) / 60, axis=1)
df["opportunity"] = df.apply(lambda r: r["acv"] * r["win_rate"], axis=1)
t3 = time.perf_counter()
df["cell"] = df.apply(lambda r: h3.latlng_to_cell(r["lat"], r["lon"], int(sys.argv[2])), axis=1)
cells = df.groupby("cell")[["workload_hours", "opportunity"]].sum()
t4 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print({"load_validate": t2 - t1, "score": t3 - t2, "grid": t4 - t3, "total": t4 - t1,
       "peak_mib": peak, "rows": len(df), "cells": len(cells)})
"""


def run_one(script: str, path: Path, timeout: float) -> dict[str, float] | None:
    """Run one measurement in a fresh interpreter; ``None`` when it exceeds ``timeout``."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", script, str(path), str(RESOLUTION)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, float] = eval(out.stdout.strip().splitlines()[-1])  # our own output
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50k,1M")
    parser.add_argument("--cap", type=float, default=300.0, help="seconds per baseline run")
    args = parser.parse_args(argv)
    rows = []
    for label in args.sizes.split(","):
        path = ensure_data(label)
        for method, script in (("terrmap", _TERRMAP), ("per-row apply", _APPLY)):
            started = time.perf_counter()
            result = run_one(script, path, args.cap)
            print(f"{label} {method}: {result} ({time.perf_counter() - started:.1f} s)")
            rows.append({"size": label, "method": method, "result": result})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(rows, indent=2))
    (RESULTS / "pipeline.md").write_text(to_markdown(rows, args.cap))


def to_markdown(rows: list[dict[str, object]], cap: float) -> str:
    lines = [
        "| accounts | method | load+validate s | score s | grid s | total s | peak MiB "
        "| total vs terrmap |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    base: dict[object, float] = {}
    for row in rows:
        r = row["result"]
        if not isinstance(r, dict):
            lines.append(f"| {row['size']} | {row['method']} | did not finish in {cap:.0f} s |||||")
            continue
        if row["method"] == "terrmap":
            base[row["size"]] = r["total"]
        ratio = r["total"] / base[row["size"]] if row["size"] in base else float("nan")
        lines.append(
            f"| {row['size']} | {row['method']} | {r['load_validate']:.2f} | {r['score']:.2f} "
            f"| {r['grid']:.2f} | {r['total']:.2f} | {r['peak_mib']:.0f} | {ratio:.1f}x |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
