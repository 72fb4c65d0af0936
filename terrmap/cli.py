"""The ``terrmap`` command line: validate, sample, plan, route and plans.

Every subcommand is a thin shell over a library function. Errors the library raises
on purpose (:class:`~terrmap.errors.TerrmapError`) are printed in full, without a
traceback, and give exit status 2; anything else is a bug and surfaces.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from terrmap.errors import InputError, TerrmapError

__all__ = ["main"]


def _cmd_validate(args: argparse.Namespace) -> int:
    from terrmap.load import describe, validate_file

    try:
        accounts, reps = validate_file(
            args.accounts, reps_path=args.reps, drop_invalid=args.drop_invalid
        )
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 1
    for result in (reps, accounts):
        if result is not None:
            print(describe(result))
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from terrmap.sample import write_sample

    written = write_sample(
        args.out,
        n_accounts=args.accounts,
        n_reps=args.reps,
        region=args.region,
        random_state=args.seed,
        fmt=args.format,
    )
    for path in written:
        print(path)
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from terrmap.design import DesignConfig, build_plan
    from terrmap.load import load_accounts, load_reps
    from terrmap.plan import read_plan_dir, write_plan_dir
    from terrmap.scoring import score_accounts

    if (args.reps is None) == (args.territories is None):
        raise TerrmapError("give exactly one of --reps REPS or --territories K")
    started = time.perf_counter()
    reps = load_reps(args.reps).frame if args.reps is not None else None
    rep_ids = list(reps["rep_id"]) if reps is not None else None
    accounts = score_accounts(load_accounts(args.accounts, rep_ids=rep_ids).frame)
    baseline = read_plan_dir(args.baseline, accounts) if args.baseline is not None else None
    options: dict[str, object] = {"balance": args.balance, "tolerance": args.tolerance}
    if args.resolution is not None:
        options["resolution"] = args.resolution
    if args.max_moved is not None:
        options["max_moved"] = args.max_moved
    config = DesignConfig(**options)  # type: ignore[arg-type]
    plan = build_plan(
        accounts,
        reps,
        k=args.territories,
        config=config,
        baseline=baseline,
        random_state=args.seed,
    )
    out = write_plan_dir(plan, accounts, args.out, reps=reps)
    summary = json.loads((out / "summary.json").read_text())
    elapsed = time.perf_counter() - started
    print(json.dumps(_plan_headline(summary, elapsed), indent=2))
    return 0


def _plan_headline(summary: dict[str, object], elapsed: float) -> dict[str, object]:
    plan = summary.get("plan", summary)
    assert isinstance(plan, dict)
    head = {k: v for k, v in plan.items() if not isinstance(v, list | dict)}
    head["total_seconds"] = round(elapsed, 3)
    return head


def _cmd_route(args: argparse.Namespace) -> int:
    from terrmap.route_export import route_command

    summary = route_command(
        args.network,
        args.accounts,
        ids=args.ids.split(",") if args.ids else None,
        start=_parse_latlon(args.start),
        hours=args.hours,
        date=args.date,
        out=args.out,
        model=args.model,
        shift_start=_parse_clock(args.start_time),
    )
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from terrmap.route_export import calibrate_command

    print(json.dumps(calibrate_command(args.network, args.out, random_state=args.seed), indent=2))
    return 0


def _parse_clock(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError as exc:
        raise TerrmapError(
            f"--start-time {text!r} is not a time of day. Fix: write HH:MM, e.g. 08:30"
        ) from exc


def _parse_latlon(text: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError as exc:
        raise TerrmapError(
            f"--start {text!r} is not LAT,LON. Fix: give two numbers, e.g. --start 40.71,-74.01"
        ) from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise TerrmapError(f"--start {text!r} is outside the world. Fix: LAT in ±90, LON in ±180")
    return lat, lon


def _cmd_plans(args: argparse.Namespace) -> int:
    from terrmap import store_cli
    from terrmap.store import open_store

    db = open_store(args.db, create=args.plans_cmd == "import")
    try:
        if args.plans_cmd == "list":
            print(store_cli.plans_list(db))
        elif args.plans_cmd == "show":
            print(store_cli.plans_show(db, args.name))
        elif args.plans_cmd == "export":
            store_cli.plans_export(db, args.name, args.out)
            print(args.out)
        elif args.plans_cmd == "import":
            print(
                store_cli.plans_import(
                    db, args.dir, name=args.name, accounts=args.accounts, reps=args.reps
                )
            )
        elif args.plans_cmd == "diff":
            print(store_cli.plans_diff(db, args.a, args.b))
    finally:
        db.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``terrmap`` command (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="terrmap", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check an accounts file (and a rep roster)")
    p.add_argument("accounts", type=Path)
    p.add_argument("--reps", type=Path)
    p.add_argument(
        "--drop-invalid",
        action="store_true",
        help="drop rows with problems instead of failing (every dropped row is listed)",
    )
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("sample", help="generate realistic sample accounts and reps")
    p.add_argument("--accounts", type=int, default=5000)
    p.add_argument("--reps", type=int, default=12)
    p.add_argument("--region", default="northeast")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("plan", help="design balanced, contiguous territories")
    p.add_argument("accounts", type=Path)
    p.add_argument("--reps", type=Path)
    p.add_argument("--territories", type=int, metavar="K")
    p.add_argument("--balance", choices=["workload", "opportunity", "accounts"], default="workload")
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--resolution", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline", type=Path, metavar="PLAN_DIR")
    p.add_argument("--max-moved", type=int, metavar="N")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("route", help="plan a rep's day on a road network")
    p.add_argument("--network", type=Path)
    p.add_argument("--accounts", type=Path, required=True)
    p.add_argument("--ids")
    p.add_argument("--start", required=True, metavar="LAT,LON")
    p.add_argument("--hours", type=float, default=8.0)
    p.add_argument("--date")
    p.add_argument("--start-time", default="08:00", metavar="HH:MM")
    p.add_argument("--model", type=Path, help="travel model JSON written by 'terrmap calibrate'")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_cmd_route)

    p = sub.add_parser("calibrate", help="fit the straight-line travel estimate to a road network")
    p.add_argument("--network", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("plans", help="saved plans in the database")
    p.add_argument("--db", help="SQLAlchemy URL or SQLite path (default: TERRMAP_DB_URL or file)")
    psub = p.add_subparsers(dest="plans_cmd", required=True)
    psub.add_parser("list")
    q = psub.add_parser("show")
    q.add_argument("name")
    q = psub.add_parser("export")
    q.add_argument("name")
    q.add_argument("--out", type=Path, required=True)
    q = psub.add_parser("import")
    q.add_argument("dir", type=Path)
    q.add_argument("--name", required=True)
    q.add_argument("--accounts", type=Path)
    q.add_argument("--reps", type=Path)
    q = psub.add_parser("diff")
    q.add_argument("a")
    q.add_argument("b")
    p.set_defaults(func=_cmd_plans)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``terrmap`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TerrmapError as exc:
        print(f"terrmap: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
