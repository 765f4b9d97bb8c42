"""The public API as a user calls it (``hubtools.Run``, ``hubtools.train``): a session on the tiny finer run (load,
results, evaluate, predict, export, card, push to the test Hub and load it back from there), a recipe trained by
name, a tiny SpanMarker run through the same calls, and the one-line refusals."""

from __future__ import annotations

import ast
import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import Dataset
from huggingface_hub import HfApi, constants
from recipe_runs import ROOT, recipe_env
from tiny_ner import save_tiny_model

import hubtools
from hubtools.cli import main
from hubtools.errors import UsageError
from hubtools.families import FAMILIES
from hubtools.metrics import entity_scores, ids_to_tags
from hubtools.recipe.scripts import RECIPES_DIR, recipe_module, recipe_parts

TEXTS = ["The Company recorded amortization expense of $ 12.3 million for the year ended December 31 , 2019 .",
         "The notes bear interest at a fixed rate of 5.25 % per annum ."]


def trained(tmp_path: Path, recipe: str, *overrides: str) -> Path:
    """``hubtools.train(recipe, preset="tiny", ...)`` as a user's script runs it (a process of its own, offline);
    the run folder."""
    out = tmp_path / recipe
    code = ("import sys, hubtools\n"
            f"run = hubtools.train({recipe!r}, preset='tiny', output_dir=sys.argv[1], overrides=sys.argv[2:])\n"
            "print(run.folder)")
    proc = subprocess.run([sys.executable, "-c", code, str(out), *overrides], env=recipe_env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    return out


def check_rows(rows: list[dict], texts: list[str]) -> None:
    """One object per text with its words, a tag per word and entities whose character spans are their text."""
    assert [row["line"] for row in rows] == list(range(1, len(texts) + 1))
    assert [row["tokens"] for row in rows] == [text.split() for text in texts]
    for row in rows:
        assert len(row["tags"]) == len(row["tokens"])
        assert all(row["text"][e["start_char"]:e["end_char"]] == e["text"] for e in row["entities"])


@pytest.mark.slow
def test_a_session_on_the_tiny_finer_run(finer_run, tmp_path, hub_server, hub_default_endpoint, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    folder = Path(shutil.copytree(finer_run, tmp_path / "run"))

    run = hubtools.Run.load(folder)
    results = run.results
    assert run.folder == folder and results.model.family == "token-classification" and results.export is None

    evaluation = run.evaluate()
    assert evaluation.split == results.test.split and evaluation.scores.f1 == results.test.f1

    rows = run.predict(TEXTS)
    check_rows(rows, TEXTS)
    lines = tmp_path / "texts.txt"
    lines.write_text("\n".join(TEXTS) + "\n")
    assert main(["predict", str(folder), "--text", str(lines), "--variant", "pytorch", "--output",
                 str(tmp_path / "out.jsonl")]) == 0
    assert [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()] == rows
    test = run.predict(data=folder / "dataset", split="test")
    gold = ids_to_tags(Dataset.from_parquet(str(folder / "dataset" / "test.parquet"))["ner_tags"],
                       results.dataset.label_names)
    assert round(entity_scores(gold, [row["tags"] for row in test])["f1"], 4) == round(results.test.f1, 4)

    export = run.export(benchmark=False, max_f1_drop=5)
    assert export.variant("onnx").passed and (folder / "onnx" / "model.onnx").is_file()
    assert run.results.export == export
    check_rows(run.predict(TEXTS, variant="onnx"), TEXTS)

    card = run.card()
    assert card == (folder / "model" / "README.md").read_text() and "\nmodel-index:\n" in card
    repo_id = f"{hub_server.user}/finer-api-{secrets.token_hex(3)}"
    assert run.check(repo_id) == []
    report = run.push(repo_id, token=hub_server.write_token, endpoint=hub_server.endpoint)
    assert report.model.commit is not None and "onnx/model.onnx" in {f.path for f in report.model.added}
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    assert Path(api.hf_hub_download(repo_id, "README.md")).read_text() == run.card(model_repo_id=repo_id)

    hub = hubtools.Run.load(repo_id)
    assert hub.folder is None and hub.revision == report.model.commit and hub.results == run.results
    assert hub.predict(TEXTS) == rows
    assert hub.evaluate(folder / "dataset").scores == evaluation.scores
    with pytest.raises(UsageError, match=rf"^{repo_id}: not a run folder, which push needs"):
        hub.push(repo_id)


@pytest.mark.slow
def test_train_runs_a_recipe_by_name_and_records_the_script_command(tmp_path):
    run = hubtools.Run.from_folder(trained(tmp_path, "finer", "data.generate.num_sentences=400",
                                           "training.num_train_epochs=1", "export.enabled=false"))
    results = run.results
    assert results.recipe == "finer" and results.config["training"]["num_train_epochs"] == 1
    assert results.command == ("python recipes/finer.py --preset tiny --output-dir PATH/finer "
                               "data.generate.num_sentences=400 training.num_train_epochs=1 export.enabled=false")
    assert run.evaluate().scores.f1 == results.test.f1


@pytest.mark.slow
def test_a_spanmarker_run_evaluates_and_predicts(tmp_path):
    """Evaluate and predict through the SpanMarker family's decoder (it arrives with the per-family decoders;
    until then ``resolve_model`` refuses SpanMarker models)."""
    run = hubtools.Run.load(trained(tmp_path, "multinerd", "data.generate.num_sentences=1200",
                                    "training.num_train_epochs=1", "export.enabled=false"))
    assert run.results.model.family == "span-marker"
    assert run.evaluate().scores.f1 == run.results.test.f1
    texts = ["the writer Anna Berg was born in Geneva", "patients with malaria need treatment"]
    check_rows(run.predict(texts), texts)


def test_a_recipe_is_found_by_its_script_name():
    scripts = sorted(p.stem for p in RECIPES_DIR.glob("*.py"))
    assert scripts == ["conll_distil", "fewnerd", "finer", "multinerd", "ner", "ner_uk"]
    for name in scripts:
        tree = ast.parse((RECIPES_DIR / f"{name}.py").read_text())
        named = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module.endswith(".recipe") for alias in node.names]
        assert [recipe_parts(recipe_module(name))[0].__name__] == named
    with pytest.raises(UsageError, match=r"^recipe 'finr': no recipes/finr.py \(known: conll_distil, fewnerd, "):
        hubtools.train("finr")


def test_refusals_are_one_line_usage_errors(tmp_path):
    model = save_tiny_model(tmp_path / "model")
    recipe = FAMILIES["token-classification"].recipe
    cases = [
        (lambda: hubtools.train(recipe), "config: TokenClassificationRecipe needs a configuration"),
        (lambda: hubtools.train(recipe, recipe.load_config(RECIPES_DIR / "configs" / "finer.yaml"), preset="tiny"),
         "preset 'tiny': a preset merges NAME-tiny.yaml beside a YAML configuration; this one is a RecipeConfig"),
        (lambda: hubtools.Run.load(model).predict(), "predict: pass texts or data, one of them"),
        (lambda: hubtools.Run.load(model).export(), f"{model}: not a run folder, which export needs"),
        (lambda: hubtools.Run.load(model, variant="onnx_int8"),
         f"--variant onnx_int8: {model} has no onnx/model_quantized.onnx"),
    ]
    for call, message in cases:
        with pytest.raises(UsageError) as err:
            call()
        assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert hubtools.Run.load(model).predict(["", "  "]) == []
    with pytest.raises(AttributeError, match="module 'hubtools' has no attribute 'Runs'"):
        hubtools.Runs  # noqa: B018


def test_the_command_and_the_api_load_without_the_training_stack():
    """`hubtools --help` loads the parser alone; `import hubtools`, `hubtools.Run` and the commands (card, check,
    push...) load no torch, Accelerate or transformers: a model loads them when it is scored or tags."""
    code = """
import contextlib, io, json, sys
from hubtools import cli
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    cli.main(["--help"])
heavy = ("torch", "accelerate", "transformers", "hubtools.api", "hubtools.commands")
after_help = [m for m in heavy if m in sys.modules]
import hubtools
hubtools.Run
import hubtools.commands
print(json.dumps({"help": out.getvalue(), "after_help": after_help,
                  "after_api": [m for m in heavy[:3] if m in sys.modules]}))
"""
    proc = subprocess.run([sys.executable, "-c", code], env=recipe_env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=True)
    seen = json.loads(proc.stdout)
    assert "usage: hubtools" in seen["help"] and "predict" in seen["help"]
    assert seen["after_help"] == []
    assert seen["after_api"] == []
    with pytest.raises(SystemExit) as exited:  # a wrong argument is refused by the parser, before any loading
        main(["predict", "RUN", "--variant", "nope", "--text", "t.txt", "--output", "o.jsonl"])
    assert exited.value.code == 2
