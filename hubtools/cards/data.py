"""Card data: the Hub metadata (huggingface_hub's ``ModelCardData`` / ``DatasetCardData``) and the values the
templates show, all built from a run's typed results. Nothing here computes a number: every value is read
from :class:`~hubtools.results.RunResults`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from huggingface_hub import DatasetCardData, EvalResult, ModelCardData

from hubtools.families import family
from hubtools.hub_ids import hub_dataset_id
from hubtools.results import DatasetEvaluation, RunResults, TestScores

TASK = "token-classification"
TEST_METRICS = {"f1": "F1", "precision": "Precision", "recall": "Recall", "accuracy": "Accuracy"}
SPLITS = ("train", "validation", "test")
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def base_model(results: RunResults) -> str | None:
    """The Hub id of the pretrained model a run was fine-tuned from; None when it was trained from scratch or
    fine-tuned from a local folder without a Hub id (``model.hub_id``)."""
    return None if results.model.from_scratch else results.model.base_model


def dataset_id(results: RunResults, dataset_repo_id: str | None) -> str:
    """How model-index names the dataset: the pushed dataset repo, else the source's Hub id, else its name."""
    return dataset_repo_id or hub_dataset_id(results.dataset.source) or results.dataset.name


def model_name(results: RunResults, model_repo_id: str | None) -> str:
    """The repo name, or ``<model_type>-<dataset name>`` before a repo is known."""
    if model_repo_id:
        return model_repo_id.split("/")[-1]
    return f"{results.model.model_type}-{results.dataset.name}"


class NerModelCardData(ModelCardData):
    """The model card's YAML metadata, with the test scores as model-index."""

    @classmethod
    def from_results(cls, results: RunResults, model_repo_id: str | None = None,
                     dataset_repo_id: str | None = None) -> NerModelCardData:
        publish, export = results.publish, results.export
        tags = [TASK, "ner", *publish.tags] + (["onnx"] if export and export.passed else [])
        widget = [{"text": text} for text in publish.widget]
        license_info = {"license_name": publish.license_name, "license_link": publish.license_link} \
            if publish.license == "other" else {}
        return cls(language=results.dataset.language or None, license=publish.license, **license_info,
                   library_name=results.model.library_name, pipeline_tag=TASK, tags=tags,
                   datasets=[dataset_repo_id] if dataset_repo_id else None, base_model=base_model(results),
                   metrics=list(TEST_METRICS), widget=widget or None, model_name=model_name(results, model_repo_id),
                   eval_results=eval_results(results, dataset_repo_id))


def eval_results(results: RunResults, dataset_repo_id: str | None) -> list[EvalResult]:
    """model-index entries: the scored split's entity-level scores, on the published dataset when there is one, then
    those of the cross-dataset evaluations (:func:`indexed_evaluations`), one further dataset each."""
    dataset = results.dataset
    where: dict[str, Any] = {"dataset_name": dataset.name, "dataset_type": dataset_id(results, dataset_repo_id)}
    if not dataset_repo_id and hub_dataset_id(dataset.source):
        where.update(dataset_config=dataset.source_config, dataset_revision=dataset.revision)
    return [*_metric_results(results.test, results.test.split, where),
            *(result for evaluation in indexed_evaluations(results)
              for result in _metric_results(evaluation.scores, evaluation.split, evaluation_dataset(evaluation)))]


def _metric_results(scores: TestScores, split: str, where: dict[str, Any]) -> list[EvalResult]:
    return [EvalResult(task_type=TASK, task_name="Named Entity Recognition", metric_type=metric,
                       metric_value=getattr(scores, metric), metric_name=f"{split.capitalize()} {label}",
                       **where, dataset_split=split)
            for metric, label in TEST_METRICS.items()]


def evaluation_dataset(evaluation: DatasetEvaluation) -> dict[str, Any]:
    """How model-index names the dataset of a cross-dataset evaluation: its Hub id (with config and revision),
    else its name."""
    where: dict[str, Any] = {"dataset_name": evaluation.dataset,
                             "dataset_type": evaluation.hub_id or evaluation.dataset}
    if evaluation.hub_id:
        where.update(dataset_config=evaluation.source_config, dataset_revision=evaluation.revision)
    return where


def indexed_evaluations(results: RunResults) -> list[DatasetEvaluation]:
    """The cross-dataset evaluations model-index lists: one per dataset, configuration and split (the ``pytorch``
    variant's when it was scored, else the first recorded), leaving out the run's own scored split."""
    chosen: dict[tuple, DatasetEvaluation] = {}
    for evaluation in results.evaluations:
        key = (evaluation.dataset, evaluation.source_config, evaluation.split)
        if (evaluation.dataset, evaluation.split) == (results.dataset.name, results.test.split):
            continue
        if key not in chosen or (evaluation.variant == "pytorch" and chosen[key].variant != "pytorch"):
            chosen[key] = evaluation
    return list(chosen.values())


def data_files(results: RunResults) -> dict[str, str]:
    """Split -> parquet file name, beside the dataset card."""
    return {split: f"{split}.parquet" for split in SPLITS if split in results.dataset.splits}


def size_category(results: RunResults) -> str:
    """The Hub's size category for the number of sentences in all splits."""
    total = sum(results.dataset.splits.values())
    return next((name for limit, name in _SIZE_CATEGORIES if total < limit), "n>1M")


class NerDatasetCardData(DatasetCardData):
    """The dataset card's YAML metadata, with ``configs`` mapping the parquet files to splits."""

    @classmethod
    def from_results(cls, results: RunResults) -> NerDatasetCardData:
        dataset = results.dataset
        source = hub_dataset_id(dataset.source)
        files = [{"split": split, "path": path} for split, path in data_files(results).items()]
        license_info = {"license_name": dataset.license_name, "license_link": dataset.license_link} \
            if dataset.license == "other" else {}
        return cls(language=dataset.language or None, license=dataset.license, **license_info, task_categories=[TASK],
                   task_ids=["named-entity-recognition"], pretty_name=dataset.name,
                   size_categories=[size_category(results)], source_datasets=[source] if source else None,
                   tags=results.publish.tags or None, configs=[{"config_name": "default", "data_files": files}])


LOCAL_MODEL, LOCAL_RUN = "model", "."  # the run folder's own cards load from the folder they are run from


@dataclass
class CardContext:
    """Everything the templates read besides ``results``: metadata YAML, names, links, snippet values."""

    model_metadata: str
    dataset_metadata: str
    model_name: str
    model_ref: str
    onnx_ref: str
    data_files: dict[str, str]
    usage_template: str
    model_repo_id: str | None = None
    dataset_repo_id: str | None = None
    space_repo_id: str | None = None
    base_model: str | None = None
    source_repo_id: str | None = None
    example: str | None = None
    onnx_file_name: str | None = None
    onnx_attention_op: bool | None = None
    remote_code: bool | None = None
    benchmark_plot: bool | None = None

    @classmethod
    def build(cls, results: RunResults, model_repo_id: str | None = None, dataset_repo_id: str | None = None,
              benchmark_plot: bool = False, space_repo_id: str | None = None) -> CardContext:
        """The context for cards published to ``model_repo_id`` / ``dataset_repo_id`` (every snippet loads from
        the repos; the model card links the demo Space ``space_repo_id``); without repo ids the snippets load the
        run folder they are run from."""
        export = results.export
        smallest = export.smallest_passed if export else None
        return cls(
            model_metadata=NerModelCardData.from_results(results, model_repo_id, dataset_repo_id).to_yaml(),
            dataset_metadata=NerDatasetCardData.from_results(results).to_yaml(),
            model_name=model_name(results, model_repo_id), model_ref=model_repo_id or LOCAL_MODEL,
            onnx_ref=model_repo_id or LOCAL_RUN, data_files=data_files(results),
            usage_template=family(results.model.family).card_usage, model_repo_id=model_repo_id,
            dataset_repo_id=dataset_repo_id, space_repo_id=space_repo_id, base_model=base_model(results),
            source_repo_id=hub_dataset_id(results.dataset.source),
            example=results.publish.widget[0] if results.publish.widget else None,
            onnx_file_name=PurePosixPath(smallest.file).name if smallest else None,
            onnx_attention_op=bool(smallest and export.settings.split_attention and smallest.name != "onnx") or None,
            remote_code=results.model.remote_code or None, benchmark_plot=benchmark_plot or None)
