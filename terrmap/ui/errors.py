"""The one place where terrmap errors become messages on screen.

Pages wrap their work in :func:`error_boundary` (or call :func:`show_error`); only
:class:`~terrmap.errors.TerrmapError` is caught -- anything else is a bug and surfaces.
An :class:`~terrmap.errors.InputError` is shown as a table of every problem (row,
column, value, problem, fix); an :class:`~terrmap.errors.InfeasibleError` with its
numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from terrmap.errors import InfeasibleError, InputError, TerrmapError

__all__ = ["error_boundary", "problems_frame", "show_error"]


def problems_frame(error: InputError) -> pd.DataFrame:
    """Every problem of an input error as a table (row, column, value, problem, fix)."""
    frame = pd.DataFrame(error.to_records(), columns=["row", "column", "value", "problem", "fix"])
    frame["row"] = frame["row"].astype("Int64")
    return frame


def show_error(error: TerrmapError, *, context: str | None = None) -> None:
    """Show a terrmap error in the page: a headline and every problem it carries.

    Parameters
    ----------
    error
        The error raised by the core.
    context
        What the app was doing (e.g. "Reading accounts.csv"), used as the headline.
    """
    head = f"{context}: " if context else ""
    if isinstance(error, InputError):
        n = len(error.problems)
        source = f" in {error.source}" if error.source else ""
        st.error(
            f"{head}{n} problem{'s' if n != 1 else ''} found{source}. "
            "Nothing was changed; fix them and try again.",
            icon=":material/error:",
        )
        st.dataframe(problems_frame(error), hide_index=True, width="stretch")
        return
    st.error(f"{head}{error}", icon=":material/error:")
    if isinstance(error, InfeasibleError) and error.numbers:
        numbers = pd.DataFrame(
            {"quantity": list(error.numbers), "value": list(error.numbers.values())}
        )
        st.dataframe(numbers, hide_index=True)


@contextmanager
def error_boundary(context: str | None = None, *, stop: bool = True) -> Iterator[None]:
    """Catch a :class:`TerrmapError`, show it, and stop the run (or carry on).

    Parameters
    ----------
    context
        Headline for the message.
    stop
        Stop the script (or the fragment) after showing the error; when ``False`` the
        code after the ``with`` block still runs.
    """
    try:
        yield
    except TerrmapError as error:
        show_error(error, context=context)
        if stop:
            st.stop()
