"""The test Hub server against the unmodified huggingface_hub, transformers and datasets clients."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

import pytest
import requests
from conftest import client_env, run_client
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from tiny_ner import save_tiny_model


def unique(name: str) -> str:
    return f"{name}-{secrets.token_hex(3)}"


@pytest.fixture
def api(hub_server, hub_default_endpoint) -> HfApi:
    return HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)


def test_create_upload_download_and_lfs(hub_server, api, tmp_path):
    repo = f"{hub_server.user}/{unique('files')}"
    api.create_repo(repo)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(repo)
    assert err.value.response.status_code == 409
    api.create_repo(repo, exist_ok=True)
    weights = bytes(range(256)) * 64
    api.create_commit(
        repo,
        [
            CommitOperationAdd("notes/a.txt", b"hello\n"),
            CommitOperationAdd("weights.safetensors", weights),
        ],
        commit_message="add files",
    )
    files = {f.path: f for f in api.list_repo_tree(repo, recursive=True) if hasattr(f, "lfs")}
    assert set(files) == {".gitattributes", "notes/a.txt", "weights.safetensors"}
    assert files["notes/a.txt"].lfs is None
    assert files["weights.safetensors"].lfs.sha256 == hashlib.sha256(weights).hexdigest()
    info = api.model_info(repo, files_metadata=True)
    sizes = {s.rfilename: s.size for s in info.siblings}
    assert sizes["weights.safetensors"] == len(weights)

    path = hf_hub_download(repo, "weights.safetensors", cache_dir=tmp_path, endpoint=hub_server.endpoint)
    assert Path(path).read_bytes() == weights
    url = f"{hub_server.endpoint}/{repo}/resolve/main/weights.safetensors"
    head = requests.head(url, timeout=10)
    assert head.status_code == 302
    assert head.headers["X-Linked-Size"] == str(len(weights))
    assert head.headers["X-Repo-Commit"] == info.sha
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert part.status_code == 206 and part.content == weights[10:20]
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "missing.txt", cache_dir=tmp_path, endpoint=hub_server.endpoint)


def test_lfs_upload_rejects_wrong_content(hub_server, api):
    repo = f"{hub_server.user}/{unique('lfs')}"
    api.create_repo(repo)
    oid = hashlib.sha256(b"right").hexdigest()
    batch = requests.post(
        f"{hub_server.endpoint}/{repo}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": oid, "size": 5}]},
        headers={"Authorization": f"Bearer {hub_server.write_token}"},
        timeout=10,
    ).json()
    href = batch["objects"][0]["actions"]["upload"]["href"]
    assert requests.put(href, data=b"wrong", timeout=10).status_code == 400
    commit = requests.post(  # the object was never uploaded and verified: the commit is refused
        f"{hub_server.endpoint}/api/models/{repo}/commit/main",
        data=json.dumps({"key": "header", "value": {"summary": "x"}})
        + "\n"
        + json.dumps({"key": "lfsFile", "value": {"path": "a.bin", "algo": "sha256", "oid": oid}}),
        headers={"Authorization": f"Bearer {hub_server.write_token}"},
        timeout=10,
    )
    assert commit.status_code == 422
    assert "a.bin" not in api.list_repo_files(repo)


def test_branches_tags_commits_and_parent_conflict(hub_server, api):
    repo = f"{hub_server.org}/{unique('branches')}"
    api.create_repo(repo, repo_type="dataset")
    first = api.create_commit(
        repo, [CommitOperationAdd("a.txt", b"1")], commit_message="one", repo_type="dataset"
    ).oid
    api.create_branch(repo, branch="dev", repo_type="dataset")
    api.create_commit(
        repo, [CommitOperationAdd("a.txt", b"2")], commit_message="two", repo_type="dataset", revision="dev"
    )
    api.create_tag(repo, tag="v1", revision=first, repo_type="dataset")
    read = {"repo_type": "dataset", "endpoint": hub_server.endpoint, "token": hub_server.write_token}
    assert Path(hf_hub_download(repo, "a.txt", revision="dev", **read)).read_text() == "2"
    assert Path(hf_hub_download(repo, "a.txt", revision="v1", **read)).read_text() == "1"
    assert [c.title for c in api.list_repo_commits(repo, repo_type="dataset", revision="dev")] == [
        "two",
        "one",
        "initial commit",
    ]
    refs = api.list_repo_refs(repo, repo_type="dataset")
    assert {b.name for b in refs.branches} == {"main", "dev"} and [t.name for t in refs.tags] == ["v1"]
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(
            repo,
            [CommitOperationAdd("b.txt", b"3")],
            commit_message="stale",
            repo_type="dataset",
            revision="dev",
            parent_commit=first,
        )
    assert err.value.response.status_code == 412
    assert "b.txt" not in api.list_repo_files(repo, repo_type="dataset", revision="dev")
    api.delete_branch(repo, branch="dev", repo_type="dataset")
    with pytest.raises(RevisionNotFoundError):
        api.repo_info(repo, repo_type="dataset", revision="dev")


def test_private_repos_and_tokens(hub_server, api):
    repo = f"{hub_server.user}/{unique('private')}"
    api.create_repo(repo, private=True)
    assert api.model_info(repo).private is True
    anonymous = HfApi(endpoint=hub_server.endpoint, token=False)
    reader = HfApi(endpoint=hub_server.endpoint, token=hub_server.read_token)
    for client in (anonymous, reader):
        with pytest.raises(RepositoryNotFoundError):
            client.model_info(repo)
        with pytest.raises(RepositoryNotFoundError):
            client.hf_hub_download(repo, ".gitattributes")
    with pytest.raises(HfHubHTTPError) as err:
        HfApi(endpoint=hub_server.endpoint, token="hf_not_a_token").model_info(repo)
    assert err.value.response.status_code == 401
    public = f"{hub_server.user}/{unique('public')}"
    api.create_repo(public)
    with pytest.raises(HfHubHTTPError) as err:
        reader.create_commit(public, [CommitOperationAdd("x.txt", b"x")], commit_message="x")
    assert err.value.response.status_code == 403
    assert reader.whoami()["name"] == hub_server.reader


def test_transformers_and_datasets_clients(hub_server, api, tmp_path):
    model_repo = f"{hub_server.user}/{unique('tiny-ner')}"
    api.create_repo(model_repo)
    api.upload_folder(repo_id=model_repo, folder_path=save_tiny_model(tmp_path / "model"))
    assert api.model_info(model_repo).pipeline_tag == "token-classification"
    dataset_repo = f"{hub_server.user}/{unique('tiny-data')}"
    code = f"""
import json, sys
from transformers import AutoModelForTokenClassification, pipeline
from tiny_ner import ner_dataset
from datasets import load_dataset
model = AutoModelForTokenClassification.from_pretrained({model_repo!r})
tagger = pipeline(model={model_repo!r})
ner = pipeline("ner", model={model_repo!r})
ner_dataset().push_to_hub({dataset_repo!r}, token={hub_server.write_token!r})
loaded = load_dataset({dataset_repo!r})
print(json.dumps({{
    "labels": model.config.id2label, "task": tagger.task, "tags": len(ner("Alice lives in Paris")) >= 0,
    "splits": {{k: v.num_rows for k, v in loaded.items()}},
    "names": loaded["train"].features["ner_tags"].feature.names, "row": loaded["test"][0],
}}))
"""
    env = client_env(hub_server.endpoint, tmp_path, PYTHONPATH=str(Path(__file__).parent))
    proc = run_client(code, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["task"] == "token-classification"
    assert list(out["labels"].values()) == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    assert out["splits"] == {"train": 2, "validation": 1, "test": 1}
    assert out["names"] == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    assert out["row"]["tokens"][:2] == ["Dan", "works"]
    assert hub_server.unknown_routes() == []


def test_unknown_routes_are_recorded(hub_server):
    before = hub_server.unknown_routes()
    assert requests.get(f"{hub_server.endpoint}/api/nonexistent-route", timeout=10).status_code == 501
    assert hub_server.unknown_routes() == [*before, "GET /api/nonexistent-route"]
    # forget it again so that other tests can keep asserting that no unknown route was hit
    requests.delete(f"{hub_server.endpoint}/_test/unknown-routes", timeout=10)
