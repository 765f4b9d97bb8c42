"""The stage sequence of a SpanMarker recipe, for ``recipe_main(run=run_spanmarker)``.

The same stages and run folder as :func:`hubtools.recipe.run_token_classification`, with SpanMarker's model
and Trainer: build the dataset, load (or build) the model, train, predict the test split and score it on
words, save, then the SpanMarker ONNX export instead of the transformers one.
"""

from __future__ import annotations

import time
from pathlib import Path

from accelerate import PartialState
from datasets import DatasetDict
from span_marker import SpanMarkerModel
from transformers import set_seed

from hubtools.config import RecipeConfig
from hubtools.data.build import build_dataset
from hubtools.data.validation import label_names_of
from hubtools.recipe import command_line, environment_section, finish_run, write_run
from hubtools.run import RunFolder
from hubtools.spanmarker.evaluation import evaluate_predictions, length_report
from hubtools.spanmarker.export_stage import spanmarker_export_stage
from hubtools.spanmarker.modeling import build_tiny_encoder, load_spanmarker, save_spanmarker, spanmarker_limits
from hubtools.spanmarker.trainer import WordScoredTrainer
from hubtools.training.trainer import (
    build_training_arguments,
    epoch_history,
    fp32_after_training,
    last_checkpoint,
)


def encoder_for(cfg: RecipeConfig, dsd: DatasetDict, run: RunFolder, state: PartialState) -> str:
    """``model.name_or_path``, or with ``model.from_scratch`` a tiny BERT built once by the main process."""
    if cfg.model.from_scratch is None:
        return cfg.model.name_or_path
    folder = run.path / "init" / "encoder"
    if state.is_main_process:
        set_seed(cfg.training.seed)
        build_tiny_encoder(cfg, dsd["train"]["tokens"], folder)
    state.wait_for_everyone()
    return str(folder)


def model_section(cfg: RecipeConfig, model: SpanMarkerModel, encoder: str, limits: dict) -> dict:
    """results.json ``model`` of a SpanMarker run (``library_name`` selects the cards' SpanMarker usage)."""
    return {"base_model": cfg.model.name_or_path or None, "library_name": "span-marker",
            "architecture": type(model).__name__, "model_type": model.config.model_type,
            "encoder": encoder if cfg.model.from_scratch is None else "tiny BERT built from model.from_scratch",
            "encoder_model_type": model.config.encoder["model_type"],
            "from_scratch": cfg.model.from_scratch is not None,
            "num_parameters": int(sum(p.numel() for p in model.parameters())),
            "max_length": limits["model_max_length"], **limits}


def run_spanmarker(cfg: RecipeConfig, command: str | None = None) -> Path:
    """Run every stage of a SpanMarker recipe and return the finished run folder."""
    state = PartialState()
    started = time.time()
    command = command or command_line()
    dsd, info = build_dataset(cfg.data)
    dataset_s = time.time() - started
    label_names = label_names_of(dsd["train"])
    run = RunFolder(cfg.output_dir)
    if state.is_main_process:
        run.create()
    state.wait_for_everyone()
    encoder = encoder_for(cfg, dsd, run, state)
    set_seed(cfg.training.seed)
    limits = spanmarker_limits(cfg)
    model = load_spanmarker(cfg, label_names, encoder)
    args = build_training_arguments(cfg.training, run.checkpoints_dir)
    trainer = WordScoredTrainer(model=model, args=args, train_dataset=dsd["train"], eval_dataset=dsd["validation"],
                                entity_types=info["entity_types"])
    train_start = time.time()
    train_output = trainer.train(resume_from_checkpoint=last_checkpoint(run.checkpoints_dir))
    fp32_after_training(trainer)
    train_s = time.time() - train_start
    if state.is_main_process:
        evaluate_start = time.time()
        predictions = model.predict(list(dsd["test"]["tokens"]), batch_size=cfg.training.per_device_eval_batch_size)
        test = evaluate_predictions(dsd["test"], predictions, info["entity_types"])
        evaluate_s = time.time() - evaluate_start
        save_spanmarker(model, run.model_dir, run.final / "model")
        write_run(run, cfg, command, dsd, info, model_section(cfg, model, encoder, limits),
                  epoch_history(trainer.state.log_history), test,
                  {"dataset_s": round(dataset_s, 2), "train_s": round(train_s, 2), "evaluate_s": round(evaluate_s, 2),
                   "train_samples_per_second": train_output.metrics.get("train_samples_per_second")},
                  environment_section(trainer, state.num_processes))
        run.update(spanmarker=length_report(dsd, model.tokenizer.tokenizer, limits["entity_max_length"],
                                            limits["model_max_length"]))
        finish_run(run, cfg, spanmarker_export_stage(model, dsd["test"]))
    state.wait_for_everyone()
    return run.final
