"""Engine configuration (private module; the public names live in ``terrmap.design``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["METRIC_COLUMNS", "Balance", "DesignConfig"]

Balance = Literal["workload", "opportunity", "accounts"]


METRIC_COLUMNS: dict[str, str] = {
    "workload": "workload_hours",
    "opportunity": "opportunity",
    "accounts": "accounts",
}


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
        ``"equal"`` shares, or proportional to rep ``capacity_hours``.
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
        A fresh design balances to ``aim * tolerance`` where the grid allows (it
        always reports against ``tolerance``); the headroom lets later changes — a
        rep leaving, a capacity change — be absorbed with few accounts moved. Runs
        from a baseline or warm start use the full band.
    """

    balance: Balance = "workload"
    tolerance: float = 0.02
    secondary: Balance | None = None
    secondary_tolerance: float = 0.10
    targets: Literal["equal", "capacity"] = "equal"
    max_utilisation: float | None = None
    seeds: Literal["auto", "free", "homes"] = "auto"
    resolution: int | None = None
    max_moved: int | None = None
    stability: float = 3.0
    split_heavy: bool = True
    place_accounts: bool = True
    iterations: int = 8
    neighbours: int = 6
    polish: bool = True
    aim: float = 0.5

    def __post_init__(self) -> None:
        problems = []
        if self.balance not in METRIC_COLUMNS:
            problems.append(
                f"balance must be one of {sorted(METRIC_COLUMNS)}, got {self.balance!r}"
            )
        if self.secondary is not None and self.secondary not in METRIC_COLUMNS:
            problems.append(f"secondary must be None or one of {sorted(METRIC_COLUMNS)}")
        if self.secondary == self.balance:
            problems.append(f"secondary metric equals the balance metric ({self.balance!r})")
        if not 0 < self.tolerance < 1:
            problems.append(f"tolerance must be in (0, 1), got {self.tolerance}")
        if not 0 < self.secondary_tolerance < 10:
            problems.append(f"secondary_tolerance must be > 0, got {self.secondary_tolerance}")
        if self.resolution is not None and not 2 <= self.resolution <= 9:
            problems.append(f"resolution must be 2..9, got {self.resolution}")
        if self.max_moved is not None and self.max_moved < 0:
            problems.append(f"max_moved must be >= 0, got {self.max_moved}")
        if self.max_utilisation is not None and self.max_utilisation <= 0:
            problems.append(f"max_utilisation must be > 0, got {self.max_utilisation}")
        if not 0 < self.aim <= 1:
            problems.append(f"aim must be in (0, 1], got {self.aim}")
        if self.stability < 0 or self.iterations < 1 or self.neighbours < 1:
            problems.append("stability must be >= 0; iterations and neighbours >= 1")
        if problems:
            raise ValueError("invalid DesignConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)
