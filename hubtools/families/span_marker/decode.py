"""Word-level evaluation of SpanMarker predictions, and what SpanMarker's length limits leave out.

Predicted spans become IOB2 word tags, so the scores come from the same seqeval code
(:func:`hubtools.metrics.entity_scores`) as every other recipe's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from datasets import Dataset, DatasetDict

from hubtools.metrics import ids_to_tags, test_scores
from hubtools.results import TestScores

logger = logging.getLogger("hubtools")

Entity = dict[str, Any]
Span = tuple[str, int, int]


def spans_to_tags(spans: Sequence[Span], num_words: int) -> list[str]:
    """IOB2 tags of ``num_words`` words from ``(type, start, end)`` word spans (end exclusive)."""
    tags = ["O"] * num_words
    for label, start, end in spans:
        tags[start] = f"B-{label}"
        tags[start + 1:end] = [f"I-{label}"] * (end - start - 1)
    return tags


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """``(type, start, end)`` word spans of an IOB2 tag sequence (end exclusive)."""
    spans: list[Span] = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-"):
            end = i + 1
            while end < len(tags) and tags[end] == f"I-{tag[2:]}":
                end += 1
            spans.append((tag[2:], i, end))
    return spans


def predicted_spans(entities: Sequence[Entity]) -> list[Span]:
    """Word spans of ``predict`` output for word-list input (SpanMarker's or the ONNX runner's)."""
    return [(e["label"], e["word_start_index"], e["word_end_index"]) for e in entities]


def gold_tags(ds: Dataset) -> list[list[str]]:
    """The split's IOB2 tag names."""
    return ids_to_tags(ds["ner_tags"], ds.features["ner_tags"].feature.names)


def evaluate_predictions(ds: Dataset, predictions: Sequence[Sequence[Entity]],
                         types: Sequence[str]) -> tuple[TestScores, list[list[str]]]:
    """Entity-level scores, per type and type confusion of ``predict`` output against the split's tags, and
    the predicted IOB2 tags."""
    gold = gold_tags(ds)
    pred = [spans_to_tags(predicted_spans(entities), len(tags)) for entities, tags in zip(predictions, gold,
                                                                                         strict=True)]
    return test_scores(gold, pred, types), pred


def length_report(dsd: DatasetDict, tokenizer, entity_max_length: int, model_max_length: int) -> dict:
    """Per split: gold entities longer than ``entity_max_length`` words (SpanMarker never proposes them)
    and sentences longer than ``model_max_length`` sub-tokens with special tokens (their tail is cut, its
    words are predicted O). Logged as warnings when not zero."""
    report: dict[str, Any] = {"entity_max_length": entity_max_length, "model_max_length": model_max_length,
                              "entities_over_max_length": {}, "sentences_truncated": {}}
    for split, ds in dsd.items():
        over = sum(end - start > entity_max_length for tags in gold_tags(ds) for _, start, end in tags_to_spans(tags))
        lengths = [len(ids) for ids in tokenizer(list(ds["tokens"]), is_split_into_words=True)["input_ids"]]
        truncated = sum(length > model_max_length for length in lengths)
        report["entities_over_max_length"][split] = over
        report["sentences_truncated"][split] = truncated
        if over or truncated:
            logger.warning("%s: %d entities longer than %d words, %d sentences over %d sub-tokens (cut)",
                           split, over, entity_max_length, truncated, model_max_length)
    return report
