"""Scenarios: what-if sliders that rerun the engine live, compared with the baseline."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from terrmap.errors import TerrmapError
from terrmap.layers import MapSelection, base_map
from terrmap.metrics import rollup_change
from terrmap.scenarios import (
    Hire,
    Scenario,
    compare_plans,
    curve_row,
    hire_location,
    neighbour_scenarios,
)
from terrmap.ui.cache import (
    baseline_snapshot,
    prefetch_scenarios,
    scenario_snapshot,
    shapes_of,
    team_sizes,
)
from terrmap.ui.errors import error_boundary, show_error
from terrmap.ui.maps import map_tiles, render_map, render_static_map
from terrmap.ui.state import page_state, stable_key
from terrmap.ui.widgets import data_bounds, plan_layers, show_legend

state = page_state()
st.title("Scenarios")
st.caption(
    "Move a slider and the engine re-plans from the current plan (warm start), so only "
    "the territories the change touches move. The current plan is on the left."
)

with error_boundary("Designing the baseline plan"):
    base = baseline_snapshot(state.dataset.version, state.scoring, state.design, state.dataset)
base_key = state.plan_key()
roster = base.reps
rep_names = dict(
    zip(
        roster["rep_id"].astype(str),
        roster["name"].astype("string").fillna(roster["rep_id"]).astype(str),
        strict=True,
    )
)
default_capacity = float(roster["capacity_hours"].median()) if len(roster) else 140.0
VISITS = {
    1 / 12: "yearly",
    1 / 6: "twice a year",
    1 / 4: "every 4 months",
    1 / 3: "quarterly",
    1 / 2: "every 2 months",
    1.0: "monthly",
    2.0: "twice a month",
    4.0: "weekly",
}
BALANCES = ["workload", "opportunity", "accounts"]
CAPACITY_RANGE = (40.0, 220.0)
CAPACITY_STEP = 5.0


def _nearest(value: float, options: list[float]) -> float:
    return min(options, key=lambda o: abs(o - value))


def _roster_size(sc: Scenario) -> int:
    return len(roster) - len(sc.leaving) + len(sc.hires)


def _set_scenario(new: Scenario) -> None:
    """Store a scenario and keep the team slider on the roster it implies."""
    old = state.scenario
    shown = st.session_state.get("sc_team", old.team_size or _roster_size(old))
    st.session_state["sc_team"] = max(1, int(shown) + _roster_size(new) - _roster_size(old))
    state.scenario = new


def _leaving_changed() -> None:
    leaving = tuple(st.session_state.get("sc_leaving", ()))
    _set_scenario(dataclasses.replace(state.scenario, leaving=leaving, team_size=None))


def _add_hire() -> None:
    text = str(st.session_state.get("sc_hire_at", "")).strip()
    try:
        lat, lon, label = hire_location(text)
    except TerrmapError as error:
        state.hire_error = error
        return
    state.hire_error = None
    hire = Hire(
        name=f"New rep ({label})",
        lat=lat,
        lon=lon,
        capacity_hours=float(st.session_state.get("sc_hire_cap", default_capacity)),
    )
    sc = state.scenario
    _set_scenario(dataclasses.replace(sc, hires=(*sc.hires, hire), team_size=None))


def _hire_spot(selection: MapSelection | None) -> None:
    """A click on the scenario map fills "Add a rep at" with the clicked point."""
    if selection is not None and selection.lat is not None and selection.lon is not None:
        st.session_state["sc_hire_at"] = f"{selection.lat:.4f}, {selection.lon:.4f}"


def _clear_hires() -> None:
    _set_scenario(dataclasses.replace(state.scenario, hires=(), team_size=None))


def _set_rep_capacity() -> None:
    rep = str(st.session_state.get("sc_cap_rep"))
    hours = float(st.session_state.get("sc_cap_hours", default_capacity))
    pairs = dict(state.scenario.capacity_by_rep)
    pairs[rep] = hours
    state.scenario = dataclasses.replace(
        state.scenario, capacity_by_rep=tuple(sorted(pairs.items()))
    )


def _control_values(sc: Scenario) -> dict[str, object]:
    """What each what-if control shows for ``sc`` on the current data and settings."""
    reps = state.dataset.reps
    visits = sc.visits_per_month or state.scoring.visits_per_month
    service = sc.service_minutes or state.scoring.service_minutes
    capacity = float(reps["capacity_hours"].median()) if len(reps) else default_capacity
    resolution = sc.resolution or state.design.resolution or base.plan.resolution
    return {
        "sc_team": sc.team_size or len(reps) - len(sc.leaving) + len(sc.hires),
        "sc_capacity": float(sc.capacity_hours or capacity),
        "sc_tolerance": float(sc.tolerance or state.design.tolerance),
        "sc_balance": sc.balance or state.design.balance,
        "sc_resolution": int(resolution),
        **{f"sc_visits_{t}": _nearest(visits[t - 1], list(VISITS)) for t in (1, 2, 3)},
        **{f"sc_service_{t}": float(service[t - 1]) for t in (1, 2, 3)},
    }


def _reset() -> None:
    """Back to the current plan: the controls show it again (set, not deleted: a deleted
    key would leave the browser's slider where it was)."""
    for key, value in {**_control_values(Scenario()), "sc_leaving": [], "sc_hire_at": ""}.items():
        st.session_state[key] = value
    state.scenario = Scenario()
    state.hire_error = None


def _initial(key: str, value: object) -> dict[str, object]:
    """``value=`` only when the widget has no state yet (avoids Streamlit's warning)."""
    return {} if key in st.session_state else {"value": value}


def team_controls(sc: Scenario) -> None:
    """Leavers, hires at a place, and one rep's capacity (each applied by a callback)."""
    st.multiselect(
        "Reps who leave",
        list(rep_names),
        default=list(sc.leaving),
        format_func=lambda r: f"{rep_names[r]} ({r})",
        key="sc_leaving",
        on_change=_leaving_changed,
    )
    at_col, cap_col = st.columns([3, 2])
    at_col.text_input(
        "Add a rep at",
        key="sc_hire_at",
        placeholder="ZIP, City, ST or lat, lon",
        help="Or click the scenario map to pick the spot.",
    )
    cap_col.number_input("Capacity h", 20.0, 300.0, default_capacity, 5.0, key="sc_hire_cap")
    b1, b2 = st.columns(2)
    b1.button("Add rep", on_click=_add_hire, key="sc_add_hire", width="stretch")
    b2.button(
        "Remove added",
        on_click=_clear_hires,
        key="sc_clear_hires",
        disabled=not sc.hires,
        width="stretch",
    )
    if state.hire_error is not None:
        show_error(state.hire_error, context="Add a rep")
    for hire in sc.hires:
        st.caption(f"➕ {hire.name}: {hire.lat:.3f}, {hire.lon:.3f}")
    rep_col, hours_col = st.columns([3, 2])
    rep_col.selectbox(
        "One rep's capacity",
        list(rep_names),
        key="sc_cap_rep",
        format_func=lambda r: f"{rep_names[r]} ({r})",
    )
    hours_col.number_input("Hours", 0.0, 400.0, default_capacity, 5.0, key="sc_cap_hours")
    st.button("Set capacity", on_click=_set_rep_capacity, key="sc_set_cap")
    for rep, hours in sc.capacity_by_rep:
        st.caption(f"{rep_names.get(rep, rep)}: {hours:.0f} h/month")


def controls(sc: Scenario) -> Scenario:
    """The what-if inputs; returns the scenario they describe."""
    implied = _roster_size(sc)
    values = _control_values(sc)
    team = st.slider(
        "Number of reps",
        1,
        max(implied + 8, len(roster) + 8),
        **_initial("sc_team", values["sc_team"]),
        key="sc_team",
        help="Fewer: the least-loaded reps' ground is shared out. "
        "More: open hires are placed where load is heaviest.",
    )
    capacity = st.slider(
        "Capacity of every rep (h/month)",
        *CAPACITY_RANGE,
        step=CAPACITY_STEP,
        **_initial("sc_capacity", values["sc_capacity"]),
        key="sc_capacity",
        help="Left at the roster median, each rep keeps their own capacity.",
    )
    team_tab, load_tab, engine_tab = st.tabs(["Team", "Workload", "Engine"])
    with team_tab:
        team_controls(sc)
    with load_tab:
        visits = tuple(
            st.select_slider(
                f"Tier {t} visits",
                list(VISITS),
                **_initial(f"sc_visits_{t}", values[f"sc_visits_{t}"]),
                format_func=VISITS.get,
                key=f"sc_visits_{t}",
            )
            for t in (1, 2, 3)
        )
        service = tuple(
            st.slider(
                f"Tier {t} minutes per visit",
                10.0,
                180.0,
                step=5.0,
                **_initial(f"sc_service_{t}", values[f"sc_service_{t}"]),
                key=f"sc_service_{t}",
            )
            for t in (1, 2, 3)
        )
    with engine_tab:
        tolerance = st.slider(
            "Balance tolerance",
            0.01,
            0.30,
            step=0.01,
            **_initial("sc_tolerance", values["sc_tolerance"]),
            format="%.2f",
            key="sc_tolerance",
        )
        balance = st.selectbox(
            "Balance metric",
            BALANCES,
            **(
                {}
                if "sc_balance" in st.session_state
                else {"index": BALANCES.index(str(values["sc_balance"]))}
            ),
            key="sc_balance",
        )
        resolution = st.select_slider(
            "H3 resolution",
            [5, 6, 7, 8],
            **_initial("sc_resolution", values["sc_resolution"]),
            key="sc_resolution",
        )
    st.button("Reset to the current plan", on_click=_reset, key="sc_reset")

    def changed(new: object, old: object) -> object:
        return None if new == old else new

    return dataclasses.replace(
        sc,
        team_size=changed(int(team), implied),  # type: ignore[arg-type]
        capacity_hours=changed(float(capacity), float(default_capacity)),  # type: ignore[arg-type]
        visits_per_month=changed(visits, tuple(state.scoring.visits_per_month)),  # type: ignore[arg-type]
        service_minutes=changed(service, tuple(state.scoring.service_minutes)),  # type: ignore[arg-type]
        tolerance=changed(round(float(tolerance), 4), round(state.design.tolerance, 4)),  # type: ignore[arg-type]
        balance=changed(balance, state.design.balance),  # type: ignore[arg-type]
        resolution=changed(int(resolution), int(base.plan.resolution)),  # type: ignore[arg-type]
    )


def _adopt(result_key: str) -> None:
    """Make the scenario's plan (and roster, workload model, settings) the current one."""
    sc = state.scenario
    snap = scenario_snapshot(base_key, sc, state.dataset, base, state.design)
    label = f"Plan adopted from a scenario ({len(snap.reps)} reps)"
    state.use_dataset(state.dataset.with_plan(snap, key=result_key, label=label), label)
    state.scoring = snap.scoring
    state.design = dataclasses.replace(
        state.design,
        **{
            k: v
            for k, v in (
                ("tolerance", sc.tolerance),
                ("balance", sc.balance),
                ("resolution", sc.resolution),
            )
            if v is not None
        },
    )
    _reset()


@st.fragment(key="what_if")
def what_if() -> None:
    """Controls, both maps and the deltas: a slider change reruns only this part."""
    left, right = st.columns([1, 2.4], gap="medium")
    with left:
        previous = state.scenario
        scenario = controls(previous)
    state.scenario = scenario
    with right, error_boundary("This scenario cannot be planned", stop=False):
        result = scenario_snapshot(base_key, scenario, state.dataset, base, state.design)
        result_key = stable_key(base_key, scenario)
        # One step on a slider is the likeliest next move: start on it while this
        # result renders.
        moved_capacity = scenario.capacity_hours != previous.capacity_hours
        ahead = neighbour_scenarios(
            scenario,
            team=_roster_size(scenario),
            capacity=default_capacity,
            capacity_range=CAPACITY_RANGE,
            capacity_step=CAPACITY_STEP,
            capacity_first=moved_capacity,
        )
        prefetch_scenarios(base_key, ahead, state.dataset, base, state.design)
        show_results(result, result_key, scenario)


def show_results(result: object, result_key: str, scenario: Scenario) -> None:
    """KPI deltas, the two maps side by side, and the per-rep in/out table."""
    from terrmap.scenarios import PlanSnapshot

    assert isinstance(result, PlanSnapshot)
    diff = compare_plans(base, result)
    kb, ka = base.kpis, result.kpis
    cols = st.columns(5)
    cols[0].metric(
        "Reps",
        f"{int(ka['territories'])}",
        delta=f"{int(ka['territories'] - kb['territories']):+d}",
    )
    cols[1].metric("Accounts moved", f"{diff.accounts_moved:,}")
    cols[2].metric(
        "Max deviation",
        f"{ka['max_deviation']:.1%}",
        delta=f"{(ka['max_deviation'] - kb['max_deviation']) * 100:+.1f} pts",
        delta_color="inverse",
    )
    cols[3].metric(
        "Max utilisation",
        f"{ka['max_utilisation']:.0%}",
        delta=f"{(ka['max_utilisation'] - kb['max_utilisation']) * 100:+.0f} pts",
        delta_color="inverse",
    )
    cols[4].metric(
        "Travel (h/month)",
        f"{ka['travel_hours']:,.0f}",
        delta=f"{ka['travel_hours'] - kb['travel_hours']:+,.0f}",
        delta_color="inverse",
    )
    covered = ka["opportunity_within_capacity"] - kb["opportunity_within_capacity"]
    st.caption(
        f"Opportunity within capacity: ${ka['opportunity_within_capacity']:,.0f} "
        f"({covered:+,.0f} vs. now) · unassigned accounts: {int(ka['unassigned_accounts'])}"
    )
    bounds = data_bounds(base.accounts)
    left, right = st.columns(2, gap="small")
    with left:
        st.markdown("**Current plan**")
        tiles = map_tiles()
        render_static_map(
            lambda: (
                base_map(bounds, tiles=tiles),
                plan_layers(base, shapes_of(base_key, base), account_mode="hidden"),
            ),
            content_key=stable_key(base_key, "scenario-baseline", tiles),
            height=430,
        )
    with right:
        st.markdown("**Scenario**" + ("" if not scenario.is_baseline else " (no change yet)"))
        render_map(
            base_map(bounds, tiles=map_tiles()),
            plan_layers(
                result,
                shapes_of(result_key, result),
                account_mode="hidden",
                name="Scenario territories",
            ),
            key="sc_map_new",
            height=430,
            on_select=_hire_spot,
        )
    show_legend(result)
    st.markdown("**Per rep: accounts in and out**")
    st.dataframe(
        diff.per_rep,
        hide_index=True,
        width="stretch",
        column_config={
            "utilisation_before": st.column_config.NumberColumn("util. before", format="percent"),
            "utilisation_after": st.column_config.NumberColumn("util. after", format="percent"),
            "workload_before": st.column_config.NumberColumn("workload before h", format="%.0f"),
            "workload_after": st.column_config.NumberColumn("workload after h", format="%.0f"),
        },
    )
    change = rollup_change((base.table, base.reps), (result.table, result.reps))
    if change is not None:
        st.markdown("**Per region and district**")
        formats = {
            "territories": ("territories", "%d"),
            "workload_hours": ("workload h", "%.0f"),
            "capacity_hours": ("capacity h", "%.0f"),
            "utilisation": ("util.", "percent"),
            "max_deviation": ("max dev.", "percent"),
        }
        config = {
            f"{col}_{side}": st.column_config.NumberColumn(f"{label} {side}", format=fmt)
            for col, (label, fmt) in formats.items()
            for side in ("before", "after")
        }
        st.dataframe(change, hide_index=True, width="stretch", column_config=config)
    st.button(
        "Make this the current plan",
        on_click=_adopt,
        args=(result_key,),
        disabled=scenario.is_baseline,
        type="primary",
        key="sc_adopt",
    )


what_if()

st.subheader("Headcount curve")
st.caption("What each hire buys: re-plan for every team size (other scenario changes held).")
low, high = st.select_slider(
    "Team sizes",
    options=list(range(1, len(roster) + 16)),
    value=(team_sizes(len(roster))[0], team_sizes(len(roster))[-1]),
    key="sc_curve_range",
)
curve_key = stable_key(base_key, dataclasses.replace(state.scenario, team_size=None), low, high)
if st.button("Compute headcount curve", key="sc_curve"):
    rows = []
    progress = st.progress(0.0, text="Planning…")
    sizes = list(range(int(low), int(high) + 1))
    with error_boundary("Headcount curve", stop=False):
        for i, size in enumerate(sizes):
            sc = dataclasses.replace(state.scenario, team_size=size)
            rows.append(
                curve_row(size, scenario_snapshot(base_key, sc, state.dataset, base, state.design))
            )
            progress.progress((i + 1) / len(sizes), text=f"{size} reps planned")
        state.curve = (curve_key, pd.DataFrame(rows))
    progress.empty()
if state.curve is not None and state.curve[0] == curve_key:
    curve = state.curve[1].set_index("reps")
    c1, c2 = st.columns(2)
    c1.markdown("Max utilisation (1.0 = at capacity)")
    c1.line_chart(curve[["max_utilisation", "mean_utilisation"]])
    c2.markdown("Opportunity within capacity ($)")
    c2.line_chart(curve[["opportunity_within_capacity"]])
    st.dataframe(curve.reset_index(), hide_index=True, width="stretch")
