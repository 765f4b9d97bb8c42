"""The SpanMarker family's recipe: the shared stage sequence with SpanMarker's model, Trainer and predictions.

The encoder is ``model.name_or_path`` (an encoder or a SpanMarker checkpoint) or, with ``model.from_scratch``,
a tiny BERT built by the main process on the training split. SpanMarker tokenizes the splits itself, so the
features are the splits, every sentence read alone (:mod:`hubtools.families.span_marker.features`); validation and
test are scored on words from ``predict`` (main process).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from span_marker import SpanMarkerModel
from transformers import Trainer

from hubtools.evaluation import Evaluation
from hubtools.families.span_marker.decode import evaluate_predictions, length_report
from hubtools.families.span_marker.features import sentence_splits
from hubtools.families.span_marker.model import build_tiny_encoder, load_spanmarker, save_spanmarker, spanmarker_limits
from hubtools.families.span_marker.options import SpanMarkerOptions
from hubtools.families.span_marker.trainer import WordScoredTrainer
from hubtools.paths import portable
from hubtools.recipe.base import BuiltModel, Features, LoadedData, Recipe, Trained
from hubtools.results import ModelResult, SpanLengthReport
from hubtools.training.arguments import apply_environment
from hubtools.units import parameter_count


@dataclass
class SpanMarkerBuilt(BuiltModel):
    """A SpanMarker model to train and its encoder as results.json names it."""

    encoder: str = ""


class SpanMarkerRecipe(Recipe):
    """A SpanMarker model trained and scored on words (the multinerd recipe)."""

    family = "span-marker"
    options_class = SpanMarkerOptions

    def encoder(self, data: LoadedData) -> str:
        """``model.name_or_path``, or with ``model.from_scratch`` a tiny BERT built once by the main process."""
        if self.cfg.model.from_scratch is None:
            return self.cfg.model.name_or_path
        folder = self.folder.path / "init" / "encoder"
        if self.state.is_main_process and not self.folder.staged_init(folder):
            self.seed()
            build_tiny_encoder(self.cfg.model, data.splits["train"]["tokens"], folder)
        self.state.wait_for_everyone()
        return str(folder)

    def build_model(self, data: LoadedData) -> SpanMarkerBuilt:
        encoder = self.encoder(data)
        self.seed()
        model = load_spanmarker(self.cfg.model, self.options, data.label_names, encoder)
        name = portable(encoder) if self.cfg.model.from_scratch is None else "tiny BERT (model.from_scratch)"
        return SpanMarkerBuilt(model, model.tokenizer, self.cfg.model.max_length, name)

    def featurize(self, data: LoadedData, built: BuiltModel) -> Features:
        """The splits without ``document_id`` / ``sentence_id`` (sentences are read alone)."""
        return Features(sentence_splits(data.splits))

    def build_trainer(self, built: BuiltModel, features: Features, data: LoadedData) -> Trainer:
        args = self.cfg.training.for_run(self.folder.checkpoints_dir)
        apply_environment(args)
        return WordScoredTrainer(model=built.model, args=args, train_dataset=features["train"],
                                 eval_dataset=features["validation"], entity_types=data.section.entity_types)

    def evaluate(self, trainer: Trainer, data: LoadedData, features: Features) -> Evaluation | None:
        """``predict`` on every test sentence and word-level scores (main process only)."""
        if not self.state.is_main_process:
            return None
        started = time.time()
        test = data.scored
        predictions = trainer.model.predict(list(test["tokens"]),
                                            batch_size=self.cfg.training.per_device_eval_batch_size)
        scores, tags = evaluate_predictions(test, predictions, data.section.entity_types)
        return Evaluation(scores, tags, round(time.time() - started, 2))

    def save(self, trainer: Trainer, built: BuiltModel) -> None:
        save_spanmarker(trainer.model, self.folder.model_dir, self.folder.final / "model")

    def model_result(self, built: SpanMarkerBuilt, features: Features) -> ModelResult:
        model: SpanMarkerModel = built.model
        limits = spanmarker_limits(self.cfg.model, self.options)
        return ModelResult(
            family=self.family, library_name="span-marker", architecture=type(model).__name__,
            model_type=model.config.model_type, num_parameters=parameter_count(model),
            max_length=limits["model_max_length"], stride=None, base_model=self.cfg.model.base_model_id,
            from_scratch=self.cfg.model.scratch_values(), encoder=built.encoder,
            encoder_model_type=model.config.encoder["model_type"], entity_max_length=limits["entity_max_length"],
            marker_max_length=limits["marker_max_length"])

    def training_words_per_second(self, features: Features, trained: Trained) -> float | None:
        if trained.resumed_from or not trained.seconds:
            return None
        words = sum(len(tokens) for tokens in features["train"]["tokens"])
        return round(words * trained.trainer.state.epoch / trained.seconds, 1)

    def extra_results(self, data: LoadedData, built: BuiltModel, features: Features, evaluation: Evaluation,
                      trainer: Trainer) -> dict:
        report = length_report(data.splits, trainer.model.tokenizer.tokenizer, self.options.entity_max_length,
                               self.cfg.model.max_length)
        return {"span_lengths": SpanLengthReport(**report)}

RECIPE = SpanMarkerRecipe
