"""The app in a real browser, offline: shared by ``tests/e2e`` and ``bench.dashboard``.

* :func:`serve_app` runs ``streamlit run app.py`` on a free port and polls
  ``/_stcore/health`` until it answers (no fixed sleeps).
* :func:`offline_context` opens a Chromium context (Debian's ``/usr/bin/chromium``;
  Playwright's own browser download needs internet) in which every request leaving
  the app's host is answered with an empty 200 and recorded: the app serves Leaflet
  itself (``static/vendor``), only map tiles would go out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("TERRMAP_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Streamlit marks the app root with the script state; "notRunning" = idle.
APP_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


class AppError(RuntimeError):
    """The app server did not start (exited, or never became healthy)."""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    """Poll ``/_stcore/health`` until it answers ``ok``; :class:`AppError` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AppError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling interval, not a wait for readiness
    raise AppError(f"streamlit did not become healthy within {timeout:.0f} s")


@contextmanager
def serve_app(log_path: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """``streamlit run app.py`` on a free port; yields its URL, stops it on exit."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (headless)."""
    if not CHROMIUM.exists():
        raise AppError(f"{CHROMIUM} is missing: run .ci/ensure-chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(LAUNCH_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def offline_context(browser: Any, app_url: str, offsite: list[tuple[str, str]]) -> Iterator[Any]:
    """A browser context whose off-host requests are answered empty and recorded."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    host = app_url.split("//", 1)[1]

    def handle(route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://", "https://")) and f"//{host}" not in url:
            offsite.append((route.request.resource_type, url))
            route.fulfill(status=200, body=b"", content_type="text/plain")
            return
        route.continue_()

    context.route("**/*", handle)
    try:
        yield context
    finally:
        context.close()


def wait_idle(page: Any) -> None:
    """Until the app's script run (and any fragment run) has finished."""
    page.wait_for_selector("[data-testid='stApp']", state="attached")
    page.wait_for_selector(APP_IDLE, state="attached", timeout=120_000)


def metric(page: Any, label: str) -> str:
    """The value shown by the ``st.metric`` labelled ``label``."""
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return str(box.locator("[data-testid='stMetricValue']").inner_text().strip())


_METRIC_IS = """([label, want]) => [...document.querySelectorAll("[data-testid='stMetric']")]
    .some(e => e.innerText.includes(label) &&
               e.querySelector("[data-testid='stMetricValue']").innerText.trim() === want)"""


def wait_metric(page: Any, label: str, value: str, timeout: float = 60.0) -> None:
    """Until the ``st.metric`` labelled ``label`` shows ``value``, then until idle."""
    page.wait_for_function(_METRIC_IS, arg=[label, value], timeout=timeout * 1000)
    wait_idle(page)
