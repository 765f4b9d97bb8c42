"""Small builders shared by the tests: datasets and tokenizers made on the spot, never downloaded."""

from __future__ import annotations

import random
from pathlib import Path

from datasets import ClassLabel, Dataset, Features, Sequence, Value

from hubtools.families.token_classification.model import train_wordpiece_tokenizer

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
SENTENCES = [
    (["John", "Smith", "lives", "in", "Paris", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
    (["Mary", "visited", "New", "York", "yesterday"], ["B-PER", "O", "B-LOC", "I-LOC", "O"]),
    (["The", "unbelievably", "interesting", "Londoners"], ["O", "O", "O", "B-LOC"]),
]


def tiny_dataset(sentences=SENTENCES, labels=LABELS) -> Dataset:
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=labels))})
    return Dataset.from_dict({"tokens": [s for s, _ in sentences],
                              "ner_tags": [[labels.index(t) for t in tags] for _, tags in sentences]},
                             features=features)


TINY_HIDDEN, TINY_LAYERS, TINY_INTERMEDIATE = 32, 2, 64
TINY_ENCODERS = {  # from_scratch sizes of an untrained 2-layer, 4-head encoder per architecture
    "bert": {"hidden_size": TINY_HIDDEN, "num_hidden_layers": TINY_LAYERS, "num_attention_heads": 4,
             "intermediate_size": TINY_INTERMEDIATE, "max_position_embeddings": 64},
    "distilbert": {"dim": TINY_HIDDEN, "n_layers": TINY_LAYERS, "n_heads": 4, "hidden_dim": TINY_INTERMEDIATE,
                   "max_position_embeddings": 64}}


def tiny_fused_graph(architecture: str, root: Path) -> Path:
    """The ORTOptimizer-fused fp32 ONNX graph of an untrained :data:`TINY_ENCODERS` model (random weights, seed 0),
    exported under ``root``."""
    import torch

    from hubtools.config import model_section
    from hubtools.families.token_classification.export import export_onnx, optimize_onnx
    from hubtools.families.token_classification.model import build_from_scratch
    from hubtools.families.token_classification.options import TokenClassificationModelOptions

    torch.manual_seed(0)
    cfg = model_section(TokenClassificationModelOptions, {"from_scratch": TINY_ENCODERS[architecture],
                                                          "architecture": architecture, "vocab_size": 60,
                                                          "max_length": 64, "stride": 8})
    model, tokenizer = build_from_scratch(cfg, LABELS, [words for words, _ in SENTENCES] * 3)
    model.save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    return optimize_onnx(export_onnx(root / "model", root / "onnx"), 1, root / "fused")


def tiny_tokenizer(vocab_size: int = 60, architecture: str = "distilbert"):
    words = [s for s, _ in SENTENCES] * 3
    return train_wordpiece_tokenizer(words, vocab_size=vocab_size, architecture=architecture)


def run_results(family: str = "token-classification", f1: float = 0.0, max_length: int = 64, stride: int = 8,
                label_names: list[str] | None = None, export: dict | None = None,
                splits: dict[str, int] | None = None, **model):
    """A complete, typed results.json for a run folder a test assembles by hand (the scores it needs, the
    rest plain placeholders)."""
    from hubtools.config import PublishConfig
    from hubtools.results import (
        BuildRecord,
        Confusion,
        DatasetResult,
        Environment,
        EpochScores,
        ModelResult,
        RunResults,
        TestScores,
        Timings,
        TrainingResult,
        TypeScores,
    )

    names = label_names or LABELS
    types = sorted({n[2:] for n in names if n != "O"})
    splits = splits or {"train": 1, "validation": 1, "test": 1}
    return RunResults(
        recipe="test", command="pytest", created="2026-01-01T00:00:00+00:00",
        config={"export": export or {}, "output_dir": "runs/test"}, publish=PublishConfig(),
        dataset=DatasetResult(name="test-data", source="generate:test", license="mit", language=["en"],
                              fingerprint="0", label_names=names, entity_types=types, splits=splits,
                              entity_counts={s: {t: 0 for t in types} for s in splits},
                              build=BuildRecord(steps=["made by a test"], split_method="given by the test")),
        model=ModelResult(family=family, architecture="Test", model_type="test", num_parameters=1,
                          max_length=max_length, stride=stride, **model),
        training=TrainingResult(hyperparameters={"learning_rate": 0.001},
                                history=[EpochScores(epoch=1.0, step=1, training_loss=1.0, validation_loss=1.0,
                                                     precision=f1, recall=f1, f1=f1, accuracy=1.0)]),
        test=TestScores(precision=f1, recall=f1, f1=f1, accuracy=1.0, num_sentences=1, num_words=1,
                        per_type={t: TypeScores(precision=f1, recall=f1, f1=f1, support=1) for t in types},
                        confusion=Confusion(labels=["O"], matrix=[[1]])),
        timings=Timings(dataset_s=0.0, train_s=0.0, evaluate_s=0.0),
        environment=Environment(device="cpu", num_processes=1, fp16=False, bf16=False, machine="test"),
        versions={"hubtools": "test"})


# Two kinds of documents that differ only in their first sentence: the name in the second sentence is a club
# (ORG) after a sports sentence and a city (LOC) after a travel one. Read alone, the second sentence cannot tell.
SPORT = ["The football club signed a new striker .", "The team won the league again .",
         "Fans cheered the players in the stadium ."]
TRAVEL = ["The old city has a famous river .", "Tourists visit the town every summer .",
          "The streets of the capital are busy ."]
NAMES = ["Barcelona", "Chelsea", "Madrid", "Milan", "Porto", "Lyon", "Turin", "Leeds"]
ENDINGS = ["{} was in the news today .", "Everyone talked about {} again .", "{} made the headlines ."]


def document(rng: random.Random) -> str:
    kind, opening = rng.choice([("ORG", SPORT), ("LOC", TRAVEL)])
    name = rng.choice(NAMES)
    lines = ["-DOCSTART- -X- -X- O", ""]
    lines += [f"{w} O" for w in rng.choice(opening).split()] + [""]
    lines += [f"{w} {'B-' + kind if w == name else 'O'}" for w in rng.choice(ENDINGS).format(name).split()] + [""]
    return "\n".join(lines)


def write_documents(folder: Path, splits: dict[str, int], seed: int = 0) -> Path:
    """``SPLIT.txt`` CoNLL files of ``count`` such documents each (-DOCSTART- lines, B- tags only)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in splits.items():
        (folder / f"{split}.txt").write_text("\n".join(document(rng) for _ in range(count)))
    return folder
