"""The plain token-classification family: a transformers model tags the first sub-token of every word.

The model is a pretrained checkpoint (``model.name_or_path``, its labels checked against the dataset's) or,
with ``model.from_scratch``, an untrained model of ``model.architecture`` with a WordPiece tokenizer trained on
the training split. Sentences are tokenized word by word, long ones split into overlapping windows
(:mod:`hubtools.tokenization`); training goes through
:class:`hubtools.families.token_classification.trainer.NerTrainer` and the
test split is scored on words. The distillation and RNN-tagger families build on this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datasets import Dataset
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Trainer,
)

from hubtools.evaluation import Evaluation
from hubtools.families.token_classification.case_tokens import add_case_tokens, why_not_cased
from hubtools.families.token_classification.decode import evaluate_split
from hubtools.families.token_classification.features import (
    context_budget,
    has_documents,
    tokenize_with_context,
    validation_runs,
)
from hubtools.families.token_classification.model import build_from_scratch, effective_max_length, load_pretrained
from hubtools.families.token_classification.options import TokenClassificationOptions
from hubtools.families.token_classification.trainer import NerTrainer, WordMetrics, build_trainer
from hubtools.metrics import ids_to_tags, io_entity_scores
from hubtools.recipe.base import BuiltModel, Features, LoadedData, Recipe
from hubtools.results import MetricSet, ModelResult
from hubtools.tokenization import tokenize_dataset
from hubtools.units import parameter_count


@dataclass
class TaggerModel(BuiltModel):
    """A token classifier to train: ``case_tokens`` cased pieces were added to its encoder's vocabulary."""

    case_tokens: int = 0


@dataclass
class TaggerFeatures(Features):
    """Windowed features: ``context`` sub-tokens of document context per row (0: sentences read alone) and,
    with ``model.validation_rows`` ``runs``, the validation pass's rows (runs of sentences) and their tags."""

    context: int = 0
    validation_runs: Dataset | None = None
    validation_gold: list[list[int]] | None = None


class TokenClassificationRecipe(Recipe):
    """A transformers token classifier, trained and scored on words (the finer and fewnerd recipes)."""

    family = "token-classification"
    options_class = TokenClassificationOptions
    trainer_class: type[Trainer] = NerTrainer

    def build_model(self, data: LoadedData) -> TaggerModel:
        """A pretrained checkpoint (labels checked before anything is written) or a model built from scratch
        by the main process and loaded by every process, so all share tokenizer and initial weights."""
        self.seed()
        case_tokens = 0
        if self.cfg.model.from_scratch is None:
            model, tokenizer = load_pretrained(self.cfg.model, data.label_names)
            if self.cfg.model.case_tokens:
                size = len(tokenizer)
                tokenizer = self.with_case_tokens(model, tokenizer)
                case_tokens = len(tokenizer) - size
        else:
            init_dir = self.folder.path / "init"
            if self.state.is_main_process and not self.folder.staged_init(init_dir):
                model, tokenizer = build_from_scratch(self.cfg.model, data.label_names, data.splits["train"]["tokens"])
                model.save_pretrained(init_dir)
                tokenizer.save_pretrained(init_dir)
            self.state.wait_for_everyone()
            model = AutoModelForTokenClassification.from_pretrained(init_dir)
            tokenizer = AutoTokenizer.from_pretrained(init_dir)
        if self.cfg.model.freeze_embeddings:
            model.get_input_embeddings().requires_grad_(False)
        return TaggerModel(model, tokenizer, effective_max_length(model, tokenizer, self.cfg.model.max_length),
                           case_tokens)

    def with_case_tokens(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
        """``model.case_tokens``: the encoder sees case where its tokenizer lowercases
        (:mod:`hubtools.families.token_classification.case_tokens`);
        otherwise the tokenizer as it is, and a line saying why."""
        reason = why_not_cased(tokenizer)
        if reason:
            self.say(f"model.case_tokens: {self.cfg.model.name_or_path} is left as it is: {reason}")
            return tokenizer
        size = len(tokenizer)
        cased = add_case_tokens(model, tokenizer)
        self.say(f"model.case_tokens: {len(cased) - size:,} cased pieces added to the {size:,} of "
                 f"{self.cfg.model.name_or_path}, whose tokenizer lowercases; the tokenizer now keeps case")
        return cased

    def tokenize(self, split: Dataset, built: BuiltModel, desc: str, training: bool = False,
                 pool: tuple[Dataset, ...] | None = ()) -> Dataset:
        """Feature rows of ``split``: words aligned to sub-tokens, long sentences in windows, with document
        context (from the sentences of ``split`` and ``pool``) when the model reads it; ``pool`` None: every
        sentence alone."""
        return tokenize_with_context(split, built.tokenizer, built.max_length, self.cfg.model.stride,
                                     self.context_budget(built) if pool is not None else 0, training, desc,
                                     pool or ())

    def context_budget(self, built: BuiltModel) -> int:
        """Sub-tokens of a row read with document context (0: none), within the model's windows."""
        return context_budget(self.cfg.model.document_context, built.tokenizer, built.max_length)

    def featurize(self, data: LoadedData, built: BuiltModel) -> TaggerFeatures:
        if self.cfg.model.document_context and not has_documents(data.splits["train"]):
            self.say(f"{data.section.name} has no documents (-DOCSTART- lines, brat documents or "
                     f"data.document_column): every sentence is read alone")
        context = self.context_budget(built) if has_documents(data.splits["train"]) else 0
        monitored = context and has_documents(data.splits["validation"])
        validation_rows = self.cfg.model.validation_rows if monitored else None
        runs = validation_rows == "runs"
        with self.state.main_process_first():
            # with runs, the validation sentences are read in context only when they are the scored split
            splits = {split: self.tokenize(ds, built, f"tokenize {split}", training=split == "train",
                                           pool=tuple(other for name, other in data.splits.items() if name != split))
                      for split, ds in data.splits.items() if not runs or split != "validation"
                      or split == data.scored_split}
            if not runs:
                return TaggerFeatures(splits, validation_rows, context)
            rows = validation_runs(data.splits["validation"], built.tokenizer, context)
            features = tokenize_dataset(rows, built.tokenizer, built.max_length, self.cfg.model.stride,
                                        desc="tokenize validation runs")
        return TaggerFeatures(splits, validation_rows, context, features, rows["ner_tags"])

    def trainer_kwargs(self, built: BuiltModel, features: TaggerFeatures) -> dict:
        """Further keyword arguments of the Trainer class (a family's optimizer, distillation weights)."""
        return {}

    def build_trainer(self, built: BuiltModel, features: TaggerFeatures, data: LoadedData) -> Trainer:
        args = self.cfg.training.for_run(self.folder.checkpoints_dir)
        if features.validation_runs is not None:  # runs of sentences, their tags joined (featurize)
            validation, gold = features.validation_runs, features.validation_gold
        else:
            validation, gold = features["validation"], data.splits["validation"]["ner_tags"]
        metrics = WordMetrics(validation, gold, data.label_names)
        return build_trainer(built.model, built.tokenizer, args, features["train"], validation, metrics,
                             trainer_cls=self.trainer_class, **self.trainer_kwargs(built, features))

    def evaluate(self, trainer: Trainer, data: LoadedData, features: TaggerFeatures) -> Evaluation:
        return evaluate_split(trainer, data.scored, features[data.scored_split], data.label_names)

    def context_scores(self, trainer: Trainer, data: LoadedData, built: BuiltModel,
                       features: TaggerFeatures) -> dict[str, MetricSet]:
        """``sentences_alone`` when the model reads document context (nothing otherwise): the extra score every
        family built on this one records beside its own."""
        if features.context and has_documents(data.scored):
            return {"sentences_alone": self.sentences_alone(trainer, data, built)}
        return {}

    def sentences_alone(self, trainer: Trainer, data: LoadedData, built: BuiltModel) -> MetricSet:
        """The scored split again with every sentence read alone: what a pipeline given one sentence gets."""
        features = self.tokenize(data.scored, built, "tokenize sentences alone", pool=None)
        scores = evaluate_split(trainer, data.scored, features, data.label_names).scores
        return MetricSet(definition="the same model, every sentence read without its document context",
                         values={k: getattr(scores, k) for k in ("precision", "recall", "f1")})

    def hyperparameters(self, trainer: Trainer, built: TaggerModel) -> dict[str, Any]:
        """The base's, without ``case_tokens`` when it added nothing (the encoder's tokenizer keeps case)."""
        values = super().hyperparameters(trainer, built)
        if not built.case_tokens:
            values.pop("case_tokens", None)
        return values

    def model_result(self, built: TaggerModel, features: TaggerFeatures) -> ModelResult:
        model, cfg = built.model, self.cfg.model
        return ModelResult(
            family=self.family, architecture=type(model).__name__, model_type=model.config.model_type,
            num_parameters=parameter_count(model), max_length=built.max_length,
            stride=cfg.stride, base_model=cfg.base_model_id, from_scratch=cfg.scratch_values(),
            vocab_size=getattr(model.config, "vocab_size", None),
            remote_code=bool(getattr(model.config, "auto_map", None)),
            document_context=features.context, case_tokens=built.case_tokens)

    def extra_results(self, data: LoadedData, built: BuiltModel, features: TaggerFeatures, evaluation: Evaluation,
                      trainer: Trainer) -> dict:
        """The IO entity scores and the published reference of this system, when the options ask for them,
        and the scores of sentences read alone when the model reads document context."""
        scores = self.context_scores(trainer, data, built, features)
        if self.options.io_scores:
            gold = ids_to_tags(data.scored["ner_tags"], data.label_names)
            scores["io"] = MetricSet(definition="entities as maximal runs of one type, prefixes ignored",
                                     values=io_entity_scores(gold, evaluation.predictions))
        reference = self.options.references.get(self.cfg.system or "default") or self.options.references.get("default")
        if reference:
            values = {k: float(v) for k, v in reference.items() if k != "source"}
            scores["reference"] = MetricSet(definition=f"published: {reference['source']}", values=values)
        return {"extra_scores": scores} if scores else {}

RECIPE = TokenClassificationRecipe
