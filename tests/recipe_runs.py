"""Run recipes in fresh processes for the end-to-end tests."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_module(path: str) -> ModuleType:
    """A script or recipe of the repository (``path`` from its root) as a module, registered under its file name
    (as its dataclasses need), executed anew at each call."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module
# The finer tiny preset, shortened for the test suite but long enough that the tiny model learns.
FINER_TEST_ARGS = ["training.num_train_epochs=4", "training.per_device_train_batch_size=16"]


def recipe_env(**extra: str) -> dict[str, str]:
    """Offline environment for a recipe subprocess, importing hubtools from this checkout."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    env.update(extra)
    return env


def run_recipe(name: str, output_dir: Path, *args: str, launcher: list[str] | None = None,
               check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python recipes/NAME.py --preset tiny --output-dir OUT ARGS`` (or under ``launcher``)."""
    cmd = [*(launcher or [sys.executable]), str(ROOT / "recipes" / f"{name}.py"), "--preset", "tiny",
           "--output-dir", str(output_dir), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=recipe_env(), timeout=timeout, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def accelerate_launcher(num_processes: int) -> list[str]:
    """``accelerate launch`` with N processes. On a machine without CUDA the processes join a gloo (MULTI_CPU)
    group; accelerate's ``--cpu`` flag would start one process only (its CPU multi-process path needs MPI)."""
    multi = ["--multi_gpu"] if num_processes > 1 else ["--cpu"]
    return [sys.executable, "-m", "accelerate.commands.launch", *multi, "--num_processes", str(num_processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
