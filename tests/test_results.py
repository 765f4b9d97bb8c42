"""The typed run results: JSON round trip, strict reading with the key path in every error, and the migration of
results.json files written before schema versions."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from helpers import run_results
from huggingface_hub import ModelCard

from hubtools.cards import render_cards
from hubtools.errors import ResultsError
from hubtools.results import SCHEMA_VERSION, RunResults
from hubtools.run import read_results, write_results

FIXTURES = Path(__file__).parent / "fixtures"
# A results.json of nerhub before schema versions: recipes/finer.py --preset tiny at commit 76d60d3 on the
# project machine (AMD EPYC, 2026-11-30), export included; dataset.build.analysis trimmed to 6 types.
V1 = json.loads((FIXTURES / "results_v1_finer_tiny.json").read_text())


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    results = run_results(f1=0.75, export={"max_f1_drop": 0.5})
    results.extra_scores = {}
    write_results(tmp_path, results)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["test"]["f1"] == 0.75
    assert read_results(tmp_path) == results


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["test"].update(f1="high"), "results.test.f1 = 'high' is not float"),
    (lambda d: d["test"].pop("num_words"), "results.test.num_words is missing"),
    (lambda d: d["model"].update(kind="bert"), r"results.model has unknown key\(s\) \['kind'\]"),
    (lambda d: d["dataset"]["splits"].update(test="10"), "results.dataset.splits.test = '10' is not int"),
    (lambda d: d.update(schema_version=7), "schema_version 7; this hubtools reads versions 1 and 2"),
])
def test_bad_results_name_the_key(change, message: str) -> None:
    data = copy.deepcopy(run_results().to_dict())
    change(data)
    with pytest.raises(ResultsError, match=message):
        RunResults.from_dict(data)


def test_not_a_run_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="not a run folder .* run a recipe first"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text("{")
    with pytest.raises(ResultsError, match="not valid JSON"):
        read_results(tmp_path)


def test_version_1_results_are_migrated() -> None:
    results = RunResults.from_dict(copy.deepcopy(V1))
    assert results.schema_version == SCHEMA_VERSION
    assert results.test.f1 == V1["test"]["f1"]
    assert results.test.per_type["Revenues"].f1 == V1["per_type"]["Revenues"]["f1"]
    assert results.test.confusion.matrix == V1["confusion"]["matrix"]
    assert [row.f1 for row in results.training.history] == [row["f1"] for row in V1["history"]]
    assert results.model.family == "token-classification" and results.model.from_scratch["dim"] == 128
    assert results.publish.license == "cc-by-sa-4.0" and results.publish.widget == V1["config"]["publish"]["widget"]
    export = results.export
    assert [v.name for v in export.variants] == ["onnx", "onnx_int8", "onnx_int8_embeddings"]
    assert export.variant("onnx").agreement == V1["export"]["onnx"]["word_agreement"]
    assert export.variant("onnx").file == "onnx/model.onnx" and export.settings.split_attention is True
    assert len(export.benchmark.rows) == len(V1["export"]["benchmark"]["rows"])
    assert results.dataset.build.dropped_without_entities == V1["dataset"]["build"]["dropped_without_entities"]


def test_migrated_run_renders_its_cards(exported_finer_run: Path, tmp_path: Path) -> None:
    """A run folder whose results.json is version 1 renders valid cards (the files beside it are a real run's)."""
    run = Path(shutil.copytree(exported_finer_run, tmp_path / "run"))
    (run / "results.json").write_text(json.dumps(V1))
    model_card, _ = render_cards(run)
    data = ModelCard(model_card.read_text()).data
    assert data.eval_results[0].metric_value == V1["test"]["f1"]


def test_an_incomplete_unversioned_file_is_refused() -> None:
    broken = {k: v for k, v in V1.items() if k != "confusion"}
    with pytest.raises(ResultsError, match="no schema_version and is not a complete version 1 file"):
        RunResults.from_dict(broken)
