"""Verification of exported word taggers against PyTorch on every word of the run's test split.

The test split is tokenized exactly as in training (``tokenize_dataset`` with the run's window size and
stride) and predictions are merged to words (``merge_word_predictions``); tags are named through the model's
own ``id2label`` and scored against the gold ClassLabel names, so a label-order mistake lowers F1. The
PyTorch model must reproduce the run's reported test F1, otherwise the saved model, its labels or its
tokenizer are not the ones that were evaluated and nothing is exported. ``decode`` turns one row of model
outputs (and the row's input ids) into label ids: argmax for plain classifiers, Viterbi for a CRF's emissions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset

from hubtools.context import tokenize_with_context
from hubtools.data.validation import label_names_of
from hubtools.errors import ExportError
from hubtools.export.base import ScoredModel, VariantScores
from hubtools.export.inference import Forward, feature_logits
from hubtools.metrics import entity_scores, ids_to_tags
from hubtools.results import ReferenceModel
from hubtools.tokenization import merge_word_predictions
from hubtools.units import file_bytes

# Largest difference (F1 points) between the recomputed PyTorch test F1 and results.json ``test.f1``.
REPRODUCE_TOLERANCE = 0.2
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
Decode = Callable[[np.ndarray, Sequence[int]], np.ndarray]


def argmax(row: np.ndarray, input_ids: Sequence[int]) -> np.ndarray:
    """Label ids of one row of logits (length x labels); the row's ``input_ids`` are not needed."""
    return row.argmax(-1)


def decoded_words(decode: Decode, logits: list[np.ndarray], rows: list[dict], features: Dataset,
                  lengths: list[int]) -> list[list[int]]:
    """Label ids per word of every sentence: each feature row decoded, windows merged."""
    return merge_word_predictions([decode(x, row["input_ids"]) for x, row in zip(logits, rows, strict=True)],
                                  features, lengths)


def load_test_split(run_dir: Path, scored: ScoredModel) -> Dataset:
    """The run's scored split (``RUN/dataset/test.parquet``, or ``validation.parquet`` for a dataset without a
    test split) with its ClassLabel names."""
    path = run_dir / "dataset" / f"{scored.test.split}.parquet"
    if not path.is_file():
        raise ExportError(f"{path}: missing; verification needs the run's {scored.test.split} split")
    return Dataset.from_parquet(str(path))


@dataclass
class WordReference:
    """The test split tokenized for the model, and the PyTorch outputs every variant is compared with."""

    features: Dataset
    rows: list[dict]
    lengths: list[int]
    gold_tags: list[list[str]]
    label_names: list[str]
    pad_id: int
    logits: list[np.ndarray]
    words: list[list[int]]
    decode: Decode
    model: ReferenceModel

    @classmethod
    def build(cls, run_dir: Path, scored: ScoredModel, label_names: list[str], tokenizer, forward: Forward,
              input_names: list[str], decode: Decode = argmax) -> WordReference:
        """PyTorch outputs (``forward`` over padded batches of ``input_names``) on the test split; ExportError
        when the model's labels differ from the dataset's or its F1 does not reproduce the run's."""
        test = load_test_split(run_dir, scored)
        gold_names = label_names_of(test)
        if sorted(label_names) != sorted(gold_names):
            raise ExportError(f"{run_dir / 'model'}/config.json: id2label {label_names} does not have the test "
                              f"split's labels {gold_names}")
        pool = [Dataset.from_parquet(str(p)) for p in sorted((run_dir / "dataset").glob("*.parquet"))
                if p.stem != scored.test.split] if scored.model.document_context else []
        features = tokenize_with_context(test, tokenizer, scored.model.max_length, scored.model.stride or 0,
                                         scored.model.document_context, desc="tokenize test", pool=pool)
        rows = features.select_columns([c for c in features.column_names if c in INPUT_NAMES]).to_list()
        lengths = [len(t) for t in test["tokens"]]
        pad_id = tokenizer.pad_token_id or 0
        logits = feature_logits(forward, rows, input_names, pad_id)
        words = decoded_words(decode, logits, rows, features, lengths)
        gold_tags = ids_to_tags(test["ner_tags"], gold_names)
        f1 = entity_scores(gold_tags, ids_to_tags(words, label_names))["f1"]
        if abs(f1 - scored.test.f1) * 100 > REPRODUCE_TOLERANCE:
            raise ExportError(f"{run_dir / 'model'}: PyTorch test F1 {f1:.4f} does not reproduce the run's "
                              f"{scored.test.f1:.4f}; the saved model, its id2label order or its tokenizer differ "
                              "from the evaluated ones")
        weights = sorted((run_dir / "model").glob("*.safetensors")) or sorted((run_dir / "model").glob("*.bin"))
        model = ReferenceModel(file=f"model/{weights[0].name}" if weights else "model", f1=round(f1, 6),
                               size_bytes=file_bytes(*weights), num_sentences=len(lengths), num_words=int(sum(lengths)))
        return cls(features, rows, lengths, gold_tags, label_names, pad_id, logits, words, decode, model)

    def verify(self, forward: Forward, input_names: list[str]) -> VariantScores:
        """F1, word agreement with PyTorch and max abs output difference of another ``forward``."""
        logits = feature_logits(forward, self.rows, input_names, self.pad_id)
        words = decoded_words(self.decode, logits, self.rows, self.features, self.lengths)
        flat = np.concatenate([np.asarray(w) for w in words])
        agreement = float((flat == np.concatenate([np.asarray(w) for w in self.words])).mean())
        diff = max(float(np.abs(a - b).max()) for a, b in zip(logits, self.logits, strict=True))
        f1 = entity_scores(self.gold_tags, ids_to_tags(words, self.label_names))["f1"]
        return VariantScores(f1=f1, agreement=agreement, max_abs_logit_diff=diff, num_sentences=len(self.lengths))
