"""The ner_uk recipe's pieces for the shared runner: word or WordPiece tokenizer + RNN tagger factory, Adam
with a chosen scheduler, the legacy metric, the ONNX export stage, and the comparison of the three cells.

Configuration: ``system`` is the cell (``rnn``/``gru``/``lstm``); ``model.from_scratch`` holds the
:class:`RnnTaggerConfig` values (embedding_dim, hidden_size, num_layers, bidirectional, dropout,
embedding_dropout, token_dropout, char_embedding_dim, char_filters, char_kernel_size, use_crf);
``model.lowercase`` lowercases the vocabulary; ``options`` is read by :class:`RnnOptions`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import torch
from accelerate import PartialState
from datasets import Dataset, DatasetDict

from hubtools import plots
from hubtools.config import RecipeConfig
from hubtools.errors import ConfigError
from hubtools.recipe import run_token_classification
from hubtools.rnn.configuration_rnn_tagger import CELLS, RnnTaggerConfig
from hubtools.rnn.export import export_rnn_onnx, verify_rnn_onnx
from hubtools.rnn.legacy_metric import per_class_mean_score
from hubtools.rnn.modeling_rnn_tagger import RnnTaggerForTokenClassification
from hubtools.rnn.schedulers import SCHEDULERS, build_scheduler
from hubtools.rnn.tokenizer import build_word_tokenizer, build_wordpiece_tokenizer, piece_characters
from hubtools.run import RunFolder, load_results, write_json

TOKENIZERS = ("word", "wordpiece")


@dataclass
class RnnOptions:
    """``options`` of the ner_uk configuration.

    Attributes:
        tokenizer: ``word`` (one id per word, unseen words are ``[UNK]``) or ``wordpiece`` (sub-word
            pieces learned from the training split; the first piece of each word is labelled).
        min_frequency: ``word``: a training-split word enters the vocabulary if seen this often (rarer
            words train the ``[UNK]`` embedding that unseen test words get); ``wordpiece``: the trainer's
            minimum pair frequency.
        subword_vocab_size: the ``wordpiece`` vocabulary size.
        scheduler: one of ``hubtools.rnn.schedulers.SCHEDULERS``, for Adam at ``training.learning_rate``.
        patience / factor: ReduceLROnPlateau (evaluations without improvement of
            ``training.metric_for_best_model``, and the decay).
        milestones_epochs / gamma: MultiStepLR (default milestones: 1/2 and 3/4 of training).
        max_lr: OneCycleLR peak (default: ``training.learning_rate``).
        compare: train these cells with the same settings and write a comparison (``--compare``).
    """

    tokenizer: str = "word"
    min_frequency: int = 1
    subword_vocab_size: int = 8000
    scheduler: str = "plateau"
    patience: int = 1
    factor: float = 0.5
    milestones_epochs: list[int] = field(default_factory=list)
    gamma: float = 0.1
    max_lr: float | None = None
    compare: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.min_frequency < 1:
            raise ConfigError(f"options.min_frequency must be at least 1, got {self.min_frequency}")
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"options.tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}")
        if self.subword_vocab_size < 3:
            raise ConfigError(f"options.subword_vocab_size must be at least 3, got {self.subword_vocab_size}")
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"options.scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        bad = [c for c in self.compare if c not in CELLS]
        if bad:
            raise ConfigError(f"options.compare: unknown cell(s) {bad}; choose from {CELLS}")

    @classmethod
    def from_config(cls, cfg: RecipeConfig) -> RnnOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(cfg.options) - known
        if unknown:
            raise ConfigError(f"unknown key(s) in options: {sorted(unknown)}; known: {sorted(known)}")
        return cls(**cfg.options)


def check_config(cfg: RecipeConfig) -> None:
    """The cell is ``system``; ``model.from_scratch`` must hold only RnnTaggerConfig values."""
    if cfg.system not in CELLS:
        raise ConfigError(f"system (the cell, --cell) must be one of {CELLS}, got {cfg.system!r}")
    if cfg.model.from_scratch is None or "cell" in cfg.model.from_scratch:
        raise ConfigError("model.from_scratch must hold the RNN tagger's values (embedding_dim, hidden_size, "
                          "...); the cell is set by system / --cell")
    RnnOptions.from_config(cfg)


def rnn_model_factory(cfg: RecipeConfig, label_names: list[str], dsd: DatasetDict):
    """Word or WordPiece tokenizer built from the TRAIN split only, and an untrained tagger saved with its
    code (``auto_map``) so that ``trust_remote_code=True`` loads it."""
    options = RnnOptions.from_config(cfg)
    if options.tokenizer == "wordpiece":
        tokenizer = build_wordpiece_tokenizer(dsd["train"]["tokens"], options.subword_vocab_size,
                                              min_frequency=options.min_frequency, lowercase=cfg.model.lowercase)
    else:
        tokenizer = build_word_tokenizer(dsd["train"]["tokens"], min_frequency=options.min_frequency,
                                         lowercase=cfg.model.lowercase)
    token_chars, char_sizes = None, {}
    if cfg.model.from_scratch.get("char_embedding_dim"):  # spell the vocabulary only for the character encoder
        token_chars, num_chars = piece_characters(tokenizer)
        char_sizes = {"char_vocab_size": num_chars, "max_token_chars": len(token_chars[0])}
    try:
        config = RnnTaggerConfig(vocab_size=len(tokenizer), cell=cfg.system, pad_token_id=tokenizer.pad_token_id,
                                 unk_token_id=tokenizer.unk_token_id, id2label=dict(enumerate(label_names)),
                                 label2id={name: i for i, name in enumerate(label_names)},
                                 **char_sizes, **cfg.model.from_scratch)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model.from_scratch: {err}") from None
    RnnTaggerConfig.register_for_auto_class()
    RnnTaggerForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")
    model = RnnTaggerForTokenClassification(config)
    if token_chars is not None:
        model.chars.set_token_characters(token_chars)
    return model, tokenizer


def optimizers_for(cfg: RecipeConfig):
    """``trainer_kwargs`` hook: Adam and the configured scheduler, sized to the Trainer's optimizer steps."""
    options = RnnOptions.from_config(cfg)
    train = cfg.training

    def trainer_kwargs(model, train_features: Dataset, **_) -> dict:
        batches = math.ceil(len(train_features) / (train.per_device_train_batch_size * PartialState().num_processes))
        steps_per_epoch = max(math.ceil(batches / train.gradient_accumulation_steps), 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=train.learning_rate, betas=(train.adam_beta1,
                                     train.adam_beta2), eps=train.adam_epsilon, weight_decay=train.weight_decay)
        scheduler = build_scheduler(
            options.scheduler, optimizer, math.ceil(train.num_train_epochs * steps_per_epoch), steps_per_epoch,
            max_lr=options.max_lr, milestones_epochs=tuple(options.milestones_epochs), gamma=options.gamma,
            mode="min" if "loss" in train.metric_for_best_model else "max", patience=options.patience,
            factor=options.factor)
        return {"optimizers": (optimizer, scheduler)}

    return trainer_kwargs


def legacy_metrics(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """``extra_metrics`` hook: the original notebook's per-sentence per-class mean, for comparison only."""
    return {"test_legacy": {"per_class_mean": per_class_mean_score(gold_tags, pred_tags),
                            "definition": "hubtools.rnn.legacy_metric.per_class_mean_score (not entity F1)"}}


def onnx_export_stage(run: RunFolder, cfg: RecipeConfig) -> None:
    """``export_stage`` hook: the tagger to ``RUN/onnx`` and its parity with PyTorch on test sentences,
    recorded as ``export.onnx`` (``word_agreement`` is the share of test word pieces tagged the same)."""
    if not cfg.export.enabled:
        return
    onnx_path = export_rnn_onnx(run.model_dir, run.onnx_dir)
    sentences = pq.read_table(run.dataset_dir / "test.parquet", columns=["tokens"]).column("tokens").to_pylist()
    sentences = sentences[: cfg.export.benchmark_sentences or len(sentences)]
    parity = verify_rnn_onnx(run.model_dir, onnx_path, sentences)
    agreement = parity["argmax_agreement"]
    run.update(export={"onnx": {
        "file": "onnx/model.onnx", "sentences": len(sentences), "word_agreement": agreement,
        "max_abs_logit_diff": parity["max_abs_diff"], "size_mb": round(onnx_path.stat().st_size / 2**20, 3),
        "status": "passed" if agreement >= cfg.export.min_word_agreement else
        f"failed: agreement {agreement:.4f} < {cfg.export.min_word_agreement}"}})


def run_cell(cfg: RecipeConfig) -> Path:
    """Train, evaluate, save and export one cell through the shared runner."""
    check_config(cfg)
    return run_token_classification(cfg, model_factory=rnn_model_factory, trainer_kwargs=optimizers_for(cfg),
                                    extra_metrics=legacy_metrics, export_stage=onnx_export_stage)


def cell_summary(results: dict) -> dict:
    """The comparison row of one finished run."""
    epochs = max((row["epoch"] for row in results["history"]), default=0)
    return {"test": results["test"], "per_type_f1": {t: v["f1"] for t, v in results["per_type"].items()},
            "test_legacy": results["test_legacy"], "num_parameters": results["model"]["num_parameters"],
            "vocab_size": results["model"]["vocab_size"],
            "best_validation_f1": max((row.get("f1", 0.0) for row in results["history"]), default=0.0),
            "epochs": epochs, "train_s": results["timings"]["train_s"],
            "train_s_per_epoch": round(results["timings"]["train_s"] / epochs, 2) if epochs else None,
            "history": results["history"]}


def compare_cells(cfg: RecipeConfig, cells: list[str]) -> Path:
    """Train ``cells`` with identical settings into ``OUTPUT_DIR/<cell>``; write ``comparison.json`` and
    ``comparison.png`` (loss and validation F1 per epoch) in ``OUTPUT_DIR``."""
    out = Path(cfg.output_dir)
    options = {k: v for k, v in cfg.options.items() if k != "compare"}
    rows = {}
    for cell in cells:
        run_dir = run_cell(dataclasses.replace(cfg, system=cell, output_dir=str(out / cell), options=options))
        rows[cell] = cell_summary(load_results(run_dir))
    if PartialState().is_main_process:
        best = max(rows, key=lambda c: rows[c]["best_validation_f1"])
        write_json(out / "comparison.json", {"recipe": cfg.recipe, "cells": cells,
                                             "selected_by": "best validation f1", "best": best,
                                             "config": {**cfg.to_dict(), "system": None}, "results": rows})
        plots.compare_curves({c: r["history"] for c, r in rows.items()}, out / "comparison.png",
                             f"{cfg.recipe}: {', '.join(cells)} (test F1 " +
                             ", ".join(f"{c} {r['test']['f1']:.3f}" for c, r in rows.items()) + ")")
    return out


def run_rnn_recipe(cfg: RecipeConfig) -> Path:
    """One cell, or the comparison of ``options.compare``."""
    cells = RnnOptions.from_config(cfg).compare
    return compare_cells(cfg, cells) if cells else run_cell(cfg)


def add_cell_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cell`` and ``--compare`` on top of the shared recipe command line."""
    parser.add_argument("--cell", choices=CELLS, help="recurrent cell (default: the configuration's system)")
    parser.add_argument("--compare", help="comma-separated cells to train and compare, e.g. rnn,gru,lstm")


def cell_overrides(args: argparse.Namespace) -> list[str]:
    """Configuration overrides for ``--cell`` / ``--compare``."""
    overrides = [f"system={args.cell}"] if args.cell else []
    if args.compare:
        overrides.append(f"options.compare=[{args.compare}]")
    return overrides
