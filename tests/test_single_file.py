"""``hubtools evaluate`` and ``hubtools predict`` on one data file (CoNLL columns, JSON lines, parquet), which is
read as the split ``train``: without ``--split`` that one split is scored and tagged, the output says which and
results.json records it; ``--split`` still picks one where there are several. Through ``python -m hubtools``
in a fresh process and through the Python API, with a tiny untrained tagger."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import concatenate_datasets
from helpers import run_results
from recipe_runs import ROOT, recipe_env
from tiny_ner import LABELS, ner_dataset, save_tiny_model

from hubtools import metrics
from hubtools.errors import UsageError
from hubtools.evaluation import evaluate_model
from hubtools.metrics import ids_to_tags
from hubtools.paths import portable
from hubtools.run import read_results, write_results
from hubtools.tagging import chosen_split, data_argument

SUFFIXES = ("conll", "jsonl", "parquet")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A run folder around a tiny untrained tagger (evaluations are recorded into its results.json)."""
    run = tmp_path_factory.mktemp("single") / "run"
    save_tiny_model(run / "model")
    write_results(run, run_results(label_names=LABELS))
    return run


def sentences():
    """Every sentence of the tiny dataset, one split."""
    return concatenate_datasets(list(ner_dataset().values()))


def write_file(folder: Path, suffix: str) -> Path:
    """The tiny dataset's sentences as one ``data.SUFFIX`` file."""
    ds, path = sentences(), folder / f"data.{suffix}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = list(zip(ds["tokens"], ids_to_tags(ds["ner_tags"], LABELS), strict=True))
    if suffix == "parquet":
        ds.to_parquet(str(path))
    elif suffix == "jsonl":
        path.write_text("".join(json.dumps({"tokens": tokens, "ner_tags": tags}) + "\n" for tokens, tags in rows))
    else:
        path.write_text("\n".join("".join(f"{t} {g}\n" for t, g in zip(tokens, tags, strict=True))
                                  for tokens, tags in rows))
    return path


def hubtools(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubtools", *args], env=recipe_env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_evaluate_and_predict_score_the_one_split_of_a_file(run, suffix, tmp_path):
    data = write_file(tmp_path, suffix)
    out = tmp_path / "evaluation.json"
    proc = hubtools("evaluate", str(run), "--data", str(data), "--output", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"on data ({portable(str(data))}), split train: 4 sentences, 23 words" in proc.stdout
    evaluation = json.loads(out.read_text())
    assert evaluation["split"] == evaluation["scores"]["split"] == "train"
    recorded = [e for e in read_results(run).evaluations if e.source == portable(str(data))]
    assert [(e.split, e.scores.f1) for e in recorded] == [("train", evaluation["scores"]["f1"])]

    tagged = tmp_path / "tagged.jsonl"
    proc = hubtools("predict", str(run), "--data", str(data), "--variant", "pytorch", "--output", str(tagged))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("4 sentences of split train tagged by ")
    rows = [json.loads(line) for line in tagged.read_text().splitlines()]
    assert [(r["split"], r["tokens"]) for r in rows] == [("train", tokens) for tokens in sentences()["tokens"]]


def test_the_python_api_scores_the_one_split_and_split_still_picks_among_several(run, tmp_path):
    ds = sentences()
    evaluation, source = evaluate_model(str(run), data_argument(str(write_file(tmp_path, "conll"))))
    predicted = ids_to_tags(source.decoder().tag(ds), LABELS)
    assert evaluation.split == evaluation.scores.split == "train" and evaluation.scores.num_sentences == len(ds)
    assert evaluation.scores.f1 == metrics.entity_scores(ids_to_tags(ds["ner_tags"], LABELS), predicted)["f1"]
    folder = tmp_path / "folder"
    folder.mkdir()
    for split, part in ner_dataset().items():
        part.to_parquet(str(folder / f"{split}.parquet"))
    assert evaluate_model(str(run), data_argument(str(folder)))[0].split == "test"
    assert evaluate_model(str(run), data_argument(str(folder)), split="validation")[0].scores.num_sentences == 1
    splits = {"train": ds, "test": ds}
    assert chosen_split({"train": ds}, None, "x") == "train" and chosen_split(splits, None, "x") == "test"
    assert chosen_split(splits, None, "x", default=None) is None
    with pytest.raises(UsageError, match=r"^--split 'test': --data x has the splits train$"):
        chosen_split({"train": ds}, "test", "x")
