from __future__ import annotations

from terrmap.errors import InfeasibleError, InputError, Problem, TerrmapError


def test_input_error_lists_every_problem_with_row_column_value_fix() -> None:
    problems = [
        Problem(3, "lat", "123.4", "latitude out of range", "use degrees between -90 and 90"),
        Problem(None, None, None, "file is empty", "export the file again with a header row"),
    ]
    err = InputError(problems, source="accounts.csv")
    text = str(err)
    assert text.startswith("accounts.csv: 2 problems found")
    assert "row 3, column 'lat': latitude out of range (value: '123.4')" in text
    assert "Fix: use degrees between -90 and 90" in text
    assert "file: file is empty" in text
    assert isinstance(err, TerrmapError)
    assert err.to_records()[0] == {
        "row": 3,
        "column": "lat",
        "value": "123.4",
        "problem": "latitude out of range",
        "fix": "use degrees between -90 and 90",
    }


def test_infeasible_error_carries_numbers() -> None:
    err = InfeasibleError("capacity 1,100 h is below workload 1,240 h", numbers={"gap": 140.0})
    assert err.numbers == {"gap": 140.0}
    assert "1,240" in str(err)
