"""Hub repo ids, by huggingface_hub's own rules (``validate_repo_id``): the ids a user gives to push and predict,
the ids a card's metadata names, and the data sources that are Hub datasets."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

# file names a data source has that a Hub dataset id does not
LOCAL_FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".conll", ".txt", ".csv", ".ann", ".iob", ".bio", ".tsv")


def is_repo_id(value: Any, namespace: bool = False) -> bool:
    """Whether ``value`` is a Hub repo id, ``NAME`` or ``NAMESPACE/NAME`` (only the latter with ``namespace``)."""
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return not namespace or value.count("/") == 1


def hub_dataset_id(source: str) -> str | None:
    """``source`` when it reads as a Hub dataset id (not a generator or a local file), else None."""
    if source.startswith("generate:") or PurePosixPath(source).suffix in LOCAL_FILE_SUFFIXES:
        return None
    return source if is_repo_id(source) else None
