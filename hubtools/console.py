"""What a recipe prints: progress bars, its own stage lines and a closing summary, not third-party chatter
(the Trainer's log dicts become one line per validation pass, :class:`hubtools.training.loop.EpochProgress`).

:func:`setup_logging` shows hubtools' ``INFO`` lines and only warnings of other libraries; :func:`quiet` hides,
for the block it wraps, what libraries print while they do their job well (onnxruntime's quantizer and graph
optimizer lines, the TorchScript exporter's tracer warnings, transformers' deprecation notes, datasets'
parquet progress bars). :func:`summary` is the closing block: the run folder, the test scores, the verified ONNX
files and the command that publishes the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from hubtools.results import RunResults
from hubtools.units import megabytes

LOGGER = "hubtools"


def setup_logging(level: int = logging.INFO) -> None:
    """``hubtools: message`` lines at ``level``; other libraries' loggers only from WARNING up."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger(LOGGER).setLevel(level)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Hide other libraries' informational output and known-harmless warnings inside the block."""
    import datasets
    import transformers

    root = logging.getLogger()
    level, verbosity = root.level, transformers.logging.get_verbosity()
    bars = datasets.is_progress_bar_enabled()
    root.setLevel(max(level, logging.ERROR))  # onnxruntime.quantization logs on the root logger
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*TracerWarning.*")
            warnings.filterwarnings("ignore", module=r"torch\.onnx.*|transformers\.modeling_attn_mask_utils")
            import torch.jit

            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            yield
    finally:
        root.setLevel(level)
        transformers.logging.set_verbosity(verbosity)
        if bars:
            datasets.enable_progress_bars()


def summary(run: Path, results: RunResults) -> str:
    """The closing lines of a recipe run."""
    test = results.test
    where = os.path.relpath(run) if Path(run).resolve().is_relative_to(Path.cwd()) else str(run)
    lines = [f"run folder  {where}",
             f"test        F1 {test.f1:.4f}, precision {test.precision:.4f}, recall {test.recall:.4f} "
             f"({test.num_sentences:,} sentences, {test.num_words:,} words)"]
    if results.export is not None:
        verified = [f"{v.file_name} ({megabytes(v.size_bytes)} MB, F1 {v.f1:.4f})" for v in results.export.passed]
        refused = [f"{v.file_name} refused: {v.reason}" for v in results.export.variants if not v.passed]
        lines.append("onnx        " + ("; ".join(verified) if verified else "no variant passed verification"))
        lines += [f"            {line}" for line in refused]
    model = results.publish.model_repo_id or "NAMESPACE/MODEL"
    dataset = results.publish.dataset_repo_id or "NAMESPACE/DATASET"
    lines.append(f"publish     hubtools push {where} --repo-id {model} --dataset-repo-id {dataset}")
    return "\n".join(lines)
