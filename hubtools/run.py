"""The run folder: everything a recipe writes goes through here.

Stages write into ``OUTPUT_DIR.partial`` (kept across crashes so that training resumes from its last
checkpoint) and :meth:`RunFolder.finalize` renames it to ``OUTPUT_DIR`` once every stage has finished: a
crashed run never leaves a folder that looks complete. Single files are written to a temporary name and
renamed, so a reader never sees half a file.
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
        self.results: dict[str, Any] = {}
        self._started = time.time()

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
        self.dataset_dir.mkdir(parents=True, exist_ok=True)
        files = {}
        for split, ds in dsd.items():
            target = self.dataset_dir / f"{split}.parquet"
            tmp = target.with_name(f".{target.name}.tmp")
            ds.to_parquet(str(tmp))
            os.replace(tmp, target)
            files[split] = target.name
        return files

    def update(self, **sections: Any) -> None:
        """Merge sections into results.json (written atomically each time)."""
        self.results.update(sections)
        write_json(self.path / "results.json", self.results)

    def finalize(self, keep_checkpoints: bool = False) -> Path:
        """Publish the staging folder as ``output_dir`` (replacing an older run there)."""
        self.results.setdefault("timings", {})["total_s"] = round(time.time() - self._started, 2)
        write_json(self.path / "results.json", self.results)
        if not keep_checkpoints:
            shutil.rmtree(self.checkpoints_dir, ignore_errors=True)
        old = None
        if self.final.exists():
            old = self.final.with_name(f"{self.final.name}.old-{os.getpid()}")
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final


def load_results(run_dir: str | Path) -> dict:
    """results.json of a finished run folder, with a clear error if the folder is not one."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: not a run folder (no results.json); run a recipe first")
    return read_json(path)


def write_comparison(path: str | Path, runs: dict[str, str | Path]) -> dict:
    """``comparison.json``: each named run's test scores, per-type F1 and export status, side by side."""
    systems = {}
    for name, run_dir in runs.items():
        results = load_results(run_dir)
        export = results.get("export") or {}
        systems[name] = {
            "run": str(run_dir), "entity_types": results["dataset"]["entity_types"], "test": results["test"],
            "per_type_f1": {t: row["f1"] for t, row in results["per_type"].items()},
            "export": {v: export[v].get("status") for v in ("onnx", "onnx_int8") if v in export},
        }
    comparison = {"systems": systems}
    write_json(path, comparison)
    return comparison
