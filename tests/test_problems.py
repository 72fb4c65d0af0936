"""Problem collection and text helpers (terrmap._problems)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from terrmap._problems import Collector, count_text, head_text, rows_text


def test_add_reports_rows_values_and_per_row_messages() -> None:
    col = Collector(np.array([2, 3, 5, 6]), limit=10)
    raw = pd.Series(["a", " b ", None, 4.0], dtype=object)
    col.add(np.array([False, True, True, True]), "x", raw, lambda i: [f"m{j}" for j in i], "fix")
    assert [(p.row, p.column, p.value, p.message, p.fix) for p in col.problems] == [
        (3, "x", "b", "m1", "fix"),
        (5, "x", "", "m2", "fix"),
        (6, "x", "4", "m3", "fix"),
    ]
    assert col.bad.tolist() == [False, True, True, True]
    col.add(np.zeros(4, dtype=bool), "x", raw, "never", "never")
    assert len(col.problems) == 3


def test_add_caps_the_listing_and_summarises_the_rest() -> None:
    rows = np.arange(2, 32)
    col = Collector(rows, limit=5)
    col.add(np.ones(30, dtype=bool), "acv", None, "not a number", "write a number")
    assert len(col.problems) == 6
    assert all(p.value is None for p in col.problems)
    summary = col.problems[-1]
    assert summary.row == 7
    assert summary.message == (
        "25 more rows have the same problem (not a number): rows 7, 8, 9, 10, 11, 12, 13, "
        "14, 15, 16, ..."
    )
    assert col.bad.all()


def test_missing_column_suggests_the_nearest_header() -> None:
    col = Collector(np.array([2]), limit=5)
    col.missing("account_id", ["Acct ID", "lat"], "accounts", "a unique id per account")
    col.missing("rep_id", ["zzz"], "reps", "a unique id per rep")
    assert "rename column 'Acct ID' to 'account_id'" in col.file[0].fix
    assert col.file[1].fix == "add a 'rep_id' column (a unique id per rep)"
    assert col.problems == []


def test_text_helpers() -> None:
    assert count_text(1, "account") == "1 account"
    assert count_text(1204, "account") == "1,204 accounts"
    assert rows_text([2, 6, 11]) == "2, 6, 11"
    assert rows_text(list(range(25)), 3) == "0, 1, 2 and 22 more"
    assert head_text(np.arange(3)) == "0, 1, 2"
    assert head_text(list(range(12)), 2) == "0, 1, ..."
