"""The demo Space in a real browser (headless Chromium through chromedriver, tests/browser.py).

The session's tiny exported finer run is pushed with its Space to the test Hub (`hubtools push --space`); the
pushed page (the same bytes but the Transformers.js URL, served from tests/js/node_modules with the same
integrity hash) is opened on another 127.0.0.1 port, loads the model from the Hub server, a test sentence is
typed into it, and the entities it highlights must be those of the Python pipeline on the same sentence:
``pipeline("ner", aggregation_strategy="simple")`` over the same ONNX file (the exactly comparable pair, as in
tests/test_transformers_js.py; PyTorch's are printed). Then `hubtools preview` is opened: the card's test F1,
its evaluation table and the widget, which tags an example with the run folder's files.

Screenshots of both pages go to $SPACE_SCREENSHOTS when it is set. Chromium or chromedriver missing skips, with
the reason, except under CI (CI=true), which installs them (scripts/setup.sh --dev) and fails without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser import Browser, browser_missing
from conftest import client_env
from datasets import Dataset
from recipe_runs import ROOT, recipe_env
from transformers_js import JS_DIR, require_transformers_js, sentence_text

from hubtools.preview import SiteServer
from hubtools.run import read_results
from hubtools.space import TRANSFORMERS_JS_FILE, TRANSFORMERS_JS_URL, demo_variant, space_files

# CI (CI=true) installs the browser, so there a missing one fails instead of skipping the work.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(browser_missing() is not None and not os.environ.get("CI"),
                                                   reason=browser_missing() or "")]

NUM_SENTENCES = 40
PAGE_TIMEOUT_S = 300

# The Python pipeline's entities (aggregation "simple") of each sentence, over one ONNX file of the repo and over
# PyTorch, in a fresh client process: {"onnx": [[[type, text], ...], ...], "pytorch": ...}.
PYTHON_ENTITIES = r"""
import json, sys
from optimum.onnxruntime import ORTModelForTokenClassification
from transformers import AutoTokenizer, pipeline

args = json.loads(sys.stdin.read())
repo, sentences = args["repo_id"], args["sentences"]
folder, _, file_name = args["file"].rpartition("/")
tokenizer = AutoTokenizer.from_pretrained(repo)
onnx = ORTModelForTokenClassification.from_pretrained(repo, subfolder=folder, file_name=file_name)
out = {}
for name, ner in (("onnx", pipeline("ner", model=onnx, tokenizer=tokenizer, aggregation_strategy="simple")),
                  ("pytorch", pipeline("ner", model=repo, aggregation_strategy="simple"))):
    out[name] = [[[e["entity_group"], text[e["start"]:e["end"]]] for e in ner(text)] for text in sentences]
print(json.dumps(out))
"""

SHOWN = "return [...document.querySelectorAll('#output mark.entity')].map(m => [m.dataset.entity, m.textContent])"
STATE = "return document.getElementById('status').dataset.state"


def screenshot_dir() -> Path | None:
    folder = os.environ.get("SPACE_SCREENSHOTS")
    return Path(folder) if folder else None


@pytest.fixture(scope="module")
def published(hub_server, exported_finer_run, tmp_path_factory) -> dict:
    """The session's exported finer run (a copy) pushed with its dataset and its Space."""
    require_transformers_js()
    run = tmp_path_factory.mktemp("space-published") / "run"
    shutil.copytree(exported_finer_run, run)
    repos = {"model": f"{hub_server.user}/finer-tiny-space", "dataset": f"{hub_server.user}/finer-tiny-space-data",
             "space": f"{hub_server.user}/finer-tiny-demo"}
    env = client_env(hub_server.endpoint, run.parent, HF_TOKEN=hub_server.write_token)
    proc = subprocess.run([sys.executable, "-m", "hubtools", "push", str(run), "--repo-id", repos["model"],
                           "--dataset-repo-id", repos["dataset"], "--space", repos["space"]],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"space {repos['space']}@main" in proc.stdout
    return {**repos, "run": run}


@pytest.fixture(scope="module")
def entities(hub_server, published, tmp_path_factory) -> dict:
    """The widget sentences and the first test sentences, with the Python pipeline's entities on each."""
    results = read_results(published["run"])
    words = Dataset.from_parquet(str(published["run"] / "dataset" / "test.parquet"))["tokens"][:NUM_SENTENCES]
    sentences = list(results.publish.widget) + [sentence_text(w) for w in words]
    job = json.dumps({"repo_id": published["model"], "sentences": sentences, "file": demo_variant(results).file})
    env = client_env(hub_server.endpoint, tmp_path_factory.mktemp("space-python"))
    proc = subprocess.run([sys.executable, "-c", PYTHON_ENTITIES], input=job, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"sentences": sentences, **json.loads(proc.stdout.strip().splitlines()[-1])}


def wait_until_ready(browser: Browser) -> None:
    state = browser.wait_for(f"const s = (() => {{ {STATE} }})(); return ['ready', 'error'].includes(s) && s",
                             PAGE_TIMEOUT_S)
    assert state == "ready", browser.run("return document.getElementById('status').textContent")


def tagged(browser: Browser, timeout: float = 60) -> list[list[str]]:
    browser.wait_for(f"return (() => {{ {STATE} }})() === 'tagged'", timeout)
    return browser.run(SHOWN)


def test_space_page_highlights_the_python_pipeline_s_entities(hub_server, published, entities, tmp_path):
    from huggingface_hub import snapshot_download

    run = published["run"]
    results = read_results(run)
    pushed_dir = Path(snapshot_download(published["space"], repo_type="space", endpoint=hub_server.endpoint,
                                        cache_dir=tmp_path / "cache"))
    pushed = {p.name: p.read_bytes() for p in pushed_dir.iterdir() if p.is_file() and p.name != ".gitattributes"}
    assert pushed == space_files(run, results, published["model"], published["dataset"],
                                 endpoint=hub_server.endpoint)

    site = SiteServer({}, {"/node_modules/": JS_DIR / "node_modules"}).start()
    module_url = f"{site.url}/node_modules/{TRANSFORMERS_JS_FILE}"
    wasm_url = f"{site.url}/node_modules/onnxruntime-web/dist/"
    local = space_files(run, results, published["model"], published["dataset"], module_url, wasm_url=wasm_url,
                        endpoint=hub_server.endpoint)
    # the page the browser opens is the pushed one but for where Transformers.js and the wasm files come from
    assert local["index.html"].decode() == pushed["index.html"].decode().replace(TRANSFORMERS_JS_URL, module_url) \
        .replace('"wasm_url": null', f'"wasm_url": "{wasm_url}"')
    site.files = {"/": local["index.html"], **{f"/{name}": data for name, data in local.items()}}

    candidates = [(s, e) for s, e in zip(entities["sentences"], entities["onnx"]) if e]
    assert candidates, "the Python pipeline finds no entity in any sentence: nothing to compare"
    sentence, expected = max(candidates, key=lambda pair: len({t for t, _ in pair[1]}) * 100 + len(pair[1]))
    before = len(hub_server.requests())
    try:
        with Browser(tmp_path / "profile") as browser:
            browser.open(site.url + "/")
            wait_until_ready(browser)
            browser.type("#text", sentence)
            browser.click("#tag")
            shown = tagged(browser)
            print(f"\n{sentence!r}\n  page:    {shown}\n  Python (ONNX): {expected}\n"
                  f"  PyTorch: {entities['pytorch'][entities['sentences'].index(sentence)]}")
            assert shown == expected
            assert browser.run("return document.getElementById('output').textContent") == sentence
            titles = browser.run("return [...document.querySelectorAll('#output mark.entity')].map(m => m.title)")
            assert all(title.startswith(f"{kind} (score ") for title, (kind, _) in zip(titles, shown))
            if screenshot_dir():
                browser.screenshot(screenshot_dir() / "space-page.png")

            widget = list(results.publish.widget)
            if widget:  # one click on the first example tags it
                browser.click("button.example")
                assert tagged(browser) == entities["onnx"][0]
                assert browser.run("return document.getElementById('text').value") == widget[0]
    finally:
        site.shutdown()
    fetched = [r["path"] for r in hub_server.requests()[before:]
               if r["method"] == "GET" and r["path"].endswith(".onnx")]
    assert fetched == [f"/{published['model']}/resolve/main/{demo_variant(results).file}"]


def test_preview_shows_the_card_the_evaluation_and_the_widget(exported_finer_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(exported_finer_run, run)
    results = read_results(run)
    proc = subprocess.Popen([sys.executable, "-m", "hubtools", "preview", str(run), "--port", "0", "--node-modules",
                             str(JS_DIR / "node_modules")], env=recipe_env(), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"preview of {run}: the model card at http://127.0.0.1:"), proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        with Browser(tmp_path / "profile", height=1400) as browser:
            browser.open(url)
            card = browser.run("return document.getElementById('card').innerText")
            assert f"F1 of {results.test.f1:.4f}" in " ".join(card.split())
            rows = browser.run("return [...document.querySelectorAll('#evaluation tbody tr')]"
                               ".map(r => [...r.cells].map(c => c.textContent))")
            assert [results.dataset.name, results.test.split, "Test F1", str(results.test.f1)] in rows
            chips = browser.run("return document.getElementById('metadata').innerText")
            assert "token-classification" in chips and results.publish.license in chips
            assert browser.run("return [...document.querySelectorAll('#card img')].every(i => i.naturalWidth > 0)")
            space = "document.getElementById('space').contentDocument"
            examples = browser.wait_for(f"return {space}?.querySelectorAll('button.example').length", 60)
            assert examples == len(results.publish.widget) > 0
            browser.wait_for(f"return ['ready', 'error'].includes({space}.getElementById('status').dataset.state)",
                             PAGE_TIMEOUT_S)
            assert browser.run(f"return {space}.getElementById('status').dataset.state") == "ready"
            browser.run(f"{space}.querySelector('button.example').click()")
            browser.wait_for(f"return {space}.getElementById('status').dataset.state === 'tagged'", 60)
            assert browser.run(f"return {space}.getElementById('output').textContent") == results.publish.widget[0]
            if screenshot_dir():
                browser.run(f"{space}.defaultView.scrollTo(0, {space}.getElementById('widget').offsetTop)")
                browser.screenshot(screenshot_dir() / "preview-page.png")
    finally:
        proc.terminate()
        proc.wait(timeout=30)

