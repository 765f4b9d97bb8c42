"""The SpanMarker family's features: span_marker tokenizes the splits itself, so its features are the splits with
every sentence read alone (span_marker reads ``document_id`` and ``sentence_id`` as integer ids of a document
context of its own, which this family does not use)."""

from __future__ import annotations

from collections.abc import Mapping

from datasets import Dataset

from hubtools.data.validation import DOCUMENT, SENTENCE


def sentence_splits(splits: Mapping[str, Dataset]) -> dict[str, Dataset]:
    """``splits`` without the loaders' document columns."""
    return {name: split.remove_columns([c for c in (DOCUMENT, SENTENCE) if c in split.column_names])
            for name, split in splits.items()}
