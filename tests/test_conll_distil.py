"""recipes/conll_distil.py end to end on generated CoNLL-2003 data (subprocesses, tiny models, no export)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from helpers import write_documents
from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

from hubtools.data.build import GENERATORS
from hubtools.data.generate_conll import CONLL_LABELS, generate_conll
from hubtools.data.validation import label_names_of
from hubtools.errors import ConfigError
from hubtools.evaluation import evaluate_run
from hubtools.families.distillation.recipe import DistillationRecipe, transfer_sentences
from hubtools.families.token_classification.model import permute_classifier
from hubtools.results import RunResults
from hubtools.run import read_results

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "recipes" / "configs" / "conll_distil.yaml"
# The tiny preset made lighter for the tests: fewer sentences (480 / 60 / 60) and epochs, no transfer set and no
# augmented copies unless a test adds them.
LIGHTER = ["data.generate={num_sentences: 600, seed: 0, splits: {train: 0.8, validation: 0.1, test: 0.1}}",
           "training.num_train_epochs=3",
           "distillation.teacher_training={num_train_epochs: 4}", "distillation.transfer={}", "distillation.augment=0"]


def start_recipe(output_dir: Path, *args: str) -> tuple[Path, subprocess.Popen]:
    """Start the tiny preset in a subprocess on one thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "recipes" / "conll_distil.py"), "--preset", "tiny", "--no-export",
               "--output-dir", str(output_dir), *args]
    return output_dir, subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)


def finish_recipe(started: tuple[Path, subprocess.Popen]) -> RunResults:
    """Wait for a started run and return its results."""
    output_dir, proc = started
    _, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr[-4000:]
    return read_results(output_dir)


def run_recipe(output_dir: Path, *args: str) -> RunResults:
    """Run the tiny preset in a subprocess and return its results."""
    return finish_recipe(start_recipe(output_dir, *args))


@pytest.fixture(scope="module")
def distilled(tmp_path_factory) -> tuple[Path, RunResults]:
    """The tiny preset with the teacher trained by the recipe; a 4-pair grid cut to 2 by the budget; a transfer
    set of 100 other generated sentences."""
    out = tmp_path_factory.mktemp("conll_distil") / "run"
    return out, run_recipe(out, "--search-budget", "2", *LIGHTER, "distillation.alphas=[0.5, 0.8]",
                           "distillation.temperatures=[1.0, 2.0]",
                           "distillation.transfer={generate: {num_sentences: 400, seed: 5}, skip: 20, "
                           "max_sentences: 100}")


def untrained_f1(run_dir: Path, tmp_path: Path) -> float:
    """Test F1 of the run's student architecture with random weights, scored like the run."""
    copy = tmp_path / "untrained"
    (copy / "model").mkdir(parents=True)
    shutil.copy(run_dir / "results.json", copy / "results.json")
    (copy / "dataset").symlink_to(run_dir / "dataset")
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_config(AutoConfig.from_pretrained(run_dir / "model"))
    model.save_pretrained(copy / "model")
    AutoTokenizer.from_pretrained(run_dir / "model").save_pretrained(copy / "model")
    return evaluate_run(copy).f1


def test_distillation_section_is_validated():
    cfg = DistillationRecipe.load_config(CONFIG, "tiny", ["distillation.search_budget=3",
                                                           "distillation.temperatures=[1, 3]"])
    assert cfg.options.trains_teacher and cfg.options.search_budget == 3
    assert cfg.options.temperatures == [1, 3]
    assert DistillationRecipe.load_config(CONFIG).options.teacher == "dslim/bert-base-NER"
    assert cfg.to_dict()["distillation"]["search_budget"] == 3  # recorded under its own key
    for bad in ("distillation.alphas=[1.5]", "distillation.temperatures=[0]", "distillation.search_budget=0",
                "distillation.alpha=0.5", "distillation.transfer={splits: train}", "distillation.transfer={skip: -1}"):
        with pytest.raises(ConfigError, match="distillation"):
            DistillationRecipe.load_config(CONFIG, "tiny", [bad])


def test_transfer_set_selection_and_errors():
    def cfg(*overrides: str):
        return DistillationRecipe.load_config(CONFIG, "tiny", list(overrides))

    chosen = cfg("distillation.transfer={split: validation, skip: 5, max_sentences: 3}",
                 "data.max_samples={validation: 4}")
    # the preset's transfer set is replaced whole: this one is the data section's own validation split
    assert chosen.options.transfer == {"split": "validation", "skip": 5, "max_sentences": 3}
    generated = generate_conll(num_sentences=2500, seed=0, splits={"train": 0.2, "validation": 0.12, "test": 0.68})
    assert transfer_sentences(chosen) == generated["validation"]["tokens"][5:8]
    assert cfg().options.transfer == {"generate": {"num_sentences": 2500, "seed": 1}}
    assert cfg("distillation.transfer={}").options.transfer == {}
    for spec, match in [("{split: dev}", "split 'dev' not in"), ("{skip: 100000}", "selects no sentence")]:
        with pytest.raises(ConfigError, match=match):
            transfer_sentences(cfg(f"distillation.transfer={spec}"))


def test_generate_conll_schema_and_determinism():
    dsd = generate_conll(num_sentences=200, seed=3)
    assert GENERATORS["conll2003"] is generate_conll
    assert {split: len(ds) for split, ds in dsd.items()} == {"train": 160, "validation": 20, "test": 20}
    assert label_names_of(dsd["train"]) == CONLL_LABELS
    assert dsd["train"][:5] == generate_conll(num_sentences=200, seed=3)["train"][:5]
    assert dsd["train"][:5] != generate_conll(num_sentences=200, seed=4)["train"][:5]
    tags = {CONLL_LABELS[t] for row in dsd["train"]["ner_tags"] for t in row}
    assert tags == set(CONLL_LABELS)
    for tokens, row in zip(dsd["train"]["tokens"], dsd["train"]["ner_tags"], strict=True):
        tags = ["O", *(CONLL_LABELS[t] for t in row)]
        assert len(tokens) == len(row)
        assert all(tag[2:] == before[2:] for before, tag in zip(tags, tags[1:]) if tag.startswith("I-"))  # IOB2

@pytest.mark.slow
def test_distilled_student_learns_and_results_compare_three_models(distilled, tmp_path):
    out, results = distilled
    assert results.recipe == "conll_distil" and results.card_sections == ["distillation"]
    assert (out / "model" / "config.json").is_file() and (out / "dataset" / "test.parquet").is_file()
    assert not (out / "checkpoints").exists()
    dist = results.distillation
    # sibling runs are recorded relative to the folder that holds the run: no machine path in results.json
    assert dist.teacher.run == f"{out.name}-teacher" and dist.student_alone.run == f"{out.name}-student-alone"
    assert dist.teacher.trained_by_recipe and (out.parent / dist.teacher.run / "results.json").is_file()
    assert [row.name_or_path for row in dist.comparison] == [f"{out.name}-teacher/model", out.name,
                                                             f"{out.name}-student-alone"]
    rows = {row.model: row for row in dist.comparison}
    assert set(rows) == {"teacher", "student (distilled)", "student (alone)"}
    for row in rows.values():
        assert 0 < row.f1 <= 1 and row.parameters > 0 and row.size_bytes > 0 and row.words_per_second > 0
    assert rows["student (distilled)"].parameters < rows["teacher"].parameters
    # the table scores the run's own model the same way the run's test evaluation does
    assert rows["student (distilled)"].f1 == pytest.approx(results.test.f1, abs=1e-9)
    assert rows["student (distilled)"].f1 > untrained_f1(out, tmp_path) + 0.3
    assert rows["student (distilled)"].f1 > 0.6


@pytest.mark.slow
def test_transfer_set_and_card_section(distilled):
    out, results = distilled
    dist = results.distillation
    train = generate_conll(num_sentences=400, seed=5)["train"]["tokens"][20:120]
    assert (dist.transfer.sentences, dist.transfer.words) == (100, sum(map(len, train)))
    assert dist.transfer.spec == {"skip": 20, "max_sentences": 100, "generate": {"num_sentences": 400, "seed": 5}}
    assert dist.training_sentences == results.dataset.splits["train"]
    # the throughput counts every word trained on: the labelled split and the transfer set
    labelled = sum(map(len, Dataset.from_parquet(str(out / "dataset" / "train.parquet"))["tokens"]))
    assert results.timings.train_words_per_second == pytest.approx(
        (labelled + dist.transfer.words) * results.config["training"]["num_train_epochs"]
        / results.timings.train_s, rel=0.01)
    card = (out / "model" / "README.md").read_text()
    section = card[card.index("## Distillation"):card.index("## Reproduce")]
    assert f"alpha = {dist.alpha} and T = {dist.temperature}" in section
    assert f"teacher read a transfer set of\n100 unlabelled sentences ({dist.transfer.words} words)" in section
    for row in dist.comparison:
        assert f"| {row.model} | {row.f1:.4f} | {row.precision:.4f} |" in section
    assert section.count("| 0.5 | ") == 2 and "validation f1" in section


@pytest.mark.slow
def test_search_table_respects_the_budget(distilled):
    out, results = distilled
    dist = results.distillation
    assert [(row.alpha, row.temperature) for row in dist.search] == [(0.5, 1.0), (0.5, 2.0)]
    best = max(dist.search, key=lambda row: row.score)
    assert (dist.alpha, dist.temperature) == (best.alpha, best.temperature)
    assert all(0 < row.score <= 1 for row in dist.search)
    # the run trains the best pair again with the same seed: the model the search validated, whose test scores
    # the card publishes
    searched = read_results(out.with_name(f"{out.name}-search") / f"a{best.alpha:g}-t{best.temperature:g}")
    assert results.training.best_validation_f1 == searched.training.best_validation_f1 == best.score
    assert (results.test.f1, results.test.precision, results.test.recall) == (
        searched.test.f1, searched.test.precision, searched.test.recall)
    card = (out / "model" / "README.md").read_text()
    assert f"| student (distilled) | {searched.test.f1:.4f} |" in card


@pytest.mark.slow
def test_teacher_with_another_label_order_is_mapped_by_name(distilled, tmp_path):
    first_out, first = distilled
    teacher_dir = first_out.parent / first.distillation.teacher.model
    teacher = AutoModelForTokenClassification.from_pretrained(teacher_dir)
    names = [teacher.config.id2label[i] for i in range(teacher.config.num_labels)]
    order = [0, 7, 8, 1, 2, 3, 4, 5, 6]  # dslim/bert-base-NER's order: O, MISC, PER, ORG, LOC
    permute_classifier(teacher, order, [names[i] for i in order])
    permuted = tmp_path / "teacher"
    teacher.save_pretrained(permuted)
    AutoTokenizer.from_pretrained(teacher_dir).save_pretrained(permuted)
    assert json.loads((permuted / "config.json").read_text())["id2label"]["1"] == "B-MISC"

    results = run_recipe(tmp_path / "run", *LIGHTER, f"distillation.teacher={permuted}", "distillation.alphas=[0.5]",
                         "distillation.temperatures=[2.0]", "distillation.augment=2")
    dist = results.distillation
    # no transfer set, but two word-replaced copies of each training sentence, which the card describes
    assert dist.transfer.sentences == 2 * dist.training_sentences
    assert dist.transfer.spec == {"augment": 2, "augment_rate": 0.3}
    card = (tmp_path / "run" / "model" / "README.md").read_text()
    assert "among them 2 copies of each training sentence with a share of 0.3 of the words" in " ".join(card.split())
    assert dist.teacher.label_permutation == [0, 3, 4, 5, 6, 7, 8, 1, 2]
    assert not dist.teacher.trained_by_recipe
    teacher_row, first_teacher_row = dist.comparison[0], first.distillation.comparison[0]
    assert teacher_row.f1 == pytest.approx(first_teacher_row.f1, abs=1e-6)  # by index it would collapse
    # one (alpha, T) pair: no search run, the run itself is the one row, scored by its best validation F1
    assert not (tmp_path / "run-search").exists()
    assert [(row.alpha, row.temperature) for row in dist.search] == [(0.5, 2.0)]
    assert dist.search[0].score == pytest.approx(results.training.best_validation_f1)
    assert dist.comparison[1].f1 > 0.6


@pytest.mark.slow
def test_document_context_teacher_and_students_read_sentences_in_their_documents(tmp_path):
    """With model.document_context the teacher's logits of each training sentence come from reading it in its
    document; every model of the comparison is scored the way its own run scores it, with context."""
    data = write_documents(tmp_path / "docs", {"train": 500, "validation": 40, "test": 60})
    out = tmp_path / "run"
    results = run_recipe(out, *LIGHTER[1:], f"data.source={data}", "data.name=documents", "data.generate={}",
                         "model.document_context=48", "distillation.alphas=[0.5]", "distillation.temperatures=[2.0]",
                         "distillation.teacher_training={num_train_epochs: 8, per_device_train_batch_size: 8, "
                         "learning_rate: 1.0e-3}")
    dist = results.distillation
    assert results.model.document_context == 48
    teacher_run = read_results(out.parent / dist.teacher.run)
    rows = {row.model: row for row in dist.comparison}
    # each model scored as its own run scores it: in its document
    assert rows["teacher"].f1 == pytest.approx(teacher_run.test.f1, abs=1e-9)
    assert rows["student (distilled)"].f1 == pytest.approx(results.test.f1, abs=1e-9)
    alone = read_results(out.parent / dist.student_alone.run)
    assert rows["student (alone)"].f1 == pytest.approx(alone.test.f1, abs=1e-9)
    # the context decides the type here: the teacher read alone is a guess
    assert teacher_run.test.f1 > teacher_run.extra_scores["sentences_alone"].values["f1"] + 0.1
    card = " ".join((out / "model" / "README.md").read_text().split())
    assert "each sentence read with up to 48 sub-tokens of its document around it" in card


@pytest.fixture(scope="module")
def tiny_twice(tmp_path_factory) -> tuple[Path, RunResults, RunResults]:
    """The tiny preset as a user runs it (its seed, no override), twice: one seed, one result."""
    root = tmp_path_factory.mktemp("tiny_twice")
    first, second = start_recipe(root / "first"), start_recipe(root / "second")  # side by side, one core each
    return root, finish_recipe(first), finish_recipe(second)


def comparison(results: RunResults) -> dict[str, tuple[float, float, float]]:
    return {row.model: (row.f1, row.precision, row.recall) for row in results.distillation.comparison}


@pytest.mark.slow
def test_the_tiny_preset_gives_one_result_per_seed_and_distils_a_better_student(tiny_twice):
    root, first, second = tiny_twice
    assert comparison(first) == comparison(second) and first.test == second.test
    assert [row.score for row in first.distillation.search] == [row.score for row in second.distillation.search]
    assert (root / "first" / "model" / "vocab.txt").read_text() == (root / "second" / "model" / "vocab.txt").read_text()
    scores = {model: f1 for model, (f1, _, _) in comparison(first).items()}
    assert scores["student (distilled)"] > scores["student (alone)"]
    # what the card publishes is the model the run trained and validated
    assert scores["student (distilled)"] == pytest.approx(first.test.f1, abs=1e-9)
    card = (root / "first" / "model" / "README.md").read_text()
    assert f"| student (distilled) | {first.test.f1:.4f} |" in card
