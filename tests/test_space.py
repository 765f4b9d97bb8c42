"""The demo Space (hubtools.space), `hubtools push --space` and `hubtools preview`, without a browser (the page in
Chromium: tests/test_space_browser.py)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import client_env
from recipe_runs import ROOT, recipe_env
from transformers_js import JS_DIR

from hubtools.cards.rules import front_matter, metadata_problems, readme_problems
from hubtools.errors import UsageError
from hubtools.preview import preview_site
from hubtools.results import RunResults
from hubtools.run import read_results
from hubtools.space import (
    TRANSFORMERS_JS_FILE,
    TRANSFORMERS_JS_INTEGRITY,
    TRANSFORMERS_JS_URL,
    TRANSFORMERS_JS_VERSION,
    demo_variant,
    space_files,
)

CONFIG = re.compile(r'<script type="application/json" id="space-config">(.*?)</script>', re.S)


def page_config(page: bytes) -> dict:
    return json.loads(CONFIG.search(page.decode()).group(1))


def test_transformers_js_is_the_locked_version_with_the_hash_of_its_file():
    lock = json.loads((JS_DIR / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@huggingface/transformers"]["version"] == TRANSFORMERS_JS_VERSION
    assert TRANSFORMERS_JS_URL.endswith(f"@{TRANSFORMERS_JS_VERSION}/{TRANSFORMERS_JS_FILE.split('/', 2)[2]}")
    installed = JS_DIR / "node_modules" / TRANSFORMERS_JS_FILE
    if not installed.is_file():
        pytest.fail(f"{installed.relative_to(ROOT)} is missing: run scripts/setup.sh --dev")
    digest = base64.b64encode(hashlib.sha384(installed.read_bytes()).digest()).decode()
    assert TRANSFORMERS_JS_INTEGRITY == f"sha384-{digest}"


def test_space_metadata_rules():
    good = {"title": "demo", "sdk": "static", "app_file": "index.html", "models": ["alice/m"],
            "datasets": ["alice/d"], "colorFrom": "blue", "colorTo": "green"}
    assert metadata_problems(good, "space") == []
    assert metadata_problems({k: v for k, v in good.items() if k != "sdk"}, "space") == [
        '"sdk" is None: a Space needs one of docker, gradio, static, streamlit']
    assert metadata_problems({**good, "colorTo": "teal", "models": ["not a repo"]}, "space") == [
        "\"models\" has 'not a repo', which is not a model repo id",
        "\"colorTo\" is 'teal', not a colour of the Hub (blue, gray, green, indigo, pink, purple, red, yellow)"]


@pytest.fixture
def run(exported_finer_run: Path, tmp_path: Path) -> Path:
    shutil.copytree(exported_finer_run, tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def results(run: Path) -> RunResults:
    return read_results(run)


def test_space_files(run: Path, results: RunResults) -> None:
    files = space_files(run, results, "alice/finer-tiny", "alice/finer-tiny-data")
    assert set(files) == {"README.md", "index.html", "app.js", "style.css"}
    readme = files["README.md"].decode()
    meta = front_matter(readme)
    assert readme_problems(readme, "space") == []
    assert {k: meta[k] for k in ("sdk", "app_file", "models", "datasets", "license", "pinned")} == {
        "sdk": "static", "app_file": "index.html", "models": ["alice/finer-tiny"],
        "datasets": ["alice/finer-tiny-data"], "license": results.publish.license, "pinned": False}
    assert {"title", "emoji", "colorFrom", "colorTo"} <= set(meta)

    int8 = [v for v in results.export.passed if "int8" in v.name]
    smallest = min(int8, key=lambda v: v.size_bytes)
    assert demo_variant(results) == smallest
    page = files["index.html"]
    config = page_config(page)
    assert config["endpoint"] == "https://huggingface.co" and config["model"] == "alice/finer-tiny"
    assert config["file"] == smallest.file and (run / smallest.file).is_file()
    expected_options = {"model_quantized.onnx": {"dtype": "q8"}}.get(
        smallest.file_name, {"dtype": "fp32", "model_file_name": smallest.file_name[:-5]})
    assert config["options"] == expected_options
    assert set(config["colors"]) == set(results.dataset.entity_types)
    text = html.unescape(page.decode())
    assert f'src="{TRANSFORMERS_JS_URL}"' not in text  # loaded through the import map, with its hash
    assert f'"integrity": {{"{TRANSFORMERS_JS_URL}": "{TRANSFORMERS_JS_INTEGRITY}"}}' in text
    assert 'href="https://huggingface.co/alice/finer-tiny"' in text
    assert 'href="https://huggingface.co/datasets/alice/finer-tiny-data"' in text
    for figure in (results.test.f1, results.test.precision, results.test.recall):
        assert f"{figure:.4f}" in text
    assert results.publish.widget and all(f'data-text="{sentence}"' in text for sentence in results.publish.widget)

    local = space_files(run, results, "alice/finer-tiny", None, "http://127.0.0.1:1/t.js",
                        wasm_url="http://127.0.0.1:1/ort/", endpoint="http://127.0.0.1:2/")
    assert "datasets" not in front_matter(local["README.md"].decode())
    assert page_config(local["index.html"])["endpoint"] == "http://127.0.0.1:2"
    assert page_config(local["index.html"])["wasm_url"] == "http://127.0.0.1:1/ort/"
    page = local["index.html"].decode()
    assert '"http://127.0.0.1:1/t.js"' in page and "dataset-link" not in page


def test_space_needs_a_model_transformers_js_loads(run: Path, results: RunResults) -> None:
    with pytest.raises(UsageError, match="verified ONNX export"):
        space_files(run, dataclasses.replace(results, export=None), "alice/m")
    spanmarker = dataclasses.replace(results, model=dataclasses.replace(results.model, library_name="span-marker"))
    with pytest.raises(UsageError, match="span-marker model"):
        space_files(run, spanmarker, "alice/m")
    (run / demo_variant(results).file).unlink()
    with pytest.raises(UsageError, match="is missing"):
        space_files(run, results, "alice/m")


def test_push_publishes_the_space_and_the_card_links_it(hub_server, run: Path, tmp_path: Path) -> None:
    from huggingface_hub import HfApi, hf_hub_download

    model, space = f"{hub_server.user}/space-card", f"{hub_server.org}/space-card-demo"
    env = client_env(hub_server.endpoint, tmp_path, HF_TOKEN=hub_server.write_token)
    push = [sys.executable, "-m", "hubtools", "push", str(run), "--repo-id", model, "--space", space]
    proc = subprocess.run(push, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"space {space}@main (public) {hub_server.endpoint}/spaces/{space} - commit" in proc.stdout
    results = read_results(run)
    expected = space_files(run, results, model, None, endpoint=hub_server.endpoint)
    api = HfApi(endpoint=hub_server.endpoint)
    assert set(api.list_repo_files(space, repo_type="space")) == {".gitattributes", *expected}
    for name, data in expected.items():
        path = hf_hub_download(space, name, repo_type="space", endpoint=hub_server.endpoint, cache_dir=tmp_path / "c")
        assert Path(path).read_bytes() == data
    card = Path(hf_hub_download(model, "README.md", endpoint=hub_server.endpoint, cache_dir=tmp_path / "c"))
    assert f"[{space}](https://huggingface.co/spaces/{space})" in card.read_text()

    again = subprocess.run(push, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and f"space {space}@main" in again.stdout
    assert again.stdout.count("no changes: nothing committed") == 2  # model and Space unchanged

    bad = subprocess.run([*push[:-1], "not-a-repo-id"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("hubtools push: error: --space 'not-a-repo-id' is not a repo id: use "
                                  "NAMESPACE/NAME (your user or org name)")


def test_the_hub_server_refuses_a_space_without_sdk(hub_server) -> None:
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    request = urllib.request.Request(f"{hub_server.endpoint}/api/repos/create", method="POST",
                                     data=json.dumps({"type": "space", "name": "no-sdk"}).encode(),
                                     headers={"Authorization": f"Bearer {hub_server.write_token}"})
    with pytest.raises(urllib.error.HTTPError, match="400"):
        urllib.request.urlopen(request, timeout=30)
    repo = f"{hub_server.user}/sdk-less"
    api.create_repo(repo, repo_type="space", space_sdk="static")
    readme = CommitOperationAdd("README.md", b"---\ntitle: x\n---\n# x\n")
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.create_commit(repo, [readme], commit_message="no sdk", repo_type="space")


def test_preview_site_lays_the_run_out_as_the_model_repo(run: Path, results: RunResults) -> None:
    site = preview_site(run, "http://127.0.0.1:9")
    repo = f"local/{results.model.model_type}-{results.dataset.name}"
    variant = demo_variant(results)
    assert site[f"/{repo}/resolve/main/{variant.file}"] == run / variant.file
    assert site[f"/{repo}/resolve/main/tokenizer.json"] == run / "model" / "tokenizer.json"
    assert page_config(site["/space/"])["endpoint"] == "http://127.0.0.1:9"
    page = site["/"].decode()
    for src in re.findall(r'<img [^>]*src="([^"]+)"', page):
        assert f"/{src}" in site, src
    assert f"<td>Test F1</td><td>{results.test.f1}</td>" in page
    assert f"F1 of\n{results.test.f1:.4f}" in page
    assert '<iframe id="space" src="space/"' in page
    assert site[f"/{repo}"] == site["/"]  # the Space page's model link


def test_preview_command_serves_until_stopped(run: Path, results: RunResults) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "hubtools", "preview", str(run), "--port", "0"], env=recipe_env(),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url, timeout=30) as answer:
            assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
            assert f"{results.test.f1:.4f}" in answer.read().decode()
        with urllib.request.urlopen(url + "space/app.js", timeout=30) as answer:
            assert answer.headers["Content-Type"] == "text/javascript"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(url + "nothing-here", timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    bad = subprocess.run([sys.executable, "-m", "hubtools", "preview", str(run), "--port", "0", "--node-modules",
                          str(run)], env=recipe_env(), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith(f"hubtools preview: error: --node-modules {run}: no ")
