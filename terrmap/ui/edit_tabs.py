"""The editor's tabs below the map: accounts and overrides, locks, rebalance, history.

Each tab renders from the :class:`~terrmap.ui.editing.EditSession`; every action is a
callback built with :func:`terrmap.ui.edit_panel.action`, so it is applied, published
and undoable like a move on the map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from terrmap.edits import LockedError, clear_overrides
from terrmap.errors import TerrmapError
from terrmap.locks import lock, lock_all, locked_territories, unlock, unlock_all
from terrmap.scenarios import PlanSnapshot
from terrmap.ui.edit_panel import NONE, action, show_errors, show_preview
from terrmap.ui.editing import EditSession
from terrmap.ui.errors import show_error
from terrmap.ui.state import AppState
from terrmap.ui.widgets import territory_labels

__all__ = ["accounts_tab", "history_tab", "locks_tab", "overrides_frame", "rebalance_tab"]

ACCOUNTS_KEY = "ed_accounts"
_SEARCH_LIMIT = 50


def _names(accounts: pd.DataFrame) -> pd.Series:
    ids = accounts["account_id"].astype("string")
    if "name" not in accounts.columns:
        return ids
    return accounts["name"].astype("string").fillna(ids)


def overrides_frame(snap: PlanSnapshot) -> pd.DataFrame:
    """Every account with an override: its cell's territory, where it is, locked or not."""
    plan = snap.plan
    ids = snap.accounts["account_id"].astype(str)
    moved = ids.isin(list(plan.overrides)).to_numpy()
    acc = snap.accounts.loc[moved]
    ground = pd.Series(
        np.array([*plan.territory_ids, None], dtype=object)[
            plan.territory_of_cells(plan.account_cells(acc))
        ],
        index=acc.index,
    )
    acc_ids = acc["account_id"].astype(str)
    return pd.DataFrame(
        {
            "Account": acc_ids.to_numpy(),
            "Name": _names(acc).to_numpy(),
            "Cell's territory": ground.to_numpy(),
            "Assigned to": acc_ids.map(dict(plan.overrides)).to_numpy(),
            "Workload h": acc["workload_hours"].to_numpy(float).round(1),
            "Locked": acc_ids.isin(list(plan.locked_accounts)).to_numpy(),
        }
    )


def _account_options(session: EditSession, snap: PlanSnapshot, query: str) -> list[str]:
    acc = snap.accounts
    ids = acc["account_id"].astype(str)
    chosen = [str(a) for a in st.session_state.get(ACCOUNTS_KEY, [])]
    picks: list[str] = []
    if query:
        hit = ids.str.contains(query, case=False, regex=False) | _names(acc).str.contains(
            query, case=False, regex=False
        ).fillna(False)
        picks += ids[hit.to_numpy(bool)].head(_SEARCH_LIMIT).tolist()
    on_sel = session.accounts_on_selection()
    if len(on_sel):
        top = (
            on_sel.sort_values("opportunity", ascending=False)
            if "opportunity" in on_sel
            else on_sel
        )
        picks += top["account_id"].astype(str).head(_SEARCH_LIMIT).tolist()
    picks += list(snap.plan.overrides)[:_SEARCH_LIMIT]
    return list(dict.fromkeys([*chosen, *picks]))


def accounts_tab(state: AppState, session: EditSession, snap: PlanSnapshot) -> None:
    """Move single accounts (overrides), clear overrides, lock accounts; the override list."""
    st.caption(
        "Move a named account to another territory independently of its cell (e.g. a "
        "key customer stays with its rep). Accounts assigned by an override show as small "
        "diamonds on the map (dashed when locked)."
    )
    show_errors(session, "accounts")
    query = st.text_input("Find accounts", key="ed_acc_query", placeholder="name or id").strip()
    options = _account_options(session, snap, query)
    names = dict(zip(snap.accounts["account_id"].astype(str), _names(snap.accounts), strict=True))
    where = dict(zip(snap.accounts["account_id"].astype(str), snap.assignment, strict=True))
    chosen = st.multiselect(
        "Accounts",
        options,
        key=ACCOUNTS_KEY,
        format_func=lambda a: f"{names.get(a, a)} ({a}) · {where.get(a) or '—'}",
        placeholder="Search above, or select cells on the map",
    )
    labels = territory_labels(snap)
    target = st.selectbox(
        "Move them to",
        [NONE, *snap.plan.territory_ids],
        key="ed_acc_target",
        format_func=lambda t: labels.get(t, t),
    )
    if chosen and target not in (None, NONE):
        try:
            pv = session.preview_accounts(chosen, str(target))
        except LockedError as error:
            st.warning(str(error), icon=":material/lock:")
        except TerrmapError as error:
            show_error(error, context="Preview")
        else:
            show_preview(pv, labels)
            st.button(
                f"Apply: move {len(chosen)} account(s) to {target}",
                key="ed_acc_apply",
                type="primary",
                on_click=action(state, session, lambda: session.apply(pv), where="accounts"),
            )
    _account_buttons(state, session, chosen)
    table = overrides_frame(snap)
    st.markdown(
        f"**Account overrides:** {len(table):,} account(s) assigned independently of their "
        "cell (by hand, or kept with their owner because the data locks them)"
    )
    if len(table):
        st.dataframe(table, hide_index=True, width="stretch")
        held = int(table["Locked"].sum())
        st.button(
            "Clear all overrides" + (f" ({held} of locked accounts stay)" if held else ""),
            key="ed_clear_all_overrides",
            disabled=held == len(table),
            on_click=action(
                state,
                session,
                lambda: session.apply(clear_overrides(session.plan, session.accounts)),
                where="accounts",
            ),
        )


def _account_buttons(state: AppState, session: EditSession, chosen: list[str]) -> None:
    c1, c2, c3 = st.columns(3)
    has = [a for a in chosen if a in session.plan.overrides]
    c1.button(
        "Clear their overrides",
        key="ed_acc_clear",
        disabled=not has,
        on_click=action(
            state,
            session,
            lambda: session.apply(clear_overrides(session.plan, session.accounts, has)),
            where="accounts",
        ),
    )
    c2.button(
        "Lock accounts",
        key="ed_acc_lock",
        icon=":material/lock:",
        disabled=not chosen,
        on_click=action(
            state,
            session,
            lambda: session.apply(
                lock(session.plan, account_ids=chosen, accounts=session.accounts)
            ),
            where="accounts",
        ),
    )
    c3.button(
        "Unlock accounts",
        key="ed_acc_unlock",
        icon=":material/lock_open:",
        disabled=not chosen,
        on_click=action(
            state,
            session,
            lambda: session.apply(
                unlock(session.plan, account_ids=chosen, accounts=session.accounts)
            ),
            where="accounts",
        ),
    )


def locks_tab(state: AppState, session: EditSession, snap: PlanSnapshot) -> None:
    """Lock or unlock the selected cells, whole territories, or everything."""
    plan = snap.plan
    whole = locked_territories(plan)
    st.markdown(
        f"**Locked:** {len(whole)} territor{'ies' if len(whole) != 1 else 'y'}"
        + (f" ({', '.join(whole)})" if whole else "")
        + f" · {len(plan.locked_cells):,} cell(s) · {len(plan.locked_accounts):,} account(s)"
    )
    st.caption(
        "Locked cells and accounts never move: not by a paint stroke, a lasso, a rebalance or "
        "a scenario run. They show with a dashed outline on the map."
    )
    show_errors(session, "locks")
    sel = session.selected_array()
    c1, c2 = st.columns(2)
    c1.button(
        f"Lock selected cells ({sel.size})",
        key="ed_lock_cells",
        icon=":material/lock:",
        disabled=sel.size == 0,
        on_click=action(
            state, session, lambda: session.apply(lock(session.plan, cells=sel)), where="locks"
        ),
    )
    c2.button(
        f"Unlock selected cells ({sel.size})",
        key="ed_unlock_cells",
        icon=":material/lock_open:",
        disabled=sel.size == 0,
        on_click=action(
            state, session, lambda: session.apply(unlock(session.plan, cells=sel)), where="locks"
        ),
    )
    labels = territory_labels(snap)
    terrs = st.multiselect(
        "Territories", plan.territory_ids, key="ed_lock_terrs", format_func=lambda t: labels[t]
    )
    c3, c4 = st.columns(2)
    c3.button(
        "Lock territories",
        key="ed_lock_terr",
        disabled=not terrs,
        on_click=action(
            state,
            session,
            lambda: session.apply(lock(session.plan, territories=terrs)),
            where="locks",
        ),
    )
    c4.button(
        "Unlock territories",
        key="ed_unlock_terr",
        disabled=not terrs,
        on_click=action(
            state,
            session,
            lambda: session.apply(unlock(session.plan, territories=terrs)),
            where="locks",
        ),
    )
    c5, c6 = st.columns(2)
    c5.button(
        "Lock all",
        key="ed_lock_all",
        on_click=action(
            state, session, lambda: session.apply(lock_all(session.plan)), where="locks"
        ),
    )
    c6.button(
        "Unlock all",
        key="ed_unlock_all",
        disabled=not (plan.locked_cells or plan.locked_accounts),
        on_click=action(
            state, session, lambda: session.apply(unlock_all(session.plan)), where="locks"
        ),
    )


def rebalance_tab(state: AppState, session: EditSession, snap: PlanSnapshot) -> None:
    """Propose an engine run on the rest (edits and locks fixed); show it; apply or discard."""
    kept = session.history.edited_cells().size
    st.caption(
        f"Re-balance the territories around your edits: the {kept} cell(s) painted by hand, "
        f"{len(snap.plan.overrides)} moved account(s) and every lock stay as they are; the "
        "engine starts from the current plan and moves as little as the balance needs."
    )
    st.button(
        "Propose a rebalance",
        key="ed_rebalance",
        icon=":material/balance:",
        on_click=action(state, session, session.propose_rebalance, where="rebalance"),
    )
    show_errors(session, "rebalance")
    proposal = session.proposal
    if proposal is None:
        return
    moved = proposal.diff.moved_accounts
    st.markdown(
        f"The engine would move **{moved:,}** account(s) "
        f"({proposal.diff.moved_workload:,.1f} workload h/month). {proposal.edit.note}"
    )
    if moved == 0:
        st.success("The plan is already balanced around your edits: nothing to move.")
        return
    show_preview(proposal.preview, territory_labels(snap))
    moves = proposal.diff.moves.copy()
    names = dict(zip(snap.accounts["account_id"].astype(str), _names(snap.accounts), strict=True))
    moves.insert(1, "name", moves["account_id"].astype(str).map(names))
    with st.expander(f"Accounts that would move ({len(moves):,})"):
        st.dataframe(moves, hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    c1.button(
        "Apply the rebalance",
        key="ed_rebalance_apply",
        type="primary",
        on_click=action(state, session, lambda: session.apply(proposal.preview), where="rebalance"),
    )
    c2.button(
        "Discard",
        key="ed_rebalance_discard",
        on_click=action(
            state, session, lambda: setattr(session, "proposal", None), where="rebalance"
        ),
    )


def history_tab(state: AppState, session: EditSession) -> None:
    """Every step of the edit history, with a jump to any of them."""
    h = session.history
    rows = [{"Step": 0, "Edit": "as opened", "": "◀ now" if h.cursor == 0 else ""}]
    rows += [
        {
            "Step": i + 1,
            "Edit": e.summary(),
            "": "◀ now" if h.cursor == i + 1 else ("(undone)" if i + 1 > h.cursor else ""),
        }
        for i, e in enumerate(h.edits)
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    show_errors(session, "history")
    if len(h.plans) > 1:
        steps = list(range(len(h.plans)))
        if st.session_state.get("ed_goto_step") not in steps:
            st.session_state["ed_goto_step"] = h.cursor
        step = st.selectbox("Go to step", steps, key="ed_goto_step")
        st.button(
            "Go",
            key="ed_goto",
            on_click=action(state, session, lambda: session.goto(int(step)), where="history"),
        )
    st.caption(
        f"{session.unsaved} step(s) since the last save. Saving stores each of them as a "
        "version of the plan, so any version can be opened again from the Plans page."
    )
