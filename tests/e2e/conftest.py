"""Real-browser harness: `streamlit run app.py` + Playwright on Debian's Chromium, offline.

* The app server is started once per session on a free port; readiness is polled on
  ``/_stcore/health`` (no fixed sleeps). The harness lives in ``bench/browser.py``
  (the dashboard benchmark uses it too).
* Chromium is Debian's ``/usr/bin/chromium`` (Playwright's own browser download cannot
  work without internet); ``.ci/ensure-chromium`` installs it.
* The app serves Leaflet and its plugins itself (``static/vendor``, see
  ``terrmap.ui.assets``). Every request leaving the app's host (map tiles) is answered
  with an empty 200 and recorded in ``offsite``, so a test can prove the map needed
  no CDN.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.browser import AppError, chromium, offline_context, serve_app

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """``streamlit run app.py`` on a free port, until the session ends."""
    try:
        with serve_app(ARTIFACTS / "streamlit.log") as url:
            yield url
    except AppError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        with chromium() as browser:
            yield browser
    except AppError as error:
        pytest.fail(str(error))


@pytest.fixture()
def offsite() -> list[tuple[str, str]]:
    """(resource type, URL) of every request the page tried to send off the app's host."""
    return []


@pytest.fixture()
def page(browser: Any, app_url: str, offsite: list[tuple[str, str]]) -> Iterator[Any]:
    """A fresh page whose off-host requests never reach the network."""
    with offline_context(browser, app_url, offsite) as context:
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
