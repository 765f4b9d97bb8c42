"""Transformers.js against the Python pipeline, word by word: shared by tests/test_transformers_js.py and
scripts/check_browser.py.

Word-level, precisely: a sentence is its words joined by single spaces (what both pipelines are given); a word's
label is the label of its first sub-token, i.e. the token with the lowest position in ``input_ids`` whose
character offset (from the repo's fast tokenizer, in Python) starts inside the word; a word without any token
(cut off by truncation, or a word the tokenizer drops) has no label (``None``), the same on both sides. Both
pipelines' raw per-token output (``aggregation_strategy="none"``, nothing ignored: ``{"index", "entity",
"score"}`` per non-special token, ``index`` its position in ``input_ids``) goes through the same
:func:`word_labels`, after checking that Transformers.js tokenized the sentence into the same ``input_ids``
as the Python tokenizer (so the Python offsets are the offsets of the JavaScript tokens too).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JS_DIR = ROOT / "tests" / "js"
TAG_MJS = JS_DIR / "tag.mjs"
TRANSFORMERS_JS = JS_DIR / "node_modules" / "@huggingface" / "transformers"
SETUP_HINT = "run scripts/setup.sh --dev (it runs `npm ci --ignore-scripts --prefix tests/js`)"

# The published ONNX files Transformers.js can select, by the pipeline options that select them (tag.mjs
# arguments). `dtype` picks the file-name suffix: q8 -> onnx/model_quantized.onnx (the default on the wasm
# device, i.e. in browsers), fp32 -> onnx/model.onnx (the default on Node's cpu device). The int8-embeddings
# file has no dtype of its own (there is no "_quantized_embeddings" suffix); `model_file_name` replaces the base
# name "model", and with dtype fp32 (suffix "") it loads onnx/model_quantized_embeddings.onnx as it is.
JS_VARIANTS: dict[str, tuple[list[str], str]] = {
    "q8": (["--dtype", "q8"], "onnx/model_quantized.onnx"),
    "fp32": (["--dtype", "fp32"], "onnx/model.onnx"),
    "int8-embeddings": (["--dtype", "fp32", "--model-file-name", "model_quantized_embeddings"],
                        "onnx/model_quantized_embeddings.onnx"),
}


class TransformersJsMissing(RuntimeError):
    """Node or the npm install of tests/js is missing: a set-up problem, reported as such (never a skip)."""


def require_transformers_js() -> str:
    """The path of ``node``, after checking that Node >= 18 and ``tests/js/node_modules`` are there and that the
    installed Transformers.js is the version ``tests/js/package-lock.json`` pins."""
    node = shutil.which("node")
    if node is None:
        raise TransformersJsMissing(f"node is not on PATH: install Node.js >= 18 and npm, then {SETUP_HINT}")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if not version.startswith("v") or int(version[1:].split(".")[0]) < 18:
        raise TransformersJsMissing(f"node {version or '(no version)'} is too old: Transformers.js needs >= 18")
    installed = TRANSFORMERS_JS / "package.json"
    if not installed.exists():
        raise TransformersJsMissing(f"{installed.relative_to(ROOT)} is missing: {SETUP_HINT}")
    lock = json.loads((JS_DIR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/@huggingface/transformers"]["version"]
    have = json.loads(installed.read_text())["version"]
    if have != pinned:
        raise TransformersJsMissing(f"tests/js has @huggingface/transformers {have}, the lock file pins {pinned}: "
                                    f"{SETUP_HINT}")
    return node


def run_tag(endpoint: str, repo_id: str, sentences: list[str], options: list[str], timeout: float = 300,
            env: dict[str, str] | None = None) -> dict:
    """``node tests/js/tag.mjs`` on ``sentences`` (fresh process, nothing cached): its JSON output."""
    node = require_transformers_js()
    proc = subprocess.run([node, str(TAG_MJS), "--endpoint", endpoint, "--repo", repo_id, *options],
                          input=json.dumps(sentences), capture_output=True, text=True, timeout=timeout,
                          cwd=JS_DIR, env=env if env is not None else dict(os.environ), check=False)
    if proc.returncode != 0:
        raise AssertionError(f"tag.mjs {' '.join(options)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


# The Python side, run in a fresh client process (HF_ENDPOINT set): the PyTorch pipeline of the repo and, for
# each ONNX file, the same pipeline over Optimum's ORTModelForTokenClassification of that file in a default
# ONNX Runtime session (Transformers.js uses ONNX Runtime's defaults too; hubtools' own session options only
# change which fusions run). Prints one JSON object.
PYTHON_REFERENCE = r"""
import json, sys
import onnxruntime, transformers
from optimum.onnxruntime import ORTModelForTokenClassification
from transformers import AutoTokenizer, pipeline

args = json.loads(sys.stdin.read())
repo, sentences = args["repo_id"], args["sentences"]
tokenizer = AutoTokenizer.from_pretrained(repo)

def tokens(ner, text):
    return [{"index": int(t["index"]), "entity": t["entity"], "score": float(t["score"])}
            for t in ner(text, ignore_labels=[])]

out = {"versions": {"transformers": transformers.__version__, "onnxruntime": onnxruntime.__version__},
       "encodings": [], "pipelines": {}}
for text in sentences:
    enc = tokenizer(text, truncation=True, return_offsets_mapping=True)
    out["encodings"].append({"input_ids": enc["input_ids"], "offsets": [list(o) for o in enc["offset_mapping"]]})
ner = pipeline("token-classification", model=repo)
out["pipelines"]["pytorch"] = [tokens(ner, text) for text in sentences]
for name in args["onnx_files"]:
    folder, _, file_name = name.rpartition("/")
    model = ORTModelForTokenClassification.from_pretrained(repo, subfolder=folder, file_name=file_name)
    ner = pipeline("token-classification", model=model, tokenizer=tokenizer)
    out["pipelines"][name] = [tokens(ner, text) for text in sentences]
print(json.dumps(out))
"""


def python_reference(repo_id: str, sentences: list[str], onnx_files: list[str], env: dict[str, str],
                     timeout: float = 600) -> dict:
    """The Python pipelines of ``repo_id`` (PyTorch and each of ``onnx_files``) in a fresh process with ``env``:
    ``{"versions", "encodings": [{"input_ids", "offsets"}], "pipelines": {"pytorch" | file: [[token]]}}``."""
    proc = subprocess.run([sys.executable, "-c", PYTHON_REFERENCE], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False,
                          input=json.dumps({"repo_id": repo_id, "sentences": sentences, "onnx_files": onnx_files}))
    if proc.returncode != 0:
        raise AssertionError(f"the Python pipelines failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sentence_text(words: list[str]) -> str:
    return " ".join(words)


def word_spans(words: list[str]) -> list[tuple[int, int]]:
    """The character span of each word in ``sentence_text(words)``."""
    spans, start = [], 0
    for word in words:
        spans.append((start, start + len(word)))
        start += len(word) + 1
    return spans


def word_labels(words: list[str], offsets: list[list[int]], tokens: list[dict]) -> list[str | None]:
    """Each word's label: that of its first sub-token (see the module docstring); None for a word without one."""
    spans = word_spans(words)
    labels: list[str | None] = [None] * len(words)
    firsts: list[int | None] = [None] * len(words)
    for token in tokens:
        start, end = offsets[token["index"]]
        if end <= start:
            continue  # special tokens have empty offsets
        for w, (ws, we) in enumerate(spans):
            if ws <= start < we:
                if firsts[w] is None or token["index"] < firsts[w]:
                    firsts[w], labels[w] = token["index"], token["entity"]
                break
    return labels


@dataclass
class Agreement:
    """How often two taggers give a word the same label, over the sentences compared."""

    name: str
    words: int = 0
    same: int = 0
    unlabelled: int = 0  # words without a token on the first side
    entity_words: int = 0  # words that either side labels other than O
    entity_same: int = 0
    max_score_diff: float = 0.0  # over tokens at the same index with the same label
    disagreements: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.same / self.words if self.words else 0.0

    def line(self) -> str:
        return (f"{self.name}: word agreement {self.fraction:.4f} ({self.same}/{self.words} words; "
                f"{self.entity_same}/{self.entity_words} of the words either side tags as an entity), "
                f"max |score diff| {self.max_score_diff:.2e}, words without a token {self.unlabelled}")


def compare(name: str, sentences_words: list[list[str]], encodings: list[dict], a: list[list[dict]],
            b: list[list[dict]]) -> Agreement:
    """Word agreement of per-token outputs ``a`` and ``b`` (lists of sentences) with the Python offsets."""
    result = Agreement(name)
    for i, (words, enc, ta, tb) in enumerate(zip(sentences_words, encodings, a, b, strict=True)):
        la, lb = word_labels(words, enc["offsets"], ta), word_labels(words, enc["offsets"], tb)
        result.words += len(words)
        result.unlabelled += sum(label is None for label in la)
        for w, (x, y) in enumerate(zip(la, lb)):
            entity = (x or "O") != "O" or (y or "O") != "O"
            result.entity_words += entity
            if x == y:
                result.same += 1
                result.entity_same += entity
            elif len(result.disagreements) < 10:
                result.disagreements.append(f"sentence {i} word {w} {words[w]!r}: {x} vs {y}")
        scores = {t["index"]: t for t in tb}
        for t in ta:
            other = scores.get(t["index"])
            if other is not None and other["entity"] == t["entity"]:
                result.max_score_diff = max(result.max_score_diff, abs(t["score"] - other["score"]))
    return result


def check_same_tokens(encodings: list[dict], js_results: list[dict]) -> list[str]:
    """Sentences where Transformers.js' input_ids differ from the Python tokenizer's (should be none)."""
    return [f"sentence {i}: {r['input_ids']} vs {e['input_ids']}"
            for i, (e, r) in enumerate(zip(encodings, js_results, strict=True)) if r["input_ids"] != e["input_ids"]]


def js_tokens(js_results: list[dict]) -> list[list[dict]]:
    return [r["tokens"] for r in js_results]
