"""The run folder: everything a recipe writes goes through here, results.json included.

Stages write into ``OUTPUT_DIR.partial`` (kept across crashes so that training resumes from its last
checkpoint) and :meth:`RunFolder.finalize` renames it to ``OUTPUT_DIR`` once every stage has finished: a
crashed run never leaves a folder that looks complete. Single files are written to a temporary name and
renamed, so a reader never sees half a file. :func:`write_results` is the one writer of results.json and
:func:`read_results` its reader (typed :class:`~hubtools.results.RunResults`).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from datasets import DatasetDict

from hubtools.errors import ResultsError
from hubtools.results import RunResults

PACKAGES = ("hubtools", "nerhub", "transformers", "torch", "datasets", "accelerate", "tokenizers", "evaluate",
            "seqeval", "huggingface_hub", "optimum", "optimum-onnx", "onnxruntime", "onnx", "span-marker",
            "safetensors", "numpy", "pyarrow")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: Any) -> None:
    """Atomically write pretty JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def read_json(path: str | Path) -> Any:
    """Read JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a run depends on, plus Python's."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def machine_description() -> str:
    """A one-line description of this machine: CPU model, cores, memory, GPU if any."""
    import psutil
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = psutil.virtual_memory().total / 2**30
    desc = f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM"
    if torch.cuda.is_available():
        desc += f", GPU {torch.cuda.get_device_name(0)}"
    return desc


class RunFolder:
    """A run folder being built in ``<output_dir>.partial`` and published by :meth:`finalize`."""

    def __init__(self, output_dir: str | Path):
        self.final = Path(output_dir).resolve()
        self.path = self.final.with_name(self.final.name + ".partial")
        self.started = time.time()

    def create(self) -> RunFolder:
        """Create the staging folder (keeping a crashed run's checkpoints for resuming)."""
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def dataset_dir(self) -> Path:
        return self.path / "dataset"

    @property
    def plots_dir(self) -> Path:
        return self.path / "plots"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def onnx_dir(self) -> Path:
        return self.path / "onnx"

    def save_dataset(self, dsd: DatasetDict) -> dict[str, str]:
        """Write each split as ``dataset/<split>.parquet`` (ClassLabel names kept in the schema)."""
        from hubtools.console import quiet

        self.dataset_dir.mkdir(parents=True, exist_ok=True)
        files = {}
        for split, ds in dsd.items():
            target = self.dataset_dir / f"{split}.parquet"
            tmp = target.with_name(f".{target.name}.tmp")
            with quiet():
                ds.to_parquet(str(tmp))
            os.replace(tmp, target)
            files[split] = target.name
        return files

    def write_results(self, results: RunResults) -> None:
        """Write the staged folder's results.json."""
        write_results(self.path, results)

    def finalize(self, results: RunResults, keep_checkpoints: bool = False) -> Path:
        """Record the total time, then publish the staging folder as ``output_dir`` (replacing an older run)."""
        results.timings.total_s = round(time.time() - self.started, 2)
        self.write_results(results)
        if not keep_checkpoints:
            shutil.rmtree(self.checkpoints_dir, ignore_errors=True)
        shutil.rmtree(self.path / "init", ignore_errors=True)
        old = None
        if self.final.exists():
            old = self.final.with_name(f"{self.final.name}.old-{os.getpid()}")
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final


RESULTS_FILE = "results.json"


def write_results(run_dir: str | Path, results: RunResults) -> None:
    """Write ``RUN/results.json`` atomically (the one place that writes it)."""
    write_json(Path(run_dir) / RESULTS_FILE, results.to_dict())


def read_results(run_dir: str | Path) -> RunResults:
    """The typed results of a run folder, with an error saying what to do when it is not one."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise ResultsError(f"{run_dir}: not a run folder (no {RESULTS_FILE}); run a recipe first")
    try:
        data = read_json(path)
    except ValueError as err:
        raise ResultsError(f"{path}: not valid JSON ({err}); run the recipe again") from None
    return RunResults.from_dict(data)


def write_comparison(path: str | Path, runs: dict[str, str | Path], recipe: str) -> dict:
    """``comparison.json``: the runs of several variants side by side (test scores, per-type F1, best validation
    F1, epochs, training time, size, export status); ``best`` is the variant with the best validation F1."""
    systems = {}
    for name, run_dir in runs.items():
        results = read_results(run_dir)
        test, training = results.test, results.training
        epochs = max((row.epoch for row in training.history), default=0)
        systems[name] = {
            "run": Path(run_dir).name, "entity_types": results.dataset.entity_types,
            "test": {k: getattr(test, k) for k in ("precision", "recall", "f1", "accuracy", "num_sentences",
                                                   "num_words")},
            "per_type_f1": {t: row.f1 for t, row in test.per_type.items()},
            "best_validation_f1": training.best_validation_f1, "epochs": epochs,
            "train_s": results.timings.train_s,
            "train_s_per_epoch": round(results.timings.train_s / epochs, 2) if epochs else None,
            "num_parameters": results.model.num_parameters, "vocab_size": results.model.vocab_size,
            "extra_scores": {k: v.values for k, v in results.extra_scores.items()},
            "export": {v.name: v.status for v in results.export.variants} if results.export else {},
        }
    best = max(systems, key=lambda n: systems[n]["best_validation_f1"] or 0.0)
    comparison = {"recipe": recipe, "variants": list(runs), "selected_by": "best validation f1", "best": best,
                  "systems": systems}
    write_json(path, comparison)
    return comparison
