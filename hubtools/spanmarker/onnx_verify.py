"""Compare a SpanMarker ONNX runner with its PyTorch model: agreement, logits, F1, speed and size."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from span_marker import SpanMarkerModel

from hubtools.spanmarker.onnx_export import INPUT_NAMES
from hubtools.spanmarker.onnx_runtime import Entity, SpanMarkerOnnxRunner, compact, is_single_input
from hubtools.units import file_bytes, parameter_bytes

Span = tuple[str, int, int]
Sentences = list[str] | list[list[str]]


def entity_key(entity: Entity) -> Span:
    """(label, start, end): word indices for word-list input, character indices for strings."""
    if "word_start_index" in entity:
        return entity["label"], entity["word_start_index"], entity["word_end_index"]
    return entity["label"], entity["char_start_index"], entity["char_end_index"]


def entity_f1(predicted: Sequence[Sequence[Entity]], gold: Sequence[Sequence[Span]]) -> float:
    """Micro entity-level F1: an entity counts when label, start and end all match."""
    true_positives = num_predicted = num_gold = 0
    for entities, gold_spans in zip(predicted, gold, strict=True):
        keys, gold_keys = {entity_key(entity) for entity in entities}, {tuple(span) for span in gold_spans}
        true_positives += len(keys & gold_keys)
        num_predicted += len(keys)
        num_gold += len(gold_keys)
    if true_positives == 0:
        return 0.0
    precision, recall = true_positives / num_predicted, true_positives / num_gold
    return 2 * precision * recall / (precision + recall)


def max_abs_logit_diff(
    model: SpanMarkerModel, runner: SpanMarkerOnnxRunner, sentences: Sentences, batch_size: int = 32
) -> float:
    """Largest |ONNX - PyTorch| logit over the real marker pairs of every sample, on identical batches."""
    samples, _ = runner.encode(sentences)
    worst = 0.0
    model.eval()
    for start in range(0, len(samples), batch_size):
        batch = runner.collator(samples[start : start + batch_size])
        onnx_logits = runner.forward(compact(batch))
        with torch.no_grad():
            torch_logits = model(**{name: batch[name].to(model.device) for name in INPUT_NAMES}).logits.cpu()
        for row, pairs in enumerate(batch["num_marker_pairs"].tolist()):
            diff = np.abs(onnx_logits[row, :pairs] - torch_logits[row, :pairs].numpy())
            worst = max(worst, float(diff.max(initial=0.0)))
    return worst


def verify_spanmarker_onnx(
    model: SpanMarkerModel,
    runner: SpanMarkerOnnxRunner,
    sentences: Sentences,
    gold: Sequence[Sequence[Span]] | None = None,
    batch_size: int = 32,
    torch_entities: Sequence[Sequence[Entity]] | None = None,
) -> dict[str, float | int]:
    """Sentence-level agreement of entity sets, max abs logit difference and (with gold spans) F1 per side.

    ``gold`` holds one list of ``(label, start, end)`` per sentence, end exclusive, in word indices for
    word-list sentences and character indices for strings. ``torch_entities`` are PyTorch's predictions when
    already computed (``model.predict`` of the same sentences).
    """
    if not sentences or is_single_input(sentences):
        raise ValueError("verify_spanmarker_onnx needs a non-empty list of sentences, not one sentence")
    if torch_entities is None:
        torch_entities = model.predict(sentences, batch_size=batch_size)
    onnx_entities = runner.predict(sentences, batch_size=batch_size)
    same = sum(
        {entity_key(e) for e in ours} == {entity_key(e) for e in theirs}
        for ours, theirs in zip(onnx_entities, torch_entities, strict=True)
    )
    report: dict[str, float | int] = {
        "num_sentences": len(sentences),
        "num_entities_pytorch": sum(len(entities) for entities in torch_entities),
        "num_entities_onnx": sum(len(entities) for entities in onnx_entities),
        "sentence_agreement": same / len(sentences),
        "max_abs_logit_diff": max_abs_logit_diff(model, runner, sentences, batch_size),
    }
    if gold is not None:
        report["f1_pytorch"] = entity_f1(torch_entities, gold)
        report["f1_onnx"] = entity_f1(onnx_entities, gold)
    return report


def _time_predictor(predict: Callable, sentences: Sentences, batch_size: int) -> dict[str, float]:
    predict(sentences[:1], batch_size=1)  # warm-up
    latencies = []
    for sentence in sentences:
        start = time.perf_counter()
        predict([sentence], batch_size=1)
        latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    predict(sentences, batch_size=batch_size)
    elapsed = time.perf_counter() - start
    return {
        "latency_ms_p50": float(np.percentile(latencies, 50) * 1000),
        "latency_ms_p95": float(np.percentile(latencies, 95) * 1000),
        "sentences_per_s": len(sentences) / elapsed,
    }


def benchmark_spanmarker(
    model: SpanMarkerModel,
    runners: dict[str, SpanMarkerOnnxRunner],
    sentences: Sentences,
    batch_size: int = 32,
) -> dict[str, dict[str, float | None]]:
    """End-to-end ``predict`` latency (batch 1, p50/p95 over the sentences), sentences/s at ``batch_size``
    and size in bytes, for ``"pytorch"`` (its parameters) and each named runner (its ONNX file; None without one).

    Timings include each side's pre- and post-processing; ``SpanMarkerModel.predict`` also builds a
    ``datasets.Dataset`` per call, which the runner does not.
    """
    if not sentences or is_single_input(sentences):
        raise ValueError("benchmark_spanmarker needs a non-empty list of sentences, not one sentence")
    model.eval()
    results = {
        "pytorch": {**_time_predictor(model.predict, sentences, batch_size), "size_bytes": parameter_bytes(model)}
    }
    for name, runner in runners.items():
        size = file_bytes(runner.path) if runner.path else None
        results[name] = {**_time_predictor(runner.predict, sentences, batch_size), "size_bytes": size}
    return results
