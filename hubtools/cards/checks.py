"""Local validation of rendered cards: metadata, model-index against the run's results, links and tables.

huggingface_hub < 2.2 validates cards against a hard-coded huggingface.co address, so everything here is
checked offline with the library's own parsers (``ModelCard``, ``DatasetCard``, ``metadata_load``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import yaml
from huggingface_hub import DatasetCard, ModelCard, metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results

from hubtools.cards.data import TASK, TEST_METRICS, indexed_evaluations
from hubtools.cards.rules import readme_problems
from hubtools.results import RunResults

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_SEPARATOR = re.compile(r"^:?-+:?$")
_BAD_CELLS = {"", "None", "none", "null", "nan", "NaN"}
MODEL_REPO_FOLDERS = ("plots", "onnx")  # pushed beside the model files: RUN/plots -> plots/, RUN/onnx -> onnx/


def _body(text: str) -> str:
    """The card without its YAML header and code blocks."""
    if text.startswith("---"):
        text = text.split("\n---", 2)[-1]
    return _FENCE.sub("", text)


def relative_links(text: str) -> list[str]:
    """Link and image targets of the card body that point inside the repo."""
    targets = (m.group(1).split("#")[0] for m in _LINK.finditer(_body(text)))
    return [t for t in targets if t and "://" not in t and not t.startswith(("mailto:", "/"))]


def table_problems(text: str) -> list[str]:
    """Empty or None-like table cells, by line of the body."""
    problems = []
    for number, line in enumerate(_body(text).splitlines(), 1):
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in _CELL_SPLIT.split(line.strip())[1:-1]]
        if cells and not all(_SEPARATOR.match(c) for c in cells):
            problems += [f"table cell {i + 1} of body line {number} is {c!r}: {line.strip()[:80]}"
                         for i, c in enumerate(cells) if c in _BAD_CELLS]
    return problems


def _model_repo_path(run_dir: Path, link: str) -> Path:
    """Where a model card link's target lies in the run folder."""
    first = link.split("/", 1)[0]
    return run_dir / link if first in MODEL_REPO_FOLDERS else run_dir / "model" / link


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _equal(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def check_model_index(metadata: dict, results: RunResults) -> list[str]:
    """model-index parses back into EvalResults equal to the run's scores (its dataset, the scored split) and
    to those of the evaluations it lists (:func:`hubtools.cards.data.indexed_evaluations`)."""
    try:
        _, evals = model_index_to_eval_results(metadata["model-index"])
    except (KeyError, TypeError, IndexError) as err:
        return [f"model-index malformed: {type(err).__name__} {err}"]
    expected = [(results.dataset.name, None, results.test.split, results.test)] + [
        (e.dataset, e.source_config, e.split, e.scores) for e in indexed_evaluations(results)]
    problems = []
    for name, config, split, scores in expected:
        for metric in TEST_METRICS:
            found = [e for e in evals if e.metric_type == metric and e.dataset_name == name
                     and e.dataset_split == split and (config is None or e.dataset_config == config)]
            value = getattr(scores, metric)
            where = f"{split} {metric}" + ("" if name == results.dataset.name else f" of {name}")
            if len(found) != 1:
                problems.append(f"model-index has {len(found)} {where} entries, expected 1")
            elif found[0].task_type != TASK:
                problems.append(f"model-index task {found[0].task_type!r}, expected {TASK!r}")
            elif not _equal(found[0].metric_value, value):
                problems.append(f"model-index {where} = {found[0].metric_value!r}, results.json has {value!r}")
    return problems


def check_model_card(run_dir: Path, results: RunResults) -> list[str]:
    """Problems with RUN/model/README.md."""
    path = run_dir / "model" / "README.md"
    text = _read(path)
    if text is None:
        return [f"{path}: no model card; render it with `hubtools card {run_dir}`"]
    problems = []
    try:
        data = ModelCard(text).data
        metadata = metadata_load(path) or {}
    except (ValueError, yaml.YAMLError) as err:
        return [f"{path}: metadata does not parse: {err}"]
    problems += readme_problems(text, "model")
    if data.pipeline_tag != TASK:
        problems.append(f"pipeline_tag is {data.pipeline_tag!r}, expected {TASK!r}")
    required = ("language", "license", "library_name", "model-index") if results.dataset.language else \
        ("license", "library_name", "model-index")
    problems += [f"metadata has no {key!r}" for key in required if not metadata.get(key)]
    if metadata.get("model-index"):
        problems += check_model_index(metadata, results)
    problems += [f"link {link!r}: no {_model_repo_path(run_dir, link)}" for link in relative_links(text)
                 if not _model_repo_path(run_dir, link).exists()]
    problems += table_problems(text)
    return [f"{path}: {p}" for p in problems]


def check_dataset_card(run_dir: Path, results: RunResults) -> list[str]:
    """Problems with RUN/dataset/README.md."""
    folder = run_dir / "dataset"
    path = folder / "README.md"
    text = _read(path)
    if text is None:
        return [f"{path}: no dataset card; render it with `hubtools card {run_dir}`"]
    try:
        data = DatasetCard(text).data
        metadata = metadata_load(path) or {}
    except (ValueError, yaml.YAMLError) as err:
        return [f"{path}: metadata does not parse: {err}"]
    problems = readme_problems(text, "dataset")
    if TASK not in (data.task_categories or []):
        problems.append(f"task_categories {data.task_categories!r} lacks {TASK!r}")
    expected_license = results.dataset.license
    if data.license != expected_license:
        problems.append(f"license {data.license!r}, results.json dataset.license is {expected_license!r}")
    configs = metadata.get("configs") or []
    files = [f for config in configs for f in (config.get("data_files") or [])]
    if not files:
        problems.append("metadata has no configs with data_files")
    splits = {f.get("split") for f in files}
    if files and splits != set(results.dataset.splits):
        problems.append(f"configs data_files splits {sorted(map(str, splits))} differ from results.json splits")
    problems += [f"data_files {f.get('path')!r}: no {folder / str(f.get('path'))}" for f in files
                 if not (folder / str(f.get("path"))).is_file()]
    problems += [f"link {link!r}: no {folder / link}" for link in relative_links(text) if not (folder / link).exists()]
    problems += table_problems(text)
    return [f"{path}: {p}" for p in problems]
