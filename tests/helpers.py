"""Small builders shared by the tests: datasets and tokenizers made on the spot, never downloaded."""

from __future__ import annotations

from datasets import ClassLabel, Dataset, Features, Sequence, Value

from hubtools.modeling import train_wordpiece_tokenizer

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


def tiny_tokenizer(vocab_size: int = 60, architecture: str = "distilbert"):
    words = [s for s, _ in SENTENCES] * 3
    return train_wordpiece_tokenizer(words, vocab_size=vocab_size, architecture=architecture)
