"""Few-NERD: the generator's Hub schema, IO -> IOB2 conversion, IO entity scores, and the tiny recipe runs."""

import os
import subprocess
import sys
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import pytest
from recipe_runs import ROOT, load_module

from hubtools.data.generate_fewnerd import FEWNERD_COARSE_LABELS, FEWNERD_FINE_LABELS, generate_fewnerd, type_words
from hubtools.data.normalize import normalize
from hubtools.data.schemes import to_iob2, types_of
from hubtools.data.validation import label_names_of
from hubtools.families.token_classification.recipe import TokenClassificationRecipe
from hubtools.metrics import io_entities, io_entity_scores
from hubtools.recipe.cli import recipe_parser, variant_configs
from hubtools.run import read_results


@pytest.fixture(scope="module")
def corpus():
    return generate_fewnerd(400, seed=1)


def test_label_lists_in_hub_order():
    assert FEWNERD_COARSE_LABELS == ["O", "art", "building", "event", "location", "organization", "other",
                                     "person", "product"]
    assert len(FEWNERD_FINE_LABELS) == 67
    assert FEWNERD_FINE_LABELS[:3] == ["O", "art-broadcastprogram", "art-film"]
    assert FEWNERD_FINE_LABELS[21:23] == ["location-GPE", "location-bodiesofwater"]
    assert FEWNERD_FINE_LABELS[-1] == "product-weapon"
    assert ["O", *dict.fromkeys(n.split("-")[0] for n in FEWNERD_FINE_LABELS[1:])] == FEWNERD_COARSE_LABELS


def test_schema_and_splits(corpus):
    assert {k: len(v) for k, v in corpus.items()} == {"train": 280, "validation": 40, "test": 80}
    features = corpus["train"].features
    assert list(features) == ["id", "tokens", "ner_tags", "fine_ner_tags"]
    assert features["id"].dtype == "string"
    assert features["ner_tags"].feature.names == FEWNERD_COARSE_LABELS
    assert features["fine_ner_tags"].feature.names == FEWNERD_FINE_LABELS
    assert corpus["test"][0]["id"] == "0"


def test_coarse_is_the_prefix_of_fine(corpus):
    coarse_names = FEWNERD_COARSE_LABELS
    entity_tokens = 0
    for row in corpus["train"]:
        assert len(row["tokens"]) == len(row["ner_tags"]) == len(row["fine_ner_tags"])
        for c, f in zip(row["ner_tags"], row["fine_ner_tags"]):
            assert coarse_names[c] == FEWNERD_FINE_LABELS[f].split("-")[0]
            entity_tokens += f != 0
    assert entity_tokens > 200


def test_each_clause_names_its_entity_types(corpus):
    for row in corpus["train"].select(range(100)):
        clause_tokens, clause_types = [], set()
        for token, fine in zip([*row["tokens"], ";"], [*row["fine_ner_tags"], 0]):
            if token == ";":
                text = " ".join(clause_tokens).lower()
                assert all(" ".join(type_words(t)) in text for t in clause_types), text
                clause_tokens, clause_types = [], set()
            else:
                clause_tokens.append(token)
                if fine:
                    clause_types.add(FEWNERD_FINE_LABELS[fine])


def test_each_fine_type_has_names_of_its_own(corpus):
    words_of = defaultdict(set)
    for row in corpus["train"]:
        for token, fine in zip(row["tokens"], row["fine_ner_tags"]):
            if fine:
                words_of[fine].add(token)
    assert len(words_of) > 30
    for a, b in combinations(words_of, 2):
        assert not words_of[a] & words_of[b], (FEWNERD_FINE_LABELS[a], FEWNERD_FINE_LABELS[b])


def test_adjacent_same_type_entities_merge_into_one(corpus):
    fine = normalize(corpus, tags_column="fine_ner_tags")["train"]
    coarse = normalize(corpus, tags_column="ner_tags")["train"]
    assert label_names_of(fine)[1:3] == ["B-art-broadcastprogram", "I-art-broadcastprogram"]
    assert types_of(label_names_of(coarse)) == FEWNERD_COARSE_LABELS[1:]
    names = label_names_of(fine)
    # "the two K entries A B were listed together": two names of one type read as one entity.
    row = next(i for i, tokens in enumerate(fine["tokens"]) if "entries" in tokens)
    tokens = fine[row]["tokens"]
    start = tokens.index("entries") + 1
    tags = [names[t] for t in fine[row]["ner_tags"][start:tokens.index("were", start)]]
    assert len(tags) >= 2 and tags[0].startswith("B-") and all(t == "I-" + tags[0][2:] for t in tags[1:])


def test_deterministic_for_a_seed(corpus):
    again, other = generate_fewnerd(400, seed=1), generate_fewnerd(400, seed=2)
    assert all(corpus[s].data.equals(again[s].data) for s in corpus)
    assert not corpus["train"].data.equals(other["train"].data)


@pytest.mark.parametrize(("io", "iob2"), [
    (["person", "person", "person"], ["B-person", "I-person", "I-person"]),              # adjacent same type merge
    (["art", "art", "person", "O"], ["B-art", "I-art", "B-person", "O"]),                 # type change
    (["O", "event", "O", "event"], ["O", "B-event", "O", "B-event"]),                     # single tokens
    (["location-GPE", "O"], ["B-location-GPE", "O"]),                                     # sentence-initial, fine
    (["O", "art-film", "art-music"], ["O", "B-art-film", "B-art-music"]),                 # fine type change
])
def test_io_to_iob2(io, iob2):
    assert to_iob2(io, "IO") == iob2


def test_io_entities_are_maximal_same_type_runs():
    assert io_entities(["B-X", "I-X", "B-X", "O", "B-Y", "B-X"]) == {(0, 3, "X"), (4, 5, "Y"), (5, 6, "X")}
    assert io_entities(["I-a-b", "I-a-c"]) == {(0, 1, "a-b"), (1, 2, "a-c")}
    assert io_entities(["O", "O"]) == set()


def test_io_entity_scores_hand_computed():
    gold = [["B-X", "I-X", "B-X", "O", "B-Y"], ["B-Y", "O"]]
    pred = [["B-X", "B-X", "I-X", "O", "B-X"], ["B-Y", "B-Y"]]
    # gold: X[0,3) Y[4,5) Y[0,1) -> 3; pred: X[0,3) X[4,5) Y[0,2) -> 3; correct: X[0,3) only.
    scores = io_entity_scores(gold, pred)
    assert scores == pytest.approx({"precision": 1 / 3, "recall": 1 / 3, "f1": 1 / 3})
    assert io_entity_scores([["O"]], [["O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    with pytest.raises(ValueError, match="gold sentences"):
        io_entity_scores(gold, pred[:1])


def _configs(*argv: str) -> dict:
    recipe = load_module("recipes/fewnerd.py")
    parser = recipe_parser("fewnerd")
    recipe.GRANULARITY.add_arguments(parser)
    args = parser.parse_args(list(argv))
    return variant_configs(TokenClassificationRecipe, args, ROOT / "recipes" / "configs" / "fewnerd.yaml",
                           recipe.GRANULARITY, recipe.GRANULARITY.selected(parser, args))


def test_granularity_selects_column_system_and_output_dir():
    coarse = _configs()["coarse"]
    assert (coarse.data.source, coarse.data.config_name, coarse.data.tags_column) == (
        "DFKI-SLT/few-nerd", "supervised", "ner_tags")
    assert (coarse.system, coarse.output_dir, coarse.data.name) == (
        "coarse", "runs/fewnerd-coarse", "few-nerd-supervised-coarse")
    assert coarse.training.learning_rate == 3e-5 and coarse.training.per_device_eval_batch_size == 8
    assert coarse.options.io_scores and coarse.options.references["coarse"]["f1"] == 0.7664
    fine = _configs("--preset", "tiny", "--granularity", "fine", "output_dir=/tmp/elsewhere")["fine"]
    assert (fine.data.tags_column, fine.system, fine.output_dir) == ("fine_ner_tags", "fine", "/tmp/elsewhere")
    assert fine.data.source == "generate:few-nerd" and fine.model.architecture == "bert"
    assert _configs("--preset", "tiny")["coarse"].output_dir == "runs/fewnerd-tiny-coarse"
    both = _configs("--granularity", "coarse,fine", "--output-dir", "out")
    assert {name: cfg.output_dir for name, cfg in both.items()} == {"coarse": "out/coarse", "fine": "out/fine"}


def _run_recipe(tmp_path: Path, granularity: str, *overrides: str):
    out = tmp_path / granularity
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "",
           "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(ROOT / "recipes" / "fewnerd.py"), "--preset", "tiny", "--no-export",
                    "--granularity", granularity, "--output-dir", str(out), *overrides],
                   check=True, env=env, cwd=tmp_path, capture_output=True)
    return read_results(out)


def _check_results(results, granularity: str, types: list[str]) -> None:
    assert results.system == granularity
    assert results.dataset.name == f"few-nerd-supervised-{granularity}"
    assert results.dataset.label_names == ["O"] + [f"{p}-{t}" for t in types for p in "BI"]
    present = {t for t, n in results.dataset.entity_counts["test"].items() if n}
    assert set(results.test.per_type) == present
    assert set(results.extra_scores["io"].values) == {"precision", "recall", "f1"}
    assert results.training.history and results.training.history[-1].epoch == pytest.approx(
        results.config["training"]["num_train_epochs"])


@pytest.mark.slow
def test_tiny_coarse_end_to_end(tmp_path):
    results = _run_recipe(tmp_path, "coarse", "data.generate.num_sentences=400", "training.num_train_epochs=5",
                          "training.per_device_train_batch_size=8")
    _check_results(results, "coarse", FEWNERD_COARSE_LABELS[1:])
    assert results.test.f1 > 0
    assert results.extra_scores["io"].values["f1"] > 0
    assert results.extra_scores["reference"].values["f1"] == 0.7664
    card = (tmp_path / "coarse" / "model" / "README.md").read_text()
    assert "| reference | published: original bert-base-uncased" in card


@pytest.mark.slow
def test_tiny_fine_end_to_end(tmp_path):
    results = _run_recipe(tmp_path, "fine", "data.generate.num_sentences=200", "training.num_train_epochs=1")
    _check_results(results, "fine", FEWNERD_FINE_LABELS[1:])
    assert results.extra_scores["reference"].definition.startswith("published: Ding et al. 2021")
