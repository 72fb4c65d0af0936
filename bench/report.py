"""Assemble ``BENCHMARKS.md`` from the result files the benchmarks wrote.

python -m bench.report
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

HEADER = """# Benchmarks

Measured on this project's machine: 2 cores, 24 GiB, Python 3.11, shared with other
work while running, so absolute seconds carry noise; ratios between methods measured in
the same run are the reliable figures. Regenerate with `make bench` (installs the
`bench` extra with the peers) — each section says its own command. Nothing here is a
unit-test assertion.

"""

SECTIONS = (
    (
        "Load + validate + score + grid",
        "pipeline.md",
        "`python -m bench.pipeline --sizes 50k,1M`. Each run in a fresh process on a generated "
        "US-wide accounts CSV; peak = the process's max RSS. Baseline: `pd.read_csv` plus per-row "
        "`apply` for checks, workload and `h3.latlng_to_cell` (it validates far less). "
        "Targets: 1M accounts < 10 s and < 2 GiB; 50k < 1 s.",
    ),
    ("Territory engine against its peers", "engine.md", "See `bench/README.md` for the method."),
    (
        "Territory engine: what balance costs in compactness",
        "frontier.md",
        "`python -m bench.frontier --sizes 5k,50k` (in-process, same sets and metric).",
    ),
    ("Drive times and day plans", "routing.md", ""),
    ("Dashboard: what-if slider latency", "dashboard.md", ""),
)


def main() -> None:
    parts = [HEADER]
    for title, name, intro in SECTIONS:
        body = (RESULTS / name).read_text().strip()
        lines = [ln for ln in body.splitlines() if not ln.startswith("# ")]  # own top heading
        body = "\n".join("#" + ln if ln.startswith("## ") else ln for ln in lines)
        parts.append(
            f"## {title}\n\n{intro}\n\n{body}\n\n" if intro else f"## {title}\n\n{body}\n\n"
        )
    (ROOT / "BENCHMARKS.md").write_text("".join(parts).rstrip() + "\n")


if __name__ == "__main__":
    main()
