"""The run folder never removes what a run did not create, runs one at a time, and resumes only its own work."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value
from recipe_runs import ROOT, recipe_env

from hubtools.errors import UsageError
from hubtools.run import LOCK_FILE, RunFolder, content_fingerprint, fingerprint_differences, is_finished_run

FINGERPRINT = {"config": {"training": {"learning_rate": 0.001, "seed": 1}, "model": {"hidden_size": 64}},
               "version": "0.1.0"}


def finished_run(path: Path, marker: str = "old") -> Path:
    (path / "model").mkdir(parents=True)
    (path / "results.json").write_text(json.dumps({"schema_version": 2, "recipe": "ner", "marker": marker}))
    return path


class _Results:
    """The part of RunResults that :meth:`RunFolder.finalize` touches."""

    def to_dict(self) -> dict:
        return {"schema_version": 2, "recipe": "ner", "marker": "new"}


def test_a_folder_that_is_not_a_run_is_refused_and_kept(tmp_path):
    (tmp_path / "runs" / "keep").mkdir(parents=True)
    folder = RunFolder(tmp_path / "runs")
    with pytest.raises(UsageError, match="exists and is not a finished nerhub run"):
        folder.claim(FINGERPRINT)
    with pytest.raises(UsageError, match="not a finished nerhub run"):
        RunFolder(tmp_path / "runs", overwrite=True).claim(FINGERPRINT)
    assert (tmp_path / "runs" / "keep").is_dir() and not folder.path.exists()


def test_a_finished_run_is_replaced_only_with_overwrite_and_only_at_the_end(tmp_path):
    out = finished_run(tmp_path / "run")
    with pytest.raises(UsageError, match="pass --overwrite"):
        RunFolder(out).claim(FINGERPRINT)
    folder = RunFolder(out, overwrite=True).claim(FINGERPRINT)
    assert json.loads((out / "results.json").read_text())["marker"] == "old"  # still there while the new one runs
    (folder.model_dir).mkdir()
    folder.finalize(_Results())
    assert json.loads((out / "results.json").read_text())["marker"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .partial, no old copy
    assert not (out / LOCK_FILE).exists() and not (out / "fingerprint.json").exists()
    assert is_finished_run(out)


def test_one_run_at_a_time_and_a_dead_holder_is_taken_over(tmp_path, caplog):
    first = RunFolder(tmp_path / "run").claim(FINGERPRINT)
    with pytest.raises(UsageError, match=rf"another run is writing it \(process {os.getpid()} on "):
        RunFolder(tmp_path / "run").claim(FINGERPRINT)
    first.release()
    RunFolder(tmp_path / "run").claim(FINGERPRINT).release()  # released cleanly: no takeover line
    assert "taking over" not in caplog.text
    assert not first.path.exists()  # a staging folder a run created and staged nothing in is removed
    first.path.mkdir()
    (first.path / LOCK_FILE).write_text(json.dumps({"pid": 99999999, "host": "h", "command": "x", "since": "t"}))
    with caplog.at_level(logging.WARNING, logger="hubtools"):
        RunFolder(tmp_path / "run").claim(FINGERPRINT).release()
    assert "taking over the lock of process 99999999 on h" in caplog.text


def test_staged_work_resumes_only_with_the_same_fingerprint(tmp_path):
    folder = RunFolder(tmp_path / "run").claim(FINGERPRINT)
    (folder.checkpoints_dir / "checkpoint-10").mkdir(parents=True)
    folder.check_fingerprint({"data": "abc"})
    folder.release()
    changed = json.loads(json.dumps(FINGERPRINT))
    changed["config"]["training"]["learning_rate"] = 0.002
    changed["config"]["model"]["hidden_size"] = 128
    with pytest.raises(UsageError) as err:
        RunFolder(tmp_path / "run").claim(changed)
    assert "training.learning_rate: 0.001 -> 0.002" in str(err.value)
    assert "model.hidden_size: 64 -> 128" in str(err.value) and "--restart" in str(err.value)
    same = RunFolder(tmp_path / "run").claim(FINGERPRINT)
    assert same.resuming
    with pytest.raises(UsageError, match="data: \"abc\" -> \"xyz\""):
        same.check_fingerprint({"data": "xyz"})
    same.release()
    restarted = RunFolder(tmp_path / "run", restart=True).claim(changed)
    assert not restarted.checkpoints_dir.exists() and not restarted.resuming


def test_data_fingerprint_follows_the_content():
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=["O", "B-X"]))})

    def splits(word: str) -> DatasetDict:
        return DatasetDict(train=Dataset.from_dict({"tokens": [[word, "b"]], "ner_tags": [[1, 0]]}, features=features))

    assert content_fingerprint(splits("a")) == content_fingerprint(splits("a"))
    assert content_fingerprint(splits("a")) != content_fingerprint(splits("c"))
    assert fingerprint_differences({"data": "x"}, {"data": "x"}) == []


# ---- end to end: what a user sees ---------------------------------------------------------------------------
SMALL = ["--no-export", "data.generate={num_sentences: 900, seed: 0}", "training.num_train_epochs=3"]


def recipe(out: Path, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "recipes" / "ner.py"), "--preset", "tiny", "--output-dir", str(out), *args]


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=recipe_env(), capture_output=True, text=True, timeout=900)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_recipe_refuses_a_user_folder_before_any_work(tmp_path):
    (tmp_path / "runs" / "keep").mkdir(parents=True)
    (tmp_path / "runs" / "keep" / "notes.txt").write_text("mine")
    proc = run(recipe(Path("runs"), *SMALL), tmp_path)
    line = one_line_error(proc)
    assert line == ("ner.py: error: output folder runs: exists and is not a finished nerhub run (no results.json); "
                    "nothing was touched: choose another --output-dir, or move it away yourself")
    assert (tmp_path / "runs" / "keep" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # no runs.partial either


@pytest.mark.slow
def test_killed_run_then_changed_rerun_then_resume_then_overwrite(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(recipe(out, *SMALL), cwd=tmp_path, env=recipe_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    checkpoints = out.with_name("run.partial") / "checkpoints"
    deadline = time.time() + 600
    while not any(checkpoints.glob("checkpoint-*/trainer_state.json")) and time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        time.sleep(0.5)
    proc.send_signal(signal.SIGSTOP)  # held where it is: it keeps its lock and cannot finish meanwhile
    # a second run on the same output folder is refused while the first holds it
    line = one_line_error(run(recipe(out, *SMALL), tmp_path))
    assert f"another run is writing it (process {proc.pid} on " in line
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # a changed configuration does not resume the killed run's checkpoint
    changed = run(recipe(out, *SMALL, "training.learning_rate=0.001"), tmp_path)
    assert f"taking over the lock of process {proc.pid} on " in changed.stderr
    line = one_line_error(changed)
    assert "holds staged work of another experiment (training.learning_rate: 0.002 -> 0.001)" in line
    assert "--restart" in line
    # stale export and plot files of the staged work never reach the finished run
    staged = out.with_name("run.partial")
    for stale in (staged / "onnx" / "model.onnx", staged / "plots" / "old.png"):
        stale.parent.mkdir(parents=True, exist_ok=True)
        stale.write_bytes(b"stale")
    resumed = run(recipe(out, *SMALL), tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "run.partial: resuming the staged work" in resumed.stderr and "resuming training from" in resumed.stderr
    assert not (out / "onnx").exists() and not (out / "plots" / "old.png").exists()
    assert not (out / "model" / "training_args.bin").exists() and not (out / LOCK_FILE).exists()
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["training"]["learning_rate"] == 0.002
    # a finished run is replaced only on request
    line = one_line_error(run(recipe(out, *SMALL), tmp_path))
    assert "holds a finished run; pass --overwrite" in line
    created = results["created"]
    token = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"
    replaced = run(recipe(out, *SMALL, "--overwrite", "training.num_train_epochs=1", f"training.hub_token={token}"),
                   tmp_path)
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["created"] != created and results["command"].endswith("training.num_train_epochs=1")
    for path in out.rglob("*"):  # the token is nowhere in the run, nor its key
        assert not path.is_file() or (token.encode() not in path.read_bytes() and b"hub_token" not in path.read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
