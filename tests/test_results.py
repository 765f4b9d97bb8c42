"""The typed run results: JSON round trip, strict reading with the key path in every error, and the refusal of
results.json files of another schema version."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from helpers import run_results

from hubtools.errors import ResultsError
from hubtools.results import SCHEMA_VERSION, RunResults
from hubtools.run import read_results, write_results


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
    (lambda d: d.update(schema_version=7), r"schema_version 7; this nerhub reads version \d+: upgrade nerhub"),
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


def test_results_of_an_older_version_are_refused_naming_the_file(tmp_path: Path) -> None:
    """A results.json before schema versions (version 1) or of an older version: rerun the recipe."""
    data = run_results().to_dict()
    for old in ({k: v for k, v in data.items() if k != "schema_version"}, {**data, "schema_version": 1}):
        (tmp_path / "results.json").write_text(json.dumps(old))
        with pytest.raises(ResultsError) as err:
            read_results(tmp_path)
        assert str(err.value) == (f"{tmp_path / 'results.json'}: written by an older nerhub (schema_version 1, "
                                  f"this one reads {SCHEMA_VERSION}); run the recipe again to write it anew")
