"""Delimited text (CSV, TSV, ``;``- or ``|``-separated): encoding and delimiter sniffing.

CSV text may be UTF-8 (with or without BOM), UTF-16 with BOM or Windows-1252/Latin-1,
delimited by ``,`` ``;`` tab or ``|`` (a ``;`` file uses a decimal comma), and may be
gzip-compressed. Every cell is read as text, so ids and ZIPs keep their leading
zeros; rows with the wrong number of fields are reported with their line number.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from terrmap._source import RawTable, empty_file, unique_headers
from terrmap.errors import Problem

__all__ = ["read_delimited"]

_DELIMITERS = (",", ";", "\t", "|")


def read_delimited(data: bytes, name: str) -> RawTable:
    """Read delimited text (``data`` as stored; ``name`` ends ``.gz`` when compressed)."""
    if name.lower().endswith(".gz"):
        import gzip

        data = gzip.decompress(data)
    data, enc_note = _decode(data)
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].decode("utf-8").rstrip("\r")
    if not data or data.isspace():
        raise empty_file(name)
    delimiter = "\t" if name.lower().endswith((".tsv", ".tab")) else _sniff_delimiter(first)
    headers, header_notes = _header_names(first, delimiter)
    frame, bad = _parse(data, headers, delimiter)
    skipped = np.array(sorted(b[0] for b in bad if b[0] is not None), dtype=np.int64)
    every = np.arange(2, 2 + len(frame) + len(bad), dtype=np.int64)
    rows = np.setdiff1d(every, skipped, assume_unique=True) if bad else every
    problems = tuple(
        Problem(
            num,
            None,
            text[:80],
            f"the row has {got} values but the header has {want} columns",
            f"check for a missing or extra '{_show(delimiter)}' (quote values that contain it)",
        )
        for num, want, got, text in bad
    )
    notes = [n for n in (enc_note,) if n] + header_notes
    if delimiter != ",":
        notes.append(
            f"Columns are separated by '{_show(delimiter)}'"
            + ("; numbers use a decimal comma." if delimiter == ";" else ".")
        )
    return RawTable(
        frame,
        rows[: len(frame)],
        "row",
        "csv",
        name,
        tuple(notes),
        problems,
        decimal_comma=delimiter == ";",
    )


def _parse(
    data: bytes, headers: list[str], delimiter: str
) -> tuple[pd.DataFrame, list[tuple[int | None, int, int, str]]]:
    """Every cell as text, and the rows skipped: ``(line, expected, actual, text)``."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    bad: list[tuple[int | None, int, int, str]] = []

    def on_bad(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    def read(threads: bool) -> pa.Table:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(
                use_threads=threads, column_names=headers, skip_rows=1, block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_bad,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(headers, pa.string()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    table = read(True)
    if bad:  # numbers of skipped lines are only known in a single-threaded read
        bad.clear()
        table = read(False)
    frame = table.to_pandas()
    frame.columns = headers
    return frame, bad


def _show(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def _header_names(line: str, delimiter: str) -> tuple[list[str], list[str]]:
    import csv

    cells = next(csv.reader([line], delimiter=delimiter), [])
    return unique_headers([c.strip() for c in cells])


def _decode(data: bytes) -> tuple[bytes, str | None]:
    """UTF-8 bytes of the text and a note when it was not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:], None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16").encode("utf-8"), "Read as UTF-16 text."
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text, enc = data.decode("cp1252"), "Windows-1252 (Latin-1)"
        except UnicodeDecodeError:
            text, enc = data.decode("latin-1"), "Latin-1 (ISO-8859-1)"
        return text.encode("utf-8"), f"Read as {enc} text: the file is not valid UTF-8."
    return data, None


def _sniff_delimiter(header: str) -> str:
    counts = {d: _count_unquoted(header, d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _count_unquoted(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count
