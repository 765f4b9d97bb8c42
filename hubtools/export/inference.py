"""Batched model calls shared by export verification, the benchmark and ``scripts/bench_inference.py``.

Inputs are feature rows as written by :func:`hubtools.tokenization.tokenize_dataset` (plain dicts of token id
lists); a *forward* function takes a padded batch (``{name: int64 array}``) and returns logits
(batch x sequence x labels) as numpy, whether it runs PyTorch or an ONNX Runtime session. torch is imported
only by :func:`torch_forward`, so a benchmark process for an ONNX file stays free of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hubtools.errors import ExportError

if TYPE_CHECKING:
    from datasets import Dataset

Forward = Callable[[dict[str, np.ndarray]], np.ndarray]
Row = Mapping[str, Sequence[int]]
# the inputs a transformers token classifier (or an RNN tagger) reads, of the feature columns
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Row indices grouped into batches of similar length (longest first), so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(rows: Sequence[Row], names: Sequence[str], pad_id: int) -> dict[str, np.ndarray]:
    """Right-padded int64 arrays of the inputs ``names`` (``input_ids`` padded with ``pad_id``, others with 0)."""
    width = max(len(row["input_ids"]) for row in rows)
    batch = {}
    for name in names:
        if name not in rows[0]:
            raise ExportError(f"the model takes {name!r} but the tokenizer does not produce it")
        arr = np.full((len(rows), width), pad_id if name == "input_ids" else 0, dtype=np.int64)
        for i, row in enumerate(rows):
            arr[i, : len(row[name])] = row[name]
        batch[name] = arr
    return batch


def feature_logits(forward: Forward, rows: Sequence[Row], names: Sequence[str], pad_id: int,
                   batch_size: int = 32) -> list[np.ndarray]:
    """Logits (length x labels, padding removed) of every row, in row order."""
    out: list[np.ndarray] = [np.empty(0)] * len(rows)
    for idx in length_sorted_batches([len(r["input_ids"]) for r in rows], batch_size):
        logits = forward(pad_batch([rows[i] for i in idx], names, pad_id))
        for k, i in enumerate(idx):
            out[i] = np.asarray(logits[k, : len(rows[i]["input_ids"])], dtype=np.float32)
    return out


def input_rows(features: Dataset) -> list[dict]:
    """The model inputs (:data:`INPUT_NAMES`) of every feature row, as plain dicts."""
    return features.select_columns([c for c in features.column_names if c in INPUT_NAMES]).to_list()


# ONNX Runtime's CPU SkipLayerNormalization kernel is slower than the Add + LayerNormalization it replaces on
# short sequences (docs/decisions.md has the profile), so CPU sessions keep the two apart;
# ``optimize_onnx`` does not fuse them offline either.
CPU_DISABLED_OPTIMIZERS = ("SkipLayerNormFusion", "BiasSkipLayerNormFusion")


def session_options(threads: int | None = None, device: str = "cpu"):
    """ONNX Runtime session options: full graph optimization, sequential execution, ``threads`` intra-op
    threads (None: all cores) and, on the CPU, :data:`CPU_DISABLED_OPTIMIZERS` switched off. Also what to pass
    as ``session_options`` to ``ORTModelForTokenClassification.from_pretrained``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if device == "cpu":
        options.add_session_config_entry("optimization.disable_specified_optimizers",
                                         ";".join(CPU_DISABLED_OPTIMIZERS))
    return options


def ort_session(path: str | Path, threads: int | None = None, device: str = "cpu"):
    """An ONNX Runtime session (:func:`session_options`) on the CPU or on CUDA (``CUDAExecutionProvider``,
    needs the onnxruntime-gpu package)."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ExportError("device cuda needs onnxruntime-gpu (CUDAExecutionProvider is not available); "
                              "pip install onnxruntime-gpu, or use --device cpu")
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(str(path), session_options(threads, device), providers=providers)


def ort_forward(session) -> tuple[Forward, list[str]]:
    """The forward function of a session and the input names it takes."""
    names = [i.name for i in session.get_inputs()]
    output = session.get_outputs()[0].name

    def forward(batch: dict[str, np.ndarray]) -> np.ndarray:
        return session.run([output], {n: batch[n] for n in names})[0]

    return forward, names


def torch_forward(model, device: str = "cpu") -> tuple[Forward, list[str]]:
    """The forward function of a PyTorch token classifier (eval mode, no grad) and the inputs it takes."""
    import inspect

    import torch

    model.eval().to(device)
    accepted = inspect.signature(model.forward).parameters
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in accepted]

    def forward(batch: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            inputs = {n: torch.from_numpy(batch[n]).to(device) for n in names}
            return model(**inputs).logits.float().cpu().numpy()

    return forward, names
