"""Verification of exported models against PyTorch on every word of the run's test split.

The test split is tokenized exactly as in training (``tokenize_dataset`` with the run's window size and
stride) and predictions are merged to words (``merge_word_predictions``); tags are named through the model's
own ``id2label`` and scored against the gold ClassLabel names, so a label-order mistake lowers F1. The
PyTorch model must reproduce the run's reported test F1, otherwise the saved model, its labels or its
tokenizer are not the ones that were evaluated and nothing is exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset

from hubtools.data.validation import label_names_of
from hubtools.errors import ExportError
from hubtools.inference import feature_logits, ort_forward, ort_session, torch_forward
from hubtools.metrics import entity_scores, ids_to_tags
from hubtools.tokenization import merge_word_predictions, tokenize_dataset

# Largest difference (F1 points) between the recomputed PyTorch test F1 and results.json ``test.f1``.
REPRODUCE_TOLERANCE = 0.2


@dataclass
class Reference:
    """The test split tokenized for the model, and the PyTorch predictions every variant is compared with."""

    features: Dataset
    rows: list[dict]
    lengths: list[int]
    gold_tags: list[list[str]]
    label_names: list[str]
    pad_id: int
    logits: list[np.ndarray]
    words: list[list[int]]
    summary: dict

    def scores(self, logits: list[np.ndarray]) -> dict:
        """F1, word agreement and max abs logit difference of a variant's logits."""
        words = merge_word_predictions([x.argmax(-1) for x in logits], self.features, self.lengths)
        flat = np.concatenate([np.asarray(w) for w in words])
        agreement = float((flat == np.concatenate([np.asarray(w) for w in self.words])).mean())
        diff = max(float(np.abs(a - b).max()) for a, b in zip(logits, self.logits))
        f1 = entity_scores(self.gold_tags, ids_to_tags(words, self.label_names))["f1"]
        return {"f1": round(f1, 6), "word_agreement": round(agreement, 6), "max_abs_logit_diff": round(diff, 6)}


def load_test_split(run_dir: Path) -> Dataset:
    """``RUN/dataset/test.parquet`` with its ClassLabel names."""
    path = run_dir / "dataset" / "test.parquet"
    if not path.is_file():
        raise ExportError(f"{path}: missing; verification needs the run's test split")
    return Dataset.from_parquet(str(path))


def reference(run_dir: Path, results: dict) -> Reference:
    """PyTorch predictions of ``RUN/model`` on the test split; ExportError when the model's labels differ
    from the dataset's or its F1 does not reproduce results.json ``test.f1``."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model_dir = run_dir / "model"
    test = load_test_split(run_dir)
    gold_names = label_names_of(test)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForTokenClassification.from_pretrained(model_dir)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if sorted(names) != sorted(gold_names):
        raise ExportError(f"{model_dir}/config.json: id2label {names} does not have the test split's labels "
                          f"{gold_names}")
    info = results.get("model", {})
    features = tokenize_dataset(test, tokenizer, info.get("max_length", tokenizer.model_max_length),
                                info.get("stride", 32), desc="tokenize test")
    forward, inputs = torch_forward(model)
    rows = features.select_columns([c for c in features.column_names if c in
                                    ("input_ids", "attention_mask", "token_type_ids")]).to_list()
    lengths = [len(t) for t in test["tokens"]]
    logits = feature_logits(forward, rows, inputs, tokenizer.pad_token_id or 0)
    words = merge_word_predictions([x.argmax(-1) for x in logits], features, lengths)
    gold_tags = ids_to_tags(test["ner_tags"], gold_names)
    f1 = entity_scores(gold_tags, ids_to_tags(words, names))["f1"]
    reported = results.get("test", {}).get("f1")
    if reported is not None and abs(f1 - reported) * 100 > REPRODUCE_TOLERANCE:
        raise ExportError(f"{model_dir}: PyTorch test F1 {f1:.4f} does not reproduce the run's {reported:.4f}; "
                          "the saved model, its id2label order or its tokenizer differ from the evaluated ones")
    weights = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))
    summary = {"file": f"model/{weights[0].name}" if weights else None, "f1": round(f1, 6),
               "size_mb": round(sum(p.stat().st_size for p in weights) / 2**20, 2),
               "num_sentences": len(lengths), "num_words": int(sum(lengths))}
    return Reference(features, rows, lengths, gold_tags, names, tokenizer.pad_token_id or 0, logits, words,
                     summary)


def verify_variant(ref: Reference, path: Path, device: str = "cpu") -> dict:
    """F1, word agreement with PyTorch and max abs logit difference of the ONNX file ``path``."""
    forward, inputs = ort_forward(ort_session(path, device=device))
    return ref.scores(feature_logits(forward, ref.rows, inputs, ref.pad_id))
