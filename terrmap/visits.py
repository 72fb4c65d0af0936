"""Which accounts a rep should visit, how urgently, and how long a visit takes.

A visit's *priority* combines the account's tier, how overdue it is against its visit
interval (from the visits-per-month of its tier) and its opportunity; routing maximises
the total priority it can fit in a day. The default frequencies and service times come
from :class:`terrmap.scoring.ScoringConfig`, so workload and routes agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from terrmap.scoring import ScoringConfig

__all__ = ["DAYS_PER_MONTH", "DayConfig", "due_visits", "visit_priority"]

#: Average days in a month (visit intervals are ``DAYS_PER_MONTH / visits_per_month``).
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class DayConfig:
    """How stops are valued and how long they take.

    Attributes
    ----------
    visits_per_month
        Visits per month of a tier-1, -2, -3 account (sets the visit interval that
        decides whether an account is overdue); defaults from :class:`ScoringConfig`.
    service_minutes
        Minutes on site per tier; defaults from :class:`ScoringConfig`.
    default_service_minutes
        Minutes on site for an account without a tier.
    tier_points
        Priority points of a tier-1, -2, -3 account that is exactly due.
    opportunity_points
        Extra points for the account with the largest opportunity among the candidates
        (scaled by its percentile rank).
    max_due_factor
        Cap on how much being overdue multiplies the tier points.
    unknown_due_factor
        Due factor of an account never visited (no ``last_activity``).
    max_candidates
        Most accounts handed to the solver: the highest-priority ones that could fit in
        the day on their own.
    snap_warning_m
        Warn when a stop lies farther than this from the road network.
    max_snap_m
        A stop farther than this from the road network is outside it (dropped as
        unreachable); a home that far raises an error.
    """

    visits_per_month: tuple[float, float, float] = ScoringConfig().visits_per_month
    service_minutes: tuple[float, float, float] = ScoringConfig().service_minutes
    default_service_minutes: float = 45.0
    tier_points: tuple[float, float, float] = (60.0, 30.0, 12.0)
    opportunity_points: float = 20.0
    max_due_factor: float = 3.0
    unknown_due_factor: float = 1.5
    max_candidates: int = 150
    snap_warning_m: float = 1_000.0
    max_snap_m: float = 10_000.0

    @classmethod
    def from_scoring(cls, scoring: ScoringConfig, **changes: object) -> DayConfig:
        """A day config taking visit frequencies and service times from a scoring config."""
        base = cls(
            visits_per_month=scoring.visits_per_month, service_minutes=scoring.service_minutes
        )
        return replace(base, **changes)  # type: ignore[arg-type]


def visit_priority(
    accounts: pd.DataFrame, *, date: dt.date, config: DayConfig | None = None
) -> pd.DataFrame:
    """Priority of visiting each account on ``date`` (higher first).

    ``priority = tier_points[tier] * due_factor + opportunity_points * opportunity_rank``
    where ``due_factor = days_since_last_activity / visit_interval`` clipped to
    ``[0.1, max_due_factor]`` (``unknown_due_factor`` without a last activity) and the
    opportunity rank is the percentile among ``accounts`` (0 when unknown).

    Returns
    -------
    DataFrame
        Index aligned with ``accounts``; columns ``priority``, ``days_since``,
        ``interval_days``, ``due_factor``, ``overdue`` (bool), ``service_min``.
    """
    c = config or DayConfig()
    tier = _tiers(accounts)
    slot = np.where(tier >= 1, tier - 1, 2)
    visits = np.asarray(c.visits_per_month)[slot]
    interval = np.where(visits > 0, DAYS_PER_MONTH / np.maximum(visits, 1e-9), np.inf)
    days_since = _days_since(accounts, date)
    known = ~np.isnan(days_since)
    due = np.where(
        known, np.clip(days_since / interval, 0.1, c.max_due_factor), c.unknown_due_factor
    )
    opp = pd.to_numeric(accounts.get("opportunity", pd.Series(np.nan, accounts.index)))
    rank = opp.rank(pct=True).fillna(0.0).to_numpy(float)
    priority = np.asarray(c.tier_points)[slot] * due + c.opportunity_points * rank
    service = np.where(tier >= 1, np.asarray(c.service_minutes)[slot], c.default_service_minutes)
    return pd.DataFrame(
        {
            "priority": np.round(priority, 1),
            "days_since": days_since,
            "interval_days": interval,
            "due_factor": due,
            "overdue": known & (days_since > interval) | ~known,
            "service_min": service.astype(float),
        },
        index=accounts.index,
    )


def _tiers(accounts: pd.DataFrame) -> npt.NDArray[np.int64]:
    if "tier" not in accounts:
        return np.zeros(len(accounts), dtype=np.int64)
    t = pd.to_numeric(accounts["tier"], errors="coerce").to_numpy(float, na_value=np.nan)
    return np.where(np.isin(t, (1, 2, 3)), np.nan_to_num(t), 0).astype(np.int64)


def _days_since(accounts: pd.DataFrame, date: dt.date) -> npt.NDArray[np.float64]:
    if "last_activity" not in accounts:
        return np.full(len(accounts), np.nan)
    last = pd.to_datetime(accounts["last_activity"], errors="coerce")
    days = (pd.Timestamp(date) - last).dt.total_seconds() / 86_400.0
    return np.asarray(days.to_numpy(np.float64, na_value=np.nan), dtype=np.float64)


def due_visits(
    accounts: pd.DataFrame, *, week_start: dt.date, days: int = 5, config: DayConfig | None = None
) -> npt.NDArray[np.int64]:
    """Visits each account needs in the ``days`` starting at ``week_start``.

    An account is due when, by the last day, more time will have passed since its last
    activity than its visit interval, or when it has no last activity; it then needs one
    visit, or ``round(7 / interval)`` (at most ``days``) when visited more than weekly.
    """
    info = visit_priority(accounts, date=week_start, config=config)
    since_end = info["days_since"].to_numpy(float) + (days - 1)
    interval = info["interval_days"].to_numpy(float)
    due = np.isnan(since_end) | (since_end >= interval)
    weekly = np.where(interval < 7, np.floor(7 / np.maximum(interval, 1e-9) + 0.5), 1)
    need: npt.NDArray[np.int64] = np.where(due, np.minimum(weekly, days), 0).astype(np.int64)
    return need
