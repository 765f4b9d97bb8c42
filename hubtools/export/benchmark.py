"""Size, peak memory, latency and throughput of the PyTorch model and the published ONNX variants.

Each variant is measured in a fresh process (``python -m hubtools.export.benchmark SPEC KIND PATH``) so
that its peak resident memory is its own; an ONNX process never imports torch. Inputs are the first
``benchmark_sentences`` test sentences tokenized as in training: latency is the model call at batch 1
(p50/p95 over the sentences), throughput is words per second at batch 32 over length-sorted batches. Each is
measured with 1 thread and with all cores (on ``device: cuda``: PyTorch on the GPU and fp32 ONNX with
``CUDAExecutionProvider`` from onnxruntime-gpu; dynamic int8 has no CUDA kernels and is skipped there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hubtools.export.inference import length_sorted_batches, pad_batch
from hubtools.units import KIB, file_bytes

if TYPE_CHECKING:  # the worker process imports this module and must stay light
    from hubtools.config import ExportConfig
    from hubtools.export.base import ScoredModel
    from hubtools.results import Benchmark

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
WARMUP = 3


def fastest_ms(calls: dict[str, Callable[[Any], object]], items: Sequence[Any], rounds: int,
               interleave: bool = False) -> dict[str, np.ndarray]:
    """Per item the fastest of ``rounds`` calls (ms) of each named call, after one warm-up call each. Round by round
    the calls take turns, each over all items (as a serving process runs one model), or with ``interleave`` each
    item goes through every call before the next (caches then hold the other calls' weights); either way load on
    the machine falls on all of them alike."""
    best = {name: np.full(len(items), np.inf) for name in calls}

    def timed(name: str, i: int) -> None:
        start = time.perf_counter()
        calls[name](items[i])
        best[name][i] = min(best[name][i], (time.perf_counter() - start) * 1000)

    for call in calls.values():
        call(items[0])
    for _ in range(rounds):
        order = ((name, i) for i in range(len(items)) for name in calls) if interleave else \
            ((name, i) for name in calls for i in range(len(items)))
        for name, i in order:
            timed(name, i)
    return best


def time_forward(forward, rows: list[dict], words: list[int], names: list[str], pad_id: int,
                 batch_size: int = 32) -> dict:
    """Latency p50/p95 (ms) at batch 1 and throughput (words/s) at ``batch_size`` over ``rows``."""
    for row in rows[:WARMUP]:
        forward(pad_batch([row], names, pad_id))
    latencies = []
    for row in rows:
        batch = pad_batch([row], names, pad_id)
        start = time.perf_counter()
        forward(batch)
        latencies.append((time.perf_counter() - start) * 1000)
    batches = [pad_batch([rows[i] for i in idx], names, pad_id)
               for idx in length_sorted_batches([len(r["input_ids"]) for r in rows], batch_size)]
    start = time.perf_counter()
    for batch in batches:
        forward(batch)
    seconds = time.perf_counter() - start
    return {"latency_p50_ms": round(float(np.percentile(latencies, 50)), 3),
            "latency_p95_ms": round(float(np.percentile(latencies, 95)), 3),
            "throughput_words_s": round(sum(words) / seconds, 1)}


def _forward(kind: str, path: str, threads: int | None, device: str):
    """The forward of one variant; PyTorch weights load with the installed classes (no code of the run runs)."""
    if kind == "pytorch":
        import torch

        from hubtools.export.inference import torch_forward
        from hubtools.remote_code import load_token_classifier

        if threads:
            torch.set_num_threads(threads)
        model = load_token_classifier(path)
        return torch_forward(model, device)
    from hubtools.export.inference import ort_forward, ort_session

    return ort_forward(ort_session(path, threads, device))


def peak_rss_bytes() -> int:
    """This process's peak resident memory: VmHWM (reset by exec; ``ru_maxrss`` keeps the forking parent's
    peak on Linux), ``ru_maxrss`` where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * KIB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KIB


def measure(spec: dict, kind: str, path: str) -> dict:
    """One variant under every thread setting of ``spec``; with this process's peak resident memory."""
    rows = [{k: v for k, v in row.items() if k in INPUT_NAMES} for row in spec["rows"]]
    out = []
    for threads in spec["threads"]:
        forward, names = _forward(kind, path, threads, spec["device"])
        out.append({"threads": threads or "gpu", **time_forward(forward, rows, spec["words"], names,
                                                                spec["pad_id"])})
    return {"peak_rss_bytes": peak_rss_bytes(), "settings": out}


def benchmark_inputs(run_dir: Path, scored: ScoredModel, sentences: int | None) -> dict:
    """Tokenized feature rows of the first ``sentences`` test sentences, their word counts and pad id."""
    from transformers import AutoTokenizer

    from hubtools.export.words import load_test_split
    from hubtools.tokenization import tokenize_dataset

    test = load_test_split(run_dir, scored)
    if sentences:
        test = test.select(range(min(sentences, len(test))))
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    features = tokenize_dataset(test, tokenizer, scored.model.max_length, scored.model.stride or 0,
                                desc="tokenize benchmark")
    words = [sum(w >= 0 for w in row) for row in features["word_index"]]
    rows = features.select_columns([c for c in features.column_names if c in INPUT_NAMES]).to_list()
    return {"rows": rows, "words": words, "pad_id": tokenizer.pad_token_id or 0, "sentences": len(test)}


def run_worker(spec_path: Path, kind: str, path: Path) -> dict:
    """Measure one variant in a fresh Python process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "hubtools.export.benchmark", str(spec_path), kind, str(path)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark of {path} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def benchmark_run(run_dir: str | Path, scored: ScoredModel, variants: dict[str, Path], cfg: ExportConfig,
                  batch_size: int = 32) -> Benchmark:
    """The benchmark of PyTorch (``RUN/model``) and ``variants`` ({name: onnx file}); draws
    ``RUN/plots/benchmark.png``."""
    from hubtools.plots import benchmark_bars
    from hubtools.results import Benchmark, BenchmarkRow
    from hubtools.run import machine_description

    run_dir = Path(run_dir)
    inputs = benchmark_inputs(run_dir, scored, cfg.benchmark_sentences)
    threads = [None] if cfg.device == "cuda" else sorted({1, os.cpu_count() or 1})
    todo = {"pytorch": run_dir / "model"}
    todo.update({n: p for n, p in variants.items() if cfg.device == "cpu" or "int8" not in n})
    rows: list[BenchmarkRow] = []
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps({**inputs, "threads": threads, "device": cfg.device}))
        for name, path in todo.items():
            result = run_worker(spec_path, "pytorch" if name == "pytorch" else "onnx", path)
            files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
            rows += [BenchmarkRow(variant=name, size_bytes=file_bytes(*files), peak_rss_bytes=result["peak_rss_bytes"],
                                  **row)
                     for row in result["settings"]]
    benchmark = Benchmark(machine=machine_description(), device=cfg.device, num_sentences=inputs["sentences"],
                          num_words=int(sum(inputs["words"])), batch_size=batch_size, rows=rows,
                          note="ONNX Runtime sessions with the options shown under How to use"
                          if cfg.device == "cpu" else None)
    benchmark_bars(rows, run_dir / "plots" / "benchmark.png", f"Inference benchmark ({cfg.device})")
    return benchmark


def main(argv: list[str]) -> None:
    """Worker entry point: ``SPEC_JSON KIND PATH``; prints one JSON line."""
    spec_path, kind, path = argv
    print(json.dumps(measure(json.loads(Path(spec_path).read_text()), kind, path)))


if __name__ == "__main__":
    main(sys.argv[1:])
