"""The models ``hubtools evaluate`` and ``hubtools predict`` tag with, and how they tag the words of a dataset.

A model is named by RUN_OR_REPO: a run folder (``results.json``, ``model/``, ``onnx/``), a model folder
(``config.json`` with weights and tokenizer, ``onnx/`` beside them: the layout ``hubtools push`` publishes, with
``results.json`` at its root), or a Hub model repo id, downloaded with huggingface_hub (``HF_ENDPOINT``,
``HF_TOKEN`` and its cache as usual; only the files the variant needs, after ``config.json`` has shown a token
classifier). Variants: ``pytorch`` (the weights) and the ONNX files of the export, ``onnx``, ``onnx_int8`` and
``onnx_int8_embeddings`` (the files the run's ``results.json`` lists as passed, else the exporter's file names
in ``onnx/``). Supported: transformers token classifiers and this project's RNN taggers (loaded with the installed
package's classes, :mod:`hubtools.remote_code`); a model's own code (``auto_map``) runs only with
``--trust-remote-code``; SpanMarker models are refused.

Sentences are tokenized as in training (:func:`hubtools.context.tokenize_with_context` with the run's window
size and stride, else the model's maximum length and the recipes' default stride): a sentence longer than the
window is split into overlapping windows and the window predictions are merged back to one label per word. A
model trained with document context (``model.document_context`` in its results) reads each sentence of a split
that has documents with its neighbouring sentences, as the recipe scored it (:mod:`hubtools.context`); the
context words are never tagged. PyTorch runs through the Trainer's prediction loop (longest rows first), so
``accelerate launch`` with N processes gives the same tags as one; ONNX Runtime runs in the calling process over
length-sorted batches.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.config import DataConfig, ModelConfig
from hubtools.data.schemes import invalid_tags, types_of
from hubtools.errors import DataError, UsageError, one_line, user_error
from hubtools.paths import looks_like_path, portable
from hubtools.remote_code import check_code, code_note, load_token_classifier
from hubtools.results import RunResults

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

    from hubtools.data.loading import LoadReport

logger = logging.getLogger(__name__)
ARGUMENT = "RUN_OR_REPO"
VARIANTS = ("pytorch", "onnx", "onnx_int8", "onnx_int8_embeddings")  # the names the exporters give them
DEFAULT_MAX_LENGTH = 512
DEFAULT_STRIDE = next(f.default for f in dataclasses.fields(ModelConfig) if f.name == "stride")
# what a Hub download takes besides the weights: config, tokenizer and label files, remote code
HUB_SMALL_FILES = ("*.json", "*.txt", "*.model", "*.py")


@dataclass
class ModelSource:
    """A model resolved to local folders: ``root`` holds ``model_dir`` (config, weights, tokenizer) and
    ``onnx/``; ``results`` are the run's (a run folder, or the ``results.json`` a pushed repo carries).
    ``run_dir`` is set for a run folder, where evaluations are recorded."""

    argument: str
    root: Path
    model_dir: Path
    results: RunResults | None = None
    run_dir: Path | None = None
    repo_id: str | None = None
    revision: str | None = None
    trust_remote_code: bool = False

    @cached_property
    def config(self) -> dict[str, Any]:
        return json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))

    @property
    def label_names(self) -> list[str]:
        id2label = self.config["id2label"]
        return [id2label[str(i)] for i in range(len(id2label))]

    @property
    def entity_types(self) -> list[str]:
        return types_of(self.label_names)

    @property
    def name(self) -> str:
        """How outputs name the model: the Hub repo id, else the folder as a portable path."""
        return self.repo_id or portable(self.argument)

    @property
    def document_context(self) -> int:
        """Sub-tokens of document context the model was trained and scored with (0: sentences alone)."""
        return self.results.model.document_context if self.results is not None else 0

    def window(self, tokenizer) -> tuple[int, int]:
        """Window size and stride in sub-tokens: the run's, else the model's limit and the default stride."""
        if self.results is not None:
            return self.results.model.max_length, self.results.model.stride or 0
        limits = [DEFAULT_MAX_LENGTH, self.config.get("max_position_embeddings") or DEFAULT_MAX_LENGTH]
        if tokenizer.model_max_length and tokenizer.model_max_length < 1_000_000:
            limits.append(int(tokenizer.model_max_length))
        return min(limits), DEFAULT_STRIDE

    def onnx_file(self, variant: str) -> Path:
        """The ONNX file of ``variant``; UsageError when the export did not publish it."""
        export = self.results.export if self.results is not None else None
        report = export.variant(variant) if export is not None else None
        if export is not None and report is None:
            raise UsageError(f"--variant {variant}: {self.argument} has no such exported variant (its export has "
                             f"{', '.join(v.name for v in export.variants)})")
        if report is not None and not report.passed:
            raise UsageError(f"--variant {variant}: refused by {self.argument}'s export verification "
                             f"({report.reason}), so it was not published")
        path = self.root / report.file if report is not None else self.root / "onnx" / variant_file(variant)
        if not path.is_file():
            raise UsageError(f"--variant {variant}: {self.argument} has no {path.relative_to(self.root)}; "
                             "export the run first (hubtools export RUN_DIR)")
        return path


def variant_file(variant: str) -> str:
    """The file name the transformers exporter gives an ONNX variant in ``onnx/``."""
    from hubtools.export.optimum_onnx import FP32_FILE, INT8_EMBEDDINGS_FILE, INT8_FILE

    return {"onnx": FP32_FILE, "onnx_int8": INT8_FILE, "onnx_int8_embeddings": INT8_EMBEDDINGS_FILE}[variant]


def check_token_classifier(config: dict[str, Any], argument: str, trusted: bool) -> None:
    """UsageError naming RUN_OR_REPO when ``config`` (config.json) is not a token classifier this module
    tags with, has no IOB2 label names, or needs remote code that is not trusted."""
    where = f"{ARGUMENT} {argument!r}"
    architectures = config.get("architectures") or []
    auto_map = config.get("auto_map") or {}
    if config.get("model_type") == "span-marker" or "SpanMarkerModel" in architectures:
        raise UsageError(f"{where}: a SpanMarker model; evaluate and predict tag with token classifiers only "
                         "(SpanMarker models predict spans: SpanMarkerModel.predict)")
    if not any(a.endswith("ForTokenClassification") for a in architectures) \
            and "AutoModelForTokenClassification" not in auto_map:
        raise UsageError(f"{where}: not a token classifier (config.json architectures {architectures or 'none'}; "
                         "expected a ...ForTokenClassification model)")
    id2label = config.get("id2label") or {}
    names = [id2label.get(str(i), "") for i in range(len(id2label))]
    if not names or all(name == f"LABEL_{i}" for i, name in enumerate(names)):
        raise UsageError(f"{where}: config.json has no label names (id2label)")
    bad = invalid_tags(names, "IOB2")
    if bad:
        tag = next(iter(bad))
        raise UsageError(f"{where}: label {tag!r} is not an IOB2 tag ({bad[tag]})")
    check_code(config, where, trusted)


def resolve_model(argument: str, variant: str = "pytorch", revision: str | None = None,
                  trust_remote_code: bool = False) -> ModelSource:
    """The model named by ``argument`` (module docstring), checked to be a token classifier before any weight
    is downloaded or loaded."""
    if variant not in VARIANTS:
        raise UsageError(f"--variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    from hubtools.hub_ids import is_repo_id

    path = Path(argument).expanduser()
    if path.exists():
        source = _local_source(argument, path, trust_remote_code)
    elif looks_like_path(argument) or not is_repo_id(argument):
        raise UsageError(f"{ARGUMENT} {argument!r}: no such run folder or model folder, and not a Hub repo id")
    else:
        source = _hub_source(argument, variant, revision, trust_remote_code)
    check_token_classifier(source.config, argument, source.trust_remote_code)
    note = None if source.trust_remote_code else code_note(
        source.model_dir, f"{ARGUMENT} {argument!r}", source.results.versions.get("nerhub") if source.results else None)
    if note:
        logger.warning(note)
    if variant != "pytorch":
        source.onnx_file(variant)
    return source


def _local_source(argument: str, path: Path, trust_remote_code: bool) -> ModelSource:
    from hubtools.run import RESULTS_FILE, read_results

    if (path / RESULTS_FILE).is_file() and (path / "model" / "config.json").is_file():
        results = read_results(path)
        return ModelSource(argument, path, path / "model", results, run_dir=path, trust_remote_code=trust_remote_code)
    if (path / "config.json").is_file():
        results = read_results(path) if (path / RESULTS_FILE).is_file() else None
        return ModelSource(argument, path, path, results, trust_remote_code=trust_remote_code)
    raise UsageError(f"{ARGUMENT} {argument!r}: neither a run folder (results.json, model/) nor a model folder "
                     "(config.json)")


def _hub_source(repo_id: str, variant: str, revision: str | None, trust_remote_code: bool) -> ModelSource:
    """Download what ``variant`` needs from the Hub model repo ``repo_id`` (config.json checked first)."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RevisionNotFoundError

    from hubtools.run import RESULTS_FILE, read_results

    where = f"{ARGUMENT} {repo_id!r}"
    try:
        info = HfApi().model_info(repo_id, revision=revision)
        files = {s.rfilename for s in info.siblings or []}
        if "config.json" not in files:
            raise UsageError(f"{where}: the Hub repo has no config.json; not a transformers token classifier")
        config = json.loads(Path(hf_hub_download(repo_id, "config.json", revision=info.sha)).read_text())
        check_token_classifier(config, repo_id, trust_remote_code)
        if variant == "pytorch":
            weights = [f for f in files if "/" not in f and f.endswith(".safetensors")] or \
                      [f for f in files if "/" not in f and f.endswith(".bin")]
        else:
            weights = [f"onnx/{variant_file(variant)}"]
        folder = Path(snapshot_download(repo_id, revision=info.sha, allow_patterns=[*HUB_SMALL_FILES, *weights]))
    except RevisionNotFoundError:
        raise UsageError(f"--revision {revision!r}: not a branch, tag or commit of the Hub repo {repo_id}") from None
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as err:
        message = user_error(err) or (f"cannot download the model from the Hub ({one_line(err)}); check the repo "
                                      "id, HF_ENDPOINT and HF_TOKEN")
        raise UsageError(f"{where}: {message}") from None
    results = read_results(folder) if (folder / RESULTS_FILE).is_file() else None
    return ModelSource(repo_id, folder, folder, results, repo_id=repo_id, revision=info.sha,
                       trust_remote_code=trust_remote_code)


# data keys that build a training dataset (selection, renaming, splitting, card metadata): evaluate and predict
# read a source's splits as they are (evaluate matches types with --label-map), so setting one is refused
BUILD_KEYS = ("num_types", "selection_rule", "types", "rename", "drop_without_entities", "split_ratios",
              "max_samples", "seed", "license", "license_name", "license_link", "language")


# data keys whose value is text: a --data-option value for them is taken as written (``strip_token_prefix=en:``,
# ``config_name=2022``), not read as YAML
TEXT_KEYS = frozenset(f.name for f in dataclasses.fields(DataConfig) if f.type in ("str", "str | None"))


def data_argument(source: str, options: Sequence[str] = ()) -> DataConfig:
    """The ``data`` section of ``--data SOURCE --data-option KEY=VALUE ...`` (the keys of a recipe's ``data``
    section that say how to read the source; values as YAML except for :data:`TEXT_KEYS`); the keys of
    :data:`BUILD_KEYS` are refused."""
    from hubtools.config import data_section

    cfg = data_section(source, [f"data.{_option(option)}" for option in options])
    default = DataConfig(source=source)
    given = [k for k in BUILD_KEYS if getattr(cfg, k) != getattr(default, k)]
    if given:
        raise UsageError(f"--data-option {given[0]}: builds a training dataset; evaluate and predict read the "
                         "source's splits as they are (evaluate matches types with --label-map)")
    return cfg


def _option(option: str) -> str:
    """``KEY=VALUE`` with the value of a text key quoted, so that YAML reads it as written."""
    key, sep, value = option.partition("=")
    return f"{key}={json.dumps(value)}" if sep and key.strip() in TEXT_KEYS else option


def load_data(cfg: DataConfig) -> tuple[DatasetDict, LoadReport]:
    """The splits of a data source, validated and in IOB2, and what loading found; errors name ``--data``."""
    from hubtools.data.build import load_validated
    from hubtools.data.loading import LoadReport

    report = LoadReport()
    try:
        return load_validated(cfg, report), report
    except DataError as err:
        raise DataError(f"--data {cfg.source}: {err}") from None


def chosen_split(splits: Mapping[str, Any], split: str | None, source: str, default: str | None = "test") -> str | None:
    """The split of ``--data source`` to read: ``split`` when given, the source's one split when it has only one
    (a single file is read as ``train``), else ``default`` (None: every split); UsageError naming ``--split``
    when the source has no such split."""
    if split is None:
        split = next(iter(splits)) if len(splits) == 1 else default
    if split is not None and split not in splits:
        raise UsageError(f"--split {split!r}: --data {source} has the splits {', '.join(splits)}")
    return split


class Tagger:
    """One variant of a model, tagging the words of datasets (``tokens`` column) with label ids."""

    def __init__(self, source: ModelSource, variant: str = "pytorch", batch_size: int = 32,
                 threads: int | None = None) -> None:
        from transformers import AutoTokenizer

        self.source, self.variant, self.batch_size, self.threads = source, variant, batch_size, threads
        self.label_names = source.label_names
        self.tokenizer = AutoTokenizer.from_pretrained(source.model_dir)
        self.max_length, self.stride = source.window(self.tokenizer)

    def features(self, ds: Dataset, pool: Sequence[Dataset] = ()) -> Dataset:
        """The model's feature rows of ``ds`` as in training: windows for long sentences and, for a model that
        reads document context, each sentence with its neighbours in its document (from ``ds`` and ``pool``)."""
        from hubtools.context import tokenize_with_context

        return tokenize_with_context(ds, self.tokenizer, self.max_length, self.stride, self.source.document_context,
                                     pool=pool, label_column=None)

    def tag(self, ds: Dataset, pool: Sequence[Dataset] = ()) -> list[list[int]]:
        """One label id (an index of :attr:`label_names`) per word of every sentence of ``ds`` (``pool``: the
        other splits, whose sentences may be read as document context)."""
        features = self.features(ds, pool)
        lengths = [len(tokens) for tokens in ds["tokens"]]
        if self.variant == "pytorch":
            return self._tag_pytorch(features, lengths)
        return self._tag_onnx(features, lengths)

    def _tag_pytorch(self, features: Dataset, lengths: list[int]) -> list[list[int]]:
        import tempfile

        from transformers import DataCollatorForTokenClassification, TrainingArguments

        from hubtools.evaluation import predict_words
        from hubtools.training.trainer import NerTrainer, argmax_logits

        model = load_token_classifier(self.source.model_dir, self.source.trust_remote_code,
                                      f"{ARGUMENT} {self.source.argument!r}")
        with tempfile.TemporaryDirectory() as tmp:
            args = TrainingArguments(output_dir=tmp, per_device_eval_batch_size=self.batch_size, report_to="none",
                                     dataloader_pin_memory=False)
            trainer = NerTrainer(model=model, args=args,
                                 data_collator=DataCollatorForTokenClassification(self.tokenizer),
                                 preprocess_logits_for_metrics=argmax_logits)
            return predict_words(trainer, features, lengths)

    def _tag_onnx(self, features: Dataset, lengths: list[int]) -> list[list[int]]:
        from hubtools.export.inference import feature_logits, ort_forward, ort_session
        from hubtools.export.words import INPUT_NAMES, decoded_words

        path = self.source.onnx_file(self.variant)
        forward, names = ort_forward(ort_session(path, self.threads))
        rows = features.select_columns([c for c in features.column_names if c in INPUT_NAMES]).to_list()
        logits = feature_logits(forward, rows, names, self.tokenizer.pad_token_id or 0, self.batch_size)
        return decoded_words(_decoder(path.parent), logits, rows, features, lengths)


def _decoder(onnx_dir: Path):
    """Label ids of one row of outputs: Viterbi with an RNN tagger's ``crf.json``, else argmax."""
    from hubtools.export.words import argmax

    crf = onnx_dir / "crf.json"
    if not crf.is_file():
        return argmax
    from hubtools.rnn.export import decoder

    return decoder(json.loads(crf.read_text(encoding="utf-8")))
