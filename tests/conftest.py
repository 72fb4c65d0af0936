"""Shared fixtures: the bundled sample (loaded once per session) and hypothesis settings."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
TEST_DATA = Path(__file__).resolve().parent / "data"

# Two shared cores: no per-example deadline, fewer examples by default; CI sets the profile.
settings.register_profile(
    "default",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def sample_accounts_path() -> Path:
    return SAMPLES / "accounts.csv"


@pytest.fixture(scope="session")
def sample_reps_path() -> Path:
    return SAMPLES / "reps.csv"


@pytest.fixture(scope="session")
def sample_reps(sample_reps_path: Path) -> pd.DataFrame:
    """The bundled rep roster, loaded and validated (read-only: copy before changing)."""
    from terrmap.load import load_reps

    return load_reps(sample_reps_path).frame


@pytest.fixture(scope="session")
def sample_accounts(sample_accounts_path: Path, sample_reps: pd.DataFrame) -> pd.DataFrame:
    """The bundled accounts, loaded, validated and scored (read-only: copy before changing)."""
    from terrmap.load import load_accounts
    from terrmap.scoring import score_accounts

    loaded = load_accounts(sample_accounts_path, rep_ids=list(sample_reps["rep_id"]))
    return score_accounts(loaded.frame)
