"""Travel in the workload: a territory's monthly drive hours from the rep's home.

Managers balance territories on workload; drive time is part of it. Visits are chained
into days: each day drives out from home and back (two home legs shared by the day's
stops) and between neighbouring accounts in between. The result says which travel model
produced it, like every travel number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.neighbors import BallTree

from terrmap.errors import TerrmapError
from terrmap.network import EARTH_RADIUS_M, RoadNetwork, network_nearest_minutes
from terrmap.travel import Travel, pair_minutes, travel_model_name

__all__ = ["TravelLoad", "monthly_travel_hours"]


@dataclass(frozen=True)
class TravelLoad:
    """Monthly drive hours a territory's visits cost its rep.

    Attributes
    ----------
    hours
        Per account: monthly drive hours attributed to its visits.
    total_hours
        Sum over accounts.
    home_minutes
        Per account: drive minutes from the rep's home (one way).
    neighbour_minutes
        Per account: mean drive minutes to its nearest other accounts (inf when alone).
    visits
        Visits per month used.
    model
        Travel model label.
    """

    hours: npt.NDArray[np.float64]
    total_hours: float
    home_minutes: npt.NDArray[np.float64]
    neighbour_minutes: npt.NDArray[np.float64]
    visits: npt.NDArray[np.float64]
    model: str


def monthly_travel_hours(
    home: tuple[float, float],
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    visits_per_month: npt.ArrayLike,
    *,
    travel: Travel = None,
    stops_per_day: float = 5.0,
    neighbours: int = 2,
) -> TravelLoad:
    """A territory's monthly drive hours from the rep's home, by visit frequency.

    Visits are chained into days of ``stops_per_day`` stops: each day drives out from home
    and back (two home legs shared by the day's stops) and between stops in between (a
    leg to a nearby account, taken as the mean time to the ``neighbours`` nearest other
    accounts). Per account ``i`` with ``v_i`` visits a month::

        hours_i = v_i * (2 * home_i / s + (s - 1) / s * near_i) / 60

    Parameters
    ----------
    home
        ``(lat, lon)`` of the rep's home.
    lat, lon
        Account coordinates.
    visits_per_month
        Visits per month per account (e.g. from the scoring config's visits by tier).
    travel
        Road network or estimate model; ``None`` uses the default estimate.
    stops_per_day
        Visits chained per day (>= 1).
    neighbours
        How many nearest accounts the between-stop leg is averaged over.
    """
    la, lo = np.asarray(lat, float), np.asarray(lon, float)
    v = np.broadcast_to(np.asarray(visits_per_month, float), la.shape).copy()
    if stops_per_day < 1 or np.any(v < 0) or np.any(~np.isfinite(v)):
        raise TerrmapError(
            f"need stops_per_day >= 1 (got {stops_per_day}) and finite visits >= 0 per account"
        )
    n = la.size
    pts_lat, pts_lon = np.r_[home[0], la], np.r_[home[1], lo]
    acc = np.arange(1, n + 1)
    out_leg = pair_minutes(travel, pts_lat, pts_lon, np.zeros(n, np.int64), acc)
    back_leg = pair_minutes(travel, pts_lat, pts_lon, acc, np.zeros(n, np.int64))
    near = _neighbour_minutes(travel, la, lo, neighbours)
    s = float(stops_per_day)
    # A lone account is a dedicated round trip; otherwise legs are shared across the day.
    per_visit = np.where(
        np.isfinite(near), (out_leg + back_leg) / s + (s - 1.0) / s * near, out_leg + back_leg
    )
    hours = v * per_visit / 60.0
    return TravelLoad(
        hours=hours,
        total_hours=float(hours.sum()),
        home_minutes=out_leg,
        neighbour_minutes=near,
        visits=v,
        model=travel_model_name(travel),
    )


def _neighbour_minutes(
    travel: Travel, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], k: int
) -> npt.NDArray[np.float64]:
    """Mean minutes from each point to its ``k`` nearest others (inf for a lone point)."""
    n = lat.size
    k = min(k, n - 1)
    if k <= 0:
        return np.full(n, np.inf)
    tree = BallTree(np.radians(np.column_stack([lat, lon])), metric="haversine")
    dist, idx = tree.query(np.radians(np.column_stack([lat, lon])), k=k + 1)
    if isinstance(travel, RoadNetwork):
        # Bound each search by a slow (15 km/h, circuity 2) drive to the k-th crow-fly
        # neighbour; network_nearest_minutes stays exact and re-searches if it was too low.
        bound = dist[:, -1] * EARTH_RADIUS_M / 1000.0 * 2.0 / 15.0 * 60.0 + 5.0
        mins = network_nearest_minutes(travel, lat, lon, k, bound_minutes=bound)
    else:  # the estimate grows with distance: crow-fly nearest are the nearest
        rows, cols = np.repeat(np.arange(n), k), idx[:, 1:].ravel()
        mins = pair_minutes(travel, lat, lon, rows, cols).reshape(n, k)
    near: npt.NDArray[np.float64] = np.sort(mins, axis=1)[:, :k].mean(axis=1)
    return near
