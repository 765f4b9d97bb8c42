"""The demo Space published with a model (``hubtools push RUN --space NS/NAME``): one static page, no server.

The page loads the model repo's smallest verified int8 ONNX file (:func:`demo_variant`) with Transformers.js in
the visitor's browser (ONNX Runtime Web, WebAssembly), tags the sentence typed into it, and highlights the entities
as the Hub's widget does: the token labels grouped as ``transformers.pipeline(..., aggregation_strategy="simple")``
groups them, a colour per entity type, the score on hover. The card's widget sentences are one-click examples;
the page links the model and dataset repos and shows the card's key figures. Transformers.js is pinned
(:data:`TRANSFORMERS_JS_VERSION`, the version ``tests/js/package-lock.json`` installs) and loaded from jsdelivr
with subresource integrity. The templates are ``cards/space/``; :func:`space_files` renders them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from huggingface_hub import SpaceCardData

from hubtools.cards.render import default_templates
from hubtools.errors import UsageError
from hubtools.results import RunResults, VariantReport
from hubtools.units import megabytes

HUB_ENDPOINT = "https://huggingface.co"
# Transformers.js, one build with ONNX Runtime Web inside; the wasm files come from jsdelivr's onnxruntime-web of
# the version it bundles. The hash is the sha384 of the npm package's file (jsdelivr serves it byte for byte):
# tests/test_space.py checks both against tests/js/node_modules, so a version bump must update them here.
TRANSFORMERS_JS_VERSION = "4.3.2"
TRANSFORMERS_JS_FILE = "@huggingface/transformers/dist/transformers.min.js"  # in node_modules/
TRANSFORMERS_JS_URL = (f"https://cdn.jsdelivr.net/npm/@huggingface/transformers@{TRANSFORMERS_JS_VERSION}/"
                       + TRANSFORMERS_JS_FILE.split("/", 2)[2])
TRANSFORMERS_JS_INTEGRITY = "sha384-xFDNfwR3J/vPYzGjMr1VSM8LHIcA+ii2Ha4x+6WAuISKpT9I0dxgF/mVQW+I0kSd"
STATIC_FILES = ("app.js", "style.css")  # copied as they are from cards/space/
# Entity colours, in the order of the run's entity types (light tints, as the Hub's widget uses).
PALETTE = ("#fecaca", "#bfdbfe", "#bbf7d0", "#fde68a", "#ddd6fe", "#fbcfe8", "#fed7aa", "#a5f3fc", "#d9f99d",
           "#e5e7eb")
EMOJI, COLOR_FROM, COLOR_TO = "🏷️", "blue", "green"


def space_templates() -> Path:
    """The folder of the Space's templates (``cards/space/``)."""
    return default_templates() / "space"


def demo_variant(results: RunResults) -> VariantReport:
    """The ONNX file the page loads: the smallest verified int8 file, else the smallest verified file; UsageError
    when the run has none that Transformers.js can load (SpanMarker and remote-code models, unexported runs)."""
    model, export = results.model, results.export
    if model.library_name != "transformers" or model.remote_code or export is None or not export.passed:
        raise UsageError("the demo Space needs a transformers model with a verified ONNX export (`hubtools export "
                         f"RUN`); this run is a {model.library_name} model"
                         + ("" if export and export.passed else " without one"))
    int8 = [v for v in export.passed if "int8" in v.name]
    return min(int8 or export.passed, key=lambda v: v.size_bytes)


def pipeline_options(file_name: str) -> dict[str, str]:
    """The options of Transformers.js' ``pipeline`` that load ``onnx/<file_name>`` (see the card's table)."""
    if file_name == "model_quantized.onnx":
        return {"dtype": "q8"}
    if file_name == "model.onnx":
        return {"dtype": "fp32"}
    return {"dtype": "fp32", "model_file_name": file_name.removesuffix(".onnx")}


def space_metadata(results: RunResults, model_repo_id: str, dataset_repo_id: str | None) -> str:
    """The Space README's YAML metadata: a static Space whose app is index.html, linked to its repos."""
    name = model_repo_id.split("/")[-1]
    publish = results.publish
    license_info = {"license_name": publish.license_name, "license_link": publish.license_link} \
        if publish.license == "other" else {}
    return SpaceCardData(title=f"{name} demo", sdk="static", app_file="index.html", license=publish.license,
                         models=[model_repo_id], datasets=[dataset_repo_id] if dataset_repo_id else None,
                         tags=["ner", "token-classification", "transformers.js"], emoji=EMOJI, colorFrom=COLOR_FROM,
                         colorTo=COLOR_TO, pinned=False, short_description=f"Tag entities with {name}"[:60],
                         **license_info).to_yaml()


def page_context(results: RunResults, model_repo_id: str, dataset_repo_id: str | None, *,
                 endpoint: str | None = None, module_url: str | None = None,
                 wasm_url: str | None = None) -> dict[str, Any]:
    """The values the page's templates read; ``config`` is what app.js reads (as JSON inside index.html)."""
    endpoint = (endpoint or HUB_ENDPOINT).rstrip("/")
    variant = demo_variant(results)
    types = results.dataset.entity_types
    module_url = module_url or TRANSFORMERS_JS_URL
    config = {"endpoint": endpoint, "model": model_repo_id, "file": variant.file,
              "options": pipeline_options(variant.file_name), "wasm_url": wasm_url,
              "colors": {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(types)}}
    return {"title": model_repo_id.split("/")[-1], "results": results, "variant": variant, "config": config,
            "endpoint": endpoint, "model_repo_id": model_repo_id, "dataset_repo_id": dataset_repo_id,
            "examples": list(results.publish.widget), "module_url": module_url,
            "integrity": TRANSFORMERS_JS_INTEGRITY, "transformers_js": TRANSFORMERS_JS_VERSION,
            "import_map": json.dumps({"imports": {"@huggingface/transformers": module_url},
                                      "integrity": {module_url: TRANSFORMERS_JS_INTEGRITY}}),
            "metadata": space_metadata(results, model_repo_id, dataset_repo_id)}


def environment() -> jinja2.Environment:
    """The Jinja environment of ``cards/space/``: HTML escaped, a missing value an error."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(space_templates())), undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(["html", "html.j2"]), keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["number"] = lambda value, digits=4: f"{value:.{digits}f}"
    env.filters["mb"] = megabytes
    return env


def space_files(run_dir: str | Path, results: RunResults, model_repo_id: str, dataset_repo_id: str | None = None,
                module_url: str | None = None, *, wasm_url: str | None = None,
                endpoint: str | None = None) -> dict[str, bytes]:
    """The Space's files, repo path -> content: README.md (Space metadata), index.html, app.js and style.css.

    The page loads ``model_repo_id`` from the Hub at ``endpoint`` (default https://huggingface.co).
    ``module_url`` replaces Transformers.js' CDN URL (the file must be the same: the integrity hash stays) and
    ``wasm_url`` the folder of ONNX Runtime Web's wasm files, so tests run the page offline."""
    variant = demo_variant(results)
    if not (Path(run_dir) / variant.file).is_file():
        raise UsageError(f"{Path(run_dir) / variant.file} is missing: the run's results.json lists it as verified; "
                         "rerun `hubtools export RUN`")
    context = page_context(results, model_repo_id, dataset_repo_id, endpoint=endpoint, module_url=module_url,
                           wasm_url=wasm_url)
    env = environment()
    files = {name: env.get_template(f"{name}.j2").render(context).encode() for name in ("README.md", "index.html")}
    return files | {name: (space_templates() / name).read_bytes() for name in STATIC_FILES}
