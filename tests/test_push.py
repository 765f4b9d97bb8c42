"""hubtools.push against the test Hub: plans, single commits, idempotence, failures and clients; and what a push
must never do: publish a file nobody vetted, a token, into the wrong visibility, or half a run."""

from __future__ import annotations

import functools
import json
import logging
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import client_env, run_client
from helpers import run_results
from huggingface_hub import HfApi
from tiny_ner import ner_dataset, save_tiny_model

from hubtools import push
from hubtools.cards import render_cards
from hubtools.credentials import command_without_secrets, has_token, without_secrets
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
    model, data = report.model, report.dataset
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
    assert all(r.created for r in report.repos) and len(report.dataset.added) == 4
    # reads only, and the Hub's card validation (which commits nothing)
    assert all(r["method"] in ("GET", "HEAD") or r["path"] == "/api/validate-yaml" for r in server.requests()[before:])
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
    model, data = report.model, report.dataset
    # the model card links the dataset repo pushed with it this time
    assert [f.path for f in model.changed] == ["README.md", "results.json"] and model.url.endswith("/tree/experiment")
    card = open(api.hf_hub_download(model_id, "README.md", revision="experiment")).read()
    assert f"datasets:\n- {dataset_id}\n" in card
    assert commits(api, model_id, revision="experiment")[:2] == [model.commit, main_head]
    assert commits(api, model_id)[0] == main_head
    assert data.commit in commits(api, dataset_id, "dataset", revision="experiment")
    assert [r.commit for r in do_push(server, run, model_id, dataset_id, revision="experiment").repos] == [None, None]


# ---- what a push must never do ------------------------------------------------------------------------
TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"  # shaped like a user access token


def test_only_the_allow_list_is_published(hub, run):
    server, api = hub
    (run / "model" / ".env").write_text("HF_TOKEN=not-for-the-hub\n")
    (run / "model" / "training_args.bin").write_bytes(b"\x80\x04\x95pickle /home/ana/run.partial")
    (run / "model" / "notes.pkl").write_bytes(b"\x80\x04pickle")
    (run / "onnx" / ".cache").mkdir()
    (run / "onnx" / ".cache" / "model.onnx").write_bytes(b"\x08hidden")
    (run / "dataset" / "scratch.csv").write_text("a,b\n")
    model_id, dataset_id = ids(server)
    plan = do_push(server, run, model_id, dataset_id, dry_run=True)
    text = format_report(plan)
    assert ("not published (not on the model repo's list of files): model/.env, model/notes.pkl, "
            "model/training_args.bin, onnx/.cache/model.onnx") in text
    assert "not published (not on the dataset repo's list of files): dataset/scratch.csv" in text
    do_push(server, run, model_id, dataset_id)
    published = set(api.list_repo_files(model_id))
    assert {"config.json", "model.safetensors", "onnx/model.onnx", "results.json", "README.md"} <= published
    assert not published & {".env", "training_args.bin", "notes.pkl", "onnx/.cache/model.onnx"}
    assert "scratch.csv" not in api.list_repo_files(dataset_id, repo_type="dataset")


def test_a_token_or_machine_path_in_any_published_file_is_refused(hub, run):
    server, _ = hub
    model_id, _ = ids(server)
    onnx = run / "onnx" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"\x00" + TOKEN.encode() + b"\x00")  # binary, on the allow-list
    with pytest.raises(PushError, match=r"onnx/model\.onnx: contains a Hugging Face access token") as err:
        do_push(server, run, model_id, dry_run=True)
    assert TOKEN not in str(err.value)
    onnx.write_bytes(b"\x08\x07onnx-bytes\x00")
    (run / "model" / "vocab.txt").write_text("[PAD]\n/home/ana/private/notes\n")
    with pytest.raises(PushError, match=r"vocab\.txt: machine path '/home/ana/private/notes'"):
        do_push(server, run, model_id, dry_run=True)
    (run / "model" / "vocab.txt").unlink()
    (run / "model" / "config.json").write_bytes(b"{\x00\xff}")  # text slot, binary content
    with pytest.raises(PushError, match=r"config\.json: binary content where a text file belongs"):
        do_push(server, run, model_id, dry_run=True)
    assert not server.requests() or model_id not in str(server.requests()[-1])


def test_credentials_are_never_recorded():
    config = {"training": {"hub_token": TOKEN, "learning_rate": 0.1, "max_tokens_per_batch": 8},
              "model": {"case_tokens": True}, "publish": {"api_key": "x", "model_repo_id": "a/b"}}
    assert without_secrets(config) == {"training": {"learning_rate": 0.1, "max_tokens_per_batch": 8},
                                       "model": {"case_tokens": True}, "publish": {"model_repo_id": "a/b"}}
    argv = ["--preset", "tiny", f"training.hub_token={TOKEN}", "--hub-token", "abc", "--output-dir", "runs/x",
            f"--note={TOKEN}", "data.tokens_column=words"]
    assert command_without_secrets(argv) == ["--preset", "tiny", "--output-dir", "runs/x",
                                             "data.tokens_column=words"]
    assert has_token(TOKEN.encode()) and not has_token(b"hf_wdca3bf7d1 max_tokens_per_batch")


def test_a_refused_repo_leaves_both_unpublished(hub, run):
    server, api = hub
    model_id, dataset_id = ids(server)
    for model, dataset in ((model_id, "someone-else/data"), ("someone-else/model", dataset_id)):
        with pytest.raises(PushError) as err:
            do_push(server, run, model, dataset)
        assert "cannot write to the namespace 'someone-else'" in str(err.value) and "nothing pushed" in str(err.value)
        assert not api.repo_exists(model_id) and not api.repo_exists(dataset_id, repo_type="dataset")


def test_fault_between_the_two_commits_then_the_same_command_finishes(hub, run):
    server, api = hub
    model_id, dataset_id = ids(server)
    server.inject_fault(f"commit:model/{model_id}", count=100)
    try:
        with pytest.raises(PushError) as err:
            do_push(server, run, model_id, dataset_id)
    finally:
        server.inject_fault(None)
    message = str(err.value)
    data_commit = commits(api, dataset_id, "dataset")[0]
    assert message.startswith(f"published dataset {dataset_id} (commit {data_commit[:12]}), but not the rest: ")
    assert message.endswith("run the same command again to finish (files already on the Hub are skipped)")
    assert "README.md" not in api.list_repo_files(model_id)  # the model card never names a missing dataset
    report = do_push(server, run, model_id, dataset_id)
    assert report.dataset.commit is None and report.model.commit is not None
    assert commits(api, dataset_id, "dataset")[0] == data_commit
    card = open(api.hf_hub_download(model_id, "README.md")).read()
    assert f"datasets:\n- {dataset_id}\n" in card


def push_cli(server, run, *args: str, tmp_path) -> subprocess.CompletedProcess:
    env = client_env(server.endpoint, tmp_path, HF_TOKEN=server.write_token)
    return subprocess.run([sys.executable, "-m", "hubtools", "push", str(run), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_private_never_publishes_into_a_public_repo(hub, run, tmp_path):
    server, api = hub
    model_id, _ = ids(server)
    do_push(server, run, model_id)
    before = commits(api, model_id)
    proc = push_cli(server, run, "--repo-id", model_id, "--private", tmp_path=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"hubtools push: error: model repo {model_id} exists and is public: --private only applies to a repo the "
        "push creates; pass --visibility private to make it private first, or drop --private to publish into the "
        "public repo; nothing pushed")
    assert commits(api, model_id) == before and not api.model_info(model_id).private
    touch_results(run)
    proc = push_cli(server, run, "--repo-id", model_id, "--visibility", "private", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"model {model_id}@main (made private)" in proc.stdout
    assert api.model_info(model_id).private and commits(api, model_id) != before
