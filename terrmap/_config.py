"""Engine configuration (private module; the public names live in ``terrmap.design``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from terrmap.errors import InputError, Problem

__all__ = ["METRIC_COLUMNS", "Balance", "DesignConfig", "DesignInputError", "bad_request"]

Balance = Literal["workload", "opportunity", "accounts"]


METRIC_COLUMNS: dict[str, str] = {
    "workload": "workload_hours",
    "opportunity": "opportunity",
    "accounts": "accounts",
}


class DesignInputError(InputError, ValueError):
    """A design request that cannot be used as given (an :class:`InputError`; also a
    ``ValueError`` for callers that treat it as a bad argument)."""


def bad_request(what: str, message: str, fix: str, value: object = None) -> DesignInputError:
    """One-problem :class:`DesignInputError` for ``build_plan`` arguments."""
    val = None if value is None else str(value)
    return DesignInputError([Problem(None, what, val, message, fix)], source="build_plan")


@dataclass(frozen=True)
class DesignConfig:
    """What the engine balances and how hard it tries.

    Attributes
    ----------
    balance
        Metric every territory must match its target on.
    tolerance
        Band on ``balance``: ``|load / target - 1| <= tolerance``.
    secondary, secondary_tolerance
        Optional second metric with its own (looser) band.
    targets
        ``"equal"`` shares, ``"capacity"`` (proportional to rep ``capacity_hours``:
        a new hire at 60% gets 60% of a full load), or ``"auto"``: capacity when
        reps with capacities are given, else equal.
    max_utilisation
        With capacity targets: raise :class:`InfeasibleError` when total workload
        exceeds this share of total capacity (None: no check).
    seeds
        ``"free"`` (weighted k-means++, reps matched to territories by least home
        distance), ``"homes"`` (territory k grows around rep k's home) or ``"auto"``
        (free).
    resolution
        Base H3 resolution (None: chosen from the extent of the data).
    max_moved
        With a baseline: most accounts that may change territory (hard cap).
    stability
        With a baseline: cost of moving weight off its baseline territory, in
        typical cell-to-seed distances (higher = fewer moves, less compact).
    split_heavy
        Split cells heavier than the band into H3 children (adaptive resolution).
    place_accounts
        Place individual accounts of an unsplittable heavy cell as overrides when
        that is what the band needs.
    iterations
        Most allocation / seed-update rounds (cold start).
    neighbours
        Flow arcs per cell (nearest seeds).
    polish
        Run compactness polishing after balancing.
    aim
        A fresh design lets each territory land within ``aim * tolerance`` of its
        target (it always reports against ``tolerance``): the room inside the band
        buys compactness, the rest is headroom that lets later changes — a rep
        leaving, a capacity change — be absorbed with few accounts moved. Runs from a
        baseline or warm start use the full band.
    """

    balance: Balance = "workload"
    tolerance: float = 0.02
    secondary: Balance | None = None
    secondary_tolerance: float = 0.10
    targets: Literal["auto", "equal", "capacity"] = "auto"
    max_utilisation: float | None = None
    seeds: Literal["auto", "free", "homes"] = "auto"
    resolution: int | None = None
    max_moved: int | None = None
    stability: float = 3.0
    split_heavy: bool = True
    place_accounts: bool = True
    iterations: int = 20
    neighbours: int = 6
    polish: bool = True
    aim: float = 0.5

    def __post_init__(self) -> None:
        problems = [
            Problem(None, name, repr(value), message, fix)
            for name, value, bad, message, fix in self._checks()
            if bad
        ]
        if problems:
            raise DesignInputError(problems, source="DesignConfig")

    def _checks(self) -> list[tuple[str, object, bool, str, str]]:
        metrics = sorted(METRIC_COLUMNS)
        return [
            ("balance", self.balance, self.balance not in METRIC_COLUMNS,
             "unknown balance metric", f"use one of {metrics}"),
            ("secondary", self.secondary,
             self.secondary is not None and self.secondary not in METRIC_COLUMNS,
             "unknown secondary metric", f"use None or one of {metrics}"),
            ("secondary", self.secondary, self.secondary == self.balance,
             "secondary metric equals the balance metric", "pick another metric or None"),
            ("tolerance", self.tolerance, not 0 < self.tolerance < 1,
             "tolerance out of range", "use a share such as 0.02 (±2%)"),
            ("secondary_tolerance", self.secondary_tolerance,
             not 0 < self.secondary_tolerance < 10, "secondary_tolerance out of range",
             "use a share such as 0.10"),
            ("resolution", self.resolution,
             self.resolution is not None and not 2 <= self.resolution <= 9,
             "resolution out of range", "use an H3 resolution 2..9, or None for automatic"),
            ("max_moved", self.max_moved, self.max_moved is not None and self.max_moved < 0,
             "max_moved is negative", "use a number of accounts >= 0, or None"),
            ("max_utilisation", self.max_utilisation,
             self.max_utilisation is not None and self.max_utilisation <= 0,
             "max_utilisation must be positive", "use e.g. 1.0 (100%), or None"),
            ("targets", self.targets, self.targets not in ("auto", "equal", "capacity"),
             "unknown targets", "use 'auto', 'equal' or 'capacity'"),
            ("aim", self.aim, not 0 < self.aim <= 1, "aim out of range", "use a share in (0, 1]"),
            ("stability", self.stability, self.stability < 0, "stability is negative",
             "use 0 or more"),
            ("iterations", self.iterations, self.iterations < 1, "iterations below 1",
             "use 1 or more"),
            ("neighbours", self.neighbours, self.neighbours < 1, "neighbours below 1",
             "use 1 or more"),
        ]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)
