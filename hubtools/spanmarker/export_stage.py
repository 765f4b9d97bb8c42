"""The SpanMarker recipes' export stage: fp32 and int8 ONNX in ``RUN/onnx``, verified on the test split and
benchmarked, recorded in results.json ``export`` with the shape of the transformers export."""

from __future__ import annotations

import logging

import torch
from datasets import Dataset
from span_marker import SpanMarkerModel

from hubtools import plots
from hubtools.config import ExportConfig, RecipeConfig
from hubtools.errors import ExportError
from hubtools.recipe import Stage
from hubtools.run import RunFolder, machine_description
from hubtools.spanmarker.evaluation import gold_tags, tags_to_spans
from hubtools.spanmarker.onnx_export import export_spanmarker_onnx, quantize_spanmarker_onnx
from hubtools.spanmarker.onnx_runtime import SpanMarkerOnnxRunner
from hubtools.spanmarker.onnx_verify import benchmark_spanmarker, verify_spanmarker_onnx

logger = logging.getLogger("hubtools")

MIN_SENTENCE_AGREEMENT = 0.995  # share of test sentences with exactly PyTorch's entities
VARIANT_FILES = {"onnx": "model.onnx", "onnx_int8": "model_quantized.onnx"}


def variant_status(report: dict, cfg: ExportConfig) -> str:
    """``passed``, or ``failed: why`` (sentence agreement or F1 drop out of bounds)."""
    problems = []
    if report["sentence_agreement"] < MIN_SENTENCE_AGREEMENT:
        problems.append(f"sentence agreement {report['sentence_agreement']:.4f} < {MIN_SENTENCE_AGREEMENT}")
    drop = (report["f1_pytorch"] - report["f1_onnx"]) * 100
    if drop > cfg.max_f1_drop:
        problems.append(f"F1 drops {drop:.2f} points > {cfg.max_f1_drop}")
    return "failed: " + "; ".join(problems) if problems else "passed"


def export_spanmarker_run(model: SpanMarkerModel, test: Dataset, run: RunFolder, cfg: ExportConfig) -> dict:
    """Export, quantize, verify each variant against ``model`` on ``test`` and benchmark; the ``export``
    section. A variant that fails verification is kept and reported, not raised."""
    onnx_dir = export_spanmarker_onnx(model, run.onnx_dir)
    if cfg.quantize:
        quantize_spanmarker_onnx(onnx_dir / VARIANT_FILES["onnx"], onnx_dir / VARIANT_FILES["onnx_int8"],
                                 per_channel=cfg.per_channel)
    sentences = list(test["tokens"])
    gold = [tags_to_spans(tags) for tags in gold_tags(test)]
    section: dict = {"library": "hubtools.spanmarker", "min_sentence_agreement": MIN_SENTENCE_AGREEMENT}
    runners = {}
    for variant, file_name in VARIANT_FILES.items():
        if not (onnx_dir / file_name).is_file():
            continue
        runner = runners[variant] = SpanMarkerOnnxRunner.from_pretrained(onnx_dir, file_name)
        report = verify_spanmarker_onnx(model, runner, sentences, gold=gold)
        section[variant] = {"file": f"onnx/{file_name}", "f1": report["f1_onnx"], "f1_pytorch": report["f1_pytorch"],
                            "sentence_agreement": report["sentence_agreement"],
                            "max_abs_logit_diff": report["max_abs_logit_diff"],
                            "size_mb": round((onnx_dir / file_name).stat().st_size / 1e6, 3),
                            "num_sentences": report["num_sentences"], "status": variant_status(report, cfg)}
        logger.info("export %s: %s", variant, section[variant])
    if cfg.benchmark:
        sample = sentences[: cfg.benchmark_sentences] if cfg.benchmark_sentences else sentences
        timings = benchmark_spanmarker(model, runners, sample)
        rows = benchmark_rows(timings, torch.get_num_threads(), sample)
        section["benchmark"] = {"machine": machine_description(), "num_sentences": len(sample), "rows": rows,
                                "note": "end-to-end SpanMarker predict (tokenization and span decoding included)"}
        plots.benchmark_bars(rows, run.plots_dir / "benchmark.png", "SpanMarker: PyTorch vs ONNX")
    return section


def benchmark_rows(timings: dict, threads: int, sentences: list[list[str]]) -> list[dict]:
    """results.json ``export.benchmark.rows`` (the shape the transformer export writes; words/s from
    sentences/s; peak memory is not measured for SpanMarker)."""
    words_per_sentence = sum(map(len, sentences)) / len(sentences)
    return [{"variant": name, "threads": threads, "latency_p50_ms": row["latency_ms_p50"],
             "latency_p95_ms": row["latency_ms_p95"], "size_mb": round(row["size_mb"], 3),
             "throughput_words_s": row["sentences_per_s"] * words_per_sentence}
            for name, row in timings.items()]


def spanmarker_export_stage(model: SpanMarkerModel, test: Dataset) -> Stage:
    """The post-training stage for :func:`hubtools.recipe.finish_run` (skipped when export is disabled;
    an export that cannot be written at all is recorded as ``failed`` and the run still finishes)."""
    def stage(run: RunFolder, cfg: RecipeConfig) -> None:
        if not cfg.export.enabled:
            return
        try:
            run.update(export=export_spanmarker_run(model, test, run, cfg.export))
        except ExportError as err:
            logger.error("SpanMarker ONNX export failed: %s", err)
            run.update(export={"library": "hubtools.spanmarker",
                               "onnx": {"file": "onnx/model.onnx", "status": f"failed: {err}"}})
    return stage
