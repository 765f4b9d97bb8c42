"""SpanMarker models tagging words, word-level evaluation of their predictions, and what SpanMarker's length
limits leave out.

Predicted spans become IOB2 word tags, so the scores come from the same seqeval code
(:func:`hubtools.metrics.entity_scores`) as every other recipe's. :class:`SpanMarkerDecoder` tags the words of
``hubtools evaluate`` and ``predict`` the way the recipe scored its test split: ``SpanMarkerModel.predict`` on
each sentence's words (``pytorch``), or the exported graph through
:class:`~hubtools.families.span_marker.onnx_runtime.SpanMarkerOnnxRunner` (``onnx``, ``onnx_int8``). Sentences
are read alone (document context is not used) and a sentence longer than ``model_max_length`` sub-tokens has its
tail tagged ``O``, as in training.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import torch
from datasets import Dataset, DatasetDict
from span_marker import SpanMarkerModel

from hubtools.data.schemes import invalid_tags, types_of
from hubtools.decoding import Decoder
from hubtools.errors import UsageError
from hubtools.families.span_marker.model import load_saved_spanmarker
from hubtools.families.span_marker.onnx_runtime import SpanMarkerOnnxRunner
from hubtools.metrics import ids_to_tags, test_scores
from hubtools.remote_code import check_code
from hubtools.results import TestScores

logger = logging.getLogger("hubtools")

Entity = dict[str, Any]
Span = tuple[str, int, int]
# the ONNX files of the exporter's variants in ``onnx/`` (:mod:`hubtools.families.span_marker.export`)
VARIANT_FILES = {"onnx": "model.onnx", "onnx_int8": "model_quantized.onnx"}


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


def model_types(config: Mapping[str, Any]) -> list[str]:
    """The entity types of a SpanMarker config.json (its ``id2label`` without ``O``), in label id order."""
    id2label = config.get("id2label") or {}
    return [id2label[str(i)] for i in range(len(id2label)) if id2label.get(str(i), "O") != "O"]


class SpanMarkerDecoder(Decoder):
    """A SpanMarker model tagging words (module docstring); its label ids index IOB2 tags, not its span labels."""

    variant_files = VARIANT_FILES

    @classmethod
    def check(cls, config: Mapping[str, Any], where: str, trusted: bool) -> None:
        if "O" not in (config.get("id2label") or {}).values() or not model_types(config):
            raise UsageError(f"{where}: config.json has no label names (id2label: O and the entity types)")
        if not isinstance(config.get("encoder"), dict):
            raise UsageError(f"{where}: config.json has no encoder configuration; not a saved SpanMarker model")
        check_code(config, where, trusted)

    @staticmethod
    def labels(config: Mapping[str, Any]) -> list[str]:
        """The IOB2 tags the model was trained on (its encoder's ``id2label``: the dataset's label names), else
        ``O`` and ``B-``/``I-`` of every entity type; SpanMarker's own ``id2label`` names span labels
        (``O`` and the types)."""
        schemed = config["encoder"].get("id2label") or {}
        names = [schemed.get(str(i), "") for i in range(len(schemed))]
        if "O" in names and not invalid_tags(names, "IOB2") and sorted(types_of(names)) == sorted(model_types(config)):
            return names
        return ["O", *(f"{prefix}-{typ}" for typ in model_types(config) for prefix in ("B", "I"))]

    def tag(self, ds: Dataset, pool: Sequence[Dataset] = ()) -> list[list[int]]:
        """Label ids per word from the predicted spans; ``pool`` is not read (sentences are read alone)."""
        sentences = [list(tokens) for tokens in ds["tokens"]]
        predicted = iter(self.predict([words for words in sentences if words]))
        ids = {name: i for i, name in enumerate(self.label_names)}
        return [[ids[tag] for tag in spans_to_tags(predicted_spans(next(predicted)), len(words))] if words else []
                for words in sentences]

    @cached_property
    def predictor(self) -> SpanMarkerModel | SpanMarkerOnnxRunner:
        """The model (``pytorch``, on the GPU when there is one) or the ONNX runner of the variant, loaded once."""
        if self.variant != "pytorch":
            path = self.source.onnx_file(self.variant)
            return SpanMarkerOnnxRunner.from_pretrained(path.parent, path.name, threads=self.threads)
        model = load_saved_spanmarker(self.source.model_dir).eval()
        return model.to("cuda") if torch.cuda.is_available() else model

    def predict(self, sentences: list[list[str]]) -> list[list[Entity]]:
        """``predict`` output (entities with word indices) of every sentence (each a non-empty word list)."""
        return self.predictor.predict(sentences, batch_size=self.batch_size) if sentences else []


DECODER = SpanMarkerDecoder
