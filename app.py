"""terrmap dashboard: the router and the shared sidebar.

Run with ``streamlit run app.py`` (or ``make run``). The app opens on the bundled
sample with a plan already computed; pages live in ``pages/`` and stay thin.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from terrmap.ui.errors import error_boundary
from terrmap.ui.state import get_state, routed

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="terrmap", page_icon=":material/map:", layout="wide")

pages = [
    st.Page(
        HERE / "pages" / "territories.py",
        title="Territories",
        icon=":material/map:",
        url_path="territories",
        default=True,
    ),
    st.Page(
        HERE / "pages" / "scenarios.py",
        title="Scenarios",
        icon=":material/tune:",
        url_path="scenarios",
    ),
    st.Page(
        HERE / "pages" / "coverage.py",
        title="Coverage",
        icon=":material/layers:",
        url_path="coverage",
    ),
    st.Page(
        HERE / "pages" / "plans.py",
        title="Plans",
        icon=":material/folder_open:",
        url_path="plans",
    ),
    st.Page(
        HERE / "pages" / "data.py", title="Data", icon=":material/upload_file:", url_path="data"
    ),
    st.Page(
        HERE / "pages" / "my_patch.py",
        title="My patch",
        icon=":material/route:",
        url_path="my-patch",
    ),
]
page = st.navigation(pages)

with error_boundary("Loading the bundled sample"):
    state = get_state()

with st.sidebar:
    st.markdown("### terrmap")
    ds = state.dataset
    st.caption(
        f"**{ds.name}** · {len(ds.accounts):,} accounts · {len(ds.reps):,} reps  \n"
        f"Balance: {state.design.balance} ±{state.design.tolerance:.0%}"
    )
    # A widget of the entrypoint keeps its value on every page; the state remembers it.
    st.session_state.setdefault("terrmap_author", state.author)
    state.author = st.text_input(
        "Your name",
        key="terrmap_author",
        placeholder="e.g. Dana Smith",
        help="Recorded with every plan you save (who changed what, and when). "
        "Empty: your login name (or TERRMAP_USER).",
    ).strip()

with routed():
    page.run()
