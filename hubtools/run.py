"""The run folder: everything a recipe writes goes through here, results.json included.

Stages write into ``OUTPUT_DIR.partial`` (kept across crashes so that training resumes from its last
checkpoint) and :meth:`RunFolder.finalize` renames it to ``OUTPUT_DIR`` once every stage has finished: a
crashed run never leaves a folder that looks complete. Single files are written to a temporary name and
renamed, so a reader never sees half a file. :func:`write_results` is the one writer of results.json, called by
:meth:`RunFolder.finalize` (a recipe's run, once) and :func:`update_results` (a later stage adding its section
to a finished run); :func:`read_results` is its reader (typed :class:`~hubtools.results.RunResults`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import platform
import shlex
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa
from datasets import DatasetDict

from hubtools.console import quiet
from hubtools.credentials import command_without_secrets
from hubtools.errors import ResultsError, UsageError
from hubtools.results import RESULTS_FILE, RunResults

logger = logging.getLogger("hubtools")
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


def swap_folder(staging: Path, target: Path) -> None:
    """Put the complete folder ``staging`` in place of ``target`` by renames: an existing ``target`` is moved
    aside first (and back when the second rename fails), then removed once ``staging`` is in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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


LOCK_FILE = ".lock"
FINGERPRINT_FILE = "fingerprint.json"
# what a staging folder may hold that is not staged work: its lock and its fingerprint
BOOKKEEPING = (LOCK_FILE, FINGERPRINT_FILE)


def is_finished_run(path: str | Path) -> bool:
    """True for a folder a recipe of this project finished: a ``results.json`` that reads as run results."""
    path = Path(path)
    if not (path.is_dir() and (path / RESULTS_FILE).is_file()):
        return False
    try:
        data = read_json(path / RESULTS_FILE)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "schema_version" in data and "recipe" in data


def content_fingerprint(splits: DatasetDict) -> str:
    """A sha256 of the built splits' Arrow contents (names, schema and rows), the same for the same data."""
    digest = hashlib.sha256()

    class _Sink:
        closed = False

        def write(self, data: bytes) -> int:
            digest.update(data)
            return len(data)

        def flush(self) -> None:
            pass

    for name in sorted(splits):
        table = splits[name].with_format("arrow")[:]
        digest.update(name.encode() + b"\0")
        with pa.ipc.new_stream(pa.PythonFile(_Sink(), mode="w"), table.schema) as writer:
            writer.write_table(table)
    return digest.hexdigest()


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def fingerprint_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every key of the sections of ``current`` that ``recorded`` holds too."""
    current = json.loads(json.dumps(current, default=_json_default))
    out = []
    for section, values in current.items():
        if section not in recorded:
            continue
        old, new = _flat(recorded[section]), _flat(values)
        for key in sorted(old.keys() | new.keys()):
            if old.get(key, _UNSET) != new.get(key, _UNSET):
                name = key if section == "config" else f"{section} {key}".strip()
                out.append(f"{name.removeprefix('config.')}: {_shown(old.get(key, _UNSET))} -> "
                           f"{_shown(new.get(key, _UNSET))}")
    return out


_UNSET = object()


def _shown(value: Any) -> str:
    if value is _UNSET:
        return "(unset)"
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:16] + "..." + text[-8:]


class RunFolder:
    """A run folder being built in ``<output_dir>.partial`` and published by :meth:`finalize`.

    :meth:`claim` checks the output folder and takes the staging folder before any work: an output folder that
    is not a finished run of this project is never touched, a finished one is replaced only with ``overwrite``
    (moved aside once the new run has finished), one process at a time holds the staging folder (a lock naming
    it), and staged work is resumed only by the same experiment (its fingerprint), or discarded with ``restart``.
    """

    def __init__(self, output_dir: str | Path, overwrite: bool = False, restart: bool = False):
        self.given = str(output_dir)
        self.final = Path(output_dir).resolve()
        self.path = self.final.with_name(self.final.name + ".partial")
        self.overwrite, self.restart = overwrite, restart
        self.started = time.time()
        self.resuming = False
        self._created = False
        self._lock: int | None = None

    @property
    def claimed(self) -> bool:
        return self._lock is not None

    def check_output(self) -> None:
        """Refuse an output folder this run may not replace (see the class docstring)."""
        if not (self.final.exists() or self.final.is_symlink()):
            return
        if not is_finished_run(self.final):
            raise UsageError(f"output folder {self.given}: exists and is not a finished nerhub run (no "
                             f"{RESULTS_FILE}); nothing was touched: choose another --output-dir, or move it away "
                             "yourself")
        if not self.overwrite:
            raise UsageError(f"output folder {self.given}: holds a finished run; pass --overwrite to replace it "
                             "(it is moved aside only once the new run has finished), or choose another --output-dir")

    def claim(self, fingerprint: dict[str, Any]) -> RunFolder:
        """Check the output folder, create and lock the staging folder, and compare ``fingerprint`` (what
        determines the result) with the staged work's (main process, before any work)."""
        self.check_output()
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            self.check_fingerprint(fingerprint)
        except BaseException:
            self.release()
            raise
        return self

    def _take_lock(self) -> None:
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise UsageError(f"output folder {self.given}: another run is writing it ({holder or 'unknown'}); "
                             "wait for it to finish, or choose another --output-dir") from None
        previous = _holder(fd)
        if previous:
            logger.warning("%s: taking over the lock of %s, which is gone", self.path.name, previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": _command(),
                                  "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode(), 0)
        os.fsync(fd)
        self._lock = fd

    def release(self) -> None:
        """Give the staging folder back (its lock says nobody holds it); a staging folder this run created and
        staged nothing in (it failed before any work) is removed."""
        if self._lock is None:
            return
        os.ftruncate(self._lock, 0)
        if self._created and self.path.is_dir() and all(p.name in BOOKKEEPING for p in self.path.iterdir()):
            shutil.rmtree(self.path)
        os.close(self._lock)
        self._lock = None

    def check_fingerprint(self, fingerprint: dict[str, Any]) -> None:
        """Resume staged work only when it was staged with the same ``fingerprint`` sections; refuse naming the
        keys that differ (``restart`` discards the staged work instead), then record ``fingerprint``."""
        path = self.path / FINGERPRINT_FILE
        staged = sorted(p for p in self.path.iterdir() if p.name not in BOOKKEEPING)
        recorded = read_json(path) if path.is_file() else None
        if self.restart and (staged or recorded):
            for item in staged:
                shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
            path.unlink(missing_ok=True)
            logger.info("%s: discarded the staged work (--restart)", self.path.name)
            recorded, staged = None, []
        elif staged and recorded is None:
            raise UsageError(f"{self.given}.partial: holds staged work without a fingerprint (from another version "
                             "of nerhub); rerun with --restart to discard it, or choose another --output-dir")
        if recorded is not None:
            differ = fingerprint_differences(recorded, fingerprint)
            if differ and staged:
                raise UsageError(f"{self.given}.partial: holds staged work of another experiment ("
                                 + "; ".join(differ) + "); rerun with --restart to discard it, or with the same "
                                 "configuration and data to resume it")
            self.resuming = not differ
            if staged and not differ:
                logger.info("%s: resuming the staged work (same configuration, data and version)", self.path.name)
        write_json(path, {**(recorded or {}), **fingerprint})

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

    def staged_init(self, folder: Path) -> bool:
        """True when resuming staged work whose model built from scratch was saved to ``folder`` (its tokenizer,
        saved last, is there): the resumed run starts from the very same model and tokenizer."""
        return self.resuming and (folder / "tokenizer_config.json").is_file()

    def clear_outputs(self) -> None:
        """Empty what the stages after training write (model, dataset, plots, ONNX): a resumed run never keeps
        a crashed run's files."""
        for folder in (self.model_dir, self.dataset_dir, self.plots_dir, self.onnx_dir):
            shutil.rmtree(folder, ignore_errors=True)

    def save_dataset(self, dsd: DatasetDict) -> dict[str, str]:
        """Write each split as ``dataset/<split>.parquet`` (ClassLabel names kept in the schema)."""
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

    @property
    def elapsed_s(self) -> float:
        """Seconds since this run folder object was made (the run's total time)."""
        return round(time.time() - self.started, 2)

    def finalize(self, results: RunResults, keep_checkpoints: bool = False) -> Path:
        """Write ``results`` as the run's results.json, then publish the staging folder as ``output_dir``; an
        earlier finished run there (``overwrite``) is moved aside first and removed once the new one is in place
        (:func:`swap_folder`)."""
        write_results(self.path, results)
        if not keep_checkpoints:
            shutil.rmtree(self.checkpoints_dir, ignore_errors=True)
        shutil.rmtree(self.path / "init", ignore_errors=True)
        (self.path / FINGERPRINT_FILE).unlink(missing_ok=True)
        self.check_output()
        swap_folder(self.path, self.final)
        (self.final / LOCK_FILE).unlink(missing_ok=True)
        self.release()
        return self.final


def _holder(fd: int) -> str:
    """Who holds (or held) a lock file, in words; empty when nobody is recorded."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"null")
    except ValueError:
        return ""
    if not isinstance(info, dict):
        return ""
    return f"process {info.get('pid')} on {info.get('host')} since {info.get('since')}: {info.get('command')}"


def _command() -> str:
    return shlex.join([Path(sys.argv[0]).name, *command_without_secrets(sys.argv[1:])])[:300]


def write_results(run_dir: str | Path, results: RunResults) -> None:
    """Write ``RUN/results.json`` atomically (the one place that writes it)."""
    write_json(Path(run_dir) / RESULTS_FILE, results.to_dict())


def update_results(run_dir: str | Path, change: Callable[[RunResults], RunResults]) -> RunResults:
    """Rewrite a finished run's results.json as ``change`` makes it from what it holds: a later stage adding its
    section (``hubtools export``, ``hubtools evaluate``)."""
    results = change(read_results(run_dir))
    write_results(run_dir, results)
    return results


def read_results(run_dir: str | Path) -> RunResults:
    """The typed results of a run folder, with an error saying what to do when it is not one."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise ResultsError(f"{run_dir}: not a run folder (no {RESULTS_FILE}); run a recipe first")
    try:
        data = read_json(path)
    except ValueError as err:
        raise ResultsError(f"{path}: not valid JSON ({err}); run the recipe again") from None
    return RunResults.from_dict(data, str(path))


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
