"""The published ONNX files in JavaScript: the session's tiny finer run is pushed to the test Hub and tagged by
the Transformers.js pipeline in Node (tests/js/tag.mjs, onnxruntime-node), word by word against the Python
pipeline of the same repo in a fresh client process.

What is exactly comparable, and asserted as such (word agreement 1.0, see tests/transformers_js.py for the
word-level definition):
- every ONNX file Transformers.js selects vs Python ONNX Runtime on the same file: the same graph and
  weights in ONNX Runtime's CPU kernels, only the versions differ (onnxruntime-node vs the Python wheel);
- fp32 (onnx/model.onnx) vs the PyTorch pipeline: a lossless export (the export stage verified it too).
The int8 files vs PyTorch are reported, not bounded beyond what the Python int8 path itself gives: with the
exact agreement above, Transformers.js int8 agrees with PyTorch exactly as often as Python's int8 does, which
the export stage bounded (test F1 within export.max_f1_drop).

A missing Node or npm install fails (TransformersJsMissing, with what to run), never skips: CI runs
scripts/setup.sh --dev first.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import client_env
from datasets import Dataset
from recipe_runs import ROOT
from transformers_js import (
    JS_VARIANTS,
    check_same_tokens,
    compare,
    js_tokens,
    python_reference,
    require_transformers_js,
    run_tag,
    sentence_text,
)

pytestmark = pytest.mark.slow

NUM_SENTENCES = 40


@pytest.fixture(scope="module")
def published(hub_server, exported_finer_run, tmp_path_factory) -> tuple[str, object]:
    """The session's exported finer run pushed with `hubtools push` (a copy: pushing must not touch the shared
    run); returns (model repo id, run folder)."""
    require_transformers_js()  # a set-up problem fails here, before anything is pushed
    run = tmp_path_factory.mktemp("js-published") / "run"
    shutil.copytree(exported_finer_run, run)
    repo_id = f"{hub_server.user}/finer-tiny-js"
    env = client_env(hub_server.endpoint, run.parent, HF_TOKEN=hub_server.write_token)
    proc = subprocess.run([sys.executable, "-m", "hubtools", "push", str(run), "--repo-id", repo_id,
                           "--dataset-repo-id", f"{hub_server.org}/finer-tiny-js-data"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return repo_id, run


@pytest.fixture(scope="module")
def test_words(published) -> list[list[str]]:
    """The first NUM_SENTENCES sentences of the run's test split, as words."""
    _, run = published
    return Dataset.from_parquet(str(run / "dataset" / "test.parquet"))["tokens"][:NUM_SENTENCES]


@pytest.fixture(scope="module")
def reference(hub_server, published, test_words, tmp_path_factory) -> dict:
    """The Python pipelines of the pushed repo (PyTorch and every file of JS_VARIANTS), fresh process."""
    repo_id, _ = published
    home = tmp_path_factory.mktemp("js-python-client")
    files = sorted({file for _, file in JS_VARIANTS.values()})
    return python_reference(repo_id, [sentence_text(w) for w in test_words], files,
                            client_env(hub_server.endpoint, home))


def test_transformers_js_is_installed():
    node = require_transformers_js()
    assert node


@pytest.mark.parametrize("variant", list(JS_VARIANTS))
def test_transformers_js_agrees_with_python(variant, hub_server, published, test_words, reference):
    repo_id, run = published
    options, onnx_file = JS_VARIANTS[variant]
    js = run_tag(hub_server.endpoint, repo_id, [sentence_text(w) for w in test_words], options)
    print(f"\n{variant}: Transformers.js {js['transformers_js']}, onnxruntime {js['onnxruntime']}, "
          f"Python {reference['versions']}")

    fetched_onnx = [f for f in js["files"] if f.endswith(".onnx")]
    assert fetched_onnx == [onnx_file], js["files"]
    assert {"config.json", "tokenizer.json"} <= set(js["files"]), js["files"]
    assert check_same_tokens(reference["encodings"], js["results"]) == []

    encodings, pipelines = reference["encodings"], reference["pipelines"]
    same_file = compare(f"Transformers.js {variant} vs Python ONNX Runtime {onnx_file}", test_words, encodings,
                        js_tokens(js["results"]), pipelines[onnx_file])
    vs_torch = compare(f"Transformers.js {variant} vs PyTorch", test_words, encodings, js_tokens(js["results"]),
                       pipelines["pytorch"])
    python_vs_torch = compare(f"Python ONNX Runtime {onnx_file} vs PyTorch", test_words, encodings,
                              pipelines[onnx_file], pipelines["pytorch"])
    for agreement in (same_file, vs_torch, python_vs_torch):
        print(agreement.line())

    assert same_file.words == sum(len(w) for w in test_words) and same_file.unlabelled == 0
    assert same_file.fraction == 1.0, same_file.disagreements
    if onnx_file == "onnx/model.onnx":
        assert vs_torch.fraction == 1.0, vs_torch.disagreements
    else:
        assert vs_torch.same == python_vs_torch.same
    assert hub_server.unknown_routes() == []


def test_node_default_is_the_fp32_file(hub_server, published, test_words, reference):
    """Without a dtype, Transformers.js on Node (device cpu) loads onnx/model.onnx, as the card says (in a
    browser, device wasm, the default is q8: onnx/model_quantized.onnx; scripts/check_browser.py)."""
    repo_id, _ = published
    js = run_tag(hub_server.endpoint, repo_id, [sentence_text(w) for w in test_words[:5]], [])
    assert [f for f in js["files"] if f.endswith(".onnx")] == ["onnx/model.onnx"]
    agreement = compare("Transformers.js default (Node) vs PyTorch", test_words[:5], reference["encodings"][:5],
                        js_tokens(js["results"]), reference["pipelines"]["pytorch"][:5])
    assert agreement.fraction == 1.0, agreement.disagreements
