"""What the card templates read: results.json plus the Hub metadata built from it.

Nothing here computes a number: every value is looked up in results.json (:func:`value` raises
:class:`~hubtools.errors.CardError` naming the key path when it is missing, ``None`` or empty).
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from huggingface_hub import DatasetCardData, EvalResult, ModelCardData

from hubtools.errors import CardError

TASK = "token-classification"
TEST_METRICS = {"f1": "F1", "precision": "Precision", "recall": "Recall", "accuracy": "Accuracy"}
SPLITS = ("train", "validation", "test")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def is_missing(obj: Any) -> bool:
    """``None``, an empty string or an empty container: a value a card must not print."""
    return obj is None or (isinstance(obj, (str, list, tuple, dict)) and len(obj) == 0)


def value(results: dict, path: str) -> Any:
    """The value at a dotted ``path`` of results.json; CardError naming the path if it is missing."""
    node: Any = results
    for key in path.split("."):
        if not isinstance(node, dict) or is_missing(node.get(key)):
            raise CardError(f"results.json has no value for {path!r}")
        node = node[key]
    return node


def optional(results: dict, path: str) -> Any:
    """The value at ``path``, or None when it is missing or empty."""
    try:
        return value(results, path)
    except CardError:
        return None


def hub_dataset_id(source: str) -> str | None:
    """``source`` when it reads as a Hub dataset id (not a generator or a path), else None."""
    if source.startswith("generate:") or PurePosixPath(source).suffix in (".json", ".jsonl", ".parquet", ".conll",
                                                                          ".txt", ".csv", ".ann"):
        return None
    return source if _HUB_ID.match(source) else None


def library_name(results: dict) -> str:
    """``transformers`` unless results.json ``model.library_name`` says otherwise (``span-marker``)."""
    return optional(results, "model.library_name") or "transformers"


def base_model(results: dict) -> str | None:
    """The pretrained model a run was fine-tuned from; None when it was trained from scratch."""
    if optional(results, "model.from_scratch"):
        return None
    return optional(results, "model.base_model")


def model_name(results: dict, model_repo_id: str | None) -> str:
    """The repo name, or ``<model_type>-<dataset name>`` before a repo is known."""
    if model_repo_id:
        return model_repo_id.split("/")[-1]
    return f"{value(results, 'model.model_type')}-{value(results, 'dataset.name')}"


def eval_results(results: dict, dataset_repo_id: str | None) -> list[EvalResult]:
    """model-index entries: the test split's entity-level scores, on the published dataset when there is one."""
    dataset = {"dataset_name": value(results, "dataset.name"), "dataset_split": "test"}
    if dataset_repo_id:
        dataset["dataset_type"] = dataset_repo_id
    else:
        dataset.update(dataset_type=value(results, "dataset.source"),
                       dataset_config=optional(results, "dataset.source_config"),
                       dataset_revision=optional(results, "dataset.revision"))
    return [EvalResult(task_type=TASK, task_name="Named Entity Recognition", metric_type=metric,
                       metric_value=value(results, f"test.{metric}"), metric_name=f"Test {label}", **dataset)
            for metric, label in TEST_METRICS.items()]


def export_variants(results: dict) -> list[str]:
    """Names of the export variants: the ``export`` entries that carry a verification ``status`` (the other
    entries, such as ``benchmark`` or ``instruction_set``, describe the stage)."""
    export = optional(results, "export") or {}
    return [name for name, entry in export.items() if isinstance(entry, dict) and "status" in entry]


def onnx_files(results: dict) -> dict[str, str]:
    """Export variant -> its file name inside ``onnx/``."""
    return {name: PurePosixPath(value(results, f"export.{name}.file")).name for name in export_variants(results)}


def smallest_verified_onnx(results: dict) -> str | None:
    """File name of the smallest variant whose verification passed, for the usage snippet."""
    passed = [name for name in onnx_files(results) if optional(results, f"export.{name}.status") == "passed"]
    best = min(passed, key=lambda name: value(results, f"export.{name}.size_mb"), default=None)
    return onnx_files(results)[best] if best else None


def model_metadata(results: dict, model_repo_id: str | None, dataset_repo_id: str | None) -> ModelCardData:
    """The model card's YAML metadata."""
    publish = value(results, "config.publish")
    tags = [TASK, "ner", *publish.get("tags", [])]
    if smallest_verified_onnx(results):
        tags.append("onnx")
    widget = [{"text": text} for text in publish.get("widget", [])]
    return ModelCardData(
        language=value(results, "dataset.language"), license=value(results, "config.publish.license"),
        library_name=library_name(results), pipeline_tag=TASK, tags=tags,
        datasets=[dataset_repo_id] if dataset_repo_id else None, base_model=base_model(results),
        metrics=list(TEST_METRICS), widget=widget or None, model_name=model_name(results, model_repo_id),
        eval_results=eval_results(results, dataset_repo_id))


def data_files(results: dict) -> dict[str, str]:
    """Split -> parquet file name, beside the dataset card."""
    splits = value(results, "dataset.splits")
    return {split: f"{split}.parquet" for split in SPLITS if split in splits}


def size_category(results: dict) -> str:
    """The Hub's size category for the number of sentences in all splits."""
    total = sum(value(results, "dataset.splits").values())
    return next((name for limit, name in _SIZE_CATEGORIES if total < limit), "n>1M")


def dataset_metadata(results: dict) -> DatasetCardData:
    """The dataset card's YAML metadata, with ``configs`` mapping the parquet files to splits."""
    source = hub_dataset_id(value(results, "dataset.source"))
    files = [{"split": split, "path": path} for split, path in data_files(results).items()]
    return DatasetCardData(
        language=value(results, "dataset.language"), license=value(results, "dataset.license"),
        task_categories=[TASK], task_ids=["named-entity-recognition"], pretty_name=value(results, "dataset.name"),
        size_categories=[size_category(results)], source_datasets=[source] if source else None,
        tags=optional(results, "config.publish.tags"), configs=[{"config_name": "default", "data_files": files}])


def hyperparameters(results: dict) -> list[dict[str, Any]]:
    """Rows ``{name, value}`` of the training and sequence settings that were set (None means unused)."""
    training = dict(value(results, "config.training"))
    training.update(training.pop("extra", None) or {})
    model = {f"model.{key}": optional(results, f"model.{key}") for key in ("max_length", "stride")}
    scratch = optional(results, "config.model.from_scratch") if base_model(results) is None else None
    model.update({f"from_scratch.{key}": v for key, v in (scratch or {}).items()})
    return [{"name": name, "value": v} for name, v in {**training, **model}.items() if not is_missing(v)]


def uses_remote_code(run_dir: Path) -> bool:
    """Whether the saved model ships its own modeling code (``auto_map``: load with ``trust_remote_code``)."""
    config = run_dir / "model" / "config.json"
    return config.is_file() and "auto_map" in json.loads(config.read_text(encoding="utf-8"))


def card_context(results: dict, run_dir: str | Path, *, model_repo_id: str | None = None,
                 dataset_repo_id: str | None = None) -> dict[str, Any]:
    """Everything the templates read. Repo ids default to ``config.publish``; a None value is left out."""
    run_dir = Path(run_dir)
    model_repo_id = model_repo_id or optional(results, "config.publish.model_repo_id")
    dataset_repo_id = dataset_repo_id or optional(results, "config.publish.dataset_repo_id")
    output_dir = value(results, "config.output_dir")
    context = {
        "results": results,
        "model_repo_id": model_repo_id,
        "dataset_repo_id": dataset_repo_id,
        "model_name": model_name(results, model_repo_id),
        "model_ref": model_repo_id or f"{output_dir}/model",
        "onnx_ref": model_repo_id or output_dir,
        "library_name": library_name(results),
        "remote_code": uses_remote_code(run_dir) or None,
        "example": (optional(results, "config.publish.widget") or [None])[0],
        "base_model": base_model(results),
        "source_repo_id": hub_dataset_id(value(results, "dataset.source")),
        "hyperparameters": hyperparameters(results),
        "onnx_files": onnx_files(results),
        "onnx_file_name": smallest_verified_onnx(results),
        "benchmark_plot": (run_dir / "plots" / "benchmark.png").is_file() or None,
        "data_files": data_files(results),
        "extra_sections": optional(results, "card.extra_sections"),
        "model_metadata": model_metadata(results, model_repo_id, dataset_repo_id).to_yaml(),
        "dataset_metadata": dataset_metadata(results).to_yaml(),
    }
    return {key: v for key, v in context.items() if v is not None}
