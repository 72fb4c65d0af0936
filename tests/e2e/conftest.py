"""Real-browser harness: `streamlit run app.py` + Playwright on Debian's Chromium, offline.

* The app server is started once per session on a free port; readiness is polled on
  ``/_stcore/health`` (no fixed sleeps).
* Chromium is Debian's ``/usr/bin/chromium`` (Playwright's own browser download cannot
  work without internet); ``.ci/ensure-chromium`` installs it.
* Folium's map loads Leaflet and friends from CDNs. Every request leaving the app's
  host is answered locally: CDN files from npm packages fetched with ``npm pack`` into
  ``.cache/e2e-assets`` (gitignored), anything else (tiles, fonts) with an empty 200.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / ".cache" / "e2e-assets"
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
#: npm packages that folium's CDN URLs point into.
PACKAGES = (
    "leaflet@1.9.3",
    "jquery@3.7.1",
    "bootstrap@5.2.2",
    "leaflet.markercluster@1.1.0",
    "leaflet-draw@1.0.2",
)
#: CDN URL pattern -> (npm package, path inside it); groups fill the path template.
CDN_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"https://cdn\.jsdelivr\.net/npm/(leaflet@1\.9\.3)/(.+)$"), r"\1", r"\2"),
    (re.compile(r"https://cdn\.jsdelivr\.net/npm/(bootstrap@5\.2\.2)/(.+)$"), r"\1", r"\2"),
    (re.compile(r"https://code\.jquery\.com/jquery-(3\.7\.1)\.min\.js$"), r"jquery@\1",
     "dist/jquery.min.js"),
    (re.compile(r"https://cdnjs\.cloudflare\.com/ajax/libs/leaflet\.markercluster/(1\.1\.0)/(.+)$"),
     r"leaflet.markercluster@\1", r"dist/\2"),
    (re.compile(r"https://cdnjs\.cloudflare\.com/ajax/libs/leaflet\.draw/(1\.0\.2)/(.+)$"),
     r"leaflet-draw@\1", r"dist/\2"),
)  # fmt: skip
CONTENT_TYPES = {".js": "application/javascript", ".css": "text/css", ".png": "image/png"}


def _fetch_packages() -> None:
    """``npm pack`` each package once into the cache and unpack it."""
    ASSETS.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    for spec in PACKAGES:
        target = ASSETS / spec
        if (target / "package.json").exists():
            continue
        if npm is None:
            pytest.fail(
                "npm is needed to fetch Leaflet for the browser tests (apt-get install npm)"
            )
        out = subprocess.run(
            [npm, "pack", spec, "--silent", "--pack-destination", str(ASSETS)],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            pytest.fail(f"npm pack {spec} failed: {out.stderr.strip()[:500]}")
        tarball = ASSETS / out.stdout.strip().splitlines()[-1]
        with tarfile.open(tarball) as tar:
            tar.extractall(ASSETS / f"{spec}.tmp", filter="data")
        (ASSETS / f"{spec}.tmp" / "package").rename(target)
        shutil.rmtree(ASSETS / f"{spec}.tmp")
        tarball.unlink()


def local_asset(url: str) -> Path | None:
    """The local copy of a CDN URL, if one of the npm packages has it."""
    for pattern, package, path in CDN_RULES:
        match = pattern.match(url.split("?")[0])
        if match:
            candidate = ASSETS / match.expand(package) / match.expand(path)
            return candidate if candidate.is_file() else None
    return None


@pytest.fixture(scope="session")
def cdn_assets() -> Path:
    _fetch_packages()
    return ASSETS


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
def page(browser, app_url: str, cdn_assets: Path):  # type: ignore[no-untyped-def]
    """A fresh page whose off-host requests never reach the network."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    host = app_url.split("//", 1)[1]

    def handle(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(("http://", "https://")) and f"//{host}" not in url:
            local = local_asset(url)
            if local is not None:
                ctype = CONTENT_TYPES.get(local.suffix, "application/octet-stream")
                route.fulfill(status=200, body=local.read_bytes(), content_type=ctype)
            else:  # tiles, fonts, icons: empty, so the page never waits on the network
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
