"""How the store writes values: plans as compressed arrays, frames as Parquet, JSON.

A plan version is three parts: its cells and labels as compressed ``.npy`` blobs named
by their SHA-256 (so the versions of an edited plan share one cell list), and a JSON
``state`` with everything else. Datasets are Parquet with a content hash
(:func:`frame_hash`), so the same upload is stored once.

Private to the store modules; :mod:`terrmap.store` re-exports :func:`frame_hash`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd

from terrmap._schema_db import StoreError
from terrmap.plan import DesignReport, Plan

__all__ = [
    "array_to_blob",
    "blob_to_array",
    "dataset_hash",
    "frame_hash",
    "frame_to_parquet",
    "jsonable",
    "parquet_to_frame",
    "plan_from_rows",
    "plan_to_rows",
]


def jsonable(value: Any) -> Any:
    """Plain JSON types for params and reports (dataclasses, numpy, tuples, paths)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [jsonable(v) for v in items]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return str(value)


def array_to_blob(values: np.ndarray) -> tuple[str, bytes]:
    """The SHA-256 of the array's ``.npy`` bytes, and those bytes compressed."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(values), allow_pickle=False)
    raw = buf.getvalue()
    return hashlib.sha256(raw).hexdigest(), zlib.compress(raw, 6)


def blob_to_array(data: bytes) -> np.ndarray:
    """The array stored by :func:`array_to_blob`."""
    return np.asarray(np.load(io.BytesIO(zlib.decompress(data)), allow_pickle=False))


def dataset_hash(accounts: pd.DataFrame, reps: pd.DataFrame | None) -> str:
    """The content hash of a dataset: its accounts and (when given) its reps."""
    digest = hashlib.sha256(frame_hash(accounts).encode())
    if reps is not None:
        digest.update(frame_hash(reps).encode())
    return digest.hexdigest()


def frame_hash(frame: pd.DataFrame) -> str:
    """A content hash of a frame: columns, dtypes, index and every value (SHA-256 hex)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def frame_to_parquet(frame: pd.DataFrame) -> bytes:
    """The frame as Parquet bytes (dtypes, index and NA kept)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow")
    return buf.getvalue()


def parquet_to_frame(data: bytes) -> pd.DataFrame:
    """The frame stored by :func:`frame_to_parquet`."""
    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


def plan_to_rows(plan: Plan) -> tuple[tuple[str, bytes], tuple[str, bytes], dict[str, Any]]:
    """The cells blob, the labels blob (each ``(sha256, data)``) and the JSON state."""
    state = {
        "format": 1,
        "territory_ids": list(plan.territory_ids),
        "rep_ids": list(plan.rep_ids),
        "resolution": int(plan.resolution),
        "overrides": dict(sorted(plan.overrides.items())),
        "locked_cells": [h3n.int_to_str(c) for c in sorted(plan.locked_cells)],
        "locked_accounts": sorted(plan.locked_accounts),
        "params": jsonable(plan.params),
        "report": jsonable(plan.report.to_dict()) if plan.report is not None else None,
    }
    return array_to_blob(plan.cells), array_to_blob(plan.labels), state


def plan_from_rows(cells: bytes, labels: bytes, state: Mapping[str, Any]) -> Plan:
    """The plan written by :func:`plan_to_rows` (raises for a newer stored format)."""
    if int(state.get("format", 0)) != 1:
        raise StoreError(
            f"stored plan format {state.get('format')!r} is not understood by this terrmap. "
            "Fix: upgrade terrmap."
        )
    report = state.get("report")
    return Plan(
        cells=blob_to_array(cells).astype(np.uint64, copy=False),
        labels=blob_to_array(labels).astype(np.int32, copy=False),
        territory_ids=tuple(state["territory_ids"]),
        rep_ids=tuple(state["rep_ids"]),
        resolution=int(state["resolution"]),
        overrides=dict(state["overrides"]),
        locked_cells=frozenset(int(h3n.str_to_int(c)) for c in state["locked_cells"]),
        locked_accounts=frozenset(state["locked_accounts"]),
        params=dict(state["params"]),
        report=DesignReport.from_dict(report) if report else None,
    )
