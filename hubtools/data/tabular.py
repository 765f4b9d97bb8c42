"""JSON lines, JSON and parquet files read into Arrow tables, every failure a DataError naming file and line.

The fast readers (``pyarrow.json``, ``pyarrow.parquet``) do the work; when one fails, the file is scanned
in Python to find the first bad line (invalid JSON, a row that is not an object, a field whose type
changes from one row to the next), so a broken file costs nothing until it is broken.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq
from datasets import Dataset, DatasetInfo, Features
from datasets.fingerprint import Hasher

from hubtools.data.reading import decode, split_lines
from hubtools.errors import DataError

TABULAR_SUFFIXES = (".parquet", ".jsonl", ".json")


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _kind(value: object) -> str:
    """A JSON value's type, lists by element type (``list of string``); None is ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    kinds = sorted({_kind(v) for v in value} - {"null"})
    if len(kinds) > 1:
        return f"list mixing {' and '.join(kinds)}"
    return f"list of {kinds[0]}" if kinds else "list"


def _compatible(seen: str, kind: str) -> bool:
    """Two kinds one Arrow column can hold: equal, one null, or two lists one of which is empty."""
    if seen == kind or "null" in (seen, kind):
        return True
    return seen.startswith("list") and kind.startswith("list") and "list" in (seen, kind)


def locate_json_problem(rows: list[tuple[int, object]], path: Path) -> DataError | None:
    """The first row (line number, parsed value) that is not an object or changes a field's type."""
    seen: dict[str, tuple[str, int]] = {}
    for lineno, row in rows:
        if not isinstance(row, dict):
            return DataError(f"{path}:{lineno}: expected a JSON object per row, found {_kind(row)}")
        for key, value in row.items():
            kind = _kind(value)
            if kind.startswith("list mixing"):
                return DataError(f"{path}:{lineno}: field {key!r} is a {kind}")
            if key in seen and not _compatible(seen[key][0], kind):
                first_kind, first_line = seen[key]
                return DataError(f"{path}:{lineno}: field {key!r} is {kind}, but {first_kind} on line {first_line}")
            if key not in seen or seen[key][0] in ("null", "list"):
                seen[key] = (kind, lineno)
    return None


def _parse_lines(text: str, path: Path) -> list[tuple[int, object]]:
    rows = []
    for lineno, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, json.loads(line)))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{lineno}: invalid JSON at column {err.colno}: {err.msg}") from None
    return rows


def row_lines(text: str) -> list[int]:
    """Line number of every row of a JSON lines text (blank lines hold no row)."""
    return [i for i, line in enumerate(split_lines(text), start=1) if line.strip()]


def read_json_table(path: str | Path, data: bytes, encoding: str = "utf-8") \
        -> tuple[pa.Table, Callable[[int], int] | None]:
    """Read a JSON lines file's bytes (or a ``.json`` file holding one array of objects) as an Arrow table.

    Returns the table and a function giving the line of a row (None for a JSON array)."""
    path = Path(path)
    text = decode(data, path, encoding)
    if not text.strip():
        raise DataError(f"{path}: no rows (the file is empty)")
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}: invalid JSON at column {err.colno}: {err.msg}") from None
        numbered = list(enumerate(rows, start=1))
        problem = locate_json_problem(numbered, path)
        if problem is not None:
            raise DataError(str(problem).replace(f"{path}:", f"{path} item ", 1))
        try:
            return pa.Table.from_pylist(rows), None
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise DataError(f"{path}: cannot read the JSON array as a table: {_one_line(err)}") from None
    try:
        table = pa_json.read_json(io.BytesIO(text.encode("utf-8")))
    except (pa.ArrowException, ValueError) as err:
        problem = locate_json_problem(_parse_lines(text, path), path)
        raise (problem or DataError(f"{path}: cannot read as JSON lines: {_one_line(err)}")) from None
    lines = row_lines(text) if table.num_rows else []
    return table, (lambda row: lines[row] if 0 <= row < len(lines) else row + 1)


def read_parquet_table(path: str | Path, data: bytes) -> tuple[pa.Table, Features]:
    """Read a parquet file's bytes and its ``datasets`` features (ClassLabel names live in its metadata)."""
    path = Path(path)
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as err:  # noqa: BLE001 - a damaged file makes pyarrow raise many kinds of error
        raise DataError(f"{path}: not a readable parquet file: {_one_line(err)}") from None
    return table, features_of(table, path)


def features_of(table: pa.Table, path: str | Path) -> Features:
    """The ``datasets`` features of a table: from its ``huggingface`` metadata, else inferred from Arrow."""
    try:
        return Features.from_arrow_schema(table.schema)
    except Exception as err:  # noqa: BLE001 - damaged metadata fails in json, KeyError, TypeError...
        raise DataError(f"{path}: the parquet metadata (datasets features) cannot be read: {_one_line(err)}") \
            from None


def content_hash(data: bytes) -> str:
    """A short hash of a file's bytes (what a source's fingerprint follows)."""
    return hashlib.sha256(data).hexdigest()[:32]


def table_dataset(table: pa.Table, features: Features, path: str | Path, digest: str) -> Dataset:
    """A Dataset over an in-memory table, its fingerprint following the file's content hash ``digest``."""
    try:
        return Dataset(table, info=DatasetInfo(features=features), fingerprint=Hasher.hash([str(path), digest]))
    except Exception as err:  # noqa: BLE001 - features that do not fit the columns
        raise DataError(f"{path}: the columns do not match their declared features: {_one_line(err)}") from None
