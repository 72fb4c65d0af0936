"""A throwaway PostgreSQL server for the store tests.

``session_url(config)`` gives the SQLAlchemy URL of a test database: the one in
``TERRMAP_TEST_PG_URL`` when set, else a new cluster in a temporary folder, started
once per test run on a Unix socket only (no TCP) and removed at the end of the run.
As root the cluster runs as the ``postgres`` user (initdb refuses root). Without the
server programs the tests fail and say how to install them; they never skip, so a
green run means PostgreSQL was really tested.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

ENV_URL = "TERRMAP_TEST_PG_URL"
DEBIAN_BINARIES = Path("/usr/lib/postgresql")  # Debian's /usr/lib/postgresql/<major>/bin
DB_NAME = "terrmap_test"
_FIX = (
    "Fix: run `bash .ci/ensure-postgres` (installs Debian's PostgreSQL server without "
    f"starting it), or set {ENV_URL} to an empty database's SQLAlchemy URL."
)


def server_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (newest Debian version, else PATH)."""
    debian = [p.parent for p in DEBIAN_BINARIES.glob("*/bin/pg_ctl")]
    debian.sort(key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    on_path = shutil.which("pg_ctl")
    for folder in [*reversed(debian), *([Path(on_path).resolve().parent] if on_path else [])]:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    pytest.fail(
        "the PostgreSQL store tests need the PostgreSQL server programs (initdb, pg_ctl), "
        f"found neither under {DEBIAN_BINARIES}/*/bin nor on PATH. {_FIX}",
        pytrace=False,
    )


def _as_server_user() -> list[str]:
    """The command prefix that runs the server programs (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(
            f"running as root and there is no `postgres` user to own the cluster. {_FIX}",
            pytrace=False,
        )
    if shutil.which("runuser") is None:
        pytest.fail(f"running as root without `runuser` (util-linux). {_FIX}", pytrace=False)
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        pytest.fail(
            f"could not {what} for the PostgreSQL tests (exit {done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}{tail}",
            pytrace=False,
        )


@contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a private cluster, create :data:`DB_NAME`, yield its URL, then remove it all."""
    bindir, as_user = server_binaries(), _as_server_user()
    # Unix socket paths are limited to ~107 bytes: keep the folder short.
    root = Path(tempfile.mkdtemp(prefix="terrmap-pg-", dir="/tmp" if as_user else None))
    if as_user:
        shutil.chown(root, user="postgres", group="postgres")
    data, log, port = root / "data", root / "server.log", _free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    _run([*as_user, *initdb, "-E", "UTF8", "--locale=C", "--no-sync"], "create a cluster")
    options = f"-k {root} -p {port} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log)]
    try:
        _run([*pg_ctl, "-w", "-t", "60", "-o", options, "start"], "start the server", log)
        admin = sa.create_engine(
            f"postgresql+psycopg://postgres@/postgres?host={root}&port={port}",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {DB_NAME}")
        admin.dispose()
        yield f"postgresql+psycopg://postgres@/{DB_NAME}?host={root}&port={port}"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def server_url() -> Iterator[str]:
    """``TERRMAP_TEST_PG_URL`` if set, else a :func:`throwaway_server`."""
    url = os.environ.get(ENV_URL)
    if url:
        yield url
        return
    with throwaway_server() as made:
        yield made


_SESSION_URL = pytest.StashKey[str]()


def session_url(config: pytest.Config) -> str:
    """One server for the whole test run, shared by every module; stopped at the end."""
    if _SESSION_URL not in config.stash:
        stack = ExitStack()
        config.stash[_SESSION_URL] = stack.enter_context(server_url())
        config.add_cleanup(stack.close)
    return config.stash[_SESSION_URL]


def empty_target(backend: str, config: pytest.Config, tmp_path: Path) -> str | Path:
    """An empty database: a SQLite file path, or the session's PostgreSQL URL, emptied."""
    if backend == "sqlite":
        return tmp_path / "plans" / "terrmap.db"
    url = session_url(config)
    empty_database(url)
    return url


def empty_database(url: str) -> None:
    """Drop everything the previous test stored (the ``public`` schema, recreated)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
