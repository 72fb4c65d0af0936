"""Real-browser harness: `streamlit run app.py` + Playwright on Debian's Chromium, offline.

* The app server is started once per session on a free port; readiness is polled on
  ``/_stcore/health`` (no fixed sleeps).
* Chromium is Debian's ``/usr/bin/chromium`` (Playwright's own browser download cannot
  work without internet); ``.ci/ensure-chromium`` installs it.
* The app serves Leaflet and its plugins itself (``static/vendor``, see
  ``terrmap.ui.assets``). Every request leaving the app's host (map tiles) is answered
  with an empty 200 and recorded in ``offsite``, so a test can prove the map needed
  no CDN.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path(os.environ.get("TERRMAP_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling interval, not a wait for readiness
    pytest.fail(f"streamlit did not become healthy within {timeout:.0f} s")


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """``streamlit run app.py`` on a free port, until the session ends."""
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "streamlit.log").open("wb")
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run .ci/ensure-chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def offsite() -> list[tuple[str, str]]:
    """(resource type, URL) of every request the page tried to send off the app's host."""
    return []


@pytest.fixture()
def page(browser, app_url: str, offsite: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    """A fresh page whose off-host requests never reach the network."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    host = app_url.split("//", 1)[1]

    def handle(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(("http://", "https://")) and f"//{host}" not in url:
            offsite.append((route.request.resource_type, url))
            route.fulfill(status=200, body=b"", content_type="text/plain")
            return
        route.continue_()

    context.route("**/*", handle)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
