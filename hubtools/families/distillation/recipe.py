"""The distillation family's recipe: a teacher distilled into the run's model (the student), with the evidence.

Runs, each the shared stage sequence (so every run folder has the usual layout): the teacher (a given
checkpoint, or trained first into ``OUTPUT_DIR-teacher``); the same student trained without the teacher
(``OUTPUT_DIR-student-alone``); one distilled student per searched (alpha, temperature) pair
(``OUTPUT_DIR-search/aALPHA-tTEMP``), scored on validation F1, unless the grid holds a single pair; and the
distilled student with the best pair, which is the run (``OUTPUT_DIR``, exported). The teacher reads each
sentence once with its own tokenizer (labels mapped by name); its word logits are attached to every distilled
student's training features. With ``model.document_context`` every model reads its sentences with their
document around them: the teacher reads the training rows a student trains on (runs of consecutive sentences
of a document), and scored sentences come with their neighbours. With ``distillation.transfer`` the teacher
also reads a transfer set of unlabelled sentences, which the distilled students (never the student alone)
train on with the teacher's logits as soft targets and its argmax as labels; ``distillation.augment`` adds
copies of the training sentences with words replaced to that set (:mod:`hubtools.families.distillation.features`).

results.json gains ``distillation`` (:class:`~hubtools.results.DistillationReport`); the model card shows it
(``cards/section_distillation.md.j2``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from accelerate import PartialState
from datasets import Dataset, DatasetDict, Features, concatenate_datasets
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
)

from hubtools.config import DataConfig
from hubtools.data.build import build_dataset
from hubtools.data.validation import label_names_of
from hubtools.errors import ConfigError
from hubtools.evaluation import Evaluation
from hubtools.families.distillation.features import augment_sentences
from hubtools.families.distillation.model import (
    attach_teacher_logits,
    build_student_from_teacher,
    join_runs,
    label_permutation,
    teacher_word_logits,
)
from hubtools.families.distillation.options import DistillationConfig
from hubtools.families.distillation.trainer import DistillationTrainer, grid_search, search_pairs
from hubtools.families.token_classification.features import (
    context_budget,
    has_documents,
    training_rows,
    with_document_context,
)
from hubtools.families.token_classification.model import effective_max_length, permute_classifier
from hubtools.families.token_classification.options import (
    TokenClassificationModelOptions,
    TokenClassificationOptions,
)
from hubtools.families.token_classification.recipe import TaggerFeatures, TaggerModel, TokenClassificationRecipe
from hubtools.families.token_classification.trainer import NerTrainer
from hubtools.metrics import entity_scores, ids_to_tags
from hubtools.paths import portable
from hubtools.recipe.base import BuiltModel, LoadedData, Recipe
from hubtools.recipe.config import RecipeConfig, from_dict
from hubtools.results import (
    ComparisonRow,
    DistillationReport,
    ModelScore,
    SearchRow,
    StudentAloneReport,
    TeacherReport,
    TransferReport,
)
from hubtools.run import RunFolder, read_results
from hubtools.units import parameter_bytes, parameter_count

logger = logging.getLogger("hubtools")


def stage_config(cfg: RecipeConfig, suffix: str, options_class: type = DistillationConfig,
                 **sections: dict) -> RecipeConfig:
    """The configuration of a sibling run ``OUTPUT_DIR-SUFFIX``: no export, ``sections`` values replacing
    those of the same sections; a run of another family (the teacher) gets that family's options."""
    raw = cfg.to_dict()
    raw["output_dir"] = f"{cfg.output_dir}-{suffix}"
    raw["export"]["enabled"] = False
    for name, values in sections.items():
        raw[name].update(values)
    if options_class is not DistillationConfig:
        del raw[DistillationConfig.SECTION]
    return from_dict(raw, TokenClassificationModelOptions, options_class)


def load_model(path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A token-classification checkpoint and its tokenizer."""
    return AutoModelForTokenClassification.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def word_logits(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sentences: Sequence[Sequence[str]],
                label_names: Sequence[str], cfg: RecipeConfig) -> list[np.ndarray]:
    """``teacher_word_logits`` of any token classifier, its labels mapped to ``label_names`` by name, in
    batches of ``per_device_eval_batch_size`` and windows of the model's (capped) ``max_length``."""
    permutation = label_permutation(model.config.id2label, list(label_names))
    max_length = effective_max_length(model, tokenizer, cfg.model.max_length)
    return teacher_word_logits(model, tokenizer, sentences, permutation,
                               batch_size=cfg.training.per_device_eval_batch_size, max_length=max_length,
                               stride=min(cfg.model.stride, max_length // 4))


def reading_budget(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, split: Dataset,
                   cfg: RecipeConfig) -> int:
    """Sub-tokens of document context ``model`` reads around a sentence of ``split`` (:func:`context_budget` in its
    windows), 0 when the split has no documents."""
    if not cfg.model.document_context or not has_documents(split):
        return 0
    return context_budget(cfg.model.document_context, tokenizer,
                          effective_max_length(model, tokenizer, cfg.model.max_length))


def sentence_logits(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, split: Dataset,
                    label_names: Sequence[str], cfg: RecipeConfig, pool: Sequence[Dataset] = ()) -> list[np.ndarray]:
    """:func:`word_logits` of the sentences of ``split``, each read with its document around it (from ``split``
    and ``pool``, :func:`hubtools.families.token_classification.features.with_document_context`) when
    ``model.document_context`` asks for it;
    one row per word of the sentence itself."""
    budget = reading_budget(model, tokenizer, split, cfg)
    if not budget:
        return word_logits(model, tokenizer, split["tokens"], label_names, cfg)
    rows = with_document_context(split, tokenizer, budget, training=False, pool=pool)
    logits = word_logits(model, tokenizer, rows["tokens"], label_names, cfg)
    return [row[left : len(row) - right]
            for row, left, right in zip(logits, rows["context_left"], rows["context_right"], strict=True)]


def score_words(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, split: Dataset,
                label_names: Sequence[str], cfg: RecipeConfig, pool: Sequence[Dataset] = ()) -> ModelScore:
    """Entity scores, size and speed of ``model`` on ``split``, its labels mapped to ``label_names`` by name.

    Every model is read the same way (:func:`sentence_logits`: first sub-token of each word, document context
    from ``split`` and ``pool`` when the run reads it), so words/s (words scored, context read included)
    compare across models.
    """
    start = time.perf_counter()
    logits = sentence_logits(model, tokenizer, split, label_names, cfg, pool)
    seconds = time.perf_counter() - start
    predicted = [np.argmax(row, axis=-1).tolist() if len(row) else [] for row in logits]
    scores = entity_scores(ids_to_tags(split["ner_tags"], label_names), ids_to_tags(predicted, label_names))
    num_words = sum(len(words) for words in split["tokens"])
    return ModelScore(f1=scores["f1"], precision=scores["precision"], recall=scores["recall"],
                      parameters=parameter_count(model), size_bytes=parameter_bytes(model),
                      words_per_second=round(num_words / seconds, 1),
                      latency_ms_per_sentence=round(1000 * seconds / len(split), 3))


def transfer_sentences(cfg: RecipeConfig) -> list[list[str]]:
    """The words of the transfer set ``distillation.transfer`` (see ``DistillationConfig``): its ``data``
    keys over the ``data`` section (without ``max_samples``), then ``split[skip : skip + max_sentences]``."""
    spec = dict(cfg.options.transfer)
    split, skip, limit = spec.pop("split", "train"), int(spec.pop("skip", 0)), spec.pop("max_sentences", None)
    dsd, _ = build_dataset(DataConfig(**{**dataclasses.asdict(cfg.data), "max_samples": {}, **spec}))
    if split not in dsd:
        raise ConfigError(f"distillation.transfer: split {split!r} not in {sorted(dsd)}")
    tokens = dsd[split]["tokens"][skip : None if limit is None else skip + int(limit)]
    if not tokens:
        raise ConfigError(f"distillation.transfer selects no sentence: {split!r} has {len(dsd[split])}, "
                          f"skip {skip}")
    return tokens


def validation_f1(run_dir: Path) -> float:
    """The best validation F1 over the epochs of a finished run (the model it kept)."""
    best = read_results(run_dir).training.best_validation_f1
    return float("nan") if best is None else best


@dataclass
class TeacherReading:
    """What the teacher contributes: its checkpoint, its word logits on the training split and the transfer set."""

    path: str
    report: TeacherReport
    train_logits: list[np.ndarray]
    transfer: Dataset | None = None
    transfer_logits: list[np.ndarray] = field(default_factory=list)


@dataclass
class Siblings:
    """What the sibling runs of a distillation found, for the distilled student's report: the student trained
    alone and the (alpha, T) search (empty when the grid holds one pair)."""

    alone: StudentAloneReport
    search: list[dict]


def sibling_path(path: str | Path, folder: RunFolder) -> str:
    """A checkpoint or run as results.json records it: a Hub id as is, a local folder relative to the folder that
    holds the run (``conll_distil-teacher/model``), never a machine path."""
    return portable(str(path), base=folder.final.parent)


class StudentRecipe(TokenClassificationRecipe):
    """A student: trained alone (``alpha`` None) or distilled from the teacher's word logits with (alpha, T);
    with ``siblings``, the distilled student that finishes a distillation run and reports it."""

    options_class = DistillationConfig

    def __init__(self, cfg: RecipeConfig, command: str | None = None, teacher: TeacherReading | None = None,
                 alpha: float | None = None, temperature: float | None = None, siblings: Siblings | None = None,
                 **folder: Any) -> None:
        super().__init__(cfg, command, **folder)
        self.teacher, self.alpha, self.temperature, self.siblings = teacher, alpha, temperature, siblings

    @property
    def distilled(self) -> bool:
        return self.alpha is not None

    @property
    def trainer_class(self) -> type[Trainer]:  # type: ignore[override]
        return DistillationTrainer if self.distilled else NerTrainer

    def build_model(self, data: LoadedData) -> TaggerModel:
        """With ``student_from_teacher``: the teacher, head reordered to the dataset's labels, shrunk to
        ``student_layers`` layers, with the teacher's tokenizer; else the ``model`` section."""
        if not self.options.student_from_teacher:
            return super().build_model(data)
        self.seed()
        teacher, tokenizer = load_model(self.teacher.path)
        permute_classifier(teacher, label_permutation(teacher.config.id2label, data.label_names), data.label_names)
        student = build_student_from_teacher(teacher, self.options.student_layers)
        return TaggerModel(student, tokenizer, effective_max_length(student, tokenizer, self.cfg.model.max_length))

    def featurize(self, data: LoadedData, built: BuiltModel) -> TaggerFeatures:
        """A distilled student's training features carry the teacher's word logits (and the transfer set,
        whose sentences are read alone)."""
        features = super().featurize(data, built)
        if not self.distilled:
            return features
        if len(data.splits["train"]) != len(self.teacher.train_logits):
            raise ConfigError(f"the student's training split has {len(data.splits['train'])} sentences, the "
                              f"teacher read {len(self.teacher.train_logits)}")
        logits = self.teacher.train_logits
        if features.context:
            logits = join_runs(logits, training_rows(data.splits["train"], built.tokenizer, features.context))
        train = attach_teacher_logits(features["train"], logits)
        if self.teacher.transfer is not None:
            extra = attach_teacher_logits(self.tokenize(self.teacher.transfer, built, "tokenize transfer set"),
                                          self.teacher.transfer_logits)
            offset = len(data.splits["train"])  # transfer sentences numbered after the training ones
            extra = extra.map(lambda rows: {"example_index": [i + offset for i in rows["example_index"]]},
                              batched=True)
            train = concatenate_datasets([train, extra.cast(train.features)])
        return dataclasses.replace(features, splits={**features.splits, "train": train})

    def trainer_kwargs(self, built: BuiltModel, features: TaggerFeatures) -> dict:
        return {"alpha": self.alpha, "temperature": self.temperature} if self.distilled else {}

    def extra_results(self, data: LoadedData, built: BuiltModel, features: TaggerFeatures, evaluation: Evaluation,
                      trainer: Trainer) -> dict:
        """The distillation report of the student that finishes a distillation run: chosen pair, search, teacher,
        lone student, comparison, transfer set. A search or lone student records nothing beyond the shared
        sections."""
        if self.siblings is None:
            return {}
        teacher, alone = self.teacher.report, self.siblings.alone
        distilled = score_test(data.splits, trainer.model, trainer.processing_class, self.cfg)
        rows = (("teacher", teacher.model, teacher.test),
                ("student (distilled)", self.folder.final.name, distilled),
                ("student (alone)", alone.run, alone.test))
        transfer = self.teacher.transfer
        return {"card_sections": ["distillation"], "distillation": DistillationReport(
            alpha=self.alpha, temperature=self.temperature, search_metric="validation f1",
            search=[SearchRow(**row) for row in self.siblings.search or [{
                "alpha": self.alpha, "temperature": self.temperature,
                "score": float("nan") if trainer.state.best_metric is None else trainer.state.best_metric}]],
            teacher=teacher, student_alone=alone,
            student_from_teacher=self.options.student_from_teacher, training_sentences=len(data.splits["train"]),
            test_split=len(data.splits["test"]),
            transfer=None if transfer is None else TransferReport(
                sentences=len(transfer), words=sum(map(len, transfer["tokens"])), spec=transfer_spec(self.cfg)),
            comparison=[ComparisonRow(model=name, name_or_path=path, **dataclasses.asdict(score),
                                      speedup=round(score.words_per_second / teacher.test.words_per_second, 2))
                        for name, path, score in rows])}


def score_test(splits: DatasetDict, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
               cfg: RecipeConfig) -> ModelScore | None:
    """:func:`score_words` on the test split, the other splits its document pool (main process; None in the
    others)."""
    if not PartialState().is_main_process:
        return None
    pool = [split for name, split in splits.items() if name != "test"]
    return score_words(model, tokenizer, splits["test"], label_names_of(splits["train"]), cfg, pool)


def transfer_spec(cfg: RecipeConfig) -> dict:
    """What the transfer set is made of: ``distillation.transfer`` and the augmentation settings, if any."""
    options = cfg.options
    augment = {"augment": options.augment, "augment_rate": options.augment_rate}
    return {**options.transfer, **(augment if options.augment else {})}


class DistillationRecipe(Recipe):
    """The conll_distil recipe: it composes sibling runs (the teacher when it trains one, the student alone, one
    student per searched pair) and finishes its own folder with the distilled student of the best pair."""

    family = "token-classification"  # the run's model: a distilled student is a plain token classifier
    options_class = DistillationConfig

    @property
    def siblings(self) -> dict[str, bool]:
        """How the sibling runs treat their folders: they belong to this run, so they replace the finished runs
        an earlier try of it left when this one may replace or resume its own."""
        folder = self.folder
        return {"overwrite": folder.overwrite or folder.resuming or folder.restart, "restart": folder.restart}

    def compose(self) -> Path:
        """The teacher, the lone student and the search; then the distilled student with the best pair, in this
        run's claimed folder."""
        dataset, _ = build_dataset(self.cfg.data)
        teacher = self.read_teacher(dataset)
        model_section = {"name_or_path": teacher.path, "from_scratch": None} \
            if self.options.student_from_teacher else {}
        alone = StudentRecipe(stage_config(self.cfg, "student-alone", model=model_section), self.command,
                              teacher, **self.siblings).run()
        alone_report = StudentAloneReport(run=sibling_path(alone, self.folder), validation_f1=validation_f1(alone),
                                          test=score_test(dataset, *load_model(alone / "model"), self.cfg))

        def trial(alpha: float, temperature: float) -> float:
            cfg = stage_config(self.cfg, f"search/a{alpha:g}-t{temperature:g}", model=model_section)
            return validation_f1(StudentRecipe(cfg, self.command, teacher, alpha, temperature,
                                               **self.siblings).run())

        options = self.options
        pairs = search_pairs(options.alphas, options.temperatures, options.search_budget)
        if len(pairs) == 1:  # nothing to choose: the run itself is the one trial (its report scores it)
            (alpha, temperature), search = pairs[0], []
        else:
            best, search = grid_search(trial, options.alphas, options.temperatures, options.search_budget)
            logger.info("distillation search: best alpha %s, temperature %s (validation F1 %.4f)",
                        best["alpha"], best["temperature"], best["score"])
            alpha, temperature = best["alpha"], best["temperature"]
        final = self.cfg.to_dict()
        final["model"].update(model_section)
        return StudentRecipe(from_dict(final, TokenClassificationModelOptions, DistillationConfig), self.command,
                             teacher, alpha, temperature, Siblings(alone_report, search), folder=self.folder).stages()

    def teacher_checkpoint(self) -> tuple[str, Path | None]:
        """The configured teacher, or one trained here (its run folder returned too)."""
        if not self.options.trains_teacher:
            return str(self.options.teacher), None
        cfg = stage_config(self.cfg, "teacher", TokenClassificationOptions, model=self.options.teacher_model,
                           training=self.options.teacher_training)
        run = TokenClassificationRecipe(cfg, self.command, **self.siblings).run()
        return str(run / "model"), run

    def read_teacher(self, dataset: DatasetDict) -> TeacherReading:
        """Obtain the teacher, read the training split (and the transfer set) with it and score it."""
        path, run = self.teacher_checkpoint()
        teacher, tokenizer = load_model(path)
        label_names = label_names_of(dataset["train"])
        reading = TeacherReading(path, TeacherReport(
            model=sibling_path(path, self.folder), trained_by_recipe=run is not None,
            run=sibling_path(run, self.folder) if run else None,
            label_permutation=label_permutation(teacher.config.id2label, label_names),
            test=score_test(dataset, teacher, tokenizer, self.cfg)),
            train_logits=self.training_logits(dataset["train"], teacher, tokenizer))
        tokens = transfer_sentences(self.cfg) if self.options.transfer else []
        if self.options.augment:
            train = dataset["train"]
            tokens += augment_sentences(train["tokens"], train["ner_tags"], self.options.augment,
                                        self.options.augment_rate, self.cfg.training.seed)
        if tokens:
            reading.transfer_logits = word_logits(teacher, tokenizer, tokens, label_names, self.cfg)
            tags = [row.argmax(-1).tolist() if len(row) else [] for row in reading.transfer_logits]
            schema = Features({"tokens": dataset["train"].features["tokens"],
                               "ner_tags": dataset["train"].features["ner_tags"]})
            reading.transfer = Dataset.from_dict({"tokens": tokens, "ner_tags": tags}, features=schema)
        return reading

    def training_logits(self, train: Dataset, teacher: PreTrainedModel,
                        tokenizer: PreTrainedTokenizerBase) -> list[np.ndarray]:
        """The teacher's word logits of every training sentence. With document context it reads the training rows
        a student trains on (runs of consecutive sentences of a document, :func:`training_rows`), each word
        once, and the logits are split back into sentences."""
        label_names = label_names_of(train)
        budget = reading_budget(teacher, tokenizer, train, self.cfg)
        if not budget:
            return word_logits(teacher, tokenizer, train["tokens"], label_names, self.cfg)
        runs = training_rows(train, tokenizer, budget)
        tokens = train["tokens"]
        logits = word_logits(teacher, tokenizer, [[w for i in run for w in tokens[i]] for run in runs],
                             label_names, self.cfg)
        sentences: list[np.ndarray] = [np.zeros((0, len(label_names)), np.float32)] * len(train)
        for run, row in zip(runs, logits, strict=True):
            ends = np.cumsum([len(tokens[i]) for i in run])
            for i, part in zip(run, np.split(row, ends[:-1]), strict=True):
                sentences[i] = part
        return sentences


RECIPE = DistillationRecipe
