"""Schema checks for token-classification datasets, run before anything is trained or written.

Two stages, both vectorized over the Arrow columns (a few numpy passes however many rows):

* :func:`check_source_split` checks a source split as it was read, before any conversion: list columns,
  null rows, empty sentences, equal lengths, null tokens and tags, tag value types and integer ids inside
  the label list. Messages say where through a :class:`Locator` (file and line for column files, split,
  row and field for tabular data).
* :func:`validate_dataset` checks the normalized result (``tokens`` + IOB2 ``ner_tags`` ClassLabel).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import ClassLabel, Dataset, DatasetDict, Sequence

from hubtools.errors import DataError

TOKENS = "tokens"
TAGS = "ner_tags"
DOCUMENT, SENTENCE = "document_id", "sentence_id"  # the document columns a split may carry (SpanMarker's names)


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


class Locator:
    """Names where a row or token of a source split is: ``SOURCE split 'train', row 3``; subclasses name
    files and lines (column files, JSON lines)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def split(self, split: str) -> str:
        return f"{self.source} split {split!r}"

    def row(self, split: str, row: int) -> str:
        return f"{self.split(split)}, row {row}"

    def token(self, split: str, row: int, position: int, field: str) -> str:
        return f"{self.row(split, row)}: field {field!r} position {position}"


def list_lengths(lists: pa.Array) -> np.ndarray:
    """Length of every list of an Arrow list array, -1 for a null list."""
    return pc.fill_null(pc.list_value_length(lists), -1).to_numpy(zero_copy_only=False).astype(np.int64)


def flat_values(lists: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The values of a list array (only those its rows cover) and its offsets rebased to 0."""
    offsets = lists.offsets.to_numpy().astype(np.int64)
    return pc.list_flatten(lists), offsets - offsets[0]


def _is_list(type_: pa.DataType) -> bool:
    return pa.types.is_list(type_) or pa.types.is_large_list(type_)


def _is_string(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def check_source_split(tokens: pa.Array, tags: pa.Array, split: str, where: Locator,
                       fields: tuple[str, str] = (TOKENS, TAGS), num_labels: int | None = None) -> str:
    """Check one split as read, before any conversion; return the tag kind, ``"string"`` or ``"int"``.

    ``tokens``/``tags`` are the source columns (combined Arrow arrays) named ``fields`` in the source;
    ``num_labels`` bounds integer ids (a ClassLabel or ``data.label_names``). Raises DataError at the first
    problem: a column that is not a list, an empty split, a null row, an empty sentence, unequal lengths,
    a null or non-string token, a null tag, tags that are neither names nor integers, an id out of range.
    """
    tok_field, tag_field = fields
    for name, column in ((tok_field, tokens), (tag_field, tags)):
        if not _is_list(column.type):
            raise DataError(f"{where.split(split)}: field {name!r} must be a list per row, found {column.type}")
    if len(tokens) == 0:
        raise DataError(f"{where.split(split)}: the split is empty (no rows)")
    n_tok, n_tag = list_lengths(tokens), list_lengths(tags)
    for name, lengths in ((tok_field, n_tok), (tag_field, n_tag)):
        if (lengths < 0).any():
            raise DataError(f"{where.row(split, _first(lengths < 0))}: field {name!r} is null")
    if (n_tok == 0).any():
        raise DataError(f"{where.row(split, _first(n_tok == 0))}: empty sentence (field {tok_field!r} has no token)")
    if (n_tok != n_tag).any():
        row = _first(n_tok != n_tag)
        raise DataError(f"{where.row(split, row)}: {tok_field!r} has {n_tok[row]} items but {tag_field!r} has "
                        f"{n_tag[row]}")
    kind = None
    for name, column in ((tok_field, tokens), (tag_field, tags)):
        values, offsets = flat_values(column)
        if values.null_count:
            pos = _first(values.is_null().to_numpy(zero_copy_only=False))
            row = int(np.searchsorted(offsets, pos, side="right") - 1)
            what = "token" if name == tok_field else "tag"
            raise DataError(f"{where.token(split, row, pos - int(offsets[row]), name)}: null {what}")
        if name == tok_field and not _is_string(values.type):
            raise DataError(f"{where.split(split)}: field {name!r} must hold strings, found {values.type}")
        if name == tag_field:
            if _is_string(values.type):
                kind = "string"
            elif pa.types.is_integer(values.type):
                kind = "int"
            else:
                raise DataError(f"{where.split(split)}: field {name!r} must hold tag names or integer ids, "
                                f"found {values.type}")
    if kind == "int" and num_labels is not None:
        values, offsets = flat_values(tags)
        ids = values.to_numpy(zero_copy_only=False)
        bad = (ids < 0) | (ids >= num_labels)
        if bad.any():
            pos = _first(bad)
            row = int(np.searchsorted(offsets, pos, side="right") - 1)
            raise DataError(f"{where.token(split, row, pos - int(offsets[row]), tag_field)}: label id {ids[pos]} "
                            f"is outside the {num_labels} label names")
    return kind


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

