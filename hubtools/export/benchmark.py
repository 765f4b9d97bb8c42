"""The inference benchmark of the PyTorch model (``RUN/model``) and the published variants: size, latency,
throughput and, where each variant has a process of its own, peak memory.

One runner for every family (:func:`benchmark_variants`): each variant's predict callable is timed the same way
(:func:`hubtools.export.timing.time_predict`: latency at batch 1, p50/p95 over the sentences; throughput in words
per second at batch 32 over length-sorted batches) with 1 thread and with all cores (on ``device: cuda``: PyTorch
on the GPU and fp32 ONNX with ``CUDAExecutionProvider`` from onnxruntime-gpu; dynamic int8 has no CUDA kernels and
is skipped there), on the first ``benchmark_sentences`` test sentences. Word taggers' callables are model calls on
the sentences tokenized as in training, each variant in a fresh process (:mod:`hubtools.export.worker`) so that
its peak resident memory is its own (:func:`benchmark_run`); a family whose prediction runs end to end in Python
(SpanMarker) passes its predict callables, timed in this process without a memory figure
(:func:`benchmark_in_process`). Sizes are those of the weight files, in MB (10^6 bytes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from transformers import AutoTokenizer

from hubtools.config import ExportConfig
from hubtools.export.base import ScoredModel
from hubtools.export.inference import input_rows
from hubtools.export.timing import BATCH_SIZE, Predict, Workload, time_predict
from hubtools.export.words import load_test_split
from hubtools.plots import benchmark_bars
from hubtools.results import Benchmark, BenchmarkRow
from hubtools.run import machine_description
from hubtools.tokenization import tokenize_dataset
from hubtools.units import file_bytes

# What measures one variant (its name, its file or model folder): {"settings": [one row per thread setting],
# "peak_rss_bytes": the process's peak, where measured}.
Measure = Callable[[str, Path], dict]


def thread_settings(cfg: ExportConfig) -> list[int | None]:
    """1 thread and all cores on the CPU; None (the GPU) on CUDA."""
    return [None] if cfg.device == "cuda" else sorted({1, os.cpu_count() or 1})


def weights_bytes(path: Path) -> int:
    """Size of a variant: its ONNX file, or the safetensors files of a model folder."""
    return file_bytes(*(sorted(path.glob("*.safetensors")) if path.is_dir() else [path]))


def benchmark_variants(run_dir: Path, variants: dict[str, Path], cfg: ExportConfig, measure: Measure,
                       num_sentences: int, num_words: int, note: str | None) -> Benchmark:
    """The benchmark of PyTorch (``RUN/model``) and ``variants`` ({name: onnx file}), each measured by ``measure``;
    draws ``RUN/plots/benchmark.png``."""
    todo = {"pytorch": run_dir / "model"}
    todo.update({n: p for n, p in variants.items() if cfg.device == "cpu" or "int8" not in n})
    rows = []
    for name, path in todo.items():
        result = measure(name, path)
        rows += [BenchmarkRow(variant=name, size_bytes=weights_bytes(path), peak_rss_bytes=result.get("peak_rss_bytes"),
                              **row) for row in result["settings"]]
    benchmark_bars(rows, run_dir / "plots" / "benchmark.png", f"Inference benchmark ({cfg.device})")
    return Benchmark(machine=machine_description(), device=cfg.device, num_sentences=num_sentences,
                     num_words=num_words, batch_size=BATCH_SIZE, rows=rows, note=note)


def benchmark_inputs(run_dir: Path, scored: ScoredModel, sentences: int | None) -> dict:
    """Tokenized feature rows of the first ``sentences`` test sentences, their word counts and pad id."""
    test = load_test_split(run_dir, scored)
    if sentences:
        test = test.select(range(min(sentences, len(test))))
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    features = tokenize_dataset(test, tokenizer, scored.model.max_length, scored.model.stride or 0,
                                desc="tokenize benchmark")
    words = [sum(w >= 0 for w in row) for row in features["word_index"]]
    rows = input_rows(features)
    return {"rows": rows, "words": words, "pad_id": tokenizer.pad_token_id or 0, "sentences": len(test)}


def run_worker(spec_path: Path, kind: str, path: Path) -> dict:
    """Measure one variant in a fresh Python process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "hubtools.export.worker", str(spec_path), kind, str(path)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark of {path} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def benchmark_run(run_dir: str | Path, scored: ScoredModel, variants: dict[str, Path], cfg: ExportConfig) -> Benchmark:
    """The benchmark of a word tagger: model calls on the tokenized test sentences, one process per variant."""
    run_dir = Path(run_dir)
    inputs = benchmark_inputs(run_dir, scored, cfg.benchmark_sentences)
    note = "ONNX Runtime sessions with the options shown under How to use" if cfg.device == "cpu" else None
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps({**inputs, "threads": thread_settings(cfg), "device": cfg.device}))
        return benchmark_variants(run_dir, variants, cfg,
                                  lambda name, path: run_worker(spec_path, "pytorch" if name == "pytorch" else "onnx",
                                                                path),
                                  inputs["sentences"], int(sum(inputs["words"])), note)


def benchmark_in_process(run_dir: Path, variants: dict[str, Path], cfg: ExportConfig,
                         predictor: Callable[[str, Path, int | None], Predict], work: Workload, num_sentences: int,
                         note: str) -> Benchmark:
    """The benchmark of predict callables made in this process: ``predictor(name, path, threads)`` for PyTorch
    (``pytorch``, the model folder) and each variant, timed on ``work``."""

    def measure(name: str, path: Path) -> dict:
        return {"settings": [{"threads": threads or "gpu", **time_predict(predictor(name, path, threads), work)}
                             for threads in thread_settings(cfg)]}

    return benchmark_variants(run_dir, variants, cfg, measure, num_sentences, work.num_words, note)
