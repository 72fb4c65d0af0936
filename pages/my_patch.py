"""My patch: a rep's own territory, today's route, the week, and the ranked account list.

Identity comes later (``st.user`` mapped to a rep id); for now a rep selector. The page
is thin: widgets -> frozen inputs -> cached core calls (``terrmap.routing``,
``terrmap.travel``) -> render. Travel uses the straight-line estimate unless the user
loads a road network (an OSM extract or GraphML), and every number says which model
produced it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from terrmap.layers import base_map, legend_html, territory_colors
from terrmap.network import RoadNetwork
from terrmap.network_io import load_network
from terrmap.patch_layers import (
    drive_time_layer,
    patch_account_layer,
    patch_legend,
    route_layer,
    territory_outline_layer,
)
from terrmap.route_export import google_maps_urls, plan_to_csv, plan_to_gpx, route_points
from terrmap.routing import DayConfig, DayPlan, WeekPlan, plan_day, plan_week
from terrmap.stops import window_labels
from terrmap.travel import Travel, travel_model_name
from terrmap.travel_geometry import drive_time_areas, path_coords
from terrmap.travel_load import monthly_travel_hours
from terrmap.ui.cache import baseline_snapshot, shapes_of
from terrmap.ui.errors import error_boundary
from terrmap.ui.maps import map_tiles, render_map
from terrmap.ui.state import page_state, stable_key
from terrmap.ui.widgets import data_bounds
from terrmap.visits import visit_priority

RINGS = (30.0, 60.0, 90.0)


@st.cache_resource(max_entries=2, show_spinner="Loading the road network…")
def road_network(digest: str, filename: str, _data: bytes) -> RoadNetwork:
    """A road network from uploaded bytes (``digest`` identifies them)."""
    suffix = "".join(Path(filename).suffixes) or ".osm.pbf"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{Path(filename).name.split('.')[0] or 'network'}{suffix}"
        path.write_bytes(_data)
        return load_network(path)


@st.cache_resource(max_entries=32, show_spinner="Planning the day…")
def day_plan(
    key: str,
    _accounts: pd.DataFrame,
    _travel: Travel,
    home: tuple[float, float],
    date: dt.date,
    hours: float,
    start: dt.time,
    config: DayConfig,
    thorough: bool,
) -> DayPlan:
    """The rep's day (``key`` identifies the accounts and the travel model)."""
    return plan_day(
        _accounts,
        home=home,
        date=date,
        hours=hours,
        start=start,
        travel=_travel,
        config=config,
        search="improve" if thorough else "fast",
        time_limit_s=3.0,
    )


@st.cache_resource(max_entries=8, show_spinner="Planning the week…")
def week_plan(
    key: str,
    _accounts: pd.DataFrame,
    _travel: Travel,
    home: tuple[float, float],
    monday: dt.date,
    hours: float,
    start: dt.time,
    config: DayConfig,
) -> WeekPlan:
    """Five days meeting the visit frequencies of the accounts due that week."""
    return plan_week(
        _accounts,
        home=home,
        week_start=monday,
        hours=hours,
        start=start,
        travel=_travel,
        config=config,
    )


@st.cache_resource(max_entries=16, show_spinner=False)
def rings(key: str, _travel: Travel, home: tuple[float, float]) -> list[tuple[float, object]]:
    """30/60/90-minute drive-time areas around home."""
    return drive_time_areas(_travel, home[0], home[1], minutes=RINGS)


def next_weekday(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


state = page_state()
st.title("My patch")
with error_boundary("Designing territories"):
    snap = baseline_snapshot(state.dataset.version, state.scoring, state.design, state.dataset)
plan_key = state.plan_key()

reps = snap.reps.set_index(snap.reps["rep_id"].astype(str))
owned = [(tid, rid) for tid, rid in zip(snap.plan.territory_ids, snap.plan.rep_ids, strict=True)]
rep_of = {str(rid): tid for tid, rid in owned if rid is not None}
if not rep_of:
    st.info("This plan has no reps assigned to territories; load a rep roster on the Data page.")
    st.stop()


def _rep_label(rid: str) -> str:
    name = reps.loc[rid, "name"] if rid in reps.index else None
    return f"{rid} · {name}" if isinstance(name, str) and name else rid


top = st.columns([2, 1, 1, 1, 1])
rep_id = top[0].selectbox("Rep", list(rep_of), format_func=_rep_label, key="patch_rep")
date = top[1].date_input("Day", next_weekday(dt.date.today()), key="patch_date")
start = top[2].time_input("Leave home at", dt.time(8, 0), step=900, key="patch_start")
hours = top[3].slider("Hours", 4.0, 11.0, 8.0, 0.5, key="patch_hours")
thorough = top[4].toggle(
    "Thorough search",
    key="patch_thorough",
    help="Guided local search for 3 s instead of the instant first solution + local search.",
)

territory_id = rep_of[rep_id]
mine = snap.accounts[snap.assignment.astype("string").eq(territory_id).fillna(False).to_numpy(bool)]
rep = reps.loc[rep_id]
home_ok = pd.notna(rep.get("home_lat")) and pd.notna(rep.get("home_lon"))
if home_ok:
    home = (float(rep["home_lat"]), float(rep["home_lon"]))
else:
    home = (float(mine["lat"].median()), float(mine["lon"].median()))
    st.warning(
        f"{_rep_label(rep_id)} has no home location; the day starts at the middle of the "
        "territory. Add home_lat/home_lon (or a home ZIP) to the rep roster.",
        icon=":material/warning:",
    )

with st.expander("Road network (optional)", icon=":material/route:"):
    st.caption(
        "Without a road network, drive times are a straight-line estimate (distance x "
        "circuity at typical speeds). Load an OpenStreetMap extract of the territory "
        "(.osm.pbf, .osm, .osm.bz2) or a GraphML file for road-accurate times."
    )
    upload = st.file_uploader(
        "Road network file", type=["pbf", "osm", "bz2", "graphml"], key="patch_network"
    )
travel: Travel = None
travel_key = "estimate"
if upload is not None:
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    with error_boundary(f"Reading {upload.name}", stop=False):
        travel = road_network(digest, upload.name, data)
        travel_key = digest
model = travel_model_name(travel)

config = DayConfig.from_scoring(state.scoring)
window = dict(zip(mine["account_id"].astype(str), window_labels(mine), strict=True))
key = stable_key(plan_key, territory_id, travel_key)
with error_boundary("Planning the day"):
    day = day_plan(key, mine, travel, home, date, hours, start, config, thorough)
info = visit_priority(mine, date=date, config=config)
visits = np.asarray(config.visits_per_month)[
    np.clip(pd.to_numeric(mine["tier"], errors="coerce").fillna(3).to_numpy(int), 1, 3) - 1
]
load = monthly_travel_hours(
    home, mine["lat"].to_numpy(float), mine["lon"].to_numpy(float), visits, travel=travel
)

k = st.columns(6)
k[0].metric("Stops today", f"{len(day.stops)}", help=f"of {len(mine):,} accounts")
k[1].metric("Driving", f"{day.drive_min:.0f} min")
k[2].metric("On site", f"{day.service_min:.0f} min")
k[3].metric("Waiting", f"{day.idle_min:.0f} min", help="Idle time before time windows open")
k[4].metric("Back home", f"{day.back:%H:%M}", help=f"Shift ends {day.shift_end:%H:%M}")
k[5].metric(
    "Travel / month",
    f"{load.total_hours:.0f} h",
    help="Monthly drive hours of this territory's visit frequencies, days chained from home",
)
st.caption(
    f"Territory {territory_id} · {int(info['overdue'].sum()):,} accounts overdue · travel "
    f"model **{model}** · planned in {day.seconds * 1000:.0f} ms"
)
for warning in day.warnings:
    st.warning(warning, icon=":material/warning:")

today, week, ranked = st.tabs(["Today", "This week", "Accounts"])

with today:
    map_col, side = st.columns([3, 2], gap="medium")
    with map_col:
        shape = shapes_of(plan_key, snap).get(territory_id)
        color = territory_colors(snap.plan.territory_ids)[territory_id]
        layers = [] if shape is None else [territory_outline_layer(shape, color=color)]
        layers.append(drive_time_layer(rings(stable_key(key, home), travel, home), model=model))
        planned = {s.account_id: s.order for s in day.stops}
        layers.append(patch_account_layer(mine, info, planned=planned))
        line = None
        if isinstance(travel, RoadNetwork) and day.stops:
            pts = route_points(day)
            line = path_coords(travel, [p[0] for p in pts], [p[1] for p in pts])
        layers.append(route_layer(day, line=line))
        base = base_map(data_bounds(mine), tiles=map_tiles())
        render_map(base, layers, key="patch_map", clickable=False)
        st.html(legend_html(patch_legend(), title="Rings: 30 / 60 / 90 min from home"))
    with side:
        st.subheader("Route")
        if day.stops:
            table = day.to_frame()
            st.dataframe(
                pd.DataFrame(
                    {
                        "#": table["order"],
                        "Account": table["name"].fillna(table["account_id"]),
                        "Arrive": table["arrival"].map(lambda t: t.strftime("%H:%M")),
                        "Window": table["account_id"].map(window),
                        "Drive min": table["drive_min"].round(0),
                        "Wait min": table["wait_min"].round(0),
                        "On site": table["service_min"].round(0),
                    }
                ),
                hide_index=True,
                width="stretch",
            )
            st.caption(f"Leave {day.depart:%H:%M}; {day.return_drive_min:.0f} min drive home.")
            urls = google_maps_urls(day)
            for i, url in enumerate(urls, start=1):
                label = "Open in Google Maps" + (
                    f" (leg {i} of {len(urls)})" if len(urls) > 1 else ""
                )
                st.link_button(label, url, icon=":material/directions_car:")
            c1, c2 = st.columns(2)
            c1.download_button(
                "GPX",
                plan_to_gpx(day, network=travel if isinstance(travel, RoadNetwork) else None),
                file_name=f"route-{rep_id}-{date}.gpx",
                mime="application/gpx+xml",
            )
            c2.download_button(
                "CSV", plan_to_csv(day), file_name=f"route-{rep_id}-{date}.csv", mime="text/csv"
            )
        else:
            st.info("No visit fits this day; see the reasons below.")
        if day.dropped:
            with st.expander(f"Not visited today ({len(day.dropped)})"):
                st.dataframe(
                    day.dropped_frame()[["account_id", "reason", "priority"]],
                    hide_index=True,
                    width="stretch",
                )

with week:
    monday = date - dt.timedelta(days=date.weekday())
    st.caption(
        f"Week of {monday:%a %d %b}: the accounts due by Friday get their visits over five "
        f"days of {hours:g} h, nearby accounts sharing a day."
    )
    if st.toggle("Plan the week", key="patch_week"):
        with error_boundary("Planning the week"):
            wk = week_plan(key, mine, travel, home, monday, hours, start, config)
        st.metric("Visits planned", f"{wk.planned_visits} of {wk.required_visits} due")
        st.dataframe(
            pd.DataFrame(
                {
                    "Day": [f"{p.date:%a %d %b}" for p in wk.days],
                    "Stops": [len(p.stops) for p in wk.days],
                    "Driving h": [round(p.drive_min / 60, 1) for p in wk.days],
                    "On site h": [round(p.service_min / 60, 1) for p in wk.days],
                    "Back home": [f"{p.back:%H:%M}" for p in wk.days],
                    "Accounts": [", ".join(s.account_id for s in p.stops) for p in wk.days],
                }
            ),
            hide_index=True,
            width="stretch",
        )
        if wk.dropped:
            with st.expander(f"Due but not planned ({len(wk.dropped)})"):
                st.dataframe(
                    pd.DataFrame(
                        [(d.account_id, d.reason) for d in wk.dropped],
                        columns=["account_id", "reason"],
                    ),
                    hide_index=True,
                    width="stretch",
                )

with ranked:
    planned = {s.account_id: s.order for s in day.stops}
    ids = mine["account_id"].astype(str)
    listing = pd.DataFrame(
        {
            "Priority": info["priority"],
            "Account": ids,
            "Name": mine.get("name", ids),
            "Tier": mine["tier"],
            "Last activity": mine["last_activity"],
            "Days since": info["days_since"].round(0),
            "Overdue": info["overdue"],
            "Visit window": ids.map(window),
            "Opportunity $": mine["opportunity"].round(0) if "opportunity" in mine else np.nan,
            "Stop today": ids.map(planned).astype("Int64"),
        }
    ).sort_values(["Priority", "Account"], ascending=[False, True])
    st.dataframe(listing, hide_index=True, width="stretch")
    st.caption(
        "Priority = tier points x how overdue (days since the last activity / the tier's "
        "visit interval, capped at 3) + up to 20 points for opportunity."
    )
