"""The models ``hubtools evaluate`` and ``hubtools predict`` tag with, and the data they read.

A model is named by RUN_OR_REPO: a run folder (``results.json``, ``model/``, ``onnx/``), a model folder
(``config.json`` with weights and tokenizer, ``onnx/`` beside them: the layout ``hubtools push`` publishes, with
``results.json`` at its root), or a Hub model repo id, downloaded with huggingface_hub (``HF_ENDPOINT``,
``HF_TOKEN`` and its cache as usual; only the files the variant needs, after ``config.json`` has shown a model
hubtools tags with). Variants: ``pytorch`` (the weights) and the ONNX files of the export, ``onnx``, ``onnx_int8``
and ``onnx_int8_embeddings`` (the files the run's ``results.json`` lists as passed, else the family's exporter's
file names in ``onnx/``).

Every family tags: its family is results.json ``model.family``, else read from config.json (a SpanMarker model,
one of this project's RNN taggers, else a transformers token classifier), and the family's decoder
(:class:`hubtools.decoding.Decoder`, found through :mod:`hubtools.families`) tags the words: transformers token
classifiers and RNN taggers in windows of sub-tokens (the token-classification family's ``decode`` module),
SpanMarker models by spans turned into IOB2 tags (the SpanMarker family's). A model's own code
(``auto_map``) runs only with ``--trust-remote-code``; this project's RNN taggers load with the installed
package's classes (:mod:`hubtools.remote_code`).
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

from hubtools.config import DataConfig, data_section
from hubtools.data.build import load_validated
from hubtools.data.loading import LoadReport
from hubtools.errors import DataError, UsageError, one_line, user_error
from hubtools.families import family, family_of_config
from hubtools.hub_ids import is_repo_id
from hubtools.paths import looks_like_path, portable
from hubtools.remote_code import code_note
from hubtools.results import VARIANTS, RunResults
from hubtools.run import RESULTS_FILE, read_results

if TYPE_CHECKING:
    from datasets import DatasetDict

    from hubtools.decoding import Decoder

logger = logging.getLogger(__name__)
ARGUMENT = "RUN_OR_REPO"
# what a Hub download takes besides the weights: config, tokenizer and label files (a SpanMarker model's
# encoder/config.json too), remote code
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
    def family(self) -> str:
        """The model's family: the run's results.json ``model.family``, else read from config.json."""
        return self.results.model.family if self.results is not None else family_of_config(self.config).name

    @property
    def name(self) -> str:
        """How outputs name the model: the Hub repo id, else the folder as a portable path."""
        return self.repo_id or portable(self.argument)

    @property
    def where(self) -> str:
        """How errors name the model: ``RUN_OR_REPO 'argument'``."""
        return f"{ARGUMENT} {self.argument!r}"

    def decoder(self, variant: str = "pytorch", batch_size: int = 32, threads: int | None = None) -> Decoder:
        """The decoder of the model's family tagging with ``variant`` (``threads``: ONNX Runtime's; None: all
        cores)."""
        return family(self.family).decoder(self, variant, batch_size, threads)

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
        path = self.root / (report.file if report is not None else
                            f"onnx/{variant_file(self.family, variant, self.argument)}")
        if not path.is_file():
            raise UsageError(f"--variant {variant}: {self.argument} has no {path.relative_to(self.root)}; "
                             "export the run first (hubtools export RUN_DIR)")
        return path


def variant_file(family_name: str, variant: str, argument: str) -> str:
    """The file name the exporter of a family gives an ONNX variant in ``onnx/``; UsageError naming ``--variant``
    when it writes no such variant."""
    files = family(family_name).decoder.variant_files
    if variant not in files:
        raise UsageError(f"--variant {variant}: {argument} is a {family_name} model; its exporter writes the "
                         f"variants {', '.join(files)}")
    return files[variant]


def check_model(config: dict[str, Any], family_name: str, where: str, trusted: bool) -> None:
    """UsageError naming ``where`` when ``config`` (config.json) is not a model of its family that the family's
    decoder tags with (no IOB2 label names, code of its own that is not ``trusted``, ...)."""
    family(family_name).decoder.check(config, where, trusted)


def resolve_model(argument: str, variant: str = "pytorch", revision: str | None = None,
                  trust_remote_code: bool = False) -> ModelSource:
    """The model named by ``argument`` (module docstring), checked to be a model its family's decoder tags with
    before any weight is downloaded or loaded."""
    if variant not in VARIANTS:
        raise UsageError(f"--variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    path = Path(argument).expanduser()
    if path.exists():
        source = _local_source(argument, path, trust_remote_code)
    elif looks_like_path(argument) or not is_repo_id(argument):
        raise UsageError(f"{ARGUMENT} {argument!r}: no such run folder or model folder, and not a Hub repo id")
    else:
        source = _hub_source(argument, variant, revision, trust_remote_code)
    check_model(source.config, source.family, source.where, source.trust_remote_code)
    note = None if source.trust_remote_code else code_note(
        source.model_dir, source.where, source.results.versions.get("nerhub") if source.results else None)
    if note:
        logger.warning(note)
    if variant != "pytorch":
        source.onnx_file(variant)
    return source


def _local_source(argument: str, path: Path, trust_remote_code: bool) -> ModelSource:
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

    where = f"{ARGUMENT} {repo_id!r}"
    try:
        info = HfApi().model_info(repo_id, revision=revision)
        files = {s.rfilename for s in info.siblings or []}
        if "config.json" not in files:
            raise UsageError(f"{where}: the Hub repo has no config.json; not a model hubtools tags with")
        config = json.loads(Path(hf_hub_download(repo_id, "config.json", revision=info.sha)).read_text())
        name = family_of_config(config).name
        check_model(config, name, where, trust_remote_code)
        if variant == "pytorch":
            weights = [f for f in files if "/" not in f and f.endswith(".safetensors")] or \
                      [f for f in files if "/" not in f and f.endswith(".bin")]
        else:
            weights = [f"onnx/{variant_file(name, variant, repo_id)}"]
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
