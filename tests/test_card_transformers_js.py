"""The Transformers.js partial of the model card (cards/_model_transformers_js.md.j2), rendered alone with the
context the cards get: what it says for a transformers model with ONNX files, and nothing for SpanMarker
models, remote-code taggers and runs without an export. (tests/test_transformers_js.py checks in Node what
it says; scripts/check_browser.py in a browser.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from helpers import run_results

from hubtools.cards.data import CardContext
from hubtools.cards.render import render, template_dirs
from hubtools.results import ExportResult, ExportSettings, ReferenceModel, VariantReport

PARTIAL = "_model_transformers_js.md.j2"
# this checkout's cards/ first: an editable install of another checkout maps hubtools.cards.templates there
CARDS = Path(__file__).resolve().parents[1] / "cards"
FILES = {"onnx": ("model.onnx", 2_000_000), "onnx_int8": ("model_quantized.onnx", 1_200_000),
         "onnx_int8_embeddings": ("model_quantized_embeddings.onnx", 500_000)}


def export(failed: tuple[str, ...] = (), split_attention: bool | None = True) -> ExportResult:
    variants = [VariantReport(name=name, file=f"onnx/{file}", status="failed" if name in failed else "passed",
                              size_bytes=size, f1=0.5, agreement=1.0, max_abs_logit_diff=0.0,
                              reason="F1 dropped" if name in failed else None)
                for name, (file, size) in FILES.items()]
    return ExportResult(exporter="optimum", agreement_unit="word",
                        reference=ReferenceModel(file="model", f1=0.5, size_bytes=2_000_000, num_sentences=1,
                                                 num_words=1),
                        variants=variants, settings=ExportSettings(split_attention=split_attention))


def render_partial(results, model_repo_id: str | None = "acme/finer-ner") -> str:
    context = CardContext.build(results, model_repo_id)
    values = {"results": results, **{k: v for k, v in dataclasses.asdict(context).items() if v is not None}}
    return render(PARTIAL, values, template_dirs(CARDS))


def test_transformers_model_gets_the_snippet_and_every_published_file():
    results = run_results(export=None)
    results.export = export()
    text = render_partial(results)
    assert text.startswith("### Transformers.js\n")
    assert 'import { pipeline } from "@huggingface/transformers";' in text
    assert 'const ner = await pipeline("token-classification", "acme/finer-ner");' in text
    assert "Transformers.js](https://huggingface.co/docs/transformers.js) 4.0 or newer" in text
    assert ('loads `onnx/model_quantized.onnx` (int8, `dtype: "q8"`) in browsers (device `wasm`)\n'
            'and `onnx/model.onnx` (fp32, `dtype: "fp32"`) in Node.js (device `cpu`).') in text
    assert '| `onnx/model.onnx` | `{ dtype: "fp32" }` |' in text
    assert '| `onnx/model_quantized.onnx` | `{ dtype: "q8" }` |' in text
    assert ('| `onnx/model_quantized_embeddings.onnx` | `{ dtype: "fp32", model_file_name: '
            '"model_quantized_embeddings" }` |') in text
    assert ('pipeline("token-classification", "acme/finer-ner", { dtype: "fp32", model_file_name: '
            '"model_quantized_embeddings" })`\nfor the smallest file, `onnx/model_quantized_embeddings.onnx`') in text
    assert "`Attention` op (opset 23)" in text and "Transformers.js 3 (ONNX Runtime 1.21/1.22)" in text
    assert "None" not in text and "\n\n\n" not in text


def test_without_the_int8_file_browsers_are_told_to_ask_for_fp32():
    results = run_results(export=None)
    results.export = export(failed=("onnx_int8", "onnx_int8_embeddings"))
    text = render_partial(results)
    assert "model_quantized" not in text
    assert 'a file this model does not publish, so pass `{ dtype: "fp32" }` there' in text
    assert "opset 23" not in text  # fp32 only: Optimum's opset, no Attention op


def test_a_run_folder_card_points_to_the_published_one():
    """model/ and onnx/ side by side are not one Transformers.js repo: the local card has no snippet."""
    results = run_results(export=None)
    results.export = export()
    text = render_partial(results, model_repo_id=None)
    assert text.startswith("### Transformers.js\n") and "hubtools push" in text
    assert "pipeline(" not in text and "dtype" not in text


@pytest.mark.parametrize("change", ["span-marker", "remote-code", "no-export"])
def test_renders_nothing_where_transformers_js_has_no_pipeline(change):
    results = run_results(export=None)
    results.export = export()
    if change == "span-marker":
        results.model.library_name = "span-marker"
    elif change == "remote-code":
        results.model.remote_code = True
    else:
        results.export = None
    assert render_partial(results).strip() == ""
