"""Travel-time models: a road network or a (calibrated) straight-line estimate.

Every number carries the name of the model that produced it: ``"network:<name>"`` when a
:class:`~terrmap.network.RoadNetwork` was used, ``"estimate:default"`` or
``"estimate:calibrated"`` for an :class:`EstimateModel`.

The estimate turns great-circle distance into road distance with a circuity factor, then
into time with speeds by distance band applied like tax brackets: the first
``band_edges_km[0]`` road kilometres at the first speed, the next stretch at the second
speed, and so on. That keeps time continuous and increasing with distance (a per-trip band
speed would make a 10.1 km trip quicker than a 9.9 km one). :func:`calibrate` fits the
circuity and band speeds to a loaded network and reports the error on held-out pairs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import nnls
from scipy.sparse.csgraph import dijkstra

from terrmap.errors import TerrmapError
from terrmap.geodesy import haversine_km
from terrmap.network import (
    RoadNetwork,
    TravelMatrix,
    network_matrix,
    network_pair_minutes,
)

__all__ = [
    "CalibrationReport",
    "EstimateModel",
    "Travel",
    "calibrate",
    "estimate_matrix",
    "great_circle_km",
    "pair_minutes",
    "travel_matrix",
    "travel_model_name",
]


@dataclass(frozen=True)
class CalibrationReport:
    """How well a calibrated estimate reproduces network times on held-out pairs.

    Attributes
    ----------
    network
        The network model it was fitted to (``"network:<name>"``).
    n_fit, n_holdout
        Node pairs used to fit and to measure the error.
    mape
        Mean absolute percentage error on the held-out pairs (%).
    median_ape, p90_ape
        Median and 90th percentile absolute percentage error (%).
    mae_min
        Mean absolute error in minutes.
    bias_pct
        Mean signed error (%); positive means the estimate is slower than the network.
    default_mape
        MAPE of the uncalibrated default estimate on the same pairs, for comparison.
    fitted_bands
        Which distance bands had enough data to fit their speed (others keep defaults).
    """

    network: str
    n_fit: int
    n_holdout: int
    mape: float
    median_ape: float
    p90_ape: float
    mae_min: float
    bias_pct: float
    default_mape: float
    fitted_bands: tuple[bool, ...]


@dataclass(frozen=True)
class EstimateModel:
    """Straight-line travel estimate: great-circle × circuity, speeds by distance band.

    Attributes
    ----------
    circuity
        Road distance divided by great-circle distance (typically 1.2–1.4).
    band_edges_km
        Road-distance boundaries between bands, increasing.
    band_speeds_kph
        One speed per band (``len(band_edges_km) + 1`` values).
    calibration
        The error report when fitted with :func:`calibrate`, else ``None``.
    """

    circuity: float = 1.3
    band_edges_km: tuple[float, ...] = (2.0, 10.0, 40.0)
    band_speeds_kph: tuple[float, ...] = (25.0, 40.0, 65.0, 90.0)
    calibration: CalibrationReport | None = None

    def __post_init__(self) -> None:
        edges = np.asarray(self.band_edges_km, float)
        if len(self.band_speeds_kph) != edges.size + 1:
            raise TerrmapError(
                f"estimate needs {edges.size + 1} band speeds for {edges.size} band edges, "
                f"got {len(self.band_speeds_kph)}: {self.band_speeds_kph}"
            )
        if np.any(np.diff(edges) <= 0) or np.any(edges <= 0):
            raise TerrmapError(f"band edges must be positive and increasing: {edges.tolist()}")
        if min(self.band_speeds_kph) <= 0 or self.circuity < 1.0:
            raise TerrmapError(
                f"speeds must be > 0 and circuity >= 1 (got {self.band_speeds_kph}, "
                f"circuity {self.circuity})"
            )

    @property
    def name(self) -> str:
        """``"estimate:calibrated"`` or ``"estimate:default"``."""
        return "estimate:calibrated" if self.calibration is not None else "estimate:default"

    def minutes(self, gc_km: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Drive minutes for great-circle distances in km (any shape)."""
        road = np.asarray(gc_km, dtype=np.float64) * self.circuity
        out: npt.NDArray[np.float64] = _band_lengths(road, self.band_edges_km) @ (
            60.0 / np.array(self.band_speeds_kph)
        )
        return out

    def km_within(self, minutes: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Great-circle radius (km) reachable in the given minutes (inverse of ``minutes``)."""
        t = np.asarray(minutes, dtype=np.float64)
        lo = np.concatenate([[0.0], self.band_edges_km])
        width = np.diff(np.concatenate([lo, [np.inf]]))
        pace = 60.0 / np.array(self.band_speeds_kph)  # minutes per km
        t_start = np.concatenate([[0.0], np.cumsum(width[:-1] * pace[:-1])])
        band = np.searchsorted(t_start, t, side="right") - 1
        km: npt.NDArray[np.float64] = (lo[band] + (t - t_start[band]) / pace[band]) / self.circuity
        return km

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (lists, not tuples), e.g. to save a calibrated model."""
        data = asdict(self)
        for key in ("band_edges_km", "band_speeds_kph"):
            data[key] = list(data[key])
        if data["calibration"] is not None:
            data["calibration"]["fitted_bands"] = list(data["calibration"]["fitted_bands"])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EstimateModel:
        """Inverse of :meth:`to_dict`."""
        cal = data.get("calibration")
        report = None
        if cal is not None:
            report = CalibrationReport(**{**cal, "fitted_bands": tuple(cal["fitted_bands"])})
        return cls(
            circuity=float(data["circuity"]),
            band_edges_km=tuple(float(x) for x in data["band_edges_km"]),
            band_speeds_kph=tuple(float(x) for x in data["band_speeds_kph"]),
            calibration=report,
        )


#: What routing functions accept as the travel model; ``None`` means the default estimate.
Travel = RoadNetwork | EstimateModel | None


def travel_model_name(travel: Travel) -> str:
    """The model label numbers computed with ``travel`` carry."""
    if isinstance(travel, RoadNetwork):
        return travel.model
    return (travel or EstimateModel()).name


def _band_lengths(road_km: npt.NDArray[np.float64], edges: tuple[float, ...]) -> Any:
    lo = np.concatenate([[0.0], edges])
    hi = np.concatenate([edges, [np.inf]])
    return np.clip(road_km[..., None] - lo, 0.0, hi - lo)


def great_circle_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Haversine distance in km (broadcasts); see :func:`terrmap.geodesy.haversine_km`."""
    return haversine_km(lat1, lon1, lat2, lon2)


def estimate_matrix(
    lat: npt.ArrayLike, lon: npt.ArrayLike, model: EstimateModel | None = None
) -> TravelMatrix:
    """Estimated travel minutes between every pair of points."""
    t0 = time.perf_counter()
    m = model or EstimateModel()
    la, lo = np.asarray(lat, float), np.asarray(lon, float)
    km = great_circle_km(la[:, None], lo[:, None], la[None, :], lo[None, :])
    return TravelMatrix(m.minutes(km), m.name, np.zeros(la.size), time.perf_counter() - t0)


def travel_matrix(travel: Travel, lat: npt.ArrayLike, lon: npt.ArrayLike) -> TravelMatrix:
    """Travel minutes between all points with a network or an estimate (``None``: default)."""
    if isinstance(travel, RoadNetwork):
        return network_matrix(travel, lat, lon)
    return estimate_matrix(lat, lon, travel)


def calibrate(
    network: RoadNetwork,
    *,
    base: EstimateModel | None = None,
    n_sources: int = 60,
    pairs_per_source: int = 60,
    holdout: float = 0.3,
    min_km: float = 0.3,
    random_state: int | np.random.Generator | None = 0,
) -> EstimateModel:
    """Fit circuity and band speeds of the estimate to a road network.

    Samples source nodes, runs one multi-source Dijkstra for times and one for road
    lengths, samples destination nodes per source and keeps pairs at least ``min_km``
    apart. Pairs from a random ``holdout`` share of the *sources* are held out; the rest
    fit circuity (median road/great-circle ratio) and band paces (non-negative least
    squares on the road kilometres falling in each band). Bands with too little data keep
    the speeds of ``base``.

    Returns
    -------
    EstimateModel
        With ``calibration`` holding the held-out error (and the default model's error on
        the same pairs for comparison).
    """
    base = base or EstimateModel()
    if not 0.0 < holdout < 1.0:
        raise TerrmapError(f"holdout must be between 0 and 1, got {holdout}")
    rng = np.random.default_rng(random_state)
    gc, road, minutes, src = _sample_pairs(network, rng, n_sources, pairs_per_source, min_km)
    sources = np.unique(src)
    held = rng.choice(sources, size=max(1, round(holdout * sources.size)), replace=False)
    test = np.isin(src, held)
    if test.all() or (~test).sum() < 20 or test.sum() < 10:
        raise TerrmapError(
            f"network '{network.name}' gave only {gc.size} usable node pairs "
            f"(>= {min_km} km apart); calibration needs at least 30 — use a larger extract"
        )
    circuity = float(max(1.0, np.median(road[~test] / gc[~test])))
    speeds, fitted = _fit_speeds(gc[~test] * circuity, minutes[~test], base)
    fitted_model = replace(base, circuity=circuity, band_speeds_kph=speeds)
    report = _error_report(network, fitted_model, base, gc, minutes, test, fitted)
    return replace(fitted_model, calibration=report)


def _sample_pairs(
    network: RoadNetwork, rng: np.random.Generator, n_sources: int, per: int, min_km: float
) -> tuple[npt.NDArray[np.float64], ...]:
    n = network.n_nodes
    srcs = rng.choice(n, size=min(n_sources, n), replace=False)
    secs = dijkstra(network.time_csr, directed=True, indices=srcs)
    metres = dijkstra(network.length_csr, directed=True, indices=srcs)
    rows = np.repeat(np.arange(srcs.size), min(per, n))
    cols = np.concatenate([rng.choice(n, size=min(per, n), replace=False) for _ in srcs])
    gc = great_circle_km(
        network.lat[srcs[rows]], network.lon[srcs[rows]], network.lat[cols], network.lon[cols]
    )
    road = metres[rows, cols] / 1000.0
    mins = secs[rows, cols] / 60.0
    ok = (gc >= min_km) & np.isfinite(mins) & np.isfinite(road)
    return gc[ok], road[ok], mins[ok], srcs[rows][ok].astype(np.float64)


def _fit_speeds(
    road_km: npt.NDArray[np.float64], minutes: npt.NDArray[np.float64], base: EstimateModel
) -> tuple[tuple[float, ...], tuple[bool, ...]]:
    lengths = _band_lengths(road_km, base.band_edges_km)  # (pairs, bands)
    # A band is fitted only when >= 20 pairs cover at least half of it (10 km of the open
    # last band): a band touched only by a few long pairs would extrapolate wildly.
    width = np.diff(np.concatenate([[0.0], base.band_edges_km, [20.0 + base.band_edges_km[-1]]]))
    fitted = (lengths >= 0.5 * width).sum(axis=0) >= 20
    base_pace = 60.0 / np.array(base.band_speeds_kph)
    target = minutes - lengths[:, ~fitted] @ base_pace[~fitted]
    pace = base_pace.copy()
    if fitted.any():
        solved, _ = nnls(lengths[:, fitted], target)
        pace[fitted] = solved
    speeds = np.clip(60.0 / np.maximum(pace, 1e-9), 5.0, 130.0)
    # Longer trips use faster roads: an unfitted band is never slower than the one below.
    for b in range(1, speeds.size):
        if not fitted[b]:
            speeds[b] = max(speeds[b], speeds[b - 1])
    return tuple(float(s) for s in speeds), tuple(bool(f) for f in fitted)


def _error_report(
    network: RoadNetwork,
    model: EstimateModel,
    base: EstimateModel,
    gc: npt.NDArray[np.float64],
    minutes: npt.NDArray[np.float64],
    test: npt.NDArray[np.bool_],
    fitted: tuple[bool, ...],
) -> CalibrationReport:
    truth = minutes[test]
    err = (model.minutes(gc[test]) - truth) / truth * 100.0
    ape = np.abs(err)
    default_ape = np.abs((base.minutes(gc[test]) - truth) / truth * 100.0)
    return CalibrationReport(
        network=network.model,
        n_fit=int((~test).sum()),
        n_holdout=int(test.sum()),
        mape=float(ape.mean()),
        median_ape=float(np.median(ape)),
        p90_ape=float(np.percentile(ape, 90)),
        mae_min=float(np.abs(model.minutes(gc[test]) - truth).mean()),
        bias_pct=float(err.mean()),
        default_mape=float(default_ape.mean()),
        fitted_bands=fitted,
    )


def pair_minutes(
    travel: Travel,
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    rows: npt.ArrayLike,
    cols: npt.ArrayLike,
    *,
    limit_minutes: float | None = None,
) -> npt.NDArray[np.float64]:
    """Travel minutes for the pairs ``rows[k] -> cols[k]`` of the points, any model."""
    if isinstance(travel, RoadNetwork):
        return network_pair_minutes(travel, lat, lon, rows, cols, limit_minutes=limit_minutes)
    la, lo = np.asarray(lat, float), np.asarray(lon, float)
    r, c = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    return (travel or EstimateModel()).minutes(great_circle_km(la[r], lo[r], la[c], lo[c]))
