from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from terrmap.cli import main
from tests.conftest import SAMPLES, TEST_DATA


def test_validate_lists_every_defect_and_exits_non_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "validate",
            str(TEST_DATA / "defective_accounts.csv"),
            "--reps",
            str(TEST_DATA / "reps.csv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "22 problems found" in err
    assert "row 19, column 'lat'" in err and "Fix: swap the lat and lon values" in err


def test_validate_a_clean_file_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(SAMPLES / "accounts.csv"), "--reps", str(SAMPLES / "reps.csv")])
    assert code == 0
    assert "5,000 rows loaded" in capsys.readouterr().out


def test_plan_writes_the_three_files_with_generic_ids(tmp_path: Path) -> None:
    accounts = pd.read_csv(SAMPLES / "accounts.csv", dtype={"zip": str}).head(800)
    src = tmp_path / "accounts.csv"
    accounts.to_csv(src, index=False)
    out = tmp_path / "plan"
    assert main(["plan", str(src), "--territories", "4", "--out", str(out)]) == 0
    assigned = pd.read_csv(out / "assignments.csv", dtype=str)
    assert list(assigned.columns) == ["account_id", "territory_id", "cell"]
    assert len(assigned) == 800 and assigned["account_id"].is_unique
    assert set(assigned["territory_id"]) == {"T01", "T02", "T03", "T04"}
    assert (out / "territories.geojson").exists() and (out / "summary.json").exists()


def test_plan_needs_reps_or_k(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["plan", str(SAMPLES / "accounts.csv"), "--out", str(tmp_path)])
    assert code == 2
    assert "--reps REPS or --territories K" in capsys.readouterr().err


def test_route_rejects_a_bad_start(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["route", "--accounts", str(SAMPLES / "accounts.csv"), "--start", "north", "--out"]
    assert main([*args, str(tmp_path)]) == 2
    assert "is not LAT,LON" in capsys.readouterr().err
