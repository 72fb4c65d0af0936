"""Account scoring: ICP fit, tiers, opportunity and the monthly workload model.

The model is deliberately explicit, so a sales leader can read every number that drives
a territory design (:func:`describe_model` prints it with the current parameters):

**ICP fit score** (0-100). Four firmographic components, each scored 0..1:

* industry -- ``industry_fit`` table (case-insensitive); an industry not in the table
  scores ``other_industry_fit``;
* employees -- ``employee_bands``: ``(lower bound, score)`` pairs, a count scores the band
  it falls in (counts below the first bound score the first band);
* segment -- ``segment_fit`` (SMB / MM / ENT);
* ACV -- log-linear between ``acv_fit_floor`` (scores 0) and ``acv_fit_full`` (scores 1).

``fit = 100 * sum(w_k * s_k) / sum(w_k)`` over the components *present* for the account
(weights ``weight_industry``, ``weight_employees``, ``weight_segment``, ``weight_acv``).
An account with none of them gets ``neutral_fit``.

**Opportunity** (USD per year) ``= acv * win_rate``; a missing ACV or win rate takes
the default of the account's segment (``segment_acv``, ``segment_win_rate``) or, with
no segment, ``default_acv`` / ``default_win_rate``.

**Tier** -- a tier in the file is kept (``tier_source = "given"``); a missing one is
derived (``"derived"``): tier 1 when ``fit >= tier1_fit`` *and*
``opportunity >= tier1_opportunity``; else tier 2 when ``fit >= tier2_fit`` *or*
``opportunity >= tier2_opportunity``; else tier 3.

**Workload** (hours per month) ``= visits_per_month[tier] * (service_minutes[tier] +
travel_minutes) / 60``. A ``workload_hours`` value in the file is kept as given
(``workload_source = "given"``); the model fills the rest (``"model"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa

from terrmap.errors import InputError, Problem
from terrmap.schema import SEGMENT_ALIASES, SEGMENTS

__all__ = [
    "SEGMENTS",
    "ScoringConfig",
    "derive_tiers",
    "describe_model",
    "fit_scores",
    "opportunity",
    "score_accounts",
    "tier_table",
]

_MAX_LISTED = 10  # rows named per problem in an error message
_NON_ALNUM = re.compile(r"[^0-9a-z]+")  # segment spellings compare like terrmap.schema


@dataclass(frozen=True)
class ScoringConfig:
    """Parameters of the scoring and workload model (see the module docstring).

    Tables are tuples of ``(key, value)`` pairs so the config stays hashable (usable
    as a cache key). Every value is checked when the config is built; all problems
    are reported together in one :class:`~terrmap.errors.InputError`.

    The defaults describe a field team that visits tier-1 accounts monthly, tier-2
    quarterly and tier-3 once a year, for 60 / 45 / 30 minutes plus a 25-minute travel
    allowance per visit (1.42 / 0.39 / 0.08 hours per account and month); on the
    bundled sample they give a total workload of about 90% of the reps' capacity.

    Attributes
    ----------
    visits_per_month
        Visits per month for tier 1, 2 and 3 (0..60).
    service_minutes
        Minutes on site per visit, by tier (0..1440).
    travel_minutes
        Travel allowance per visit in minutes (0..1440), added to the service time.
    segment_acv, segment_win_rate
        Defaults for a missing ACV (USD >= 0) or win rate (0..1), by segment.
    default_acv, default_win_rate
        Defaults when the segment is missing too.
    weight_industry, weight_employees, weight_segment, weight_acv
        Weights of the fit components (>= 0, not all 0); only relative sizes matter.
    industry_fit, other_industry_fit
        Industry score (0..1) by name, and for industries not listed.
    employee_bands
        ``(lower bound, score)`` pairs with increasing bounds; scores 0..1.
    segment_fit
        Segment score (0..1).
    acv_fit_floor, acv_fit_full
        ACV scoring 0 and 1 (log-linear between; ``0 < floor < full``).
    neutral_fit
        Fit of an account with no firmographics (0..100).
    tier1_fit, tier1_opportunity, tier2_fit, tier2_opportunity
        Tier thresholds (fit 0..100, opportunity USD); tier 2 may not exceed tier 1.
    """

    visits_per_month: tuple[float, float, float] = (1.0, 1 / 3, 1 / 12)
    service_minutes: tuple[float, float, float] = (60.0, 45.0, 30.0)
    travel_minutes: float = 25.0
    segment_acv: tuple[tuple[str, float], ...] = (
        ("SMB", 10_000.0),
        ("MM", 40_000.0),
        ("ENT", 150_000.0),
    )
    segment_win_rate: tuple[tuple[str, float], ...] = (
        ("SMB", 0.30),
        ("MM", 0.25),
        ("ENT", 0.18),
    )
    default_acv: float = 20_000.0
    default_win_rate: float = 0.25
    weight_industry: float = 0.35
    weight_employees: float = 0.25
    weight_segment: float = 0.15
    weight_acv: float = 0.25
    industry_fit: tuple[tuple[str, float], ...] = (
        ("Manufacturing", 1.0),
        ("Healthcare", 0.9),
        ("Wholesale & Distribution", 0.85),
        ("Construction", 0.8),
        ("Transportation & Logistics", 0.75),
        ("Education", 0.6),
        ("Hospitality", 0.5),
        ("Retail", 0.5),
        ("Professional Services", 0.4),
        ("Financial Services", 0.35),
        ("Technology", 0.35),
    )
    other_industry_fit: float = 0.3
    employee_bands: tuple[tuple[float, float], ...] = (
        (0.0, 0.2),
        (10.0, 0.45),
        (50.0, 0.75),
        (100.0, 1.0),
        (2_500.0, 0.9),
        (10_000.0, 0.75),
    )
    segment_fit: tuple[tuple[str, float], ...] = (("SMB", 0.5), ("MM", 1.0), ("ENT", 0.85))
    acv_fit_floor: float = 2_000.0
    acv_fit_full: float = 100_000.0
    neutral_fit: float = 50.0
    tier1_fit: float = 75.0
    tier1_opportunity: float = 15_000.0
    tier2_fit: float = 70.0
    tier2_opportunity: float = 10_000.0

    def __post_init__(self) -> None:
        problems = _config_problems(self)
        if problems:
            raise InputError(problems, source="ScoringConfig")

    @property
    def hours_by_tier(self) -> tuple[float, float, float]:
        """Modelled workload hours per month of one tier-1, tier-2 and tier-3 account."""
        v, s, t = self.visits_per_month, self.service_minutes, self.travel_minutes
        return (v[0] * (s[0] + t) / 60, v[1] * (s[1] + t) / 60, v[2] * (s[2] + t) / 60)


def _bad(name: str, value: object, message: str, fix: str) -> Problem:
    return Problem(row=None, column=name, value=repr(value), message=message, fix=fix)


def _check_range(
    name: str, values: tuple[float, ...], low: float, high: float, *, open_low: bool = False
) -> list[Problem]:
    out = []
    for v in values:
        ok = np.isfinite(v) and (v > low if open_low else v >= low) and v <= high
        if not ok:
            rng = f"{'(' if open_low else '['}{low:g}, {high:g}]"
            out.append(_bad(name, v, f"{name} must lie in {rng}", f"give {name} within {rng}"))
    return out


def _config_problems(c: ScoringConfig) -> list[Problem]:
    p: list[Problem] = []
    for name in ("visits_per_month", "service_minutes"):
        value = getattr(c, name)
        if len(value) != 3:
            p.append(_bad(name, value, f"{name} needs 3 values", "give one value per tier 1, 2, 3"))
    p += _check_range("visits_per_month", tuple(c.visits_per_month), 0, 60)
    p += _check_range("service_minutes", tuple(c.service_minutes), 0, 24 * 60)
    p += _check_range("travel_minutes", (c.travel_minutes,), 0, 24 * 60)
    p += _check_range("segment_acv", tuple(v for _, v in c.segment_acv), 0, 1e12)
    p += _check_range("segment_win_rate", tuple(v for _, v in c.segment_win_rate), 0, 1)
    p += _check_range("default_acv", (c.default_acv,), 0, 1e12)
    p += _check_range("default_win_rate", (c.default_win_rate,), 0, 1)
    weights = (c.weight_industry, c.weight_employees, c.weight_segment, c.weight_acv)
    p += _check_range("weight_*", weights, 0, 1e6)
    if all(np.isfinite(w) for w in weights) and sum(weights) <= 0:
        p.append(_bad("weight_*", weights, "the fit weights sum to 0", "make one weight > 0"))
    p += _check_range("industry_fit", tuple(v for _, v in c.industry_fit), 0, 1)
    p += _check_range("other_industry_fit", (c.other_industry_fit,), 0, 1)
    p += _check_range("segment_fit", tuple(v for _, v in c.segment_fit), 0, 1)
    p += _check_range("employee_bands", tuple(v for _, v in c.employee_bands), 0, 1)
    bounds = [b for b, _ in c.employee_bands]
    if not bounds or any(b2 <= b1 for b1, b2 in pairwise(bounds)):
        p.append(
            _bad("employee_bands", bounds, "band lower bounds must increase", "sort the bands")
        )
    for name, table in (("segment_acv", c.segment_acv), ("segment_win_rate", c.segment_win_rate)):
        unknown = sorted({k for k, _ in table} - set(SEGMENTS))
        if unknown:
            p.append(_bad(name, unknown, "unknown segment", f"use segments {SEGMENTS}"))
    p += _check_range("acv_fit_floor", (c.acv_fit_floor,), 0, 1e12, open_low=True)
    p += _check_range("acv_fit_full", (c.acv_fit_full,), c.acv_fit_floor, 1e12, open_low=True)
    for name in ("neutral_fit", "tier1_fit", "tier2_fit"):
        p += _check_range(name, (getattr(c, name),), 0, 100)
    p += _check_range("tier1_opportunity", (c.tier1_opportunity,), 0, 1e12)
    p += _check_range("tier2_opportunity", (c.tier2_opportunity,), 0, 1e12)
    if c.tier2_fit > c.tier1_fit or c.tier2_opportunity > c.tier1_opportunity:
        p.append(
            _bad(
                "tier2_*",
                (c.tier2_fit, c.tier2_opportunity),
                "tier-2 thresholds exceed the tier-1 thresholds",
                "keep tier2_fit <= tier1_fit and tier2_opportunity <= tier1_opportunity",
            )
        )
    return p


# --------------------------------------------------------------------------- inputs


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The column as float64 (NaN where missing); a column that is absent is all NaN."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce")
    return values.to_numpy(dtype=float, na_value=np.nan)


def _codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str | None]]:
    """Factorize a text column: codes (-1 = missing) and its distinct values, stripped.

    A blank value comes back as ``None`` among the distinct values: callers treat it
    as missing. Stripping the distinct values only keeps this fast on 1M rows.
    """
    if column not in frame.columns:
        return np.full(len(frame), -1, dtype=np.intp), []
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    cleaned = [str(u).strip() or None for u in uniques]
    return np.asarray(codes, dtype=np.intp), cleaned


def _rows_text(mask: np.ndarray, index: pd.Index) -> str:
    rows = index[np.flatnonzero(mask)[:_MAX_LISTED]].tolist()
    more = int(mask.sum()) - len(rows)
    return ", ".join(map(str, rows)) + (f" (+{more:,} more)" if more > 0 else "")


def _range_problem(
    frame: pd.DataFrame, column: str, bad: np.ndarray, message: str, fix: str
) -> list[Problem]:
    if not bad.any():
        return []
    where = _rows_text(bad, frame.index)
    return [Problem(None, column, f"index {where}", f"{int(bad.sum()):,} {message}", fix)]


def _segments(frame: pd.DataFrame) -> tuple[np.ndarray, list[Problem]]:
    """Segment index per account into :data:`SEGMENTS` (-1 = missing) and any problems."""
    codes, uniques = _codes(frame, "segment")
    canon = [SEGMENT_ALIASES.get(_NON_ALNUM.sub("", u.lower())) if u else "" for u in uniques]
    lookup = np.array([SEGMENTS.index(c) if c else -1 if c == "" else -2 for c in canon] + [-1])
    seg = lookup[codes]  # code -1 picks the trailing -1 (missing)
    problems = []
    if (seg == -2).any():
        unknown = sorted(str(u) for u, c in zip(uniques, canon, strict=True) if c is None)
        problems.append(
            Problem(
                None,
                "segment",
                ", ".join(unknown[:_MAX_LISTED]),
                f"unknown segment in {int((seg == -2).sum()):,} rows",
                f"use one of {', '.join(SEGMENTS)} or leave it empty",
            )
        )
    return seg, problems


def _check_inputs(frame: pd.DataFrame) -> list[Problem]:
    p: list[Problem] = []
    for column, low, high in (
        ("acv", 0, np.inf),
        ("employees", 0, np.inf),
        ("win_rate", 0, 1),
        ("workload_hours", 0, np.inf),
    ):
        v = _numeric(frame, column)
        bad = ~np.isnan(v) & ((v < low) | (v > high))
        if column in frame.columns:
            bad |= np.isnan(v) & frame[column].notna().to_numpy()
        p += _range_problem(
            frame, column, bad, f"values not a number in [{low:g}, {high:g}]", "correct them"
        )
    tier = _numeric(frame, "tier")
    bad = ~np.isnan(tier) & ~np.isin(tier, (1, 2, 3))
    if "tier" in frame.columns:
        bad |= np.isnan(tier) & frame["tier"].notna().to_numpy()
    p += _range_problem(frame, "tier", bad, "tiers not 1, 2 or 3", "use 1, 2, 3 or leave empty")
    return p


# --------------------------------------------------------------------------- model


def _table_lookup(
    frame: pd.DataFrame, column: str, table: Mapping[str, float], other: float
) -> np.ndarray:
    """Score of each account's text value (case-insensitive); NaN where the value is missing."""
    codes, uniques = _codes(frame, column)
    folded = {k.casefold(): v for k, v in table.items()}
    lookup = np.array(
        [np.nan if u is None else folded.get(u.casefold(), other) for u in uniques] + [np.nan]
    )
    scores: np.ndarray = lookup[codes]
    return scores


def _segment_slots(accounts: pd.DataFrame) -> np.ndarray:
    """Index into ``SEGMENTS + (missing,)`` per account; raises on unknown segments."""
    seg, problems = _segments(accounts)
    if problems:
        raise InputError(problems, source="scoring")
    return np.where(seg < 0, len(SEGMENTS), seg)


def _per_segment(table: tuple[tuple[str, float], ...], missing: float) -> np.ndarray:
    values = dict(table)
    return np.array([values.get(s, missing) for s in SEGMENTS] + [missing])


def _employee_scores(employees: np.ndarray, c: ScoringConfig) -> np.ndarray:
    bounds = np.array([b for b, _ in c.employee_bands])
    scores = np.array([s for _, s in c.employee_bands])
    band = np.clip(np.searchsorted(bounds, np.nan_to_num(employees), side="right") - 1, 0, None)
    return np.where(np.isnan(employees), np.nan, scores[band])


def _acv_scores(acv: np.ndarray, c: ScoringConfig) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(np.maximum(acv, 0) / c.acv_fit_floor) / np.log(
            c.acv_fit_full / c.acv_fit_floor
        )
    return np.where(np.isnan(acv), np.nan, np.clip(ratio, 0, 1))


def _fit(accounts: pd.DataFrame, slots: np.ndarray, c: ScoringConfig) -> np.ndarray:
    industry = _table_lookup(accounts, "industry", dict(c.industry_fit), c.other_industry_fit)
    components = (
        (c.weight_industry, industry),
        (c.weight_employees, _employee_scores(_numeric(accounts, "employees"), c)),
        (c.weight_segment, _per_segment(c.segment_fit, np.nan)[slots]),
        (c.weight_acv, _acv_scores(_numeric(accounts, "acv"), c)),
    )
    total = np.zeros(len(accounts))
    weight = np.zeros(len(accounts))
    for w, score in components:
        present = ~np.isnan(score)
        total += np.where(present, w * np.nan_to_num(score), 0.0)
        weight += np.where(present, w, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(weight > 0, 100 * total / weight, c.neutral_fit)


def _opportunity(accounts: pd.DataFrame, slots: np.ndarray, c: ScoringConfig) -> np.ndarray:
    acv = _numeric(accounts, "acv")
    win = _numeric(accounts, "win_rate")
    acv = np.where(np.isnan(acv), _per_segment(c.segment_acv, c.default_acv)[slots], acv)
    win = np.where(np.isnan(win), _per_segment(c.segment_win_rate, c.default_win_rate)[slots], win)
    opp: np.ndarray = acv * win
    return opp


def fit_scores(accounts: pd.DataFrame, config: ScoringConfig | None = None) -> np.ndarray:
    """ICP fit score 0-100 of each account (formula in the module docstring)."""
    return _fit(accounts, _segment_slots(accounts), config or ScoringConfig())


def opportunity(accounts: pd.DataFrame, config: ScoringConfig | None = None) -> np.ndarray:
    """``acv * win_rate`` per account, with segment (then overall) defaults for gaps."""
    return _opportunity(accounts, _segment_slots(accounts), config or ScoringConfig())


def derive_tiers(
    fit: np.ndarray, opp: np.ndarray, config: ScoringConfig | None = None
) -> np.ndarray:
    """Tier 1/2/3 (int8) from fit score and opportunity by the configured thresholds."""
    c = config or ScoringConfig()
    tier1 = (fit >= c.tier1_fit) & (opp >= c.tier1_opportunity)
    tier2 = (fit >= c.tier2_fit) | (opp >= c.tier2_opportunity)
    return np.where(tier1, 1, np.where(tier2, 2, 3)).astype(np.int8)


def _labels(mask: np.ndarray, true: str, false: str) -> pd.api.extensions.ExtensionArray:
    """A fast string column of two labels (pyarrow take instead of 1M Python strings)."""
    taken = pa.array([false, true]).take(pa.array(mask.astype(np.int8)))
    labels: pd.api.extensions.ExtensionArray = pd.array(taken, dtype="str")
    return labels


def score_accounts(accounts: pd.DataFrame, config: ScoringConfig | None = None) -> pd.DataFrame:
    """Score accounts: fit score, tier, opportunity and monthly workload hours.

    Parameters
    ----------
    accounts
        The canonical accounts frame (``terrmap.load.load_accounts(...).frame``); any
        of the optional columns may be absent.
    config
        The model parameters; ``ScoringConfig()`` when omitted.

    Returns
    -------
    pd.DataFrame
        A new frame (the input is not changed) with ``fit_score``, ``tier`` (Int8,
        filled), ``tier_source`` (``"given"``/``"derived"``), ``opportunity``,
        ``workload_hours`` (filled) and ``workload_source`` (``"given"``/``"model"``).

    Raises
    ------
    InputError
        Listing every out-of-range value (negative ACV or workload, win rate outside
        0..1, tier other than 1/2/3, unknown segment).
    """
    c = config or ScoringConfig()
    seg, seg_problems = _segments(accounts)
    problems = _check_inputs(accounts) + seg_problems
    if problems:
        raise InputError(problems, source="score_accounts")
    slots = np.where(seg < 0, len(SEGMENTS), seg)
    fit = _fit(accounts, slots, c)
    opp = _opportunity(accounts, slots, c)
    given_tier = _numeric(accounts, "tier")
    tier_given = ~np.isnan(given_tier)
    tier = np.where(tier_given, np.nan_to_num(given_tier), derive_tiers(fit, opp, c)).astype(
        np.int8
    )
    given_hours = _numeric(accounts, "workload_hours")
    hours_given = ~np.isnan(given_hours)
    model_hours = np.asarray(c.hours_by_tier)[tier - 1]
    out = accounts.copy()
    out["fit_score"] = fit
    out["tier"] = pd.array(tier, dtype="Int8")
    out["tier_source"] = _labels(tier_given, "given", "derived")
    out["opportunity"] = opp
    out["workload_hours"] = np.where(hours_given, given_hours, model_hours)
    out["workload_source"] = _labels(hours_given, "given", "model")
    return out


# --------------------------------------------------------------------------- explain


def tier_table(config: ScoringConfig | None = None) -> pd.DataFrame:
    """Per-tier visit plan: visits/month, service and travel minutes, hours per account."""
    c = config or ScoringConfig()
    return pd.DataFrame(
        {
            "tier": [1, 2, 3],
            "visits_per_month": list(c.visits_per_month),
            "service_minutes": list(c.service_minutes),
            "travel_minutes": [c.travel_minutes] * 3,
            "hours_per_account": list(c.hours_by_tier),
        }
    )


def describe_model(config: ScoringConfig | None = None) -> str:
    """The scoring model with the current parameters, as Markdown (for the UI and docs)."""
    c = config or ScoringConfig()
    w = (c.weight_industry, c.weight_employees, c.weight_segment, c.weight_acv)
    rows = "\n".join(
        f"| {t} | {v:.3g} | {s:g} | {c.travel_minutes:g} | {h:.2f} |"
        for t, v, s, h in zip(
            (1, 2, 3), c.visits_per_month, c.service_minutes, c.hours_by_tier, strict=True
        )
    )
    seg_defaults = ", ".join(
        f"{s} ${a:,.0f} × {r:.0%}"
        for (s, a), (_, r) in zip(c.segment_acv, c.segment_win_rate, strict=False)
    )
    return (
        "**Workload** (hours per month) = visits per month × (service minutes + travel "
        "allowance) / 60, by tier. A `workload_hours` column in the file is used as given.\n\n"
        "| tier | visits / month | service min | travel min | hours / account |\n"
        "|---|---|---|---|---|\n"
        f"{rows}\n\n"
        "**Opportunity** = ACV × win rate; gaps take the segment default "
        f"({seg_defaults}; no segment: ${c.default_acv:,.0f} × {c.default_win_rate:.0%}).\n\n"
        "**ICP fit** (0-100) = weighted mean of the firmographics present: industry "
        f"{w[0]:g}, employees {w[1]:g}, segment {w[2]:g}, ACV {w[3]:g} (ACV scores 0 at "
        f"${c.acv_fit_floor:,.0f} and 1 at ${c.acv_fit_full:,.0f}, log scale); none present: "
        f"{c.neutral_fit:g}.\n\n"
        f"**Tiers** (when not given): tier 1 if fit ≥ {c.tier1_fit:g} and opportunity ≥ "
        f"${c.tier1_opportunity:,.0f}; tier 2 if fit ≥ {c.tier2_fit:g} or opportunity ≥ "
        f"${c.tier2_opportunity:,.0f}; otherwise tier 3."
    )
