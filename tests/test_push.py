"""hubtools.push against the test Hub: plans, single commits, idempotence, failures and clients."""

from __future__ import annotations

import functools
import json
import logging
import secrets
from pathlib import Path

import pytest
from conftest import client_env, run_client
from helpers import run_results
from huggingface_hub import HfApi
from tiny_ner import ner_dataset, save_tiny_model

from hubtools import push
from hubtools.cards import render_cards
from hubtools.push import PushError, format_report, push_run
from hubtools.run import read_results, write_results

SENTENCE = "Alice Smith moved from Paris to Berlin"


@pytest.fixture(scope="module")
def run_template(tmp_path_factory) -> Path:
    """A finished run folder, built by hand like hubtools.run writes it."""
    run = tmp_path_factory.mktemp("run") / "RUN"
    save_tiny_model(run / "model")
    (run / "onnx").mkdir()
    (run / "onnx" / "model.onnx").write_bytes(b"\x08\x07onnx-bytes\x00" * 8)
    (run / "plots").mkdir()
    (run / "plots" / "training_curves.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (run / "dataset").mkdir()
    dataset = ner_dataset()
    for split, ds in dataset.items():
        ds.to_parquet(str(run / "dataset" / f"{split}.parquet"))
    write_results(run, run_results(f1=0.5, splits={split: len(ds) for split, ds in dataset.items()}))
    render_cards(run)
    (run / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint-1" / "optimizer.pt").write_bytes(b"secret-ish state")
    return run


@pytest.fixture
def run(run_template, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(run_template, tmp_path / "RUN"))


@pytest.fixture
def hub(hub_server, hub_default_endpoint, monkeypatch):
    """The test Hub with no ambient token and fast retries; returns (server, writer HfApi)."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(push, "RETRY_BASE_S", 0.01)
    return hub_server, HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)


def ids(hub_server) -> tuple[str, str]:
    name = f"tiny-ner-{secrets.token_hex(3)}"
    return f"{hub_server.user}/{name}", f"{hub_server.org}/{name}-data"


def do_push(hub_server, run, model_id, dataset_id=None, **kw):
    kw.setdefault("token", hub_server.write_token)
    return push_run(run, model_id, dataset_repo_id=dataset_id, endpoint=hub_server.endpoint, **kw)


def touch_results(run: Path) -> None:
    """Change results.json where no card shows it (the run's total time)."""
    results = read_results(run)
    results.timings.total_s = (results.timings.total_s or 0) + 1.0
    write_results(run, results)


def commits(api, repo_id, repo_type="model", revision="main") -> list[str]:
    return [c.commit_id for c in api.list_repo_commits(repo_id, repo_type=repo_type, revision=revision)]


def test_push_then_clients_then_idempotent(hub, run, tmp_path):
    server, api = hub
    model_id, dataset_id = ids(server)
    report = do_push(server, run, model_id, dataset_id)
    model, data = report.repos
    assert (model.repo_type, data.repo_type) == ("model", "dataset")
    assert commits(api, model_id) == [model.commit, commits(api, model_id)[1]]  # initial commit + ours
    assert (
        commits(api, dataset_id, "dataset")[0] == data.commit
        and len(commits(api, dataset_id, "dataset")) == 2
    )
    remote = set(api.list_repo_files(model_id))
    assert {"model.safetensors", "config.json", "README.md", "onnx/model.onnx", "results.json"} <= remote
    assert "plots/training_curves.png" in remote and not any("checkpoint" in p for p in remote)
    assert set(api.list_repo_files(dataset_id, repo_type="dataset")) == {
        ".gitattributes",
        "README.md",
        "train.parquet",
        "validation.parquet",
        "test.parquet",
    }
    assert {f.path for f in model.added} == {p for p in remote if p != ".gitattributes"}
    assert "commit " + model.commit in format_report(report)

    code = f"""
import json
from transformers import pipeline
from datasets import load_dataset
hub = pipeline("ner", model={model_id!r})
local = pipeline("ner", model={str(run / "model")!r})
ds = load_dataset({dataset_id!r})
print(json.dumps({{"hub": str(hub({SENTENCE!r})), "local": str(local({SENTENCE!r})),
    "rows": {{k: v.to_list() for k, v in ds.items()}},
    "names": ds["train"].features["ner_tags"].feature.names}}))
"""
    proc = run_client(code, client_env(server.endpoint, tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["hub"] == out["local"] and "entity" in out["hub"]
    assert out["rows"] == {k: v.to_list() for k, v in ner_dataset().items()}
    assert out["names"] == ner_dataset()["train"].features["ner_tags"].feature.names

    again = do_push(server, run, model_id, dataset_id)
    assert [r.commit for r in again.repos] == [None, None]
    assert all(not r.added and not r.changed and not r.deleted for r in again.repos)
    assert len(commits(api, model_id)) == 2
    assert "no changes" in format_report(again)
    assert server.unknown_routes() == []


def test_changed_file_only_is_uploaded_and_stale_files_deleted(hub, run):
    server, api = hub
    model_id, _ = ids(server)
    do_push(server, run, model_id)
    touch_results(run)
    (run / "onnx" / "model.onnx").unlink()
    before = len(server.requests())
    report = do_push(server, run, model_id).repos[0]
    assert [f.path for f in report.changed] == ["results.json"]
    assert [f.path for f in report.deleted] == ["onnx/model.onnx"] and not report.added
    new_requests = server.requests()[before:]
    assert not [r for r in new_requests if r["method"] == "PUT"]  # results.json is regular: no LFS upload
    assert [r["path"] for r in new_requests if "/commit/" in r["path"]] == [
        f"/api/models/{model_id}/commit/main"
    ]
    assert "onnx/model.onnx" not in api.list_repo_files(model_id)
    assert len(commits(api, model_id)) == 3


def test_dry_run_writes_nothing(hub, run):
    server, api = hub
    model_id, dataset_id = ids(server)
    before = len(server.requests())
    report = do_push(server, run, model_id, dataset_id, dry_run=True)
    assert report.dry_run and [r.commit for r in report.repos] == [None, None]
    assert all(r.created for r in report.repos) and len(report.repos[1].added) == 4
    assert all(r["method"] in ("GET", "HEAD") for r in server.requests()[before:])
    assert not api.repo_exists(model_id)
    text = format_report(report)
    assert "dry run" in text and "new       model.safetensors" in text


def test_bad_token_gives_one_line_without_token(hub, run, caplog):
    server, _ = hub
    model_id, _ = ids(server)
    bad = f"hf_{secrets.token_hex(16)}"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PushError) as err:
        do_push(server, run, model_id, token=bad)
    message = str(err.value)
    assert "\n" not in message and "HF_TOKEN" in message and bad not in message
    with pytest.raises(PushError, match="only read"):
        do_push(server, run, model_id, token=server.read_token)
    with pytest.raises(PushError, match="no Hub token"):
        push_run(run, model_id, endpoint=server.endpoint)
    with pytest.raises(PushError, match="NAMESPACE/NAME"):
        do_push(server, run, "just-a-name")
    assert bad not in caplog.text and server.write_token not in caplog.text
    ok = do_push(server, run, model_id)
    assert server.write_token not in format_report(ok) + repr(ok) + caplog.text
    assert not any(server.write_token.encode() in p.read_bytes() for p in run.rglob("*") if p.is_file())


def test_private_repo_invisible_without_token(hub, run):
    server, api = hub
    model_id, dataset_id = ids(server)
    do_push(server, run, model_id, dataset_id, private=True)
    assert api.model_info(model_id).private
    for token in (False, server.read_token):
        assert not HfApi(endpoint=server.endpoint, token=token).repo_exists(model_id)
        assert not HfApi(endpoint=server.endpoint, token=token).repo_exists(dataset_id, repo_type="dataset")


@pytest.mark.parametrize("fault", ["lfs_upload", "commit"])
def test_interrupted_push_keeps_previous_revision(hub, run, fault, monkeypatch):
    server, api = hub
    from huggingface_hub import lfs

    fast = functools.partial(lfs.http_backoff, base_wait_time=0.01, max_wait_time=0.02)
    monkeypatch.setattr(lfs, "http_backoff", fast)  # the client's own LFS retries, made fast
    model_id, _ = ids(server)
    do_push(server, run, model_id)
    head = commits(api, model_id)[0]
    (run / "onnx" / "model.onnx").write_bytes(b"\x08\x07other-onnx\x00" * 8)  # an LFS upload
    server.inject_fault(fault, count=100)
    try:
        with pytest.raises(PushError):
            do_push(server, run, model_id)
    finally:
        server.inject_fault(None)
    assert commits(api, model_id)[0] == head
    server.inject_fault(fault, count=1)  # one dropped connection is retried within the push
    report = do_push(server, run, model_id).repos[0]
    assert [f.path for f in report.changed] == ["onnx/model.onnx"]
    assert commits(api, model_id)[:2] == [report.commit, head]


def test_revision_creates_branch(hub, run):
    server, api = hub
    model_id, dataset_id = ids(server)
    do_push(server, run, model_id)
    main_head = commits(api, model_id)[0]
    touch_results(run)
    report = do_push(server, run, model_id, dataset_id, revision="experiment")
    model, data = report.repos
    # the model card links the dataset repo pushed with it this time
    assert [f.path for f in model.changed] == ["README.md", "results.json"] and model.url.endswith("/tree/experiment")
    card = open(api.hf_hub_download(model_id, "README.md", revision="experiment")).read()
    assert f"datasets:\n- {dataset_id}\n" in card
    assert commits(api, model_id, revision="experiment")[:2] == [model.commit, main_head]
    assert commits(api, model_id)[0] == main_head
    assert data.commit in commits(api, dataset_id, "dataset", revision="experiment")
    assert [r.commit for r in do_push(server, run, model_id, dataset_id, revision="experiment").repos] == [None, None]
