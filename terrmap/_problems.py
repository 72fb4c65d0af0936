"""Collecting input problems for whole columns at a time, and reporting them as text.

The checks hand :class:`Collector` a boolean mask per defect; it turns the flagged
rows into :class:`~terrmap.errors.Problem` records with the row number the user sees,
the cell as written, a message and a fix, and caps the listing per check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from terrmap._cells import cells_text
from terrmap.errors import Problem
from terrmap.schema import Kind, suggest_column

__all__ = ["Collector", "Message", "count_text", "format_report", "head_text", "rows_text"]

#: A message or fix: one text for every flagged row, or a function of the flagged
#: frame positions giving one text per row.
Message = str | Callable[[np.ndarray], Sequence[str]]


class Collector:
    """Collects problems for whole boolean masks at a time.

    Parameters
    ----------
    rows
        The row number the user sees for each frame row.
    limit
        Problems listed one by one per :meth:`add` call; the rest are summarised.
    """

    def __init__(self, rows: np.ndarray, limit: int) -> None:
        self.rows = rows
        self.limit = limit
        self.bad = np.zeros(len(rows), dtype=bool)
        self.problems: list[Problem] = []
        self.file: list[Problem] = []
        self.notes: list[str] = []

    def add(
        self, mask: np.ndarray, column: str, raw: pd.Series | None, message: Message, fix: Message
    ) -> None:
        """Report the rows of ``mask`` in ``column`` (``raw`` gives the values shown)."""
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        self.bad[idx] = True
        shown = idx[: self.limit]
        values = cells_text(raw, shown) if raw is not None else [None] * len(shown)
        msgs = message(shown) if callable(message) else [message] * len(shown)
        fixes = fix(shown) if callable(fix) else [fix] * len(shown)
        for i, v, m, f in zip(shown, values, msgs, fixes, strict=True):
            self.problems.append(Problem(int(self.rows[i]), column, v, m, f))
        if idx.size > self.limit:
            rest = self.rows[idx[self.limit :]]
            self.problems.append(
                Problem(
                    int(rest[0]),
                    column,
                    None,
                    f"{rest.size:,} more rows have the same problem ({msgs[0]}): "
                    f"rows {head_text(rest)}",
                    fixes[0],
                )
            )

    def missing(self, canonical: str, columns: Sequence[str], kind: Kind, why: str) -> None:
        """Report a missing required column, suggesting the nearest header."""
        near = suggest_column(canonical, columns, kind=kind)
        fix = (
            f"rename column '{near}' to '{canonical}' or choose it on the Data page"
            if near
            else f"add a '{canonical}' column ({why})"
        )
        self.file.append(
            Problem(None, canonical, None, f"required column '{canonical}' is missing", fix)
        )


def count_text(n: int, word: str) -> str:
    """``"1 account"``, ``"1,204 accounts"``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def rows_text(rows: Sequence[object], limit: int = 20) -> str:
    """``"2, 6, 11"``; past ``limit`` items ``"... and 12 more"``."""
    head = ", ".join(str(r) for r in rows[:limit])
    return head + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def head_text(values: Sequence[object] | np.ndarray, limit: int = 10) -> str:
    """The first ``limit`` values, ``", ..."`` when there are more."""
    head = ", ".join(str(v) for v in values[:limit])
    return head + (", ..." if len(values) > limit else "")


def format_report(
    problems: Sequence[Problem], *, source: str | None = None, row_label: str = "row"
) -> str:
    """Problems as plain text, one line per problem, with a count first.

    Parameters
    ----------
    problems
        The problems, e.g. ``InputError.problems`` or ``LoadResult.dropped``.
    source
        File name for the heading.
    row_label
        What row numbers count: ``"row"`` (header = row 1), ``"feature"`` (GeoJSON /
        GeoPackage) or ``"record"`` (Parquet).
    """
    n = len(problems)
    head = f"{source}: " if source else ""
    lines = [f"{head}{n} problem{'s' if n != 1 else ''} found" if n else f"{head}no problems"]
    for p in problems:
        where = [f"{row_label} {p.row}"] if p.row is not None else []
        where += [f"column '{p.column}'"] if p.column is not None else []
        value = f" (value: {p.value!r})" if p.value is not None else ""
        lines.append(f"  {', '.join(where) or 'file'}: {p.message}{value}. Fix: {p.fix}")
    return "\n".join(lines)
