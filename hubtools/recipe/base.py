"""The recipe base class: the one stage sequence every model family runs.

    load data -> build model -> featurize -> build trainer -> train -> evaluate -> save the model, dataset
    and plots -> export -> results (built once) -> cards -> results.json and the run folder published

:meth:`Recipe.stages` is the sequence; a family subclass overrides steps (SpanMarker its model, trainer and
evaluation; the RNN taggers their model, optimizer and an extra metric; a distilled student its features and
trainer), never the order. Each step returns what the next needs (:class:`BuiltModel`, :class:`Features`, a
family's subclass of them); the recipe object holds configuration only. A recipe that composes sibling runs (the
distillation) overrides :meth:`Recipe.compose` and finishes its folder with the stages of a recipe it builds.
Bad data or a model whose labels do not fit fail before anything is written;
the run is staged in ``OUTPUT_DIR.partial`` and renamed when every stage has finished
(:class:`hubtools.run.RunFolder`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow.compute as pc
from accelerate import PartialState
from datasets import Dataset, DatasetDict
from transformers import Trainer, set_seed
from transformers.modelcard import extract_hyperparameters_from_trainer
from transformers.trainer import TRAINING_ARGS_NAME

import hubtools
from hubtools import plots
from hubtools.cards import render_cards
from hubtools.config import PublishConfig
from hubtools.credentials import command_without_secrets, without_secrets
from hubtools.data.build import build_dataset
from hubtools.data.validation import arrow_table, label_names_of
from hubtools.evaluation import Evaluation
from hubtools.export.base import ScoredModel
from hubtools.families import exporter_for, family
from hubtools.hub_ids import hub_dataset_id
from hubtools.metadata import card_metadata, derived_language, widget_sentences
from hubtools.paths import portable, portable_command
from hubtools.recipe.config import RecipeConfig, from_dict, load_config
from hubtools.results import (
    DatasetResult,
    Environment,
    ExportResult,
    ModelResult,
    RunResults,
    TestScores,
    Timings,
    TrainingResult,
)
from hubtools.run import RunFolder, content_fingerprint, library_versions, machine_description
from hubtools.tokenization import IGNORE
from hubtools.training.loop import (
    epoch_history,
    fp32_after_training,
    last_checkpoint,
    readable_progress,
)
from hubtools.units import parameter_count

logger = logging.getLogger("hubtools")


@dataclass
class LoadedData:
    """The built and validated dataset, its results section and the seconds it took."""

    splits: DatasetDict
    section: DatasetResult
    seconds: float

    @property
    def label_names(self) -> list[str]:
        return label_names_of(self.splits["train"])

    @property
    def scored_split(self) -> str:
        """The split the run is scored on: ``test``, or ``validation`` when the source has no test split."""
        return "test" if "test" in self.splits else "validation"

    @property
    def scored(self) -> Dataset:
        return self.splits[self.scored_split]


@dataclass
class BuiltModel:
    """The model to train, its tokenizer and the window size (sub-tokens) it reads (a family adds what its
    later steps need to know of how the model was built)."""

    model: Any
    tokenizer: Any
    max_length: int


@dataclass
class Features:
    """The splits in the form the Trainer reads (``features[split]``), and how the validation pass reads the
    validation split (``validation_rows``, results.json ``training.validation_rows``; None: as it is). A family
    adds what its later steps need of how the features were made."""

    splits: dict[str, Dataset]
    validation_rows: str | None = None

    def __getitem__(self, split: str) -> Dataset:
        return self.splits[split]


@dataclass
class Trained:
    """A finished training: the Trainer (best model loaded), its seconds and the checkpoint it resumed."""

    trainer: Trainer
    seconds: float
    resumed_from: str | None


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that started this process (or the script and arguments ``argv``, run in it), as a user would
    type it, without machine paths: the recipe as ``recipes/NAME.py``, other paths relative to the working
    directory or as ``PATH/NAME``."""
    argv = list(sys.argv if argv is None else argv)
    launched = PartialState().num_processes > 1 or "ACCELERATE_DYNAMO_BACKEND" in os.environ  # set by the launcher
    launcher = "accelerate launch" if launched else "python"
    script = Path(argv[0])
    script = f"recipes/{script.name}" if script.parent.name == "recipes" else portable(argv[0])
    return f"{launcher} {shlex.join([script, *portable_command(command_without_secrets(argv[1:]))])}"


def portable_values(value: Any) -> Any:
    """A configuration snapshot with every local path made portable (:func:`hubtools.paths.portable`)."""
    if isinstance(value, dict):
        return {k: portable_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable_values(v) for v in value]
    return portable(value) if isinstance(value, str) else value


def trained_words(features: Dataset) -> int:
    """Words the training features label, each once however many windows hold it (``example_index``,
    ``word_index`` of the labelled positions); features a family adds count too."""
    table = arrow_table(features.select_columns(["example_index", "word_index", "labels"]))
    words = table.column("word_index").combine_chunks()
    example = table.column("example_index").to_numpy()[pc.list_parent_indices(words).to_numpy()]
    labelled = table.column("labels").combine_chunks().flatten().to_numpy() != IGNORE
    keys = example.astype(np.int64) << 32 | words.flatten().to_numpy().astype(np.int64)
    return int(np.unique(keys[labelled]).size)


class Recipe:
    """A recipe of one model family: the stage sequence (:meth:`run`) and the steps a family overrides.

    Class attributes: ``family`` names the kind of model the run publishes (it selects the exporter and the
    ``model`` section's keys, see :mod:`hubtools.families`); ``options_class`` types the family's own
    configuration section. A recipe holds its configuration, never the state of earlier steps: each step returns
    what the next one needs.
    """

    family: ClassVar[str]
    options_class: ClassVar[type | None] = None

    def __init__(self, cfg: RecipeConfig, command: str | None = None, *, overwrite: bool = False,
                 restart: bool = False, folder: RunFolder | None = None) -> None:
        """``folder``: the run folder of a recipe that composes this run (claimed by it), instead of a new one
        for ``cfg.output_dir``."""
        self.cfg = cfg
        self.options = cfg.options
        self.command = command or command_line()
        self.state = PartialState()
        self.folder = folder or RunFolder(cfg.output_dir, overwrite=overwrite, restart=restart)

    @classmethod
    def load_config(cls, path: str | Path, preset: str | None = None, overrides: list[str] | None = None,
                    output_dir: str | None = None) -> RecipeConfig:
        """The recipe's configuration, with the family's ``model`` keys and options section typed."""
        return load_config(path, preset, overrides, output_dir, family(cls.family).model_options_class,
                           cls.options_class)

    @classmethod
    def config_from_dict(cls, raw: dict) -> RecipeConfig:
        """The recipe's configuration from a dict (``RecipeConfig.to_dict`` with changes), typed as
        :meth:`load_config` types it."""
        return from_dict(raw, family(cls.family).model_options_class, cls.options_class)

    # ---- the sequence ---------------------------------------------------------------------------------

    def run(self) -> Path:
        """Every stage; returns the finished run folder."""
        self.claim_folder()
        try:
            return self.compose()
        finally:
            self.folder.release()

    def compose(self) -> Path:
        """The work of :meth:`run` in the claimed folder: the stages, or the sibling runs a recipe composes
        before the run that finishes this folder."""
        return self.stages()

    def stages(self) -> Path:
        """The stages of :meth:`run`, in the claimed staging folder."""
        data = self.load_data()
        if self.state.is_main_process:
            self.folder.check_fingerprint({"data": content_fingerprint(data.splits)})
        self.say(f"data {data.section.name}: " + ", ".join(f"{s} {n:,}" for s, n in data.section.splits.items())
                 + f" sentences, {len(data.section.entity_types)} entity types")
        built = self.build_model(data)
        self.say(f"model {type(built.model).__name__}, {parameter_count(built.model):,} "
                 f"parameters, windows of {built.max_length} sub-tokens")
        features = self.featurize(data, built)
        trained = self.train(readable_progress(self.build_trainer(built, features, data)))
        evaluation = self.evaluate(trained.trainer, data, features)
        if self.state.is_main_process:
            self.folder.clear_outputs()
            test = dataclasses.replace(evaluation.scores, split=data.scored_split)
            self.say(f"{data.scored_split} F1 {test.f1:.4f} on {test.num_words:,} words "
                     f"(trained in {trained.seconds:.0f} s)")
            self.save(trained.trainer, built)
            model = self.model_result(built, features)
            training = self.training_result(trained.trainer, built, features)
            self.write_run(data, training, test)
            export = self.export(model, test)
            results = self.results(data, built, trained, features, evaluation, model, training, test, export)
            render_cards(self.folder.path, results)
            self.say("cards model/README.md, dataset/README.md")
            self.folder.finalize(results)
        self.state.wait_for_everyone()
        return self.folder.final

    def say(self, message: str) -> None:
        """One stage line of this run (main process), named by recipe and run folder: a recipe that runs siblings
        (the distillation teacher, the student alone) says which one is speaking."""
        if self.state.is_main_process:
            logger.info("%s (%s): %s", self.cfg.recipe, Path(self.cfg.output_dir).name, message)

    def fingerprint(self) -> dict[str, Any]:
        """What determines this run's result besides its data: the configuration after defaults (without the
        output folder, the export and publish sections and credentials) and the project's version."""
        config = without_secrets(self.cfg.to_dict())
        for key in ("output_dir", "export", "publish"):
            config.pop(key, None)
        return {"config": config, "version": hubtools.__version__}

    def claim_folder(self) -> None:
        """Check the export options (one the family's exporter does not read is refused) and the output folder and
        take the staging folder (main process; the others wait), before any work:
        :meth:`hubtools.run.RunFolder.claim`. Claiming twice (a recipe composing runs) is one claim."""
        exporter_for(self.family).check_options(self.cfg.export)
        if self.state.is_main_process and not self.folder.claimed:
            self.folder.claim(self.fingerprint())
        self.state.wait_for_everyone()

    # ---- steps a family overrides ---------------------------------------------------------------------

    def load_data(self) -> LoadedData:
        """Build and validate the dataset (bad input fails here, before anything is written), with the
        language and license the configuration leaves open taken from the dataset's and encoder's cards."""
        started = time.time()
        splits, section = build_dataset(self.cfg.data)
        return LoadedData(splits, self.complete_metadata(section), round(time.time() - started, 2))

    def complete_metadata(self, section: DatasetResult) -> DatasetResult:
        """``section`` with the ``language`` and ``license`` that the ``data`` section does not give taken from
        the Hub dataset's card and the encoder's card (:mod:`hubtools.metadata`)."""
        data, model = self.cfg.data, self.cfg.model
        if data.language and data.license:
            return section
        source = card_metadata(data.source, "dataset") if hub_dataset_id(data.source) else {}
        found: dict[str, Any] = {}
        if not data.language:
            encoder = card_metadata(model.name_or_path, "model") \
                if model.name_or_path and model.from_scratch is None else {}
            found["language"] = derived_language(source, encoder)
        if not data.license and isinstance(source.get("license"), str):
            found.update(license=source["license"], license_name=source.get("license_name"),
                         license_link=source.get("license_link"))
        return dataclasses.replace(section, **found)

    def publish_section(self, data: LoadedData) -> PublishConfig:
        """``publish`` as the run records it: widget sentences from the scored split unless given (the license:
        :class:`~hubtools.results.RunResults`)."""
        publish = self.cfg.publish
        if not publish.widget:
            publish = dataclasses.replace(publish, widget=widget_sentences(data.scored))
        return publish

    def build_model(self, data: LoadedData) -> BuiltModel:
        """The model to train and its tokenizer."""
        raise NotImplementedError

    def featurize(self, data: LoadedData, built: BuiltModel) -> Features:
        """The splits in the form the Trainer reads (by default the splits themselves)."""
        return Features(dict(data.splits))

    def build_trainer(self, built: BuiltModel, features: Features, data: LoadedData) -> Trainer:
        """The Trainer for ``built`` on the training features, evaluating on the validation features."""
        raise NotImplementedError

    def train(self, trainer: Trainer) -> Trained:
        """Train (resuming from the last checkpoint of the same experiment's crashed run: the run folder's
        fingerprint), then back to fp32 for evaluation."""
        checkpoint = last_checkpoint(self.folder.checkpoints_dir)
        if checkpoint:
            logger.info("resuming training from %s", checkpoint)
        started = time.time()
        trainer.train(resume_from_checkpoint=checkpoint)
        fp32_after_training(trainer)
        return Trained(trainer, round(time.time() - started, 2), checkpoint)

    def evaluate(self, trainer: Trainer, data: LoadedData, features: Features) -> Evaluation | None:
        """Scores of the scored split (:attr:`LoadedData.scored`) on words (None in processes that do not
        score)."""
        raise NotImplementedError

    def save(self, trainer: Trainer, built: BuiltModel) -> None:
        """Save the trained model and its tokenizer to ``RUN/model`` (main process)."""
        trainer.save_model(str(self.folder.model_dir))
        built.tokenizer.save_pretrained(self.folder.model_dir)
        (self.folder.model_dir / TRAINING_ARGS_NAME).unlink(missing_ok=True)  # a pickle: results.json has them

    def model_result(self, built: BuiltModel, features: Features) -> ModelResult:
        """The ``model`` section of results.json."""
        raise NotImplementedError

    def hyperparameters(self, trainer: Trainer, built: BuiltModel) -> dict[str, Any]:
        """What the model card lists under Hyperparameters: transformers' own selection, the token budget,
        mixed precision, the window size, what the recipe changed in the pretrained encoder and, for a model
        built from scratch, its size."""
        args = trainer.args
        values = extract_hyperparameters_from_trainer(trainer)
        if getattr(args, "max_tokens_per_batch", None):
            values["max_tokens_per_batch"] = args.max_tokens_per_batch
        if args.bf16:
            values["mixed_precision_training"] = "bf16 autocast"
        values.update({"max_length": built.max_length, "stride": self.cfg.model.stride})
        values.update(self.cfg.model.encoder_changes())
        values.update({f"from_scratch.{k}": v for k, v in (self.cfg.model.scratch_values() or {}).items()})
        return values

    def training_words_per_second(self, features: Features, trained: Trained) -> float | None:
        """Training throughput in words per second (token-budget batches change what a sample or a step is,
        so words are the comparable unit); None for a resumed run, which trained part of the epochs here."""
        if trained.resumed_from or not trained.seconds or "word_index" not in features["train"].column_names:
            return None
        epochs = trained.trainer.state.epoch
        return round(trained_words(features["train"]) * epochs / trained.seconds, 1)

    def extra_results(self, data: LoadedData, built: BuiltModel, features: Features, evaluation: Evaluation,
                      trainer: Trainer) -> dict[str, Any]:
        """Family sections of results.json (``RunResults`` field name -> value); none by default."""
        return {}

    def export(self, model: ModelResult, test: TestScores) -> ExportResult | None:
        """The export stage (skipped when ``export.enabled`` is false): the family's exporter."""
        if not self.cfg.export.enabled:
            return None
        return exporter_for(model.family)(self.folder.path, ScoredModel(model, test), self.cfg.export).run()

    # ---- results and the run folder -------------------------------------------------------------------

    def training_result(self, trainer: Trainer, built: BuiltModel, features: Features) -> TrainingResult:
        """The ``training`` section: the hyperparameters and the per-epoch history."""
        return TrainingResult(self.hyperparameters(trainer, built), epoch_history(trainer.state.log_history),
                              validation_rows=features.validation_rows)

    def results(self, data: LoadedData, built: BuiltModel, trained: Trained, features: Features,
                evaluation: Evaluation, model: ModelResult, training: TrainingResult, test: TestScores,
                export: ExportResult | None) -> RunResults:
        """The run's typed results, from every section built (main process, once every stage has run)."""
        trainer = trained.trainer
        return RunResults(
            recipe=self.cfg.recipe, system=self.cfg.system, command=self.command,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            config=portable_values(without_secrets(self.cfg.to_dict())),
            publish=self.publish_section(data), dataset=data.section, model=model, training=training, test=test,
            timings=Timings(dataset_s=data.seconds, train_s=trained.seconds, evaluate_s=evaluation.seconds,
                            train_words_per_second=self.training_words_per_second(features, trained),
                            total_s=self.folder.elapsed_s),
            environment=Environment(device=str(trainer.args.device), num_processes=self.state.num_processes,
                                    fp16=bool(trainer.args.fp16), bf16=bool(trainer.args.bf16),
                                    machine=machine_description()),
            versions=library_versions(), export=export,
            **self.extra_results(data, built, features, evaluation, trainer))

    def write_run(self, data: LoadedData, training: TrainingResult, test: TestScores) -> None:
        """Dataset parquet and plots of the trained run (main process)."""
        folder, dataset = self.folder, data.section
        folder.save_dataset(data.splits)
        plots.training_curves(training.history, folder.plots_dir / "training_curves.png",
                              f"{self.cfg.recipe}: training curves")
        plots.confusion_matrix(test.confusion, folder.plots_dir / "confusion_matrix.png")
        for target in (folder.plots_dir, folder.dataset_dir):
            plots.entity_distribution(dataset.entity_counts, target / "entity_distribution.png",
                                      f"{dataset.name}: entities per split")

    def seed(self) -> None:
        """Seed every random generator with ``training.seed`` (before a model is built)."""
        set_seed(self.cfg.training.seed)
