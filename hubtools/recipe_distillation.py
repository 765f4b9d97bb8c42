"""The distillation recipe: a teacher distilled into the run's model (the student), with the evidence.

Stages, each a :func:`hubtools.recipe.run_token_classification` run (so every run folder has the usual
layout): the teacher (a given checkpoint, or trained first into ``OUTPUT_DIR-teacher``); the same student
trained without the teacher (``OUTPUT_DIR-student-alone``); one distilled student per searched
(alpha, temperature) pair (``OUTPUT_DIR-search/aALPHA-tTEMP``), scored on validation F1; and the
distilled student with the best pair, which is the run (``OUTPUT_DIR``, export enabled). The teacher reads
each sentence once with its own tokenizer (``teacher_word_logits``, labels mapped by name); its word
logits are attached to every distilled student's training features. With ``distillation.transfer`` the
teacher also reads a transfer set of unlabelled sentences, which the distilled students (never the student
alone) train on with the teacher's logits as soft targets and its argmax as labels.

results.json gains ``distillation``: the chosen ``alpha``/``temperature``, the ``search`` table, the
``teacher`` and ``student_alone`` sections and ``comparison`` (teacher, distilled student, student alone on
the same test split: F1, precision, recall, parameters, size, words/s, speed-up over the teacher) and
``transfer`` (its sentences and words); the model card shows them (``section_distillation.md.j2``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path

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

from hubtools.config import DataConfig, RecipeConfig, from_dict
from hubtools.data.build import build_dataset
from hubtools.data.validation import label_names_of
from hubtools.errors import ConfigError
from hubtools.metrics import entity_scores, ids_to_tags
from hubtools.modeling import effective_max_length, permute_classifier
from hubtools.recipe import Tokenize, TrainedHook, command_line, run_token_classification
from hubtools.run import RunFolder, load_results
from hubtools.training.distillation import (
    DistillationTrainer,
    attach_teacher_logits,
    build_student_from_teacher,
    grid_search,
    label_permutation,
    teacher_word_logits,
)

logger = logging.getLogger("hubtools")


def stage_config(cfg: RecipeConfig, suffix: str, **sections: dict) -> RecipeConfig:
    """The configuration of a sibling stage run ``OUTPUT_DIR-SUFFIX``: no export, ``sections`` values
    replacing those of the same sections."""
    raw = cfg.to_dict()
    raw["output_dir"] = f"{cfg.output_dir}-{suffix}"
    raw["export"]["enabled"] = False
    for name, values in sections.items():
        raw[name].update(values)
    return from_dict(raw)


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


def score_words(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, split: Dataset, label_names: Sequence[str],
                cfg: RecipeConfig) -> dict:
    """Entity scores, size and speed of ``model`` on ``split``, its labels mapped to ``label_names`` by name.

    Every model is read the same way (:func:`word_logits`: first sub-token of each word), so words/s
    compare across models.
    """
    start = time.perf_counter()
    logits = word_logits(model, tokenizer, split["tokens"], label_names, cfg)
    seconds = time.perf_counter() - start
    predicted = [np.argmax(row, axis=-1).tolist() if len(row) else [] for row in logits]
    scores = entity_scores(ids_to_tags(split["ner_tags"], label_names), ids_to_tags(predicted, label_names))
    num_words = sum(len(words) for words in split["tokens"])
    return {
        "f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "size_mb": round(sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20, 2),
        "words_per_second": round(num_words / seconds, 1),
        "latency_ms_per_sentence": round(1000 * seconds / len(split), 3),
    }


def transfer_sentences(cfg: RecipeConfig) -> list[list[str]]:
    """The words of the transfer set ``distillation.transfer`` (see ``DistillationConfig``): its ``data``
    keys over the ``data`` section (without ``max_samples``), then ``split[skip : skip + max_sentences]``."""
    spec = dict(cfg.distillation.transfer)
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
    return max((row.get("f1", float("nan")) for row in load_results(run_dir)["history"]), default=float("nan"))


class Distillation:
    """The stages of one distillation recipe run (see the module docstring)."""

    def __init__(self, cfg: RecipeConfig, command: str | None = None) -> None:
        if cfg.distillation is None:
            raise ConfigError("the distillation recipe needs a 'distillation' section in its configuration")
        self.cfg = cfg
        self.dist = cfg.distillation
        self.command = command or command_line()
        self.state = PartialState()
        self.dsd, _ = build_dataset(cfg.data)
        self.label_names = label_names_of(self.dsd["train"])
        self.teacher_run: Path | None = None
        self.teacher_path = ""
        self.train_logits: list[np.ndarray] = []
        self.transfer: Dataset | None = None
        self.transfer_logits: list[np.ndarray] = []

    def teacher(self) -> str:
        """The teacher checkpoint: the configured one, or one trained here by the recipe."""
        if self.dist.trains_teacher:
            teacher_cfg = stage_config(self.cfg, "teacher", model=self.dist.teacher_model,
                                       training=self.dist.teacher_training)
            self.teacher_run = run_token_classification(teacher_cfg, self.command)
            return str(self.teacher_run / "model")
        return str(self.dist.teacher)

    def student_factory(self, cfg: RecipeConfig, label_names: list[str], dsd: DatasetDict):
        """``model_factory`` for ``student_from_teacher``: the teacher, head reordered to the dataset's
        labels, shrunk to ``student_layers`` layers; the teacher's tokenizer."""
        teacher, tokenizer = load_model(self.teacher_path)
        permute_classifier(teacher, label_permutation(teacher.config.id2label, label_names), label_names)
        return build_student_from_teacher(teacher, self.dist.student_layers), tokenizer

    def attach(self, features: dict[str, Dataset], dsd: DatasetDict, tokenize: Tokenize) -> dict[str, Dataset]:
        """``prepare_features``: the teacher's word logits on the training features, and the transfer set."""
        if len(dsd["train"]) != len(self.train_logits):
            raise ConfigError(f"the student's training split has {len(dsd['train'])} sentences, the teacher "
                              f"read {len(self.train_logits)}")
        train = attach_teacher_logits(features["train"], self.train_logits)
        if self.transfer is not None:
            extra = attach_teacher_logits(tokenize(self.transfer, "tokenize transfer set"), self.transfer_logits)
            offset = len(dsd["train"])  # transfer sentences numbered after the training ones
            extra = extra.map(lambda rows: {"example_index": [i + offset for i in rows["example_index"]]},
                              batched=True)
            train = concatenate_datasets([train, extra.cast(train.features)])
        return {**features, "train": train}

    def train_student(self, cfg: RecipeConfig, alpha: float | None = None, temperature: float | None = None,
                      on_trained: TrainedHook | None = None) -> Path:
        """One student run: without the teacher when ``alpha`` is None, else distilled with (alpha, T)."""
        hooks: dict = {"model_factory": self.student_factory if self.dist.student_from_teacher else None}
        if alpha is not None:
            hooks.update(trainer_cls=DistillationTrainer, prepare_features=self.attach,
                         trainer_kwargs=lambda **_: {"alpha": alpha, "temperature": temperature})
        return run_token_classification(cfg, self.command, on_trained=on_trained, **hooks)

    def score(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> dict:
        """``score_words`` on the test split (main process; the others return an empty dict)."""
        if not self.state.is_main_process:
            return {}
        return score_words(model, tokenizer, self.dsd["test"], self.label_names, self.cfg)

    def read_teacher(self) -> dict:
        """Obtain the teacher, read the training split with it and score it; its results.json section."""
        self.teacher_path = self.teacher()
        teacher, tokenizer = load_model(self.teacher_path)
        self.train_logits = word_logits(teacher, tokenizer, self.dsd["train"]["tokens"], self.label_names, self.cfg)
        if self.dist.transfer:
            tokens = transfer_sentences(self.cfg)
            self.transfer_logits = word_logits(teacher, tokenizer, tokens, self.label_names, self.cfg)
            tags = [row.argmax(-1).tolist() if len(row) else [] for row in self.transfer_logits]
            schema = Features({"tokens": self.dsd["train"].features["tokens"],
                               "ner_tags": self.dsd["train"].features["ner_tags"]})
            self.transfer = Dataset.from_dict({"tokens": tokens, "ner_tags": tags}, features=schema)
        return {"model": self.teacher_path, "trained_by_recipe": self.teacher_run is not None,
                "run": str(self.teacher_run) if self.teacher_run else None,
                "label_permutation": label_permutation(teacher.config.id2label, self.label_names),
                "test": self.score(teacher, tokenizer)}

    def run(self) -> Path:
        """Every stage; returns the finished run folder of the distilled student."""
        teacher_section = self.read_teacher()
        model_section = {"name_or_path": self.teacher_path, "from_scratch": None} \
            if self.dist.student_from_teacher else {}
        alone_run = self.train_student(stage_config(self.cfg, "student-alone", model=model_section))
        alone_section = {"run": str(alone_run), "validation_f1": validation_f1(alone_run),
                         "test": self.score(*load_model(alone_run / "model"))}

        def trial(alpha: float, temperature: float) -> float:
            suffix = f"search/a{alpha:g}-t{temperature:g}"
            return validation_f1(self.train_student(stage_config(self.cfg, suffix, model=model_section),
                                                    alpha, temperature))

        best, table = grid_search(trial, self.dist.alphas, self.dist.temperatures, self.dist.search_budget)
        logger.info("distillation search: best alpha %s, temperature %s (validation F1 %.4f)",
                    best["alpha"], best["temperature"], best["score"])

        def record(run: RunFolder, trainer: Trainer, dsd: DatasetDict) -> None:
            rows = (("teacher", self.teacher_path, teacher_section["test"]),
                    ("student (distilled)", str(run.final), self.score(trainer.model, trainer.processing_class)),
                    ("student (alone)", str(alone_run), alone_section["test"]))
            teacher_speed = teacher_section["test"]["words_per_second"]
            transfer = {"transfer": {"sentences": len(self.transfer), "words": sum(map(len, self.transfer["tokens"])),
                                     **self.dist.transfer}} if self.transfer is not None else {}
            run.update(card={"extra_sections": ["distillation"]}, distillation={
                "alpha": best["alpha"], "temperature": best["temperature"], "search_metric": "validation f1",
                **transfer, "training_sentences": len(dsd["train"]),
                "search": table, "teacher": teacher_section, "student_alone": alone_section,
                "student_from_teacher": self.dist.student_from_teacher, "test_split": len(dsd["test"]),
                "comparison": [{"model": name, "name_or_path": path, **row,
                                "speedup": round(row["words_per_second"] / teacher_speed, 2)}
                               for name, path, row in rows]})

        final = self.cfg.to_dict()
        final["model"].update(model_section)
        return self.train_student(from_dict(final), best["alpha"], best["temperature"], on_trained=record)

def run_distillation(cfg: RecipeConfig) -> Path:
    """``recipe_main``'s ``run`` for distillation recipes."""
    return Distillation(cfg).run()
