"""The model and dataset cards of a real tiny finer run (trained and exported once per session), matched against
golden patterns, and what the cards do when the results change: missing values, other families, failed export
variants, template folders, broken links and metadata."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
from card_patterns import DATASET_CARD, MODEL_CARD, MODEL_CARD_EVALUATED
from datasets import Dataset
from huggingface_hub import DatasetCard, ModelCard, metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results

from hubtools.cards import check_cards, render_cards
from hubtools.errors import CardError
from hubtools.evaluation import evaluate_model, record_evaluation
from hubtools.metrics import ids_to_tags
from hubtools.results import MetricSet, RunResults
from hubtools.run import read_results, write_results
from hubtools.tagging import data_argument

MODEL_REPO, DATASET_REPO = "acme/finer-tiny-ner", "acme/finer-data"
pytestmark = pytest.mark.slow  # the session's tiny finer run


@pytest.fixture
def run(exported_finer_run: Path, tmp_path: Path) -> Path:
    """A private copy of the exported run, free to change."""
    return Path(shutil.copytree(exported_finer_run, tmp_path / "run"))


@pytest.fixture
def results(run: Path) -> RunResults:
    return copy.deepcopy(read_results(run))


def rendered(run: Path, results: RunResults | None = None, **kwargs) -> tuple[str, str]:
    model_path, dataset_path = render_cards(run, results, **kwargs)
    return model_path.read_text(), dataset_path.read_text()


def test_cards_match_the_golden_patterns(run: Path) -> None:
    model_card, dataset_card = rendered(run, model_repo_id=MODEL_REPO, dataset_repo_id=DATASET_REPO)
    assert MODEL_CARD.fullmatch(model_card), model_card
    assert DATASET_CARD.fullmatch(dataset_card), dataset_card
    assert "None" not in model_card + dataset_card


def test_cross_dataset_evaluation_adds_a_dataset_and_a_table(run: Path, results: RunResults, tmp_path: Path) -> None:
    """The run scored on its own test sentences under other type names (Revenues as REV, LineOfCredit... as DATE,
    IncomeTax... dropped): one more model-index dataset and the cross-dataset section, check_cards clean."""
    rename = {"Revenues": "REV", "DebtInstrumentFaceAmount": "DebtInstrumentFaceAmount",
              "LineOfCreditFacilityMaximumBorrowingCapacity": "DATE"}
    test = Dataset.from_parquet(str(run / "dataset" / "test.parquet"))
    other = tmp_path / "other-finer"
    other.mkdir()
    with open(other / "test.jsonl", "w") as fh:
        for tokens, tags in zip(test["tokens"], ids_to_tags(test["ner_tags"], results.dataset.label_names),
                                strict=True):
            tags = [f"{t[:2]}{rename[t[2:]]}" if t[2:] in rename else "O" for t in tags]
            fh.write(json.dumps({"tokens": tokens, "ner_tags": tags}) + "\n")
    evaluation, _ = evaluate_model(str(run), data_argument(str(other)), label_map="Revenues=REV")
    record_evaluation(run, evaluation)
    model_card, _ = rendered(run, model_repo_id=MODEL_REPO, dataset_repo_id=DATASET_REPO)
    assert MODEL_CARD_EVALUATED.fullmatch(model_card), model_card
    assert check_cards(run) == []


def test_model_card_metadata_is_the_run_s(run: Path, results: RunResults) -> None:
    text, _ = rendered(run, model_repo_id=MODEL_REPO, dataset_repo_id=DATASET_REPO)
    data = ModelCard(text).data
    assert data.datasets == [DATASET_REPO] and data.base_model is None
    assert [w["text"] for w in data.widget] == results.publish.widget
    name, evals = model_index_to_eval_results(metadata_load(run / "model" / "README.md")["model-index"])
    assert name == "finer-tiny-ner"
    assert {e.metric_type: e.metric_value for e in evals} == {m: getattr(results.test, m) for m in
                                                              ("f1", "precision", "recall", "accuracy")}
    # the tables show the run's own figures
    history = results.training.history
    assert f"| 4.0 | {history[3].step} | {history[3].training_loss:.4f} | {history[3].validation_loss:.4f} |" in text
    onnx = results.export.variant("onnx_int8")
    assert (f"| {onnx.f1:.4f} | {onnx.agreement:.4f} | {onnx.max_abs_logit_diff:.6f} | {onnx.size_bytes / 1e6:.1f} |"
            in text)
    row = results.test.per_type["Revenues"]
    assert f"| Revenues | {row.precision:.4f} | {row.recall:.4f} | {row.f1:.4f} | {row.support} |" in text


def test_cards_without_repo_ids_or_export(finer_run: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(finer_run, tmp_path / "run"))
    text, dataset_text = rendered(run)
    data = ModelCard(text).data
    assert data.datasets is None and "onnx" not in data.tags
    assert data.eval_results[0].dataset_type == "finer-selected-4-labels"  # no Hub id: the name, never a source path
    # the run folder's own cards load from the folder they are run from
    assert 'model="model"' in text and '"train": "dataset/train.parquet"' in dataset_text
    assert "run them from inside it" in text and "From the run folder this card belongs to" in dataset_text
    assert "ONNX" not in text and "ORTModel" not in text


def test_fine_tuned_span_marker_model(run: Path, results: RunResults) -> None:
    results.model.from_scratch, results.model.base_model = None, "bert-base-cased"
    results.model.library_name, results.model.family = "span-marker", "span-marker"  # the snippets are the family's
    text, _ = rendered(run, results, model_repo_id=MODEL_REPO)
    data = ModelCard(text).data
    assert data.base_model == "bert-base-cased" and data.library_name == "span-marker"
    assert re.search(r"fine-tuned from \[bert-base-cased\]\(https://huggingface\.co/bert-base-cased\)", text)
    assert 'SpanMarkerModel.from_pretrained("acme/finer-tiny-ner")' in text


@pytest.mark.parametrize(("change", "missing"), [
    (lambda r: setattr(r.test, "num_words", None), "results.test.num_words"),
    (lambda r: setattr(r.training.history[1], "validation_loss", None), "results.training.history[1].validation_loss"),
    (lambda r: setattr(r.test.per_type["Revenues"], "f1", None), "results.test.per_type.Revenues.f1"),
    (lambda r: setattr(r.export.variants[1], "agreement", None), "results.export.variants[1].agreement"),
    (lambda r: setattr(r.dataset.build, "split_method", ""), "results.dataset.build.split_method"),
])
def test_missing_value_names_it_and_writes_nothing(run: Path, results: RunResults, change, missing: str) -> None:
    for card in (run / "model" / "README.md", run / "dataset" / "README.md"):
        card.unlink()
    change(results)
    with pytest.raises(CardError, match=re.escape(missing)):
        render_cards(run, results)
    assert not (run / "model" / "README.md").exists() and not (run / "dataset" / "README.md").exists()


def test_extra_sections_and_scores(run: Path, results: RunResults, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "section_teacher_notes.md.j2").write_text("## Teacher notes\n\nRecipe: {{ results.recipe }}\n")
    results.card_sections = ["teacher_notes"]
    results.extra_scores = {"io": MetricSet(definition="runs of one type", values={"f1": 0.5})}
    text, _ = rendered(run, results, templates=templates)
    assert re.search(r"## Evaluation.*\| io \| runs of one type \| f1 0\.5000 \|\n\n## Teacher notes\n\n"
                     r"Recipe: finer\n\n## ONNX export", text, re.S)
    results.card_sections = ["teacher_student"]
    with pytest.raises(CardError, match="section_teacher_student.md.j2"):
        render_cards(run, results, templates=templates)


def test_an_organisation_s_templates_replace_the_shipped_ones(run: Path, results: RunResults,
                                                               tmp_path: Path) -> None:
    """``publish.templates`` (or ``--templates``) is searched first: a replaced partial changes the card, the
    other templates stay the shipped ones."""
    templates = tmp_path / "org"
    templates.mkdir()
    (templates / "_reproduce.md.j2").write_text("## Contact\n\nml-team@example.com\n")
    results.publish.templates = str(templates)
    write_results(run, results)
    text, dataset_text = rendered(run)
    assert text.endswith("## Contact\n\nml-team@example.com\n") and "## Reproduce" not in text
    assert "## Evaluation" in text and dataset_text.endswith("## Contact\n\nml-team@example.com\n")
    results.publish.templates = str(tmp_path / "nowhere")
    with pytest.raises(CardError, match="nowhere does not exist"):
        render_cards(run, results)


def test_dataset_card_hub_source(run: Path, results: RunResults) -> None:
    results.dataset.source, results.dataset.revision = "nlpaueb/finer-139", "5f0f5e9"
    _, text = rendered(run, results)
    assert DatasetCard(text).data.source_datasets == ["nlpaueb/finer-139"]
    assert ("- Source: [nlpaueb/finer-139](https://huggingface.co/datasets/nlpaueb/finer-139), "
            "revision `5f0f5e9`.") in text


def test_dataset_card_loads_with_datasets(run: Path, results: RunResults, tmp_path: Path) -> None:
    from datasets import load_dataset

    render_cards(run)
    loaded = load_dataset(str(run / "dataset"), cache_dir=str(tmp_path / "cache"))
    assert {split: len(ds) for split, ds in loaded.items()} == results.dataset.splits
    assert loaded["test"].features["ner_tags"].feature.names == results.dataset.label_names


def test_check_cards_passes_and_asks_for_missing_cards(run: Path) -> None:
    assert check_cards(run) == []
    for card in (run / "model" / "README.md", run / "dataset" / "README.md"):
        card.unlink()
    assert check_cards(run) == [f"{run / 'model' / 'README.md'}: no model card; render it with `hubtools card {run}`",
                                f"{run / 'dataset' / 'README.md'}: no dataset card; render it with "
                                f"`hubtools card {run}`"]


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


def test_check_cards_finds_bad_metadata(run: Path, results: RunResults) -> None:
    model_card, dataset_card = render_cards(run)
    text = model_card.read_text()
    accuracy = f"value: {results.test.accuracy!r}"
    assert accuracy in text
    model_card.write_text(text.replace(accuracy, "value: 0.12345"))
    dataset_card.write_text(dataset_card.read_text().replace("license: cc-by-sa-4.0", "license: mit"))
    problems = check_cards(run)
    assert any(f"model-index test accuracy = 0.12345, results.json has {results.test.accuracy!r}" in p
               for p in problems)
    assert any("license 'mit', results.json dataset.license is 'cc-by-sa-4.0'" in p for p in problems)
    model_card.write_text(text.replace("  results:\n", "  scores:\n", 1))
    assert any("metadata does not parse" in p for p in check_cards(run))
    model_card.write_text(text.replace("language:\n- en\n", "language: [en\n"))
    assert any("metadata does not parse" in p for p in check_cards(run))


def test_check_cards_finds_empty_cells(run: Path, results: RunResults) -> None:
    model_card, _ = render_cards(run)
    text = model_card.read_text()
    parameters = f"| Parameters | {results.model.num_parameters} |"
    model_card.write_text(text.replace("| seed | 42 |", "| seed | None |").replace(parameters, "| Parameters |  |"))
    problems = check_cards(run)
    assert len(problems) == 2 and all("table cell 2" in p for p in problems)


def test_failed_export_variant_is_listed_not_advertised(run: Path, results: RunResults) -> None:
    for variant in results.export.variants[1:]:
        variant.status, variant.reason = "failed", "F1 dropped 0.61 > 0.5"
    text, _ = rendered(run, results, model_repo_id=MODEL_REPO)
    assert "| failed: F1 dropped 0.61 > 0.5 |" in text and "[model_quantized.onnx]" not in text
    assert 'subfolder="onnx", file_name="model.onnx", session_options=options)' in text
    assert 'file_name="model_quantized.onnx"' not in text
    assert "onnxruntime 1.23" not in text  # the fp32 graph keeps its exported opset
    assert "onnx" in ModelCard(text).data.tags  # a published variant remains


def test_export_without_split_attention_has_no_runtime_note(run: Path, results: RunResults) -> None:
    """SpanMarker and RNN exports record no ``split_attention``."""
    results.export.settings.split_attention = None
    text, _ = rendered(run, results, model_repo_id=MODEL_REPO)
    assert 'file_name="model_quantized_embeddings.onnx"' in text and "onnxruntime 1.23" not in text


def test_dataset_card_without_selection_or_dropping(run: Path, results: RunResults) -> None:
    build = results.dataset.build
    build.selection_rule = build.dropped_without_entities = build.remap = None
    write_results(run, results)
    render_cards(run)
    text = (run / "dataset" / "README.md").read_text()
    assert "Every entity type of the source is kept." in text
    assert "Sentences without entities kept." in text
    assert check_cards(run) == []


def test_remote_code_model_usage(run: Path, results: RunResults) -> None:
    results.model.remote_code = True
    text, _ = rendered(run, results, model_repo_id=MODEL_REPO)
    assert 'aggregation_strategy="first", trust_remote_code=True)' in text
    assert "ORTModelForTokenClassification" not in text  # a custom architecture is not an Optimum model
    assert "runs with plain ONNX Runtime" in text
