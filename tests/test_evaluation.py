"""Cross-dataset evaluation (``hubtools evaluate RUN_OR_REPO --data SRC``): type matching and its label map,
what is reported for the types one side lacks, the typed record in results.json, the card and model-index it
feeds, and the one-line errors before any scoring. A tiny untrained tagger built on the spot stands in for a
trained model (tests/test_evaluate_e2e.py uses a trained run)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from datasets import concatenate_datasets
from helpers import run_results
from tiny_ner import LABELS, ner_dataset, save_tiny_model

from hubtools import metrics
from hubtools.cards.checks import check_model_index, table_problems
from hubtools.cards.data import CardContext, NerModelCardData, indexed_evaluations
from hubtools.cards.render import render, template_dirs
from hubtools.cards.rules import front_matter, metadata_problems
from hubtools.cli import main
from hubtools.errors import UsageError
from hubtools.evaluation import (
    TypeMatch,
    entity_counts,
    evaluate_model,
    evaluate_run,
    format_evaluation,
    match_types,
    parse_label_map,
    score_matched,
)
from hubtools.families.token_classification.features import tokenize_with_context
from hubtools.metrics import ids_to_tags
from hubtools.results import DatasetEvaluation, RunResults
from hubtools.run import read_results, write_results
from hubtools.tagging import data_argument, resolve_model

CARDS = Path(__file__).resolve().parents[1] / "cards"  # this checkout's templates (see test_card_transformers_js)


def test_label_map_parses_model_to_data_pairs():
    assert parse_label_map("PER=person, LOC=place") == {"PER": "person", "LOC": "place"}
    assert parse_label_map(None) == {}
    with pytest.raises(UsageError, match=r"^--label-map 'PER': 'PER' is not MODEL_TYPE=DATA_TYPE$"):
        parse_label_map("PER")
    with pytest.raises(UsageError, match="model type 'PER' is mapped twice"):
        parse_label_map("PER=person,PER=people")


def test_types_match_by_name_and_through_the_map():
    match = match_types(["PER", "LOC", "GPE", "MISC"], ["PER", "place", "DATE"], {"LOC": "place", "GPE": "place"})
    assert match.label_map == {"PER": "PER", "LOC": "place", "GPE": "place"}
    assert match.model_only == ["MISC"] and match.data_only == ["DATE"]
    assert match.scored_types == ["PER", "place"]


@pytest.mark.parametrize(("label_map", "message"), [
    ({"ORG": "PER"}, r"^--label-map names model type\(s\) \['ORG'\] that the model does not have; its types: "
                     r"PER, LOC$"),
    ({"LOC": "city"}, r"^--label-map names data type\(s\) \['city'\] that --data x does not have; its types: PER, "
                      r"place$"),
])
def test_a_label_map_naming_a_missing_type_is_refused(label_map, message):
    with pytest.raises(UsageError, match=message):
        match_types(["PER", "LOC"], ["PER", "place"], label_map, "--data x")


def test_a_dataset_without_a_shared_type_is_refused():
    with pytest.raises(UsageError, match=r"^--data x: no entity type in common with the model \(model: PER, LOC; "
                                         r"data: person, place\); map them with --label-map"):
        match_types(["PER", "LOC"], ["person", "place"], {}, "--data x")


def test_unshared_types_are_counted_and_never_scored():
    gold = [["B-person", "I-person", "O", "B-DATE"], ["B-place", "O", "B-DATE", "I-DATE"]]
    pred = [["B-PER", "I-PER", "O", "B-MISC"], ["B-LOC", "B-MISC", "I-MISC", "O"]]
    match = TypeMatch({"PER": "person", "LOC": "place"}, ["MISC"], ["DATE"])
    scores, model_only, data_only = score_matched(gold, pred, match)
    # the MISC predictions over DATE words are neither false positives nor hits; DATE is no miss
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)
    assert set(scores.per_type) == {"person", "place"} and scores.per_type["person"].support == 1
    assert model_only == {"MISC": 2} and data_only == {"DATE": 2}
    assert scores.confusion.labels == ["O", "person", "place"]


def test_a_stray_inside_tag_counts_as_an_entity():
    assert entity_counts([["O", "I-MISC", "I-MISC", "O", "B-MISC"]], ["MISC", "PER"]) == {"MISC": 2, "PER": 0}


def test_data_argument_reads_a_source_and_refuses_building_keys():
    cfg = data_argument("generate:conll2003", ["scheme=IOB1", "name=conll-like", "strip_token_prefix=en:",
                                               "config_name=2022", "filters={lang: en}"])
    assert (cfg.scheme, cfg.name, cfg.strip_token_prefix, cfg.config_name) == ("IOB1", "conll-like", "en:", "2022")
    assert cfg.filters == {"lang": "en"}  # values of other keys are YAML
    with pytest.raises(UsageError, match=r"^--data-option num_types: builds a training dataset"):
        data_argument("generate:conll2003", ["num_types=2"])


def evaluation(variant: str = "pytorch", dataset: str = "other-ner", f1: float = 0.5, **changes) -> DatasetEvaluation:
    scores = run_results(f1=f1, label_names=["O", "B-person", "I-person"]).test
    values = dict(dataset=dataset, source="PATH/other", split="test", variant=variant,
                  label_map={"PER": "person"}, model_only={"LOC": 3}, data_only={"DATE": 7}, scores=scores,
                  model="runs/test", created="2026-11-30T00:00:00+00:00", machine="test", seconds=1.0)
    return DatasetEvaluation(**{**values, **changes})


def test_results_without_evaluations_still_load_and_record_replaces_the_same_target(tmp_path):
    results = run_results(f1=0.8)
    data = results.to_dict()
    del data["evaluations"]  # a results.json written before cross-dataset evaluation
    assert RunResults.from_dict(data).evaluations == []
    results = results.with_evaluation(evaluation(f1=0.1))
    results = results.with_evaluation(evaluation("onnx_int8", f1=0.2))
    results = results.with_evaluation(evaluation(f1=0.3))  # the same dataset, split and variant again: replaces
    assert [(e.variant, e.scores.f1) for e in results.evaluations] == [("onnx_int8", 0.2), ("pytorch", 0.3)]
    write_results(tmp_path, results)
    assert read_results(tmp_path) == results


def card_values(results: RunResults) -> dict:
    context = CardContext.build(results)
    return {"results": results, **{k: v for k, v in dataclasses.asdict(context).items() if v is not None}}


def test_model_index_lists_each_evaluated_dataset_once_and_passes_the_hub_rules():
    results = run_results(f1=0.8)
    hub = evaluation(dataset="wikiann", hub_id="unimelb-nlp/wikiann", source="unimelb-nlp/wikiann",
                     source_config="en", f1=0.6)
    results.evaluations = [evaluation("onnx_int8", f1=0.4), evaluation(f1=0.5), hub,
                           evaluation(dataset=results.dataset.name, f1=0.8)]  # the run's own test: no entry
    assert [(e.dataset, e.variant) for e in indexed_evaluations(results)] == [("other-ner", "pytorch"),
                                                                              ("wikiann", "pytorch")]
    meta = front_matter(f"---\n{NerModelCardData.from_results(results).to_yaml()}\n---\n")
    assert metadata_problems(meta) == [] and check_model_index(meta, results) == []
    datasets = [r["dataset"] for r in meta["model-index"][0]["results"]]
    assert datasets == [{"name": "test-data", "type": "test-data", "split": "test"},
                        {"name": "other-ner", "type": "other-ner", "split": "test"},
                        {"name": "wikiann", "type": "unimelb-nlp/wikiann", "config": "en", "split": "test"}]
    f1 = {r["dataset"]["name"]: r["metrics"][0]["value"] for r in meta["model-index"][0]["results"]}
    assert f1 == {"test-data": 0.8, "other-ner": 0.5, "wikiann": 0.6}
    results.evaluations[1].scores.f1 = 0.55  # a model-index that no longer says what results.json says
    assert check_model_index(meta, results) == ["model-index test f1 of other-ner = 0.5, results.json has 0.55"]


def test_card_table_says_which_types_were_scored_and_which_not():
    results = run_results(f1=0.8)
    results.evaluations = [evaluation(), evaluation("onnx_int8", model_only={}, data_only={}),
                           evaluation(dataset="wikiann", hub_id="unimelb-nlp/wikiann", source_config="en")]
    text = render("model_card.md.j2", card_values(results), template_dirs(CARDS))
    section = text[text.index("## Evaluation on other datasets"):text.index("## Reproduce")]
    assert "| other-ner | test | pytorch | 1 | 1 | 0.5000 | 0.5000 | 0.5000 | 1.0000 |" in section
    assert "| [wikiann](https://huggingface.co/datasets/unimelb-nlp/wikiann) (en) | test | pytorch |" in section
    assert "| other-ner | test | onnx_int8 | PER -> person | 0.5000 | 0.5000 | 0.5000 | 1 |" in section
    assert "| other-ner | test | pytorch | LOC | the model | 3 predicted |" in section
    assert "| other-ner | test | pytorch | DATE | the dataset | 7 gold |" in section
    assert "onnx_int8 | LOC" not in section and table_problems(text) == []
    results.evaluations = []
    assert "Evaluation on other datasets" not in render("model_card.md.j2", card_values(results),
                                                        template_dirs(CARDS))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def renamed(tag: str, rename: dict[str, str | None]) -> str:
    """``tag`` with its type renamed (None: ``O``)."""
    new = rename.get(tag[2:], tag[2:]) if tag != "O" else None
    return "O" if new is None else f"{tag[:2]}{new}"


def write_renamed(folder: Path, rename: dict[str, str | None]) -> Path:
    """The tiny dataset's test split as JSON lines, its types renamed."""
    test = ner_dataset()["test"]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "test.jsonl", "w") as fh:
        for tokens, tags in zip(test["tokens"], ids_to_tags(test["ner_tags"], LABELS), strict=True):
            fh.write(json.dumps({"tokens": tokens, "ner_tags": [renamed(t, rename) for t in tags]}) + "\n")
    return folder


def test_evaluate_a_model_folder_through_a_label_map(tiny_model, tmp_path):
    data = data_argument(str(write_renamed(tmp_path / "other", {"PER": "person", "LOC": None})))
    result, source = evaluate_model(str(tiny_model), data, label_map="PER=person")
    assert source.run_dir is None and result.model == source.name
    assert result.label_map == {"PER": "person"} and list(result.data_only) == [] and list(result.model_only) == ["LOC"]
    test = ner_dataset()["test"]
    predicted = ids_to_tags(source.decoder().tag(test), LABELS)
    rename = {"PER": "person", "LOC": None}
    expected = metrics.test_scores([[renamed(t, rename) for t in s] for s in ids_to_tags(test["ner_tags"], LABELS)],
                           [[renamed(t, rename) for t in s] for s in predicted], ["person"])
    assert result.scores == expected
    assert result.model_only == {"LOC": entity_counts(predicted, ["LOC"])["LOC"]}
    table = format_evaluation(result)
    assert "PER -> person" in table and "not scored (set to O before scoring" in table
    assert f"  model types the dataset lacks (entities the model predicted):\n  {result.model_only['LOC']:7d}  LOC" \
        in table


def test_bad_arguments_fail_in_one_line_before_any_scoring(tiny_model, tmp_path, capsys):
    not_classifier = tmp_path / "encoder"
    not_classifier.mkdir()
    (not_classifier / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    span = tmp_path / "span"
    span.mkdir()
    (span / "config.json").write_text(json.dumps({"architectures": ["SpanMarkerModel"], "model_type": "span-marker"}))
    cases = [
        ([str(not_classifier), "--data", "generate:conll2003"],
         f"RUN_OR_REPO '{not_classifier}': not a token classifier (config.json architectures ['BertModel']"),
        ([str(span), "--data", "generate:conll2003"],
         f"RUN_OR_REPO '{span}': config.json has no label names (id2label: O and the entity types)"),
        ([str(tmp_path / "none"), "--data", "generate:conll2003"],
         f"RUN_OR_REPO '{tmp_path / 'none'}': no such run folder or model folder"),
        ([str(tiny_model), "--data", "generate:nothing"], "--data generate:nothing: data.source 'generate:nothing'"),
        ([str(tiny_model), "--data", "generate:conll2003", "--label-map", "PER=PERSON"],
         "--label-map names data type(s) ['PERSON'] that --data generate:conll2003 does not have"),
        ([str(tiny_model), "--data", "generate:conll2003", "--split", "dev"],
         "--split 'dev': --data generate:conll2003 has the splits train, validation, test"),
        ([str(tiny_model), "--data", "generate:finer-139", "--data-option", "generate={num_sentences: 50}"],
         "--data generate:finer-139: no entity type in common with the model"),
        ([str(tiny_model), "--variant", "onnx_int8", "--data", "generate:conll2003"],
         f"--variant onnx_int8: {tiny_model} has no onnx/model_quantized.onnx"),
        ([str(tiny_model)], f"--data is needed: {tiny_model} is not a run folder"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_:
            main(["evaluate", *args])
        stderr = capsys.readouterr().err
        assert exit_.value.code == 2 and "Traceback" not in stderr, stderr[-2000:]
        assert stderr.strip().splitlines()[-1].startswith(f"hubtools evaluate: error: {message}"), (stderr, message)


def test_a_model_folder_resolves_without_a_run():
    with pytest.raises(UsageError, match=r"^--variant 'fp16': expected one of pytorch, onnx"):
        resolve_model(".", "fp16")


def test_a_document_context_model_reads_each_sentence_with_its_neighbours(tiny_model, tmp_path):
    """A model folder whose results say it reads document context: a split with documents is tokenized with
    the neighbouring sentences around each one (as the recipe scored it), and only the sentence's own words get
    tags; without documents every sentence is read alone."""
    folder = Path(shutil.copytree(tiny_model, tmp_path / "context-model"))
    write_results(folder, run_results(label_names=LABELS, document_context=40))
    test = concatenate_datasets(list(ner_dataset().values()))
    docs = test.add_column("document_id", ["d"] * len(test)).add_column("sentence_id", list(range(len(test))))
    tagger = resolve_model(str(folder)).decoder()
    assert tagger.document_context == 40
    features = tagger.features(docs)
    expected = tokenize_with_context(docs, tagger.tokenizer, 64, 8, 40, label_column=None)
    assert features["input_ids"] == expected["input_ids"]
    alone = tagger.features(test)
    assert sum(map(len, features["input_ids"])) > sum(map(len, alone["input_ids"]))
    tags = tagger.tag(docs)
    assert [len(t) for t in tags] == [len(t) for t in test["tokens"]]
    assert tags != tagger.tag(test)  # the neighbours change this untrained model's tags
    assert resolve_model(str(tiny_model)).decoder().features(docs)["input_ids"] == alone["input_ids"]
    # a run folder of that model: its saved split is scored with the same neighbours (document columns kept)
    run = tmp_path / "run"
    shutil.copytree(folder, run / "model")
    shutil.move(run / "model" / "results.json", run / "results.json")
    (run / "dataset").mkdir()
    docs.to_parquet(str(run / "dataset" / "test.parquet"))
    expected_scores = metrics.test_scores(ids_to_tags(docs["ner_tags"], LABELS), ids_to_tags(tags, LABELS),
                                          ["PER", "LOC"])
    assert evaluate_run(run) == expected_scores
