"""The documentation site: it builds with ``mkdocs build --strict`` (broken links, missing pages and nav entries
fail), and its generated reference pages hold every command-line option and every configuration key."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from mkdocs.exceptions import PluginError

from hubtools import docs
from hubtools.cli import build_parser
from hubtools.config import DataConfig, ExportConfig, ModelConfig, PublishConfig
from hubtools.families import FAMILIES
from hubtools.families.distillation.options import DistillationConfig
from hubtools.families.rnn_tagger.options import RnnOptions
from hubtools.families.span_marker.options import SpanMarkerOptions
from hubtools.families.token_classification.options import TokenClassificationOptions
from tests.recipe_runs import ROOT, recipe_env


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [flag for action in parser._actions for flag in action.option_strings if flag not in ("-h", "--help")]


def _section(text: str, heading: str) -> str:
    """The text of a generated page under ``heading`` up to the next heading of any level."""
    start = text.index(f"\n{heading}\n")
    following = [i for i in (text.find("\n## ", start + 1), text.find("\n### ", start + 1)) if i > 0]
    return text[start:min(following, default=len(text))]


@pytest.fixture(scope="module")
def cli_text() -> str:
    return docs.cli_reference()


def test_cli_reference_lists_every_command_and_option(cli_text):
    text = cli_text
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) >= {"card", "check", "export", "evaluate", "predict", "push", "data"}
    for name, parser in sub.choices.items():
        part = _section(text, f"### hubtools {name}")
        assert f"hubtools {name} [-h]" in part
        for flag in _options(parser):
            assert f"`{flag}" in part, (name, flag)
    push = _section(text, "### hubtools push")
    dry_run = next(a for a in sub.choices["push"]._actions if "--dry-run" in a.option_strings)
    assert f"| `--dry-run` | {dry_run.help} |" in push
    evaluate = _section(text, "### hubtools evaluate")
    assert "`pytorch`, `onnx`, `onnx_int8`, `onnx_int8_embeddings` | `pytorch` |" in evaluate


@pytest.mark.parametrize("recipe, own", [
    ("finer", []), ("multinerd", ["--system SYSTEM"]), ("conll_distil", ["--search-budget N"]),
    ("fewnerd", ["--granularity GRANULARITY"]), ("ner_uk", ["--cell CELL", "--compare COMPARE"]),
    ("ner", ["--data SRC", "--model ID_OR_PATH"]),
])
def test_cli_reference_has_each_recipe_with_its_own_options(cli_text, recipe, own):
    part = _section(cli_text, f"### recipes/{recipe}.py")
    for flag in ["--config CONFIG", "--preset PRESET", "--output-dir OUTPUT_DIR", "--no-export", *own]:
        assert f"| `{flag}` |" in part, (recipe, flag)
    assert part.count("| `--system") == (recipe == "multinerd")
    assert f"recipes/{recipe}.py [-h]" in part
    assert re.search(rf"```bash\n(accelerate launch|python) recipes/{recipe}\.py", part)  # the script's examples


def test_configuration_reference_has_every_key_with_type_default_and_description():
    text = docs.configuration_reference()
    sections = {"data": DataConfig, "model": ModelConfig, "export": ExportConfig, "publish": PublishConfig,
                "options": TokenClassificationOptions, "distillation": DistillationConfig}
    for key, cls in sections.items():
        for f in dataclasses.fields(cls):
            assert f"| `{key}.{f.name}` | `{f.type.replace('|', chr(92) + '|')}` |" in text, (key, f.name)
    for cls in (SpanMarkerOptions, RnnOptions):
        assert all(f"| `options.{f.name}` |" in text for f in dataclasses.fields(cls))
    for fam in FAMILIES.values():  # every family's model keys, and the from_scratch keys of each architecture
        model = fam.model_options_class
        part = _section(text, re.search(rf"^### model: {model.FAMILY} \(.*\)$", text, re.M)[0])
        assert all(f"| `model.{name}` |" in part for name in docs.family_model_keys(model))
        for sizes in model.ARCHITECTURES.values():
            assert all(f"| `model.from_scratch.{f.name}` |" in part for f in dataclasses.fields(sizes))
    assert "### model: token-classification (finer, conll_distil, fewnerd, ner)" in text
    assert "| `model.document_context` | `int` | `0` |" in _section(text, "### model: rnn-tagger (ner_uk)")
    assert "| `model.architecture` | `str` | `bert` |" in _section(text, "### model: span-marker (multinerd)")
    assert "| `data.scheme` | `str` | `auto` | tagging scheme of the source" in text
    assert "| `export.benchmark_sentences` | `int \\| None` | `200` |" in text
    assert "| `training.max_tokens_per_batch` | `null` | Token-budget training batches" in text
    assert "### distillation: conll_distil" in text and "### options: finer, fewnerd, ner" in text
    assert ":mod:" not in text and ":func:" not in text


@dataclass
class _Example:
    """An example section.

    Attributes:
        first / second: two keys described
            together, over two lines.
        third: alone.
    """

    first: int = 1
    second: list[str] = field(default_factory=lambda: ["a"])
    third: str | None = None
    fourth: bool = False


def test_field_descriptions_read_grouped_and_continued_entries_and_name_the_undocumented():
    assert docs.field_descriptions(_Example) == {"first": "two keys described together, over two lines.",
                                                 "second": "two keys described together, over two lines.",
                                                 "third": "alone."}
    with pytest.raises(ValueError, match=r"_Example: no description of fourth in the 'Attributes:' section"):
        docs.section_markdown("example", _Example)


def test_docstring_roles_render_as_code():
    html = "see :func:<code>push_run</code> and :class:<code>~hubtools.results.RunResults</code>"
    assert docs.on_page_content(html) == "see <code>push_run</code> and <code>hubtools.results.RunResults</code>"


def test_the_package_graph_replaces_its_marker_in_the_architecture_page():
    page = SimpleNamespace(file=SimpleNamespace(src_uri="architecture.md"))
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert text.count(docs.PACKAGE_GRAPH_MARKER) == 1
    out = docs.on_page_markdown(text, page=page)
    assert docs.PACKAGE_GRAPH_MARKER not in out and out.startswith(text.split(docs.PACKAGE_GRAPH_MARKER)[0])
    assert "```text\n" in out and "\ncli " in out and "\ntagging " in out
    other = SimpleNamespace(file=SimpleNamespace(src_uri="index.md"))
    assert docs.on_page_markdown(docs.PACKAGE_GRAPH_MARKER, page=other) == docs.PACKAGE_GRAPH_MARKER
    with pytest.raises(PluginError, match="marker .* is missing"):
        docs.on_page_markdown(text.replace(docs.PACKAGE_GRAPH_MARKER, ""), page=page)


def test_site_builds_strict(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                          capture_output=True, text=True, env=recipe_env(NO_MKDOCS_2_WARNING="1"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr
    cli = (site / "reference" / "cli" / "index.html").read_text()
    assert "hubtools push" in cli and "--dry-run" in cli and "recipes/ner_uk.py" in cli
    assert "data.document_column" in (site / "reference" / "configuration" / "index.html").read_text()
    api = (site / "reference" / "api" / "index.html").read_text()
    assert "push_run" in api and ":func:" not in api
    architecture = (site / "architecture" / "index.html").read_text()
    assert "generated: package graph" not in architecture and re.search(r"\ntagging +-&gt; ", architecture)
    finer = (site / "recipes" / "finer" / "index.html").read_text()
    assert "nlpaueb/finer-139" in finer and "finer-selected-4-labels" in finer  # the included configuration
