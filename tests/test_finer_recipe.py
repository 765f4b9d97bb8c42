"""End to end: ``recipes/finer.py --preset tiny`` builds, trains, evaluates and writes a complete run folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from datasets import Dataset
from matplotlib.image import imread
from recipe_runs import FINER_TEST_ARGS, ROOT, accelerate_launcher, recipe_env, run_recipe

from hubtools.data.schemes import types_of
from hubtools.evaluation import evaluate_run
from hubtools.results import SCHEMA_VERSION
from hubtools.run import read_results
from hubtools.training.arguments import cpu_has_native_bf16

pytestmark = pytest.mark.slow


def test_run_folder_contents(finer_run):
    assert not finer_run.with_name("run.partial").exists()
    assert json.loads((finer_run / "results.json").read_text())["schema_version"] == SCHEMA_VERSION
    results = read_results(finer_run)
    dataset = results.dataset
    assert dataset.name == "finer-selected-4-labels"
    assert len(dataset.entity_types) == 4
    assert dataset.label_names[0] == "O" and len(dataset.label_names) == 9
    assert types_of(dataset.label_names) == dataset.entity_types
    assert set(results.test.per_type) <= set(dataset.entity_types)
    assert dataset.build.dropped_without_entities > 0
    assert "balanced" in results.config["data"]["selection_rule"]
    sizes = dataset.splits
    total = sum(sizes.values())
    assert abs(sizes["train"] / total - 0.8) < 0.01 and abs(sizes["test"] / total - 0.1) < 0.01
    # the model learned the task on generated data
    assert results.test.f1 > 0.3, results.test
    history = results.training.history
    assert len(history) == 4
    assert all(None not in (row.training_loss, row.validation_loss, row.f1) for row in history)
    assert history[-1].training_loss < history[0].training_loss
    assert results.versions["transformers"].startswith("4.57")
    assert results.timings.train_s > 0 and results.environment.num_processes == 1
    assert results.environment.bf16 is (not torch.cuda.is_available() and cpu_has_native_bf16())
    assert results.training.hyperparameters["num_epochs"] == results.config["training"]["num_train_epochs"] == 4
    assert results.training.hyperparameters["train_batch_size"] == 16
    words = sum(map(len, Dataset.from_parquet(str(finer_run / "dataset" / "train.parquet"))["tokens"]))
    assert results.timings.train_words_per_second == pytest.approx(
        words * results.config["training"]["num_train_epochs"] / results.timings.train_s, rel=0.01)
    assert sum(map(sum, results.test.confusion.matrix)) == results.test.num_words
    assert results.model.family == "token-classification" and results.export is None  # --no-export


def test_saved_dataset_round_trips(finer_run):
    results = read_results(finer_run)
    for split, size in results.dataset.splits.items():
        ds = Dataset.from_parquet(str(finer_run / "dataset" / f"{split}.parquet"))
        assert len(ds) == size
        assert ds.features["ner_tags"].feature.names == results.dataset.label_names
        assert all(any(t != 0 for t in tags) for tags in ds["ner_tags"])  # non-entity sentences dropped


def test_plots_are_real_pictures(finer_run):
    for name in ("training_curves", "confusion_matrix", "entity_distribution"):
        image = imread(finer_run / "plots" / f"{name}.png")
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert image.std() > 0.01  # not a blank canvas


def test_model_reloads_with_pipeline_and_rescores_identically(finer_run):
    from transformers import pipeline

    config = json.loads((finer_run / "model" / "config.json").read_text())
    results = read_results(finer_run)
    assert [config["id2label"][str(i)] for i in range(len(config["id2label"]))] == results.dataset.label_names
    test = Dataset.from_parquet(str(finer_run / "dataset" / "test.parquet"))
    tagger = pipeline("ner", model=str(finer_run / "model"), aggregation_strategy="simple")
    sentence = " ".join(max(test["tokens"], key=lambda t: len(t)))
    entities = tagger(sentence)
    assert isinstance(entities, list)
    assert all(e["entity_group"] in results.dataset.entity_types for e in entities)
    rescored = evaluate_run(finer_run)
    for key in ("f1", "precision", "recall", "accuracy", "num_words"):
        assert getattr(rescored, key) == pytest.approx(getattr(results.test, key))


def test_bad_input_fails_before_writing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"tokens": ["a", "b"], "ner_tags": ["B-X", "O"]}, {"tokens": ["c", "d"], "ner_tags": ["O"]}]
    for split in ("train", "validation", "test"):
        (data / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "run"
    proc = run_recipe("finer", out, f"data.source={data}", "data.num_types=null", "data.split_ratios=null",
                      check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (f"finer.py: error: {data / 'train.jsonl'} split 'train', row 1 (line 2): 'tokens' has 2 items "
                    f"but 'ner_tags' has 1")
    assert not out.exists() and not out.with_name("run.partial").exists()


def test_interrupted_training_resumes_from_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    args = ["--no-export", "data.generate.num_sentences=800", "training.num_train_epochs=8"]
    cmd = [sys.executable, str(ROOT / "recipes" / "finer.py"), "--preset", "tiny", "--output-dir", str(out), *args]
    proc = subprocess.Popen(cmd, env=recipe_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = out.with_name("run.partial") / "checkpoints"
    deadline = time.time() + 600
    while not any(checkpoints.glob("checkpoint-*/trainer_state.json")) and time.time() < deadline:
        assert proc.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.05)
    # trainer_state.json is the last file of a checkpoint: kill at once, mid-way through the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    # a rerun of another experiment (here: another vocabulary) cannot take the checkpoint's weights and best score
    other = run_recipe("finer", out, *args, "model.vocab_size=200", check=False)
    assert other.returncode == 2 and "Traceback" not in other.stderr, other.stderr[-3000:]
    last = other.stderr.strip().splitlines()[-1]
    assert last.startswith(f"finer.py: error: {out}.partial: holds staged work of another experiment "
                           "(model.vocab_size:"), last
    assert last.endswith("rerun with --restart to discard it, or with the same configuration and data to resume it")
    # the same command starts from the staged model and tokenizer, and goes on where the killed run stopped
    done = run_recipe("finer", out, *args)
    assert "resuming training from" in done.stderr and "checkpoint-" in done.stderr
    results = read_results(out)
    assert [row.epoch for row in results.training.history] == [float(e) for e in range(1, 9)]
    assert results.timings.train_words_per_second is None  # only part of the epochs trained here


def test_two_processes_train_and_evaluate_consistently(finer_run, tmp_path):
    out = tmp_path / "run2"
    # same global batch as the 1-process run: 2 processes x 8
    run_recipe("finer", out, "--no-export", *FINER_TEST_ARGS, "training.per_device_train_batch_size=8",
               launcher=accelerate_launcher(2))
    one, two = read_results(finer_run), read_results(out)
    assert two.environment.num_processes == 2
    assert two.test.num_sentences == one.test.num_sentences
    # same data and global batch; sharding changes the batch order, so the tiny model lands close, not equal
    assert two.test.f1 > 0.3 and abs(two.test.f1 - one.test.f1) < 0.25, (one.test.f1, two.test.f1)
    # one saved model scored by 1 and by 2 processes: identical metrics, no duplicated or dropped sentence
    scores = {}
    for n in (1, 2):
        target = tmp_path / f"eval{n}.json"
        cmd = [*accelerate_launcher(n), "-m", "hubtools", "evaluate", str(finer_run), "--batch-size", "7",
               "--output", str(target)]
        subprocess.run(cmd, check=True, env=recipe_env(), cwd=ROOT, capture_output=True, timeout=600)
        scores[n] = json.loads(target.read_text())["scores"]
    assert scores[1]["num_sentences"] == scores[2]["num_sentences"] == one.test.num_sentences
    assert scores[1]["num_words"] == scores[2]["num_words"]
    assert scores[1]["confusion"] == scores[2]["confusion"]
    for key in ("f1", "precision", "recall", "accuracy"):
        assert scores[1][key] == scores[2][key]
