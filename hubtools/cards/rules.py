"""The Hub's rules for the YAML metadata of a README.md, checked offline.

The Hub validates a card's metadata when a commit adds or changes it and refuses the commit (400,
``Invalid metadata in README.md.`` with one line per problem). huggingface_hub's ``RepoCard.validate()`` asks the
Hub's endpoint, which is not reachable offline and ignores ``HF_ENDPOINT`` before huggingface_hub 2.2, so the
same rules run here: ``hubtools check`` applies them to the run folder's cards, ``hubtools push`` to the cards it
is about to publish (before the first upload), and the project's test Hub server at commit time.

The rules: ``model-index`` entries need a string ``name`` and results whose ``task.type``, ``dataset.type``
and ``dataset.name`` are strings (``config``, ``split``, ``revision`` strings when present) and whose metrics
have a string ``type`` and a numeric ``value``; ``base_model`` and ``datasets`` are repo ids; ``pipeline_tag``
and ``task_categories`` are known tasks; a Space names its ``sdk`` (one of the Hub's: gradio, docker, static,
streamlit) and its ``models`` / ``datasets`` by repo id, and ``colorFrom`` / ``colorTo`` are the Hub's colours;
``license`` is one of the Hub's identifiers, or ``other`` with a ``license_name``; ``language`` holds language
codes; ``tags``, ``metrics`` and ``library_name`` are strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from hubtools.hub_ids import is_repo_id

# https://huggingface.co/docs/hub/repositories-licenses (identifiers to use in a repo card)
LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0
cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0
cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0
cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 agpl-3.0 gfdl gpl
gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc lppl-1.3c ms-pl mpl-2.0 odc-by odbl openrail++ osl-3.0 postgresql
ofl-1.1 ncsa unlicense zlib pddl lgpl-lr deepfloyd-if-license llama2 gemma unknown other
""".split())

# The Hub's pipeline types (huggingface.js packages/tasks/src/pipelines.ts)
PIPELINE_TAGS = frozenset("""
biology text-classification token-classification table-question-answering question-answering
zero-shot-classification translation summarization feature-extraction text-generation text2text-generation
fill-mask sentence-similarity text-to-speech text-to-audio automatic-speech-recognition audio-to-audio
audio-classification audio-text-to-text voice-activity-detection depth-estimation image-classification
object-detection image-segmentation text-to-image image-to-text image-to-image image-to-video
unconditional-image-generation video-classification reinforcement-learning robotics tabular-classification
tabular-regression tabular-to-text table-to-text multiple-choice text-ranking text-retrieval
time-series-forecasting text-to-video image-text-to-text visual-question-answering document-question-answering
zero-shot-image-classification graph-ml mask-generation zero-shot-object-detection text-to-3d image-to-3d
image-feature-extraction video-text-to-text keypoint-detection visual-document-retrieval any-to-any other
""".split())

# A Space's README (https://huggingface.co/docs/hub/spaces-config-reference)
SPACE_SDKS = frozenset({"gradio", "docker", "static", "streamlit"})
SPACE_COLORS = frozenset({"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"})

LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
REFUSED_MESSAGE = "Invalid metadata in README.md."


def _strings(value: Any) -> list | None:
    """The value as a list when it is a string or a list of strings, else None."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _check_list(meta: dict, key: str, valid: Callable[[str], bool], what: str) -> list[str]:
    if key not in meta:
        return []
    values = _strings(meta[key])
    if values is None:
        return [f'"{key}" must be a string or a list of strings']
    return [f'"{key}" has {v!r}, which is not {what}' for v in values if not valid(v)]


def _model_index_problems(index: Any) -> list[str]:
    if not isinstance(index, list) or not index:
        return ['"model-index" must be a non-empty list']
    problems = []
    for i, entry in enumerate(index):
        where = f"model-index[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(f'"{where}.name" must be a string')
            continue
        results = entry.get("results")
        if not isinstance(results, list) or not results:
            problems.append(f'"{where}.results" must be a non-empty list')
            continue
        for j, result in enumerate(results):
            problems += _result_problems(result, f"{where}.results[{j}]")
    return problems


def _result_problems(result: Any, where: str) -> list[str]:
    if not isinstance(result, dict):
        return [f'"{where}" must be an object']
    task, dataset, metrics = result.get("task"), result.get("dataset"), result.get("metrics")
    problems = []
    if not isinstance(task, dict) or not isinstance(task.get("type"), str):
        problems.append(f'"{where}.task.type" must be a string')
    if not isinstance(dataset, dict):
        problems.append(f'"{where}.dataset" must be an object with type and name')
    else:
        for key in ("type", "name"):
            if not isinstance(dataset.get(key), str):
                problems.append(f'"{where}.dataset.{key}" must be a string')
        for key in ("config", "split", "revision"):
            if key in dataset and not isinstance(dataset[key], str):
                problems.append(f'"{where}.dataset.{key}" must be a string')
    if not isinstance(metrics, list) or not metrics:
        problems.append(f'"{where}.metrics" must be a non-empty list')
        return problems
    for k, metric in enumerate(metrics):
        if not isinstance(metric, dict) or not isinstance(metric.get("type"), str):
            problems.append(f'"{where}.metrics[{k}].type" must be a string')
        elif isinstance(metric.get("value"), bool) or not isinstance(metric.get("value"), int | float):
            problems.append(f'"{where}.metrics[{k}].value" must be a number')
    return problems


def metadata_problems(meta: dict, repo_type: str = "model") -> list[str]:
    """What the Hub would refuse in a card's metadata (empty when it accepts it)."""
    if not isinstance(meta, dict):
        return ["the metadata must be a mapping"]
    problems = []
    license_ = meta.get("license")
    if license_ is not None:
        if not isinstance(license_, str) or license_ not in LICENSES:
            problems.append(f'"license" is {license_!r}, not a license identifier of the Hub (or "other")')
        elif license_ == "other" and not isinstance(meta.get("license_name"), str):
            problems.append('"license" is "other": "license_name" must name the license')
    problems += _check_list(meta, "language", lambda v: bool(LANGUAGE.match(v)), "a language code")
    problems += _check_list(meta, "tags", lambda v: bool(v.strip()), "a tag")
    if repo_type == "model":
        if "pipeline_tag" in meta and meta["pipeline_tag"] not in PIPELINE_TAGS:
            problems.append(f'"pipeline_tag" is {meta["pipeline_tag"]!r}, not a task the Hub knows')
        problems += _check_list(meta, "base_model", is_repo_id, "a model repo id")
        problems += _check_list(meta, "datasets", is_repo_id, "a dataset repo id")
        problems += _check_list(meta, "metrics", lambda v: bool(v.strip()), "a metric id")
        if "library_name" in meta and not isinstance(meta["library_name"], str):
            problems.append('"library_name" must be a string')
        if "model-index" in meta:
            problems += _model_index_problems(meta["model-index"])
    elif repo_type == "space":
        problems += _space_problems(meta)
    else:
        problems += _check_list(meta, "task_categories", lambda v: v in PIPELINE_TAGS, "a task the Hub knows")
        problems += _check_list(meta, "source_datasets", lambda v: True, "a dataset")
    return problems


def _space_problems(meta: dict) -> list[str]:
    problems = [] if meta.get("sdk") in SPACE_SDKS else \
        [f'"sdk" is {meta.get("sdk")!r}: a Space needs one of {", ".join(sorted(SPACE_SDKS))}']
    problems += _check_list(meta, "models", is_repo_id, "a model repo id")
    problems += _check_list(meta, "datasets", is_repo_id, "a dataset repo id")
    return problems + [f'"{key}" is {meta[key]!r}, not a colour of the Hub ({", ".join(sorted(SPACE_COLORS))})'
                       for key in ("colorFrom", "colorTo") if key in meta and meta[key] not in SPACE_COLORS]


def front_matter(text: str) -> Any:
    """The YAML metadata block at the top of a README.md (empty without one); ValueError when it is not YAML."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*(?:\n|$)", text, re.S)
    if not match:
        return {}
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        raise ValueError(f"the YAML metadata does not parse: {' '.join(str(err).split())}") from None
    return {} if meta is None else meta


def readme_problems(text: str, repo_type: str = "model") -> list[str]:
    """What the Hub would refuse in a README.md's metadata."""
    try:
        return metadata_problems(front_matter(text), repo_type)
    except ValueError as err:
        return [str(err)]


def refusal(problems: list[str]) -> str:
    """The Hub's answer to a commit with invalid card metadata."""
    return "\n".join([REFUSED_MESSAGE, *(f"- {p}" for p in problems)])
