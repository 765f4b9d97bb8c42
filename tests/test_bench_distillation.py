"""scripts/bench_distillation.py: the table from known numbers, argument errors, and a two-seed run on tiny data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from recipe_runs import ROOT, load_module, recipe_env

SCRIPT = ROOT / "scripts" / "bench_distillation.py"


def load_bench():
    return load_module("scripts/bench_distillation.py")


def test_table_means_spreads_and_paired_differences() -> None:
    bench = load_bench()
    Measure, SeedResult = bench.Measure, bench.SeedResult
    results = [
        SeedResult(1, {bench.TEACHER: Measure(0.90, 1000, 1.0), bench.ALONE: Measure(0.80, 3000, 0.5),
                       bench.DISTILLED: Measure(0.84, 3000, 2.0, (0.5, 2.0))}),
        SeedResult(2, {bench.TEACHER: Measure(0.92, 1000, 3.0), bench.ALONE: Measure(0.86, 5000, 0.5),
                       bench.DISTILLED: Measure(0.85, 3000, 2.0, (0.25, 4.0))}),
    ]
    lines = bench.format_table(results, "HEADER").splitlines()
    assert lines[0] == "HEADER"
    assert lines[1].split() == ["model", "test", "F1", "per", "seed", "(1,", "2)", "words/s", "minutes", "(alpha,",
                                "T)"]
    assert lines[2].split() == ["teacher", "0.9100", "±", "0.0141", "0.9000", "0.9200", "1000", "2.00"]
    assert lines[3].split() == ["student", "alone", "0.8300", "±", "0.0424", "0.8000", "0.8600", "4000", "0.50"]
    assert lines[4].split() == ["student", "distilled", "0.8450", "±", "0.0071", "0.8400", "0.8500", "3000", "2.00",
                                "(0.5,", "2),", "(0.25,", "4)"]
    # distilled - alone: +0.04 and -0.01 -> +0.015 ± 0.0354, above 0 in one seed of two
    assert lines[5].split() == ["student", "distilled", "-", "student", "alone", "+0.0150", "±", "0.0354", "paired",
                                "by", "seed,", "above", "0", "in", "1", "of", "2"]
    assert lines[6].split()[3:7] == ["teacher", "-0.0650", "±", "0.0071"]
    assert len(lines) == 7  # no transfer row without transfer runs


def test_a_teacher_given_as_a_checkpoint_has_no_minutes() -> None:
    bench = load_bench()
    result = bench.SeedResult(1, {bench.TEACHER: bench.Measure(0.9, 100, None),
                                  bench.ALONE: bench.Measure(0.8, 100, 1.0),
                                  bench.DISTILLED: bench.Measure(0.85, 100, 1.0, (0.5, 1.0))})
    assert bench.format_table([result], "H").splitlines()[2].split()[-1] == "given"


@pytest.mark.parametrize("args, message", [
    (["--seeds", "1,x"], "--seeds must be comma-separated integers, got '1,x'"),
    (["--data", "/nonexistent/conll"], "--data /nonexistent/conll: no such file or folder"),
    (["training.seed"], "overrides must be section.key=value, got ['training.seed']"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--output-dir", str(tmp_path), *args], capture_output=True,
                          text=True, env=recipe_env(), timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"bench_distillation.py: error: {message}"


@pytest.mark.slow
def test_two_seeds_with_a_transfer_set_on_tiny_data(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--output-dir", str(tmp_path), "--preset", "tiny", "--seeds", "1,2",
         "--transfer", "{generate: {num_sentences: 100, seed: 7}}", "distillation.transfer={}",
         "data.generate={num_sentences: 200, seed: 0}", "training.num_train_epochs=1",
         "distillation.teacher_training={num_train_epochs: 1}", "distillation.alphas=[0.5]",
         "distillation.temperatures=[2.0]"],
        capture_output=True, text=True, env=recipe_env(OMP_NUM_THREADS="1"), timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = proc.stdout[proc.stdout.index("conll_distil --preset tiny"):].splitlines()
    rows = {line[:30].strip(): line[30:].split() for line in table[2:6]}
    assert list(rows) == ["teacher", "student alone", "student distilled", "student distilled + transfer"]
    for name, cells in rows.items():
        f1s = [float(cells[3]), float(cells[4])]
        assert all(0 <= f1 <= 1 for f1 in f1s), name
        assert float(cells[0]) == pytest.approx(sum(f1s) / 2, abs=1e-4), name
    assert rows["student distilled"][-4:] == rows["student distilled + transfer"][-4:] == ["(0.5,", "2),", "(0.5,",
                                                                                          "2)"]
    for seed in (1, 2):
        transfer = tmp_path / f"seed{seed}" / "transfer"
        assert (transfer / "results.json").is_file()
        assert not (tmp_path / f"seed{seed}" / "transfer-teacher").exists()  # the first run's teacher is reused
    assert table[-4].startswith("student distilled - student alone")


@pytest.mark.parametrize("trained", [True, False])
def test_the_transfer_run_reads_with_the_first_runs_teacher(tmp_path: Path, monkeypatch, trained: bool) -> None:
    bench = load_bench()
    calls: list[list[str]] = []
    measure = bench.Measure(0.9, 100, 1.0, (0.5, 1.0))
    monkeypatch.setattr(bench, "run_recipe", lambda out, args: calls.append(args) or out)
    monkeypatch.setattr(bench, "read_distillation", lambda run: {bench.TEACHER: measure, bench.ALONE: measure,
                                                                 bench.DISTILLED: measure})
    teacher = SimpleNamespace(trained_by_recipe=trained, model="PATH/model")  # as results.json records a given one
    monkeypatch.setattr(bench, "read_results", lambda run: SimpleNamespace(distillation=SimpleNamespace(
        teacher=teacher)))
    common = [] if trained else ["distillation.teacher=/checkpoints/teacher"]
    result = bench.bench_seed(3, tmp_path, common, "{split: train}")
    teachers = [arg for arg in calls[1] if arg.startswith("distillation.teacher=")]
    expected = str(tmp_path / "plain-teacher" / "model") if trained else "/checkpoints/teacher"
    assert teachers == [f"distillation.teacher={expected}"]
    assert calls[1][-1] == "distillation.transfer={split: train}" and "training.seed=3" in calls[1]
    assert set(result.models) == {bench.TEACHER, bench.ALONE, bench.DISTILLED, bench.TRANSFER}
