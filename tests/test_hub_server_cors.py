"""CORS on the test Hub server: a browser page on another origin (Transformers.js with onnxruntime-web,
scripts/check_browser.py) can preflight, fetch files, follow the LFS redirect and read the headers it needs."""

from __future__ import annotations

import secrets

import pytest
import requests
from huggingface_hub import CommitOperationAdd, HfApi

ORIGIN = "http://127.0.0.1:1"  # any other origin than the server's


@pytest.fixture
def repo(hub_server, hub_default_endpoint) -> str:
    repo_id = f"{hub_server.user}/cors-{secrets.token_hex(3)}"
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    api.create_repo(repo_id)
    api.create_commit(repo_id, [CommitOperationAdd("config.json", b'{"a": 1}\n'),
                                CommitOperationAdd("onnx/model.onnx", bytes(range(256)) * 8)],
                      commit_message="files")
    return repo_id


def exposed(response: requests.Response) -> set[str]:
    return {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}


def test_preflight_answers_any_path_without_authentication(hub_server, repo):
    url = f"{hub_server.endpoint}/{repo}/resolve/main/onnx/model.onnx"
    pre = requests.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                                         "Access-Control-Request-Headers": "range, authorization"}, timeout=10)
    assert pre.status_code == 204 and pre.content == b""
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert {"GET", "HEAD", "POST", "OPTIONS"} <= {m.strip() for m in
                                                 pre.headers["Access-Control-Allow-Methods"].split(",")}
    allowed = {h.strip().lower() for h in pre.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "range", "content-type"} <= allowed
    assert {"method": "OPTIONS", "path": f"/{repo}/resolve/main/onnx/model.onnx", "status": 204,
            "user": None} in hub_server.requests()
    # the connection stays usable after a preflight (keep-alive)
    with requests.Session() as session:
        assert session.options(url, timeout=10).status_code == 204
        assert session.get(f"{hub_server.endpoint}/{repo}/resolve/main/config.json", timeout=10).status_code == 200
    assert hub_server.unknown_routes() == []


def test_answers_allow_any_origin_and_expose_the_headers_clients_read(hub_server, repo):
    base = f"{hub_server.endpoint}/{repo}/resolve/main"
    regular = requests.get(f"{base}/config.json", headers={"Origin": ORIGIN}, timeout=10)
    assert regular.status_code == 200 and regular.headers["Access-Control-Allow-Origin"] == "*"
    assert {"etag", "x-repo-commit", "x-linked-etag", "x-linked-size", "content-range", "content-length",
            "x-error-code"} <= exposed(regular)

    redirect = requests.get(f"{base}/onnx/model.onnx", headers={"Origin": ORIGIN}, allow_redirects=False,
                            timeout=10)
    assert redirect.status_code == 302 and redirect.headers["Access-Control-Allow-Origin"] == "*"
    assert redirect.headers["X-Linked-Size"] == str(256 * 8)
    lfs = requests.get(redirect.headers["Location"], headers={"Origin": ORIGIN, "Range": "bytes=0-9"}, timeout=10)
    assert lfs.status_code == 206 and lfs.content == bytes(range(10))
    assert lfs.headers["Access-Control-Allow-Origin"] == "*" and "content-range" in exposed(lfs)

    missing = requests.get(f"{base}/nothing.json", headers={"Origin": ORIGIN}, timeout=10)
    assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
    assert missing.headers["Access-Control-Allow-Origin"] == "*"
