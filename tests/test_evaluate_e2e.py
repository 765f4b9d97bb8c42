"""``hubtools evaluate`` end to end on the session's tiny finer run: its own split reproduces its test scores, a
second generated dataset with other type names is scored through a label map (identical with 1 and 2
processes), recorded, carded, pushed to the test Hub with both datasets in model-index, and scored again from
the Hub repo; a Hub repo without a token classifier is refused in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import client_env, run_client
from huggingface_hub import HfApi
from recipe_runs import ROOT, accelerate_launcher, recipe_env
from test_publish_e2e import hubtools_push

from hubtools.cards.rules import front_matter, readme_problems
from hubtools.data.generate import generate_finer
from hubtools.metrics import ids_to_tags
from hubtools.results_json import to_dict
from hubtools.run import read_results

pytestmark = pytest.mark.slow
RUN_KEYS = ("created", "seconds", "machine")  # what differs between two evaluations of the same thing


@pytest.fixture(scope="module")
def run(exported_finer_run, tmp_path_factory) -> Path:
    """A copy of the session's exported finer run (evaluations are recorded into it)."""
    run = tmp_path_factory.mktemp("evaluated") / "run"
    shutil.copytree(exported_finer_run, run)
    return run


@pytest.fixture(scope="module")
def other(run, tmp_path_factory) -> tuple[Path, dict[str, str], dict[str, int]]:
    """Another generated FiNER-schema test split as JSON lines: two of the model's types renamed, one dropped,
    one kept by name, two types the model lacks. Returns its folder, the label map and the gold entity counts."""
    types = read_results(run).dataset.entity_types
    test = generate_finer(num_sentences=1500, seed=11)["test"]
    names = test.features["ner_tags"].feature.names
    extra = [t for t, _ in Counter(n[2:] for s in ids_to_tags(test["ner_tags"], names) for n in s
                                   if n.startswith("B-") and n[2:] not in types).most_common(2)]
    rename = {types[0]: "REVENUE_LIKE", types[1]: "AMOUNT_LIKE", types[2]: types[2], **{t: t for t in extra}}
    folder = tmp_path_factory.mktemp("other") / "other-finer"
    folder.mkdir()
    gold: Counter[str] = Counter()
    with open(folder / "test.jsonl", "w") as fh:
        for tokens, tags in zip(test["tokens"], ids_to_tags(test["ner_tags"], names), strict=True):
            out = [f"{t[:2]}{rename[t[2:]]}" if t != "O" and t[2:] in rename else "O" for t in tags]
            gold.update(t[2:] for t in out if t.startswith("B-"))
            fh.write(json.dumps({"tokens": tokens, "ner_tags": out}) + "\n")
    return folder, {types[0]: "REVENUE_LIKE", types[1]: "AMOUNT_LIKE"}, dict(gold)


def hubtools(*args: str, launcher: list[str] | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [*(launcher or [sys.executable]), "-m", "hubtools", *args]
    return subprocess.run(cmd, env=env or recipe_env(), cwd=ROOT, capture_output=True, text=True, timeout=900)


def label_map_argument(label_map: dict[str, str]) -> str:
    return ",".join(f"{m}={d}" for m, d in label_map.items())


def test_the_run_s_own_split_reproduces_its_test_scores(run, tmp_path):
    proc = hubtools("evaluate", str(run), "--data", str(run / "dataset"), "--no-record", "--output",
                    str(tmp_path / "own.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = json.loads((tmp_path / "own.json").read_text())["scores"]
    assert scores == to_dict(read_results(run).test)
    assert read_results(run).evaluations == []


def test_another_dataset_through_a_label_map(run, other, hub_server, tmp_path):
    folder, label_map, gold = other
    types = read_results(run).dataset.entity_types
    outputs = {}
    for n in (1, 2):
        target = tmp_path / f"eval{n}.json"
        proc = hubtools("evaluate", str(run), "--data", str(folder), "--label-map", label_map_argument(label_map),
                        "--batch-size", "7", "--output", str(target), launcher=accelerate_launcher(n))
        assert proc.returncode == 0, proc.stderr[-3000:]
        outputs[n] = json.loads(target.read_text())
    table = proc.stdout
    assert {k: v for k, v in outputs[1].items() if k not in RUN_KEYS} == \
        {k: v for k, v in outputs[2].items() if k not in RUN_KEYS}
    evaluation = outputs[1]
    assert evaluation["label_map"] == {**label_map, types[2]: types[2]}
    assert list(evaluation["model_only"]) == [types[3]]
    assert evaluation["data_only"] == {t: gold[t] for t in gold if t not in evaluation["label_map"].values()}
    assert len(evaluation["data_only"]) == 2 and all(evaluation["data_only"].values())
    assert set(evaluation["scores"]["per_type"]) <= {"REVENUE_LIKE", "AMOUNT_LIKE", types[2]}
    assert f"{types[0]} -> REVENUE_LIKE" in table and "not scored (set to O before scoring" in table
    assert f"  model types the dataset lacks (entities the model predicted):\n  " \
        f"{evaluation['model_only'][types[3]]:7d}  {types[3]}\n" in table
    recorded = read_results(run).evaluations
    assert [e.dataset for e in recorded] == ["other-finer"] and recorded[0].scores.f1 == evaluation["scores"]["f1"]

    for args in (["card", str(run)], ["check", str(run)]):
        proc = hubtools(*args)
        assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    card = (run / "model" / "README.md").read_text()
    meta = front_matter(card)
    assert [r["dataset"]["name"] for r in meta["model-index"][0]["results"]] == [
        read_results(run).dataset.name, "other-finer"]
    assert readme_problems(card) == [] and "## Evaluation on other datasets" in card

    model_id = f"{hub_server.user}/finer-evaluated"
    proc = hubtools_push(hub_server, run, "--repo-id", model_id)  # the test Hub checks the card at commit time
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    published = front_matter(open(api.hf_hub_download(model_id, "README.md")).read())
    assert {r["dataset"]["name"] for r in published["model-index"][0]["results"]} == {
        read_results(run).dataset.name, "other-finer"}

    # the published repo, int8 ONNX file: the same scores as the run folder's
    scores = {}
    for name, model in (("hub", model_id), ("local", str(run))):
        target = tmp_path / f"{name}.json"
        env = client_env(hub_server.endpoint, tmp_path / name, HF_TOKEN=hub_server.read_token,
                         HF_DATASETS_OFFLINE="1")
        proc = hubtools("evaluate", model, "--data", str(folder), "--label-map", label_map_argument(label_map),
                        "--variant", "onnx_int8", "--no-record", "--output", str(target), env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        scores[name] = json.loads(target.read_text())
    assert scores["hub"]["scores"] == scores["local"]["scores"] and scores["hub"]["model"] == model_id
    assert scores["hub"]["model_revision"] == api.model_info(model_id).sha


def test_a_hub_repo_without_a_token_classifier_is_refused(hub_server, other, tmp_path):
    repo = f"{hub_server.user}/plain-encoder"
    config = json.dumps({"architectures": ["BertModel"], "model_type": "bert"})
    # a client process: huggingface_hub reads HF_ENDPOINT at import, and a commit's URL is parsed against it
    upload = run_client(f"from huggingface_hub import HfApi\napi = HfApi()\napi.create_repo({repo!r}, exist_ok=True)\n"
                        f"api.upload_file(path_or_fileobj={config!r}.encode(), path_in_repo='config.json', "
                        f"repo_id={repo!r})", client_env(hub_server.endpoint, tmp_path / "upload",
                                                         HF_TOKEN=hub_server.write_token))
    assert upload.returncode == 0, upload.stderr[-3000:]
    env = client_env(hub_server.endpoint, tmp_path, HF_TOKEN=hub_server.read_token)
    proc = hubtools("evaluate", repo, "--data", str(other[0]), env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"hubtools evaluate: error: RUN_OR_REPO '{repo}': not a token classifier (config.json architectures "
        "['BertModel']; expected a ...ForTokenClassification model)")
    proc = hubtools("evaluate", f"{hub_server.user}/no-such-model", "--data", str(other[0]), env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"hubtools evaluate: error: RUN_OR_REPO '{hub_server.user}/no-such-model': no such Hub repo, or HF_TOKEN "
        "gives no access to it")
