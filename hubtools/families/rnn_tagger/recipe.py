"""The RNN-tagger family's recipe: RNN / GRU / LSTM (+ CRF) taggers trained from scratch on the training split.

The token-classification sequence with its own model (a word or WordPiece tokenizer built from the training
split only, an untrained tagger saved with its code so that ``trust_remote_code=True`` loads it), Adam with a
chosen scheduler, optionally the mean of the last epochs' weights (:mod:`hubtools.families.rnn_tagger.trainer`), and the
original ner-uk notebook's metric beside entity F1. With ``model.document_context`` the sentences are read with
their neighbours in the document exactly as in the token-classification family
(:mod:`hubtools.families.token_classification.features`:
training rows are runs of consecutive sentences, a scored sentence is read with whole neighbouring sentences
that are never labelled or scored) and the scored split is also scored sentence by sentence
(``extra_scores.sentences_alone``). The cell is the recipe's ``system``; ``model.from_scratch`` holds the
:class:`RnnTaggerConfig` values (word_starts: the CRF links words; word_units: the recurrent layers read words);
the ``options`` section is :class:`~hubtools.families.rnn_tagger.options.RnnOptions`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from transformers import Trainer

from hubtools.errors import ConfigError
from hubtools.evaluation import Evaluation
from hubtools.families.rnn_tagger.configuration_rnn_tagger import CELLS
from hubtools.families.rnn_tagger.legacy_metric import per_class_mean_score
from hubtools.families.rnn_tagger.model import build_tagger
from hubtools.families.rnn_tagger.options import RnnOptions
from hubtools.families.rnn_tagger.schedulers import build_scheduler
from hubtools.families.rnn_tagger.trainer import AveragingTrainer
from hubtools.families.token_classification.recipe import TaggerFeatures, TaggerModel, TokenClassificationRecipe
from hubtools.recipe.base import BuiltModel, LoadedData
from hubtools.results import MetricSet


@dataclass
class AveragedEvaluation(Evaluation):
    """The scored split's evaluation, with the F1 of the weights the averaging did not keep (None: no averaging)."""

    f1_not_kept: float | None = None


class RnnTaggerRecipe(TokenClassificationRecipe):
    """RNN / GRU / LSTM taggers from scratch (the ner_uk recipe)."""

    family = "rnn-tagger"
    options_class = RnnOptions
    trainer_class = AveragingTrainer

    def __init__(self, cfg, command: str | None = None, **folder: bool) -> None:
        if cfg.system not in CELLS:
            raise ConfigError(f"system (the cell, --cell) must be one of {CELLS}, got {cfg.system!r}")
        super().__init__(cfg, command, **folder)

    def build_model(self, data: LoadedData) -> TaggerModel:
        """Word or WordPiece tokenizer built from the TRAIN split only, and an untrained tagger saved with its
        code (``auto_map``) so that ``trust_remote_code=True`` loads it."""
        self.seed()
        model, tokenizer = build_tagger(self.cfg, data.label_names, data.splits["train"]["tokens"])
        return TaggerModel(model, tokenizer, self.cfg.model.max_length)

    def trainer_kwargs(self, built: BuiltModel, features: TaggerFeatures) -> dict:
        """Adam and the configured scheduler, sized to the Trainer's optimizer steps, and the epochs whose
        weights are averaged."""
        return {"optimizers": self.optimizers(built.model, len(features["train"])),
                "average_last": self.options.average_last}

    def optimizers(self, model: torch.nn.Module, num_rows: int) -> tuple:
        """(Adam, scheduler) for ``num_rows`` training rows per epoch."""
        options, args = self.options, self.cfg.training
        batches = math.ceil(num_rows / (args.per_device_train_batch_size * self.state.num_processes))
        steps_per_epoch = max(math.ceil(batches / args.gradient_accumulation_steps), 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, betas=(args.adam_beta1,
                                     args.adam_beta2), eps=args.adam_epsilon, weight_decay=args.weight_decay)
        scheduler = build_scheduler(
            options.scheduler, optimizer, math.ceil(args.num_train_epochs * steps_per_epoch), steps_per_epoch,
            max_lr=options.max_lr, milestones_epochs=tuple(options.milestones_epochs), gamma=options.gamma,
            mode="min" if "loss" in args.metric_for_best_model else "max", patience=options.patience,
            factor=options.factor)
        return optimizer, scheduler

    def hyperparameters(self, trainer: Trainer, built: BuiltModel) -> dict[str, Any]:
        values = super().hyperparameters(trainer, built)
        args, options = trainer.args, self.options
        values["optimizer"] = (f"torch.optim.Adam with betas=({args.adam_beta1},{args.adam_beta2}), "
                               f"epsilon={args.adam_epsilon}, weight_decay={args.weight_decay}")
        values["lr_scheduler_type"] = options.scheduler
        values.update({"tokenizer": options.tokenizer, "min_frequency": options.min_frequency})
        if options.tokenizer == "wordpiece":
            values["subword_vocab_size"] = options.subword_vocab_size
        return values

    def evaluate(self, trainer: AveragingTrainer, data: LoadedData, features: TaggerFeatures) -> AveragedEvaluation:
        """The scores of the scored split, and its F1 with the weights the averaging did not keep."""
        evaluation = super().evaluate(trainer, data, features)
        not_kept = self.test_f1_of(trainer.set_aside, trainer, data, features) \
            if trainer.averaging is not None else None
        return AveragedEvaluation(evaluation.scores, evaluation.predictions, evaluation.seconds, not_kept)

    def test_f1_of(self, weights: dict[str, torch.Tensor], trainer: Trainer, data: LoadedData,
                   features: TaggerFeatures) -> float:
        """Entity F1 on the scored split of ``weights`` loaded into the trainer's model (its own weights are
        put back)."""
        model = trainer.model
        own = {name: value.detach().clone() for name, value in model.state_dict().items()}
        model.load_state_dict(weights)
        try:
            return super().evaluate(trainer, data, features).scores.f1
        finally:
            model.load_state_dict(own)

    def extra_results(self, data: LoadedData, built: BuiltModel, features: TaggerFeatures,
                      evaluation: AveragedEvaluation, trainer: AveragingTrainer) -> dict:
        """The original notebook's per-sentence per-class mean, for comparison only, the scores of sentences
        read alone when the model reads document context (shared with the token-classification family), and
        the weight averaging (with its card section) when it ran."""
        gold = [[data.label_names[i] for i in row] for row in data.scored["ner_tags"]]
        legacy = MetricSet(definition="hubtools.families.rnn_tagger.legacy_metric.per_class_mean_score (not entity F1)",
                           values={"per_class_mean": per_class_mean_score(gold, evaluation.predictions)})
        sections: dict = {"extra_scores": {"legacy": legacy, **self.context_scores(trainer, data, built, features)}}
        if trainer.averaging is not None:
            sections.update(averaging=dataclasses.replace(trainer.averaging, test_f1_not_kept=evaluation.f1_not_kept),
                            card_sections=["averaging"])
        return sections

RECIPE = RnnTaggerRecipe
