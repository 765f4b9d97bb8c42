"""Verification of exported word taggers against PyTorch on every word of the run's test split.

The test split is tokenized exactly as in training (``tokenize_with_context`` with the run's window size, stride
and document context) and predictions are merged to words (``merge_word_predictions``); tags are named through the
model's own ``id2label`` and scored against the gold ClassLabel names, so a label-order mistake lowers F1 (and the
export policy then finds that the PyTorch model does not reproduce the run's test F1). ``decode`` turns one row of model
outputs (and the row's input ids) into label ids (:mod:`hubtools.families.token_classification.decode`): argmax
for plain classifiers, Viterbi for a CRF's emissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset

from hubtools.data.validation import label_names_of
from hubtools.errors import ExportError
from hubtools.export.base import ScoredModel, VariantScores
from hubtools.export.inference import Forward, feature_logits, input_rows
from hubtools.export.words import load_test_split
from hubtools.families.token_classification.decode import Decode, argmax, decoded_words
from hubtools.families.token_classification.features import tokenize_with_context
from hubtools.metrics import entity_scores, ids_to_tags
from hubtools.results import ReferenceModel
from hubtools.units import file_bytes


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
        when the model's labels differ from the dataset's."""
        test = load_test_split(run_dir, scored)
        gold_names = label_names_of(test)
        if sorted(label_names) != sorted(gold_names):
            raise ExportError(f"{run_dir / 'model'}/config.json: id2label {label_names} does not have the test "
                              f"split's labels {gold_names}")
        pool = [Dataset.from_parquet(str(p)) for p in sorted((run_dir / "dataset").glob("*.parquet"))
                if p.stem != scored.test.split] if scored.model.document_context else []
        features = tokenize_with_context(test, tokenizer, scored.model.max_length, scored.model.stride or 0,
                                         scored.model.document_context, desc="tokenize test", pool=pool)
        rows = input_rows(features)
        lengths = [len(t) for t in test["tokens"]]
        pad_id = tokenizer.pad_token_id or 0
        logits = feature_logits(forward, rows, input_names, pad_id)
        words = decoded_words(decode, logits, rows, features, lengths)
        gold_tags = ids_to_tags(test["ner_tags"], gold_names)
        f1 = entity_scores(gold_tags, ids_to_tags(words, label_names))["f1"]
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
