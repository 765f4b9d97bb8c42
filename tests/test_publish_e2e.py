"""The product end to end: a tiny finer run, exported, carded and pushed with the ``hubtools`` command to the
test Hub, then used by fresh client processes that only know HF_ENDPOINT."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from conftest import client_env, run_client
from datasets import Dataset
from huggingface_hub import HfApi
from recipe_runs import ROOT, recipe_env, run_recipe

from hubtools.cards.rules import front_matter, readme_problems
from hubtools.paths import machine_paths
from hubtools.run import read_results, write_results

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported_run(exported_finer_run, tmp_path_factory):
    """A copy of the session's exported finer run (pushing must not change the shared one)."""
    run = tmp_path_factory.mktemp("published") / "run"
    shutil.copytree(exported_finer_run, run)
    return run


def hubtools_push(hub_server, run, *args, token=None):
    env = client_env(hub_server.endpoint, run.parent, HF_TOKEN=token or hub_server.write_token)
    return subprocess.run([sys.executable, "-m", "hubtools", "push", str(run), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_push_then_use_from_the_hub(hub_server, exported_run, tmp_path):
    model_id = f"{hub_server.user}/finer-tiny"
    dataset_id = f"{hub_server.org}/finer-selected-4-labels-tiny"
    proc = hubtools_push(hub_server, exported_run, "--repo-id", model_id, "--dataset-repo-id", dataset_id)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert hub_server.write_token not in proc.stdout + proc.stderr

    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    files = set(api.list_repo_files(model_id))
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md", "results.json",
            "onnx/model.onnx", "onnx/model_quantized.onnx", "plots/confusion_matrix.png"} <= files
    card = api.hf_hub_download(model_id, "README.md")
    assert "pipeline_tag: token-classification" in open(card).read()

    test = Dataset.from_parquet(str(exported_run / "dataset" / "test.parquet"))
    sentence = " ".join(max(test["tokens"], key=len))
    code = f"""
import json
from transformers import pipeline, AutoTokenizer
from datasets import load_dataset
from optimum.onnxruntime import ORTModelForTokenClassification
hub = pipeline("ner", model={model_id!r}, aggregation_strategy="simple")
local = pipeline("ner", model={str(exported_run / "model")!r}, aggregation_strategy="simple")
ds = load_dataset({dataset_id!r})
ort = ORTModelForTokenClassification.from_pretrained({model_id!r}, subfolder="onnx", file_name="model_quantized.onnx")
tok = AutoTokenizer.from_pretrained({model_id!r}, subfolder="onnx")
onnx_tags = pipeline("ner", model=ort, tokenizer=tok, aggregation_strategy="simple")({sentence!r})
print(json.dumps({{"hub": str(hub({sentence!r})), "local": str(local({sentence!r})),
    "test_rows": ds["test"].to_dict()["tokens"], "names": ds["test"].features["ner_tags"].feature.names,
    "onnx_groups": sorted({{e["entity_group"] for e in onnx_tags}})}}))
"""
    out = run_client(code, client_env(hub_server.endpoint, tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["hub"] == got["local"]
    assert got["test_rows"] == test.to_dict()["tokens"]
    assert got["names"] == test.features["ner_tags"].feature.names
    results = json.loads((exported_run / "results.json").read_text())
    assert set(got["onnx_groups"]) <= set(results["dataset"]["entity_types"])

    # an unchanged run makes no new commit
    before = [c.commit_id for c in api.list_repo_commits(model_id)]
    again = hubtools_push(hub_server, exported_run, "--repo-id", model_id, "--dataset-repo-id", dataset_id)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [c.commit_id for c in api.list_repo_commits(model_id)] == before
    assert hub_server.unknown_routes() == []


def test_push_with_a_bad_token_says_what_to_do(hub_server, exported_run):
    proc = hubtools_push(hub_server, exported_run, "--repo-id", f"{hub_server.user}/never", token="hf_bogus_123")
    assert proc.returncode == 2  # a HubtoolsError: one line, status 2, no traceback
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("hubtools push: error:") and "Traceback" not in proc.stderr
    assert "HF_TOKEN" in lines[-1] or "login" in lines[-1]
    assert "hf_bogus_123" not in proc.stderr + proc.stdout


def published_cards(hub_server, model_id: str, dataset_id: str) -> tuple[str, str]:
    """The README.md of both repos, as a reader of the Hub gets them."""
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    model = open(api.hf_hub_download(model_id, "README.md")).read()
    dataset = open(api.hf_hub_download(dataset_id, "README.md", repo_type="dataset")).read()
    return model, dataset


def python_snippet(card: str) -> str:
    """The first Python block of the card's How to use section."""
    usage = card[card.index("## How to use"):]
    return re.search(r"```python\n(.*?)```", usage, re.S).group(1)


def test_published_cards_name_the_repos_and_no_machine(hub_server, exported_run, tmp_path):
    """The cards are rendered for the repos they are published to: snippets load from the repo ids, the model
    card links the pushed dataset and names it in model-index, the metadata pass the Hub's rules, and nothing
    published names a path of the machine that trained the run; the published snippet runs as written."""
    model_id, dataset_id = f"{hub_server.user}/finer-cards", f"{hub_server.user}/finer-cards-data"
    proc = hubtools_push(hub_server, exported_run, "--repo-id", model_id, "--dataset-repo-id", dataset_id)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model_card, dataset_card = published_cards(hub_server, model_id, dataset_id)
    meta = front_matter(model_card)
    assert meta["datasets"] == [dataset_id] and "base_model" not in meta
    assert {r["dataset"]["type"] for entry in meta["model-index"] for r in entry["results"]} == {dataset_id}
    assert readme_problems(model_card, "model") == [] and readme_problems(dataset_card, "dataset") == []
    assert f'pipeline("token-classification", model="{model_id}"' in model_card
    assert f'from_pretrained("{model_id}", subfolder="onnx"' in model_card
    assert f'load_dataset("{dataset_id}")' in dataset_card
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    for repo, kind in ((model_id, "model"), (dataset_id, "dataset")):
        for name in api.list_repo_files(repo, repo_type=kind):
            if name.endswith((".md", ".json", ".txt", ".py")):
                text = open(api.hf_hub_download(repo, name, repo_type=kind)).read()
                assert machine_paths(text) == [], (repo, name, machine_paths(text))
    local_card = (exported_run / "model" / "README.md").read_text()
    assert 'model="model"' in local_card and "run them from inside it" in local_card  # the run folder's own card

    test = Dataset.from_parquet(str(exported_run / "dataset" / "test.parquet"))
    sentence = " ".join(max(test["tokens"], key=len))
    snippet = python_snippet(model_card).replace(json.dumps(read_results(exported_run).publish.widget[0]),
                                                 json.dumps(sentence))
    code = f"""
import json
{snippet.replace("ner(", "print(json.dumps([[e['entity_group'], e['word']] for e in ner(", 1).rstrip()}]))
"""
    out = run_client(code, client_env(hub_server.endpoint, tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    from transformers import pipeline

    local = pipeline("token-classification", model=str(exported_run / "model"), aggregation_strategy="first")
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[e["entity_group"], e["word"]] for e in local(sentence)]

    again = hubtools_push(hub_server, exported_run, "--repo-id", f"{hub_server.user}/finer-cards-2")
    assert again.returncode == 0, again.stderr[-3000:]
    other = open(api.hf_hub_download(f"{hub_server.user}/finer-cards-2", "README.md")).read()
    assert f'model="{hub_server.user}/finer-cards-2"' in other and "datasets:" not in other
    assert {r["dataset"]["type"] for entry in front_matter(other)["model-index"] for r in entry["results"]} == {
        "finer-selected-4-labels"}  # no pushed dataset, no Hub source: the dataset's name, never a path


def test_invalid_metadata_is_refused_by_check_push_and_the_hub(hub_server, exported_run, tmp_path):
    run = Path(shutil.copytree(exported_run, tmp_path / "run"))
    results = read_results(run)
    results.publish.license = "apache-2"  # not a Hub license identifier
    results.config["output_dir"] = "/home/someone/runs/finer"  # a machine path slipped into results.json
    write_results(run, results)
    check = subprocess.run([sys.executable, "-m", "hubtools", "check", str(run)], env=recipe_env(), cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 1
    assert "not a license identifier of the Hub" in check.stdout and "'/home/someone/runs/finer'" in check.stdout
    before = len(hub_server.requests())
    proc = hubtools_push(hub_server, run, "--repo-id", f"{hub_server.user}/refused")
    assert proc.returncode == 2 and "nothing pushed" in proc.stderr and "license" in proc.stderr
    assert "/home/someone/runs/finer" in proc.stderr
    assert len(hub_server.requests()) == before  # refused before any request, let alone an upload

    from huggingface_hub import CommitOperationAdd

    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    repo = f"{hub_server.user}/refused-direct"
    api.create_repo(repo, exist_ok=True)
    card = "---\nlicense: apache-2\nbase_model: /home/someone/model\nmodel-index:\n- name: x\n  results: []\n---\n"
    # huggingface_hub asks the server's validate-yaml route before it hashes or uploads anything ...
    with pytest.raises(ValueError, match=r"^Invalid metadata in README.md.\n- \"license\" is 'apache-2'"):
        api.create_commit(repo, [CommitOperationAdd("README.md", card.encode())], commit_message="bad card")
    # ... and a client that does not is refused at commit time, as the Hub does
    header = {"key": "header", "value": {"summary": "bad card"}}
    readme = {"key": "file", "value": {"path": "README.md", "encoding": "base64",
                                       "content": base64.b64encode(card.encode()).decode()}}
    answer = requests.post(f"{hub_server.endpoint}/api/models/{repo}/commit/main",
                           data="\n".join(json.dumps(line) for line in (header, readme)),
                           headers={"Authorization": f"Bearer {hub_server.write_token}",
                                    "Content-Type": "application/x-ndjson"}, timeout=30)
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert message.startswith("Invalid metadata in README.md.")
    assert '"base_model" has \'/home/someone/model\'' in message and '"model-index[0].results"' in message
    assert api.list_repo_files(repo) == [".gitattributes"]


@pytest.mark.parametrize("hub_id", [None, "acme/finer-base"])
def test_a_run_from_a_local_model_folder_pushes_a_valid_card(hub_server, finer_run, tmp_path, hub_id):
    """Weights loaded from a folder: base_model is the Hub id given by model.hub_id, or left out (the card says
    the base model is not on the Hub); never the folder's path."""
    out = tmp_path / "from-folder"
    args = ["--no-export", f"model.name_or_path={finer_run / 'model'}", "model.from_scratch=null",
            "training.num_train_epochs=1", "data.generate.num_sentences=800"]
    run_recipe("finer", out, *args, *([f"model.hub_id={hub_id}"] if hub_id else []))
    results = read_results(out)
    assert results.model.base_model == hub_id and "PATH/model" in json.dumps(results.config)
    assert machine_paths((out / "results.json").read_text()) == []
    model_id = f"{hub_server.user}/from-folder-{'hub' if hub_id else 'local'}"
    proc = hubtools_push(hub_server, out, "--repo-id", model_id)
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    card = open(api.hf_hub_download(model_id, "README.md")).read()
    assert front_matter(card).get("base_model") == hub_id and readme_problems(card) == []
    if hub_id is None:
        assert "fine-tuned from a local model that is not on the Hub" in card
    else:
        assert f"fine-tuned from [{hub_id}](https://huggingface.co/{hub_id})" in card
