"""Golden tests of the model and dataset cards, rendered from a real (trimmed) finer tiny results.json.

tests/fixtures/finer_tiny_results.json comes from a real run of the finer tiny recipe (analysis counts trimmed);
tests/fixtures/export_section.json is a hand-written, plausible ``export`` section (not measured).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard, ModelCard, metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results

from hubtools import cards
from hubtools.cards import check_cards, render_cards
from hubtools.errors import CardError

FIXTURES = Path(__file__).parent / "fixtures"
RESULTS = json.loads((FIXTURES / "finer_tiny_results.json").read_text())
EXPORT = json.loads((FIXTURES / "export_section.json").read_text())["export"]
MODEL_REPO, DATASET_REPO = "acme/finer-tiny-ner", "acme/finer-selected-4-labels"
RUN_FILES = ["model/config.json", "plots/training_curves.png", "plots/confusion_matrix.png",
             "dataset/train.parquet", "dataset/validation.parquet", "dataset/test.parquet",
             "dataset/entity_distribution.png", "onnx/model.onnx", "onnx/model_quantized.onnx"]


def make_run(root: Path, results: dict) -> Path:
    """A run folder with results.json and placeholder files wherever the cards link."""
    run = root / "run"
    for name in RUN_FILES:
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(b"{}" if name.endswith(".json") else b"placeholder")
    (run / "results.json").write_text(json.dumps(results))
    return run


@pytest.fixture
def results() -> dict:
    return {**copy.deepcopy(RESULTS), "export": copy.deepcopy(EXPORT)}


@pytest.fixture
def run(tmp_path: Path, results: dict) -> Path:
    return make_run(tmp_path, results)


def rendered(run: Path, **repo_ids: str) -> tuple[str, str]:
    model_path, dataset_path = render_cards(run, **repo_ids)
    return model_path.read_text(), dataset_path.read_text()


def test_model_card_metadata(run: Path, results: dict) -> None:
    text, _ = rendered(run, model_repo_id=MODEL_REPO, dataset_repo_id=DATASET_REPO)
    data = ModelCard(text).data
    assert data.language == ["en"] and data.license == "cc-by-sa-4.0"
    assert data.library_name == "transformers" and data.pipeline_tag == "token-classification"
    assert {"finance", "xbrl", "financial-ner", "onnx"} <= set(data.tags)
    assert data.datasets == [DATASET_REPO] and data.base_model is None
    assert data.metrics == ["f1", "precision", "recall", "accuracy"]
    assert [w["text"] for w in data.widget] == results["config"]["publish"]["widget"]
    name, evals = model_index_to_eval_results(metadata_load(run / "model" / "README.md")["model-index"])
    assert name == "finer-tiny-ner"
    assert {e.metric_type: e.metric_value for e in evals} == {m: results["test"][m] for m in
                                                              ("f1", "precision", "recall", "accuracy")}
    assert {(e.task_type, e.dataset_type, e.dataset_name, e.dataset_split) for e in evals} == {
        ("token-classification", DATASET_REPO, "finer-selected-4-labels", "test")}
    assert re.search(r"^---\ndatasets:\n- acme/finer-selected-4-labels\nlanguage:\n- en\n"
                     r"library_name: transformers\nlicense: cc-by-sa-4.0\n.*"
                     r"pipeline_tag: token-classification\n.*model-index:\n- name: finer-tiny-ner\n.*"
                     r"- type: accuracy\n +value: 0\.9653475093522347\n.*\n---\n", text, re.S)


def test_model_card_body(run: Path, results: dict) -> None:
    text, _ = rendered(run, model_repo_id=MODEL_REPO, dataset_repo_id=DATASET_REPO)
    history, per_type = results["history"], results["per_type"]
    pattern = (
        r"\n# finer-tiny-ner\n\nTags four XBRL entity types.*"
        r"It is a DistilBertForTokenClassification trained from scratch on "
        r"\[finer-selected-4-labels\]\(https://huggingface\.co/datasets/acme/finer-selected-4-labels\).*"
        r"\| Parameters \| 462985 \|.*"
        r"## Labels.*\| 0 \| O \|\n\| 1 \| B-Revenues \|.*\| 8 \| I-IncomeTaxExpenseBenefit \|\n.*"
        r"## Intended uses and limitations.*"
        r"## How to use.*pipeline\(\"token-classification\", model=\"acme/finer-tiny-ner\", "
        r"aggregation_strategy=\"first\"\)\nner\(\"The Company recorded amortization.*"
        r"ORTModelForTokenClassification\.from_pretrained\(\"acme/finer-tiny-ner\", subfolder=\"onnx\", "
        r"file_name=\"model_quantized\.onnx\", session_options=options\).*"
        r"`model_quantized\.onnx` computes attention with the standard ONNX `Attention` op \(opset 23\): it needs\n"
        r"onnxruntime 1\.23 or newer\..*"
        r"## Training data.*"
        r"## Training procedure.*\| learning_rate \| 0\.001 \|.*\| num_train_epochs \| 4 \|.*"
        r"\| from_scratch\.dim \| 128 \|.*"
        r"\| Epoch \| Step \| Training loss \| Validation loss \| Precision \| Recall \| F1 \| Accuracy \|\n"
        rf"\|---:.*\n\| 1\.0 \| 30 \| 0\.8895 \| {history[0]['validation_loss']:.4f} \| .*"
        rf"\| 4\.0 \| 120 \| 0\.1992 \| {history[3]['validation_loss']:.4f} \| 0\.0000 \| 0\.0000 \| 0\.0000 \| "
        rf"{history[3]['accuracy']:.4f} \|\n.*"
        r"!\[Training curves\]\(plots/training_curves\.png\).*"
        r"## Evaluation.*\| test \| 0\.0000 \| 0\.0000 \| 0\.0000 \| 0\.9653 \|.*"
        rf"\| Revenues \| 0\.0000 \| 0\.0000 \| 0\.0000 \| {per_type['Revenues']['support']} \|.*"
        r"!\[Confusion matrix\]\(plots/confusion_matrix\.png\).*"
        r"## ONNX export.*"
        r"\| onnx \| \[model\.onnx\]\(onnx/model\.onnx\) \| 0\.8123 \| 1\.0000 \| 0\.000002 \| 1\.9 \| passed \|\n"
        r"\| onnx_int8 \| \[model_quantized\.onnx\]\(onnx/model_quantized\.onnx\) \| 0\.8097 \| 0\.9991 \| "
        r"0\.041200 \| 0\.6 \| passed \|.*"
        r"### Benchmark\n\nMeasured on AMD EPYC, 2 cores, 24 GiB RAM\..*"
        r"\| onnx_int8 \| 1 \| 1\.42 \| 1\.77 \| 29012 \| 0\.6 \| 171 \|.*"
        r"## Reproduce\n\n```bash\npython recipes/finer\.py --preset tiny --no-export\n```.*"
        r"\| transformers \| 4\.57\.6 \|"
    )
    assert re.search(pattern, text, re.S), text
    assert "None" not in text


def test_model_card_without_repo_ids_or_export(tmp_path: Path) -> None:
    run = make_run(tmp_path, copy.deepcopy(RESULTS))
    text, _ = rendered(run)
    data = ModelCard(text).data
    assert data.datasets is None and "onnx" not in data.tags
    assert data.eval_results[0].dataset_type == "generate:finer-139"
    assert 'model="runs/finer-tiny/model"' in text
    assert "ONNX" not in text and "ORTModel" not in text


def test_fine_tuned_span_marker_model(tmp_path: Path, results: dict) -> None:
    results["model"].update(from_scratch=False, base_model="bert-base-cased", library_name="span-marker")
    text, _ = rendered(make_run(tmp_path, results), model_repo_id=MODEL_REPO)
    data = ModelCard(text).data
    assert data.base_model == "bert-base-cased" and data.library_name == "span-marker"
    assert re.search(r"fine-tuned from \[bert-base-cased\]\(https://huggingface\.co/bert-base-cased\)", text)
    assert 'SpanMarkerModel.from_pretrained("acme/finer-tiny-ner")' in text
    assert "from_scratch.dim" not in text


@pytest.mark.parametrize(("path", "missing"), [
    (["test", "num_words"], "results.test.num_words"),
    (["history", 1, "validation_loss"], "results.history[1].validation_loss"),
    (["per_type", "Revenues", "f1"], "results.per_type.Revenues.f1"),
    (["export", "onnx_int8", "word_agreement"], "results.export.onnx_int8.word_agreement"),
    (["dataset", "build", "split_method"], "results.dataset.build.split_method"),
])
def test_missing_value_names_it(tmp_path: Path, results: dict, path: list, missing: str) -> None:
    node = results
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = None
    run = make_run(tmp_path, results)
    with pytest.raises(CardError, match=re.escape(missing)):
        render_cards(run)
    assert not (run / "model" / "README.md").exists() and not (run / "dataset" / "README.md").exists()


def test_missing_metadata_value_names_it(tmp_path: Path, results: dict) -> None:
    del results["test"]["f1"]
    with pytest.raises(CardError, match=r"'test\.f1'"):
        render_cards(make_run(tmp_path, results))


def test_extra_sections(tmp_path: Path, results: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "section_teacher_notes.md.j2").write_text(
        "## Teacher notes\n\nTeacher: {{ results.teacher_notes.teacher }}\n")
    monkeypatch.setattr(cards, "TEMPLATE_DIRS", [*cards.TEMPLATE_DIRS, templates])
    results["card"] = {"extra_sections": ["teacher_notes"]}
    results["teacher_notes"] = {"teacher": "dslim/bert-base-NER"}
    text, _ = rendered(make_run(tmp_path, results))
    assert re.search(r"## Evaluation.*\n## Teacher notes\n\nTeacher: dslim/bert-base-NER\n\n## ONNX export", text, re.S)
    results["card"] = {"extra_sections": ["teacher_student"]}
    with pytest.raises(CardError, match="section_teacher_student.md.j2"):
        render_cards(make_run(tmp_path / "other", results))


def test_dataset_card(run: Path, results: dict) -> None:
    _, text = rendered(run, model_repo_id=MODEL_REPO, dataset_repo_id=DATASET_REPO)
    data = DatasetCard(text).data
    assert data.license == "cc-by-sa-4.0" and data.task_categories == ["token-classification"]
    assert data.pretty_name == "finer-selected-4-labels" and data.size_categories == ["1K<n<10K"]
    assert data.source_datasets is None  # a generator is no Hub dataset
    assert metadata_load(run / "dataset" / "README.md")["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "train.parquet"}, {"split": "validation", "path": "validation.parquet"},
        {"split": "test", "path": "test.parquet"}]}]
    counts = results["dataset"]["entity_counts"]
    pattern = (
        r"\n# finer-selected-4-labels\n.*"
        r"The model trained on it is \[acme/finer-tiny-ner\]\(https://huggingface\.co/acme/finer-tiny-ner\)\..*"
        r"\| 3 \| B-DebtInstrumentFaceAmount \|.*"
        rf"\| train \| 957 \| {counts['train']['Revenues']} \| {counts['train']['DebtInstrumentFaceAmount']} \|.*"
        r"!\[Entity distribution\]\(entity_distribution\.png\).*"
        r"- Source: `generate:finer-139` \(no revision pinned\)\.\n"
        r"- Sentences without any selected entity dropped: 2804\.\n"
        r"- Split: stratified by entity type, ratios \[0\.8, 0\.1, 0\.1\], seed 42\..*"
        r"Entity types are ranked by entity \(span\) count.*"
        r"\| Source type \| Published type \|\n\|---\|---\|\n\| Revenues \| Revenues \|.*"
        r"1\. loaded generate:finer-139.*1\. split sizes: train 957, validation 120, test 119\n.*"
        r"load_dataset\(\"acme/finer-selected-4-labels\"\).*"
        r"cc-by-sa-4\.0, inherited from the source dataset\..*"
        r"python recipes/finer\.py --preset tiny --no-export"
    )
    assert re.search(pattern, text, re.S), text


def test_dataset_card_hub_source(tmp_path: Path, results: dict) -> None:
    results["dataset"].update(source="nlpaueb/finer-139", revision="5f0f5e9")
    _, text = rendered(make_run(tmp_path, results))
    assert DatasetCard(text).data.source_datasets == ["nlpaueb/finer-139"]
    assert ("- Source: [nlpaueb/finer-139](https://huggingface.co/datasets/nlpaueb/finer-139), "
            "revision `5f0f5e9`.") in text


def test_dataset_card_loads_with_datasets(tmp_path: Path, results: dict) -> None:
    from datasets import ClassLabel, Dataset, Features, List, Value, load_dataset

    run = make_run(tmp_path, results)
    features = Features({"tokens": List(Value("string")),
                         "ner_tags": List(ClassLabel(names=results["dataset"]["label_names"]))})
    for split in ("train", "validation", "test"):
        Dataset.from_dict({"tokens": [["Revenues", "of", "5"]], "ner_tags": [[0, 0, 1]]},
                          features=features).to_parquet(str(run / "dataset" / f"{split}.parquet"))
    render_cards(run)
    loaded = load_dataset(str(run / "dataset"))
    assert sorted(loaded) == ["test", "train", "validation"]
    assert loaded["test"].features["ner_tags"].feature.names == results["dataset"]["label_names"]


def test_check_cards_passes(run: Path) -> None:
    assert check_cards(run) == [f"{run / 'model' / 'README.md'}: no model card; render it with `hubtools card {run}`",
                                f"{run / 'dataset' / 'README.md'}: no dataset card; render it with "
                                f"`hubtools card {run}`"]
    render_cards(run, model_repo_id=MODEL_REPO, dataset_repo_id=DATASET_REPO)
    assert check_cards(run) == []


def test_check_cards_finds_broken_links(run: Path) -> None:
    render_cards(run)
    (run / "plots" / "confusion_matrix.png").unlink()
    (run / "onnx" / "model.onnx").unlink()
    (run / "dataset" / "entity_distribution.png").unlink()
    (run / "dataset" / "test.parquet").unlink()
    problems = "\n".join(check_cards(run))
    assert "link 'plots/confusion_matrix.png'" in problems and "link 'onnx/model.onnx'" in problems
    assert "link 'entity_distribution.png'" in problems and "data_files 'test.parquet'" in problems
    assert len(check_cards(run)) == 4


def test_check_cards_finds_bad_metadata(run: Path, results: dict) -> None:
    model_card, dataset_card = render_cards(run)
    text = model_card.read_text()
    model_card.write_text(text.replace("value: 0.9653475093522347", "value: 0.97"))
    dataset_card.write_text(dataset_card.read_text().replace("license: cc-by-sa-4.0", "license: mit"))
    problems = check_cards(run)
    assert any("model-index test accuracy = 0.97, results.json has 0.9653475093522347" in p for p in problems)
    assert any("license 'mit', results.json dataset.license is 'cc-by-sa-4.0'" in p for p in problems)
    model_card.write_text(text.replace("  results:\n", "  scores:\n", 1))
    assert any("metadata does not parse" in p for p in check_cards(run))
    model_card.write_text(text.replace("language:\n- en\n", "language: [en\n"))
    assert any("metadata does not parse" in p for p in check_cards(run))


def test_check_cards_finds_empty_cells(run: Path) -> None:
    model_card, _ = render_cards(run)
    text = model_card.read_text()
    model_card.write_text(text.replace("| seed | 42 |", "| seed | None |").replace("| Parameters | 462985 |",
                                                                                     "| Parameters |  |"))
    problems = check_cards(run)
    assert len(problems) == 2 and all("table cell 2" in p for p in problems)


def test_failed_export_variant_is_listed_not_advertised(tmp_path: Path, results: dict) -> None:
    results["export"]["onnx_int8"]["status"] = "failed: F1 dropped 0.61 > 0.5"
    text, _ = rendered(make_run(tmp_path, results), model_repo_id=MODEL_REPO)
    assert "| 0.6 | failed: F1 dropped 0.61 > 0.5 |" in text
    assert 'subfolder="onnx", file_name="model.onnx", session_options=options)' in text
    assert 'file_name="model_quantized.onnx"' not in text
    assert "onnxruntime 1.23" not in text  # the fp32 graph keeps its exported opset


def test_export_without_split_attention_has_no_runtime_note(tmp_path: Path, results: dict) -> None:
    """Runs exported before the split attention, and SpanMarker exports, carry no ``split_attention``."""
    del results["export"]["split_attention"]
    text, _ = rendered(make_run(tmp_path, results), model_repo_id=MODEL_REPO)
    assert 'file_name="model_quantized.onnx"' in text and "onnxruntime 1.23" not in text


def test_dataset_card_without_selection_or_dropping(tmp_path: Path, results: dict) -> None:
    build = results["dataset"]["build"]
    for key in ("selection_rule", "dropped_without_entities", "remap"):
        build.pop(key, None)
    run = make_run(tmp_path, results)
    render_cards(run)
    text = (run / "dataset" / "README.md").read_text()
    assert "Every entity type of the source is kept." in text
    assert "Sentences without entities kept." in text
    assert check_cards(run) == []


def test_remote_code_model_usage(run: Path) -> None:
    (run / "model" / "config.json").write_text(json.dumps({"auto_map": {"AutoConfig": "configuration_x.X"}}))
    text, _ = rendered(run, model_repo_id=MODEL_REPO)
    assert 'aggregation_strategy="first", trust_remote_code=True)' in text
    assert "ORTModelForTokenClassification" not in text  # a custom architecture is not an Optimum model
    assert "runs with plain ONNX Runtime" in text
