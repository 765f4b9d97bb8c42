"""The product end to end: a tiny finer run, exported, carded and pushed with the ``hubtools`` command to the
test Hub, then used by fresh client processes that only know HF_ENDPOINT."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import client_env, run_client
from datasets import Dataset
from huggingface_hub import HfApi
from recipe_runs import ROOT


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
