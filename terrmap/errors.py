"""The terrmap exception family.

Every error the core raises on purpose is a :class:`TerrmapError`. Pages and the CLI
catch exactly this base class, show its message (every problem listed) and stop;
anything else is a bug and surfaces with its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["InfeasibleError", "InputError", "Problem", "TerrmapError"]


class TerrmapError(Exception):
    """Base class of every error terrmap raises deliberately."""


@dataclass(frozen=True)
class Problem:
    """One problem found in user input.

    Attributes
    ----------
    row
        The row number as the user sees it in the file (header is row 1, so the first
        data row is row 2), or ``None`` for a file-level problem.
    column
        The column the problem is in, or ``None`` when it concerns the whole row/file.
    value
        The offending value, as text.
    message
        What is wrong.
    fix
        How to fix it.
    """

    row: int | None
    column: str | None
    value: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        head = ", ".join(where) if where else "file"
        val = f" (value: {self.value!r})" if self.value is not None else ""
        return f"{head}: {self.message}{val}. Fix: {self.fix}"


class InputError(TerrmapError):
    """Input that cannot be used as is; carries *every* problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem], *, source: str | None = None) -> None:
        self.problems: list[Problem] = list(problems)
        self.source = source
        n = len(self.problems)
        head = f"{source}: " if source else ""
        lines = [f"{head}{n} problem{'s' if n != 1 else ''} found"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))

    def to_records(self) -> list[dict[str, Any]]:
        """The problems as a list of dicts (for a table in the UI or a CSV report)."""
        return [
            {
                "row": p.row,
                "column": p.column,
                "value": p.value,
                "problem": p.message,
                "fix": p.fix,
            }
            for p in self.problems
        ]


class InfeasibleError(TerrmapError):
    """A request that cannot be met, detected before solving; carries the numbers."""

    def __init__(self, message: str, *, numbers: Mapping[str, float] | None = None) -> None:
        self.numbers: dict[str, float] = dict(numbers or {})
        super().__init__(message)
