"""The stage sequence shared by the transformer recipes, and their common command line.

``accelerate launch recipes/NAME.py [--config FILE] [--preset tiny] [--output-dir DIR] [section.key=value ...]``
(also runnable with ``python``). A recipe declares its configuration and calls :func:`recipe_main`; the
stages are: build and validate the dataset (before anything is written), load or build the model, tokenize,
train with the Trainer (resuming from the last checkpoint), evaluate the test split on words, save the run
folder (model, dataset, plots, results.json), export to ONNX, render the cards, and publish the folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import torch
from accelerate import PartialState
from datasets import Dataset, DatasetDict
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    set_seed,
)

from hubtools import plots
from hubtools.cards import render_cards
from hubtools.config import RecipeConfig, load_config
from hubtools.data.build import build_dataset
from hubtools.data.validation import arrow_table, label_names_of
from hubtools.errors import run_reporting_errors
from hubtools.evaluation import evaluate_split
from hubtools.export import export_stage as optimum_export_stage
from hubtools.metrics import ids_to_tags
from hubtools.modeling import build_from_scratch, effective_max_length, load_pretrained
from hubtools.run import RunFolder, library_versions, machine_description
from hubtools.tokenization import IGNORE, tokenize_dataset
from hubtools.training.trainer import (
    NerTrainer,
    WordMetrics,
    build_trainer,
    build_training_arguments,
    epoch_history,
    fp32_after_training,
    last_checkpoint,
)

logger = logging.getLogger("hubtools")


def recipe_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every recipe shares; a recipe may add its own before parsing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", help="YAML configuration (default: the recipe's own)")
    parser.add_argument("--preset", help="preset merged over the configuration, e.g. 'tiny' (offline, minutes)")
    parser.add_argument("--output-dir", help="run folder to write (default: from the configuration)")
    parser.add_argument("--no-export", action="store_true", help="skip the ONNX export stage")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error in the input or "
                        "configuration (or HUBTOOLS_DEBUG=1); without it such errors print one line, exit status 2")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. training.num_train_epochs=2")
    return parser


def config_from_args(args: argparse.Namespace, default_config: Path, extra: list[str] | None = None) -> RecipeConfig:
    """Load the configuration named by the command line (plus recipe-specific overrides)."""
    overrides = list(extra or []) + list(args.overrides)
    if args.no_export:
        overrides.append("export.enabled=false")
    return load_config(args.config or default_config, args.preset, overrides, args.output_dir)


def command_line() -> str:
    """The command that started this process, as a user would type it."""
    launched = PartialState().num_processes > 1 or "ACCELERATE_MIXED_PRECISION" in os.environ
    launcher = "accelerate launch" if launched else "python"
    return f"{launcher} {shlex.join(sys.argv)}"


def build_shared_model(cfg: RecipeConfig, label_names: list[str], dsd: DatasetDict, run: RunFolder,
                       state: PartialState):
    """A model and WordPiece tokenizer built (``model.from_scratch``) on the training split by the main
    process and loaded by the others, so every process has the same tokenizer and initial weights."""
    set_seed(cfg.training.seed)
    init_dir = run.path / "init"
    if state.is_main_process:
        model, tokenizer = build_from_scratch(cfg.model, label_names, dsd["train"]["tokens"])
        model.save_pretrained(init_dir)
        tokenizer.save_pretrained(init_dir)
    state.wait_for_everyone()
    return AutoModelForTokenClassification.from_pretrained(init_dir), AutoTokenizer.from_pretrained(init_dir)


def dataset_section(cfg: RecipeConfig, dsd: DatasetDict, info: dict) -> dict:
    """results.json ``dataset``: name, source, revision, fingerprint, labels, split sizes, counts, build."""
    return {"name": cfg.data.name or Path(cfg.data.source).name, "source": cfg.data.source,
            "source_config": cfg.data.config_name, "revision": cfg.data.revision,
            "license": cfg.data.license, "language": cfg.data.language, **info}


ModelFactory = Callable[[RecipeConfig, list[str], DatasetDict],
                        tuple[PreTrainedModel, PreTrainedTokenizerBase]]
ExtraMetrics = Callable[[list[list[str]], list[list[str]]], dict]
Stage = Callable[[RunFolder, RecipeConfig], None]
Tokenize = Callable[[Dataset, str], Dataset]
FeaturesHook = Callable[[dict[str, Dataset], DatasetDict, Tokenize], dict[str, Dataset]]
TrainedHook = Callable[[RunFolder, Trainer, DatasetDict], None]


def run_token_classification(cfg: RecipeConfig, command: str | None = None, *,
                             model_factory: ModelFactory | None = None,
                             trainer_cls: type[Trainer] = NerTrainer,
                             trainer_kwargs: Callable[..., dict] | None = None,
                             extra_metrics: ExtraMetrics | None = None,
                             export_stage: Stage | None = None,
                             prepare_features: FeaturesHook | None = None,
                             on_trained: TrainedHook | None = None) -> Path:
    """Run every stage of a token-classification recipe and return the finished run folder.

    Hooks for recipes that differ: ``model_factory(cfg, label_names, dsd)`` builds the model and tokenizer
    (deterministically: it runs in every process, after seeding) instead of a pretrained checkpoint or
    ``model.from_scratch``; ``trainer_cls``/``trainer_kwargs`` swap in another Trainer (distillation) or
    add constructor arguments: ``trainer_kwargs(model=..., tokenizer=..., train_features=..., run=...)``;
    ``extra_metrics(gold_tags, pred_tags)`` scores the test words (tag strings per sentence) and its dict is
    merged into results.json; ``export_stage(run, cfg)`` replaces the default export stage (for
    architectures the optimum export does not support);
    ``prepare_features(features, dsd, tokenize)`` returns the tokenized splits to use (e.g. with teacher logits
    attached; ``tokenize(dataset, desc)`` turns more sentences into features the same way);
    ``on_trained(run, trainer, dsd)`` adds to the staged run (main process, after results.json is written,
    before export and cards).
    """
    state = PartialState(cpu=not torch.cuda.is_available())  # MULTI_CPU (gloo) under a launcher without CUDA
    started = time.time()
    command = command or command_line()
    dsd, info = build_dataset(cfg.data)  # validated: bad input fails here, before anything is written
    dataset_s = time.time() - started
    label_names = label_names_of(dsd["train"])
    if model_factory is not None:
        set_seed(cfg.training.seed)
        model, tokenizer = model_factory(cfg, label_names, dsd)
    elif cfg.model.from_scratch is None:
        model, tokenizer = load_pretrained(cfg.model, label_names)  # label mismatch fails before writing
    run = RunFolder(cfg.output_dir)
    if state.is_main_process:
        run.create()
    state.wait_for_everyone()
    if model_factory is None and cfg.model.from_scratch is not None:
        model, tokenizer = build_shared_model(cfg, label_names, dsd, run, state)
    max_length = effective_max_length(model, tokenizer, cfg.model.max_length)

    def tokenize(ds: Dataset, desc: str) -> Dataset:
        return tokenize_dataset(ds, tokenizer, max_length, cfg.model.stride, desc=desc)

    with state.main_process_first():
        features = {split: tokenize(ds, f"tokenize {split}") for split, ds in dsd.items()}
        if prepare_features is not None:
            features = prepare_features(features, dsd, tokenize)
    args = build_training_arguments(cfg.training, run.checkpoints_dir)
    extra = trainer_kwargs(model=model, tokenizer=tokenizer, train_features=features["train"], run=run) \
        if trainer_kwargs else {}
    if cfg.training.max_tokens_per_batch:
        extra.setdefault("max_tokens_per_batch", cfg.training.max_tokens_per_batch)
    trainer = build_trainer(model, tokenizer, args, features["train"], features["validation"],
                            WordMetrics(features["validation"], dsd["validation"]["ner_tags"], label_names),
                            trainer_cls=trainer_cls, **extra)
    train_start = time.time()
    checkpoint = last_checkpoint(run.checkpoints_dir)
    if checkpoint:
        logger.info("resuming training from %s", checkpoint)
    trainer.train(resume_from_checkpoint=checkpoint)
    fp32_after_training(trainer)
    train_s = time.time() - train_start
    test = evaluate_split(trainer, dsd["test"], features["test"], label_names)
    extra_results = extra_metrics(ids_to_tags(dsd["test"]["ner_tags"], label_names), test["predictions"]) \
        if extra_metrics else {}
    trainer.save_model(str(run.model_dir))
    if state.is_main_process:
        tokenizer.save_pretrained(run.model_dir)
        write_run(run, cfg, command, dsd, info, model_section(cfg, model, max_length),
                  epoch_history(trainer.state.log_history), test,
                  {"dataset_s": round(dataset_s, 2), "train_s": round(train_s, 2),
                   "evaluate_s": test["seconds"],
                   "train_words_per_second": train_words_per_second(features["train"], trainer, train_s,
                                                                     checkpoint is not None)},
                  environment_section(trainer, state.num_processes))
        run.update(**extra_results)
        if on_trained is not None:
            on_trained(run, trainer, dsd)
        finish_run(run, cfg, export_stage)
    state.wait_for_everyone()
    return run.final


def trained_words(features: Dataset) -> int:
    """Words the training features label, each once however many windows hold it (``example_index``,
    ``word_index`` of the labelled positions); features a hook adds count too."""
    table = arrow_table(features.select_columns(["example_index", "word_index", "labels"]))
    words = table.column("word_index").combine_chunks()
    example = table.column("example_index").to_numpy()[pc.list_parent_indices(words).to_numpy()]
    labelled = table.column("labels").combine_chunks().flatten().to_numpy() != IGNORE
    keys = example.astype(np.int64) << 32 | words.flatten().to_numpy().astype(np.int64)
    return int(np.unique(keys[labelled]).size)


def train_words_per_second(features: Dataset, trainer: Trainer, train_s: float, resumed: bool) -> float | None:
    """Training throughput in words per second (token-budget batching changes what a "sample" or "step" is,
    so words are the comparable unit); None for a resumed run, which trained only part of the epochs here."""
    if resumed or not train_s:
        return None
    return round(trained_words(features) * trainer.state.epoch / train_s, 1)


def model_section(cfg: RecipeConfig, model: PreTrainedModel, max_length: int) -> dict:
    """results.json ``model`` of a transformers token classifier."""
    return {"base_model": cfg.model.name_or_path or None, "architecture": type(model).__name__,
            "model_type": model.config.model_type, "from_scratch": cfg.model.from_scratch is not None,
            "num_parameters": int(sum(p.numel() for p in model.parameters())),
            "vocab_size": getattr(model.config, "vocab_size", None),
            "max_length": max_length, "stride": cfg.model.stride}


def environment_section(trainer: Trainer, num_processes: int) -> dict:
    """results.json ``environment``: device, processes, mixed precision and the machine."""
    return {"device": str(trainer.args.device), "num_processes": num_processes, "fp16": trainer.args.fp16,
            "bf16": trainer.args.bf16, "machine": machine_description()}


def write_run(run: RunFolder, cfg: RecipeConfig, command: str, dsd: DatasetDict, info: dict, model: dict,
              history: list[dict], test: dict, timings: dict, environment: dict) -> None:
    """Dataset parquet, plots and results.json of a trained run (main process).

    ``model`` and ``environment`` are the results.json sections (:func:`model_section`,
    :func:`environment_section` for transformers models); ``history`` has one row per epoch; ``test`` holds
    the scores of :func:`hubtools.metrics.entity_scores` plus ``confusion``.
    """
    run.save_dataset(dsd)
    dataset = dataset_section(cfg, dsd, info)
    plots.training_curves(history, run.plots_dir / "training_curves.png", f"{cfg.recipe}: training curves")
    plots.confusion_matrix(test["confusion"], run.plots_dir / "confusion_matrix.png")
    plots.entity_distribution(dataset["entity_counts"], run.plots_dir / "entity_distribution.png",
                              f"{dataset['name']}: entities per split")
    plots.entity_distribution(dataset["entity_counts"], run.dataset_dir / "entity_distribution.png",
                              f"{dataset['name']}: entities per split")
    run.update(
        recipe=cfg.recipe, system=cfg.system, command=command,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        config=cfg.to_dict(), dataset=dataset, model=model,
        test={k: test[k] for k in ("precision", "recall", "f1", "accuracy", "num_sentences", "num_words")},
        per_type=test["per_type"], confusion=test["confusion"], history=history, timings=timings,
        environment=environment, versions=library_versions(),
    )


def finish_run(run: RunFolder, cfg: RecipeConfig, export_stage: Stage | None = None) -> None:
    """The stages after training (export, cards) and the atomic publication of the run folder."""
    shutil.rmtree(run.path / "init", ignore_errors=True)
    for stage in post_training_stages(export_stage):
        stage(run, cfg)
    run.finalize()


def render_cards_stage(run: RunFolder, cfg: RecipeConfig) -> None:
    """Render the model and dataset cards of the staged run folder."""
    render_cards(run.path)


def post_training_stages(export_stage: Stage | None = None) -> list[Stage]:
    """Stages run on the staged folder after training, in order: export (the Optimum ONNX stage, which
    honours ``export.enabled``; ``export_stage`` replaces it for architectures it cannot export), then cards."""
    return [export_stage or optimum_export_stage, render_cards_stage]


def recipe_main(description: str, default_config: Path, run: Callable[[RecipeConfig], Path] | None = None,
                extra_args: Callable[[argparse.ArgumentParser], None] | None = None,
                to_overrides: Callable[[argparse.Namespace], list[str]] | None = None) -> Path:
    """Parse the shared command line, load the configuration and run the recipe."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = recipe_parser(description)
    if extra_args:
        extra_args(parser)
    args = parser.parse_args()

    def main() -> Path:
        cfg = config_from_args(args, default_config, to_overrides(args) if to_overrides else None)
        out = (run or run_token_classification)(cfg)
        if PartialState().is_main_process:
            print(f"run folder: {out}")
        return out

    return run_reporting_errors(parser.prog, main, args.debug)
