"""Tiny NER artefacts for Hub tests: a 2-layer DistilBERT tagger and a ClassLabel token dataset."""

from __future__ import annotations

from pathlib import Path

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
SENTENCES = [
    "Alice Smith lives in Paris",
    "Bob moved from Berlin to Kyiv",
    "Carol visited London and Rome",
    "Dan works in New York with Erin",
]
TAGS = [[1, 2, 0, 0, 3], [1, 0, 0, 3, 0, 3], [1, 0, 3, 0, 3], [1, 0, 0, 3, 4, 0, 1]]
MODEL_CARD = """---
language: en
license: apache-2.0
library_name: transformers
pipeline_tag: token-classification
tags:
- token-classification
- ner
---

# tiny-ner

A 2-layer DistilBERT tagger for tests.
"""


def save_tiny_model(path: Path, seed: int = 0) -> Path:
    """Build, save (safetensors + tokenizer + README.md card) and return a tiny DistilBERT NER model."""
    import torch
    from transformers import DistilBertConfig, DistilBertForTokenClassification

    from hubtools.families.token_classification.model import train_wordpiece_tokenizer

    tokenizer = train_wordpiece_tokenizer([s.split() for s in SENTENCES] * 4, vocab_size=120)
    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        dim=32,
        hidden_dim=64,
        n_layers=2,
        n_heads=2,
        max_position_embeddings=64,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    torch.manual_seed(seed)
    model = DistilBertForTokenClassification(config).eval()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "README.md").write_text(MODEL_CARD)
    return path


def ner_dataset():
    """A DatasetDict (train/validation/test) with tokens + ner_tags as Sequence(ClassLabel)."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=LABELS))})
    rows = [{"tokens": s.split(), "ner_tags": t} for s, t in zip(SENTENCES, TAGS, strict=True)]
    return DatasetDict(
        train=Dataset.from_list(rows[:2], features=features),
        validation=Dataset.from_list(rows[2:3], features=features),
        test=Dataset.from_list(rows[3:], features=features),
    )


def save_tiny_rnn_tagger(path: Path) -> Path:
    """Save a tiny untrained RNN tagger of this project as the RNN recipe does: weights, word tokenizer and the
    copies of its code files (``auto_map``)."""
    import torch

    from hubtools.families.rnn_tagger.configuration_rnn_tagger import RnnTaggerConfig
    from hubtools.families.rnn_tagger.features import build_word_tokenizer
    from hubtools.families.rnn_tagger.modeling_rnn_tagger import RnnTaggerForTokenClassification

    tokenizer = build_word_tokenizer([s.split() for s in SENTENCES])
    config = RnnTaggerConfig(vocab_size=len(tokenizer), embedding_dim=8, hidden_size=6, cell="lstm",
                             pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
                             id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)})
    torch.manual_seed(0)
    RnnTaggerConfig.register_for_auto_class()
    RnnTaggerForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")
    RnnTaggerForTokenClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
