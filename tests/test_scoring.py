"""Tests of the scoring and workload model (terrmap.scoring)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from terrmap.errors import InputError
from terrmap.scoring import (
    ScoringConfig,
    derive_tiers,
    describe_model,
    fit_scores,
    opportunity,
    score_accounts,
    tier_table,
)

NA = pd.NA


def frame(**columns: list[object]) -> pd.DataFrame:
    """A canonical-looking accounts frame with the given columns (others absent)."""
    n = len(next(iter(columns.values())))
    data: dict[str, object] = {"account_id": [f"A{i}" for i in range(n)]}
    data.update(columns)
    out = pd.DataFrame(data)
    for col in ("employees", "acv", "win_rate", "workload_hours"):
        if col in out:
            out[col] = pd.array(out[col], dtype="Float64").to_numpy(float, na_value=np.nan)
    if "tier" in out:
        out["tier"] = out["tier"].astype("Int8")
    return out


# --------------------------------------------------------------------------- formulas


def test_ideal_account_scores_100_and_tier_1() -> None:
    acc = frame(
        industry=["Manufacturing"], employees=[150], segment=["MM"], acv=[100_000], win_rate=[0.3]
    )
    out = score_accounts(acc)
    assert out["fit_score"].iloc[0] == pytest.approx(100.0)
    assert out["opportunity"].iloc[0] == pytest.approx(30_000.0)
    assert out["tier"].iloc[0] == 1
    assert out["tier_source"].iloc[0] == "derived"
    # tier 1: 1 visit x (60 service + 25 travel) / 60
    assert out["workload_hours"].iloc[0] == pytest.approx(85 / 60)
    assert out["workload_source"].iloc[0] == "model"


def test_weak_account_hand_computed() -> None:
    # industry Retail 0.5, 5 employees -> band 0 (0.2), SMB 0.5, ACV at the floor -> 0
    acc = frame(industry=["Retail"], employees=[5], segment=["SMB"], acv=[2_000], win_rate=[0.3])
    out = score_accounts(acc)
    expected_fit = 100 * (0.35 * 0.5 + 0.25 * 0.2 + 0.15 * 0.5 + 0.25 * 0.0) / 1.0
    assert out["fit_score"].iloc[0] == pytest.approx(expected_fit)  # 30
    assert out["opportunity"].iloc[0] == pytest.approx(600.0)
    assert out["tier"].iloc[0] == 3
    assert out["workload_hours"].iloc[0] == pytest.approx((1 / 12) * (30 + 25) / 60)


def test_fit_uses_only_components_present() -> None:
    acc = frame(industry=["Underwater Basket Weaving", "Healthcare"], employees=[NA, 20])
    fit = fit_scores(acc)
    assert fit[0] == pytest.approx(30.0)  # other_industry_fit, the only component
    # Healthcare 0.9 (w .35) and 20 employees -> band 10 (0.45, w .25)
    assert fit[1] == pytest.approx(100 * (0.35 * 0.9 + 0.25 * 0.45) / 0.60)


def test_no_firmographics_gives_neutral_fit_and_overall_defaults() -> None:
    acc = frame(name=["Nobody Inc."])
    out = score_accounts(acc)
    assert out["fit_score"].iloc[0] == 50.0
    assert out["opportunity"].iloc[0] == pytest.approx(20_000 * 0.25)
    assert out["tier"].iloc[0] == 3


def test_acv_score_is_log_linear() -> None:
    mid = math.sqrt(2_000 * 100_000)
    fit = fit_scores(frame(acv=[mid, 1_000, 1e7, 0]))
    np.testing.assert_allclose(fit, [50.0, 0.0, 100.0, 0.0])


def test_employee_bands_boundaries() -> None:
    fit = fit_scores(frame(employees=[0, 9.9, 10, 99, 100, 2_499, 2_500, 10_000, 1e6]))
    expected = [0.2, 0.2, 0.45, 0.75, 1.0, 1.0, 0.9, 0.75, 0.75]
    np.testing.assert_allclose(fit, np.array(expected) * 100)


def test_segment_defaults_fill_missing_acv_and_win_rate() -> None:
    acc = frame(segment=["ENT", "SMB", NA], acv=[NA, 50_000, NA], win_rate=[NA, NA, 0.5])
    np.testing.assert_allclose(opportunity(acc), [150_000 * 0.18, 50_000 * 0.30, 20_000 * 0.5])


def test_text_matching_is_forgiving() -> None:
    acc = frame(industry=["  manufacturing ", "HEALTHCARE"], segment=["Enterprise", "mid-market"])
    out = score_accounts(acc)
    ref = score_accounts(frame(industry=["Manufacturing", "Healthcare"], segment=["ENT", "MM"]))
    np.testing.assert_allclose(out["fit_score"], ref["fit_score"])


def test_derive_tiers_thresholds() -> None:
    fit = np.array([75.0, 74.9, 75.0, 70.0, 10.0, 69.9])
    opp = np.array([15_000, 15_000, 14_999, 0, 10_000, 9_999])
    np.testing.assert_array_equal(derive_tiers(fit, opp), [1, 2, 2, 2, 2, 3])


def test_given_tier_and_workload_are_kept() -> None:
    acc = frame(
        industry=["Manufacturing"] * 3,
        employees=[150] * 3,
        segment=["MM"] * 3,
        acv=[100_000] * 3,
        win_rate=[0.3] * 3,
        tier=[3, NA, 2],
        workload_hours=[NA, 7.5, 0.0],
    )
    out = score_accounts(acc)
    assert out["tier"].tolist() == [3, 1, 2]
    assert out["tier_source"].tolist() == ["given", "derived", "given"]
    # row 0: given tier 3 drives the model workload; rows 1-2: given hours win
    assert out["workload_hours"].tolist() == pytest.approx([(1 / 12) * 55 / 60, 7.5, 0.0])
    assert out["workload_source"].tolist() == ["model", "given", "given"]


def test_output_types_index_and_input_untouched() -> None:
    acc = frame(industry=["Retail", NA], segment=["SMB", NA], tier=[NA, 2]).set_index(
        pd.Index([10, 20])
    )
    before = acc.copy()
    out = score_accounts(acc)
    pd.testing.assert_frame_equal(acc, before)
    assert out.index.tolist() == [10, 20]
    assert str(out["tier"].dtype) == "Int8"
    assert out["tier_source"].dtype == "str"
    assert out["workload_source"].dtype == "str"
    assert out["fit_score"].dtype == "float64"
    assert out["workload_hours"].dtype == "float64"
    assert out["tier"].notna().all()


def test_custom_config_changes_workload() -> None:
    config = ScoringConfig(visits_per_month=(4.0, 2.0, 1.0), service_minutes=(30, 30, 30))
    out = score_accounts(frame(tier=[1, 2, 3]), config)
    assert out["workload_hours"].tolist() == pytest.approx([4 * 55 / 60, 2 * 55 / 60, 55 / 60])


# --------------------------------------------------------------------------- validation


def test_config_rejects_negative_minutes_naming_the_value() -> None:
    with pytest.raises(InputError) as info:
        ScoringConfig(service_minutes=(60, -5, 30), travel_minutes=-1)
    text = str(info.value)
    assert "service_minutes" in text and "-5" in text
    assert "travel_minutes" in text and "-1" in text
    assert len(info.value.problems) == 2


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"visits_per_month": (1.0, 0.5)}, "visits_per_month"),
        ({"visits_per_month": (1.0, float("nan"), 0.1)}, "visits_per_month"),
        ({"segment_win_rate": (("SMB", 1.2),)}, "segment_win_rate"),
        ({"segment_acv": (("GOLD", 10.0),)}, "segment_acv"),
        ({"default_acv": -1.0}, "default_acv"),
        (
            {"weight_industry": 0, "weight_employees": 0, "weight_segment": 0, "weight_acv": 0},
            "weight_*",
        ),
        ({"employee_bands": ((10.0, 0.5), (5.0, 0.6))}, "employee_bands"),
        ({"acv_fit_full": 1_000.0}, "acv_fit_full"),
        ({"tier2_fit": 80.0}, "tier2_*"),
        ({"tier1_fit": 120.0}, "tier1_fit"),
        ({"industry_fit": (("Retail", 2.0),)}, "industry_fit"),
    ],
)
def test_config_validation(changes: dict[str, object], name: str) -> None:
    with pytest.raises(InputError) as info:
        ScoringConfig(**changes)  # type: ignore[arg-type]
    assert any(p.column == name for p in info.value.problems), info.value


def test_config_is_hashable_and_frozen() -> None:
    config = ScoringConfig()
    assert hash(config) == hash(ScoringConfig())
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.travel_minutes = 5  # type: ignore[misc]


def test_bad_values_raise_input_error_listing_every_column() -> None:
    acc = frame(
        acv=[-5, 10],
        win_rate=[0.5, 1.5],
        tier=[1, 2],
        workload_hours=[-1, NA],
        segment=["Gold", "SMB"],
    )
    with pytest.raises(InputError) as info:
        score_accounts(acc)
    columns = {p.column for p in info.value.problems}
    assert columns == {"acv", "win_rate", "workload_hours", "segment"}
    assert "Gold" in str(info.value)


def test_non_numeric_and_out_of_set_tiers_are_reported() -> None:
    acc = pd.DataFrame({"account_id": ["a", "b", "c"], "tier": [1, 4, "x"]})
    with pytest.raises(InputError) as info:
        score_accounts(acc)
    (problem,) = info.value.problems
    assert problem.column == "tier" and "2 tiers" in problem.message


# --------------------------------------------------------------------------- explain


def test_describe_model_and_tier_table_show_the_parameters() -> None:
    config = ScoringConfig(travel_minutes=40, tier1_opportunity=33_000)
    text = describe_model(config)
    assert "| 1 | 1 | 60 | 40 | 1.67 |" in text
    assert "$33,000" in text
    table = tier_table(config)
    assert table["hours_per_account"].tolist() == pytest.approx(list(config.hours_by_tier))
    assert table["tier"].tolist() == [1, 2, 3]


# --------------------------------------------------------------------------- properties

minutes = st.floats(0, 600, allow_nan=False)
visits = st.floats(0, 30, allow_nan=False)


@given(
    v=st.tuples(visits, visits, visits),
    s=st.tuples(minutes, minutes, minutes),
    travel=minutes,
    tiers=st.lists(st.sampled_from([1, 2, 3, None]), min_size=1, max_size=30),
)
def test_workload_is_non_negative(
    v: tuple[float, float, float],
    s: tuple[float, float, float],
    travel: float,
    tiers: list[int | None],
) -> None:
    config = ScoringConfig(visits_per_month=v, service_minutes=s, travel_minutes=travel)
    out = score_accounts(frame(tier=[NA if t is None else t for t in tiers]), config)
    assert (out["workload_hours"] >= 0).all()
    assert out["workload_hours"].notna().all()


@given(
    v=st.tuples(visits, visits, visits),
    extra=st.floats(0, 10, allow_nan=False),
    which=st.integers(0, 2),
    tiers=st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=30),
)
def test_workload_is_monotone_in_visits(
    v: tuple[float, float, float], extra: float, which: int, tiers: list[int]
) -> None:
    more = list(v)
    more[which] += extra
    acc = frame(tier=tiers)
    base = score_accounts(acc, ScoringConfig(visits_per_month=v))["workload_hours"]
    bumped = score_accounts(acc, ScoringConfig(visits_per_month=tuple(more)))[  # type: ignore[arg-type]
        "workload_hours"
    ]
    assert (bumped.to_numpy() >= base.to_numpy() - 1e-12).all()


@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(["Retail", "Technology", "Other", ""])),
            st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)),
            st.one_of(st.none(), st.sampled_from(["SMB", "MM", "ENT"])),
            st.one_of(st.none(), st.floats(0, 1e8, allow_nan=False)),
            st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_fit_in_range_and_opportunity_non_negative(
    rows: list[tuple[str | None, float | None, str | None, float | None, float | None]],
) -> None:
    cols = list(zip(*rows, strict=True))
    acc = frame(
        industry=list(cols[0]),
        employees=[np.nan if x is None else x for x in cols[1]],
        segment=list(cols[2]),
        acv=[np.nan if x is None else x for x in cols[3]],
        win_rate=[np.nan if x is None else x for x in cols[4]],
    )
    out = score_accounts(acc)
    assert out["fit_score"].between(0, 100).all()
    assert (out["opportunity"] >= 0).all()
    assert set(out["tier"].tolist()) <= {1, 2, 3}


# --------------------------------------------------------------------------- the bundled sample


def test_bundled_sample_workload_fits_capacity(
    sample_accounts: pd.DataFrame, sample_reps: pd.DataFrame
) -> None:
    """The committed sample, loaded by the real loader and scored: ~90% of capacity."""
    total = sample_accounts["workload_hours"].sum()
    capacity = sample_reps["capacity_hours"].sum()
    assert 0.85 <= total / capacity <= 0.95
    assert (sample_accounts["workload_source"] == "model").all()
    assert 0.10 <= (sample_accounts["tier_source"] == "derived").mean() <= 0.20
