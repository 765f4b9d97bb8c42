"""Schema checks for token-classification datasets, run before anything is trained or written."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import ClassLabel, Dataset, DatasetDict, Sequence

from hubtools.errors import DataError

TOKENS = "tokens"
TAGS = "ner_tags"


def label_names_of(ds: Dataset, column: str = TAGS) -> list[str]:
    """The ClassLabel names of a ``Sequence(ClassLabel)`` column."""
    feature = ds.features.get(column)
    inner = getattr(feature, "feature", None)
    if isinstance(feature, list) and feature:
        inner = feature[0]
    if not isinstance(inner, ClassLabel):
        raise DataError(f"column {column!r} must be a sequence of ClassLabel, found {feature!r}")
    return list(inner.names)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def validate_split(ds: Dataset, split: str, source: str = "dataset") -> None:
    """Raise DataError naming the split, row and field of the first problem found.

    Checks: ``tokens`` and ``ner_tags`` exist, tags are a ClassLabel sequence, no sentence is empty,
    tokens and tags have the same length, no token is null, and every tag id lies inside the ClassLabel.
    Vectorized over the Arrow columns, so it costs little on millions of rows.
    """
    where = f"{source} split {split!r}"
    missing = [c for c in (TOKENS, TAGS) if c not in ds.column_names]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; columns are {ds.column_names}")
    if not isinstance(ds.features[TOKENS], (Sequence, list)):
        raise DataError(f"{where}: field {TOKENS!r} must be a list of strings, found {ds.features[TOKENS]!r}")
    names = label_names_of(ds)
    if len(ds) == 0:
        raise DataError(f"{where}: the split is empty")
    table = arrow_table(ds)
    tokens = table.column(TOKENS).combine_chunks()
    tags = table.column(TAGS).combine_chunks()
    n_tok = pc.fill_null(pc.list_value_length(tokens), -1).to_numpy(zero_copy_only=False)
    n_tag = pc.fill_null(pc.list_value_length(tags), -1).to_numpy(zero_copy_only=False)
    if (n_tok < 0).any():
        raise DataError(f"{where}, row {_first(n_tok < 0)}: field {TOKENS!r} is null")
    if (n_tag < 0).any():
        raise DataError(f"{where}, row {_first(n_tag < 0)}: field {TAGS!r} is null")
    if (n_tok == 0).any():
        raise DataError(f"{where}, row {_first(n_tok == 0)}: empty sentence (field {TOKENS!r} has no token)")
    if (n_tok != n_tag).any():
        row = _first(n_tok != n_tag)
        raise DataError(
            f"{where}, row {row}: {TOKENS!r} has {n_tok[row]} items but {TAGS!r} has {n_tag[row]}"
        )
    flat_tokens = pc.list_flatten(tokens)
    if flat_tokens.null_count:
        pos = _first(flat_tokens.is_null().to_numpy(zero_copy_only=False))
        row = int(pc.list_parent_indices(tokens)[pos].as_py())
        raise DataError(f"{where}, row {row}: field {TOKENS!r} holds a null token")
    flat_tags = pc.list_flatten(tags)
    ids = pc.fill_null(flat_tags, -1).to_numpy(zero_copy_only=False)
    bad = (ids < 0) | (ids >= len(names))
    if bad.any():
        pos = _first(bad)
        row = int(pc.list_parent_indices(tags)[pos].as_py())
        start = int(tags.offsets[row].as_py())
        raise DataError(
            f"{where}, row {row}: field {TAGS!r} position {pos - start} has label id {ids[pos]}, "
            f"outside the ClassLabel of {len(names)} names"
        )


def validate_dataset(dsd: DatasetDict, source: str = "dataset") -> None:
    """Validate every split of a DatasetDict and check that all splits share one label list."""
    reference: list[str] | None = None
    for split, ds in dsd.items():
        validate_split(ds, split, source)
        names = label_names_of(ds)
        if reference is None:
            reference = names
        elif names != reference:
            raise DataError(f"{source} split {split!r}: field {TAGS!r} has labels {names}, other splits {reference}")


def arrow_table(ds: Dataset) -> pa.Table:
    """The rows of ``ds`` as an Arrow table (a copy only when an indices mapping selects rows)."""
    return ds.data.table if ds._indices is None else ds.with_format("arrow")[:]


def tags_as_arrow(ds: Dataset) -> pa.ListArray:
    """The ``ner_tags`` column as one Arrow ListArray."""
    return arrow_table(ds).column(TAGS).combine_chunks()
