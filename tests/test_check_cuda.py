"""scripts/check_cuda.sh and scripts/check_cuda_run.py on a machine without CUDA (no test here needs a GPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_results
from recipe_runs import ROOT, load_module, recipe_env

from hubtools.results import ExportResult, ReferenceModel, VariantReport
from hubtools.training.arguments import resolve_precision

SCRIPT = ROOT / "scripts" / "check_cuda.sh"


def load_checker():
    return load_module("scripts/check_cuda_run.py")


def test_record_problems_name_device_precision_and_export() -> None:
    checker = load_checker()
    results = run_results()  # trained on the CPU in fp32, no export
    problems = checker.record_problems(results, "cuda", "fp16")
    assert problems == ["results.json environment.device is 'cpu', expected cuda",
                        "results.json records fp32 training, expected fp16",
                        "results.json has no fp32 ONNX variant (was the export stage skipped?)"]
    results.environment.device, results.environment.fp16 = "cuda:0", True
    results.export = ExportResult(
        exporter="optimum-onnx", agreement_unit="word",
        reference=ReferenceModel(file="model/model.safetensors", f1=0.9, size_bytes=1_000_000, num_sentences=1,
                                 num_words=1),
        variants=[VariantReport(name="onnx", file="onnx/model.onnx", status="failed", size_bytes=1_000_000,
                                reason="agreement 0.9 < 0.999")])
    assert checker.record_problems(results, "cuda", "fp16") == [
        "the fp32 ONNX variant failed the export's verification: agreement 0.9 < 0.999"]
    results.export.variants[0].status = "passed"
    assert checker.record_problems(results, "cuda", "fp16") == []


def test_auto_precision_is_what_training_picks() -> None:
    fp16, bf16 = resolve_precision("auto", "auto")
    assert load_checker().expected_precision("auto") == ("fp16" if fp16 else "bf16" if bf16 else "fp32")
    assert load_checker().expected_precision("fp16") == "fp16"


@pytest.mark.parametrize("args, message", [
    (["--wheels", "/nonexistent/wheels"], "check_cuda.sh: error: --wheels /nonexistent/wheels is not a folder"),
    (["--bogus"], "check_cuda.sh: error: unknown argument --bogus"),
])
def test_check_cuda_bad_arguments(args: list[str], message: str) -> None:
    proc = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == message


def test_checker_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_cuda_run.py"), str(tmp_path), "--device",
                           "cpu", "--precision", "auto"], capture_output=True, text=True, env=recipe_env(),
                          timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"check_cuda_run.py: error: {tmp_path}: not a run folder (no results.json); run a recipe first"]


@pytest.mark.slow
def test_check_cuda_on_cpu_skips_cuda_and_checks_a_cpu_run(tmp_path: Path) -> None:
    wheels, work = tmp_path / "wheels", tmp_path / "work"
    wheels.mkdir()
    env = recipe_env(PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([str(SCRIPT), "--wheels", str(wheels), "--work", str(work)], capture_output=True,
                          text=True, env=env, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr[-3000:]
    assert "check_cuda: no CUDA device: skipping CUDA parts" in out.splitlines()
    assert f"check_cuda: no wheels in {wheels}: using the packages of {sys.executable}" in out
    _, bf16 = resolve_precision("auto", "auto")
    line = next(line for line in out.splitlines() if line.startswith("finer-cpu: trained on "))
    assert line.startswith(f"finer-cpu: trained on cpu, {'bf16' if bf16 else 'fp32'}; test F1 ")
    assert float(line.split("test F1 ")[1].split(";")[0]) > 0.3  # it learned: the agreement is about real tags
    assert "agreement with the model on cpu: CPU PyTorch 1.0000, fp32 ONNX " in line
    assert " words/s; inference on cpu " in line
    assert out.splitlines()[-1].startswith("check_cuda: all checks passed in ")
    assert not (work / "site").exists()

    # The same run checked as if it had trained on CUDA fails, naming what differs.
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_cuda_run.py"), str(work / "finer-cpu"),
                           "--device", "cuda", "--precision", "fp16"], capture_output=True, text=True,
                          env=recipe_env(), timeout=300)
    assert proc.returncode == 1
    assert "finer-cpu: FAILED: results.json environment.device is 'cpu', expected cuda" in proc.stdout
    assert f"finer-cpu: FAILED: results.json records {'bf16' if bf16 else 'fp32'} training, expected fp16" \
        in proc.stdout
