"""Token classifiers tagging words: features as in training, PyTorch through the Trainer, ONNX Runtime, argmax.

Sentences are tokenized as in training (:func:`hubtools.families.token_classification.features.tokenize_with_context`
with the run's window size and stride, else the model's maximum length and the recipes' default stride): a
sentence longer than the window is split into overlapping windows and the window predictions are merged back to
one label per word. A model trained with document context (``model.document_context`` in its results) reads
each sentence of a split that has documents with its neighbouring sentences, as the recipe scored it; the
context words are never tagged. PyTorch runs through the Trainer's prediction loop (longest rows first), so
``accelerate launch`` with N processes gives the same tags as one; ONNX Runtime runs in the calling process over
length-sorted batches. ``Decode`` turns one row of model outputs (and the row's input ids) into label ids: argmax
here, Viterbi for an RNN tagger's CRF (:mod:`hubtools.families.rnn_tagger.decode`).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset
from transformers import AutoTokenizer, DataCollatorForTokenClassification, Trainer, TrainingArguments

from hubtools.config import ModelConfig
from hubtools.data.schemes import invalid_tags, types_of
from hubtools.decoding import Decoder
from hubtools.errors import UsageError
from hubtools.evaluation import Evaluation
from hubtools.export.inference import feature_logits, input_rows, ort_forward, ort_session
from hubtools.families.token_classification.features import tokenize_with_context
from hubtools.families.token_classification.trainer import NerTrainer, argmax_logits
from hubtools.metrics import ids_to_tags, test_scores
from hubtools.remote_code import check_code, load_token_classifier
from hubtools.tokenization import merge_word_predictions

# the ONNX files of the exporter's variants in ``onnx/`` (:mod:`hubtools.families.token_classification.export`)
FP32_FILE = "model.onnx"
INT8_FILE = "model_quantized.onnx"
INT8_EMBEDDINGS_FILE = "model_quantized_embeddings.onnx"
DEFAULT_MAX_LENGTH = 512
DEFAULT_STRIDE = next(f.default for f in dataclasses.fields(ModelConfig) if f.name == "stride")
Decode = Callable[[np.ndarray, Sequence[int]], np.ndarray]


def argmax(row: np.ndarray, input_ids: Sequence[int]) -> np.ndarray:
    """Label ids of one row of logits (length x labels); the row's ``input_ids`` are not needed."""
    return row.argmax(-1)


def decoded_words(decode: Decode, logits: list[np.ndarray], rows: list[dict], features: Dataset,
                  lengths: list[int]) -> list[list[int]]:
    """Label ids per word of every sentence: each feature row decoded, windows merged."""
    return merge_word_predictions([decode(x, row["input_ids"]) for x, row in zip(logits, rows, strict=True)],
                                  features, lengths)


def predict_words(trainer: Trainer, features: Dataset, lengths: Sequence[int]) -> list[list[int]]:
    """Predicted label ids of every word of the sentences behind ``features`` (windows merged).

    The Trainer's prediction loop gathers with ``gather_for_metrics``, so every process sees every sentence
    exactly once and gets the same predictions.
    """
    saved, trainer.compute_metrics = trainer.compute_metrics, None
    try:
        output = trainer.predict(features, metric_key_prefix="test")
    finally:
        trainer.compute_metrics = saved
    return merge_word_predictions(output.predictions, features, lengths)


def evaluate_split(trainer: Trainer, split: Dataset, features: Dataset, label_names: Sequence[str]) -> Evaluation:
    """Predict every word of ``split`` (windows merged) and score it on words (1 or N processes alike)."""
    start = time.time()
    gold = split["ner_tags"]
    pred_tags = ids_to_tags(predict_words(trainer, features, [len(g) for g in gold]), label_names)
    scores = test_scores(ids_to_tags(gold, label_names), pred_tags, types_of(label_names))
    return Evaluation(scores, pred_tags, round(time.time() - start, 3))


class TokenClassificationDecoder(Decoder):
    """A transformers token classifier (module docstring): the label of each word's first sub-token."""

    variant_files = {"onnx": FP32_FILE, "onnx_int8": INT8_FILE, "onnx_int8_embeddings": INT8_EMBEDDINGS_FILE}

    def __init__(self, source, variant: str = "pytorch", batch_size: int = 32, threads: int | None = None) -> None:
        super().__init__(source, variant, batch_size, threads)
        self.tokenizer = AutoTokenizer.from_pretrained(source.model_dir)
        self.max_length, self.stride = self.window()

    @classmethod
    def check(cls, config: Mapping[str, Any], where: str, trusted: bool) -> None:
        architectures = config.get("architectures") or []
        auto_map = config.get("auto_map") or {}
        if not any(a.endswith("ForTokenClassification") for a in architectures) \
                and "AutoModelForTokenClassification" not in auto_map:
            raise UsageError(f"{where}: not a token classifier (config.json architectures "
                             f"{architectures or 'none'}; expected a ...ForTokenClassification model)")
        id2label = config.get("id2label") or {}
        names = [id2label.get(str(i), "") for i in range(len(id2label))]
        if not names or all(name == f"LABEL_{i}" for i, name in enumerate(names)):
            raise UsageError(f"{where}: config.json has no label names (id2label)")
        bad = invalid_tags(names, "IOB2")
        if bad:
            tag = next(iter(bad))
            raise UsageError(f"{where}: label {tag!r} is not an IOB2 tag ({bad[tag]})")
        check_code(config, where, trusted)

    @staticmethod
    def labels(config: Mapping[str, Any]) -> list[str]:
        id2label = config["id2label"]
        return [id2label[str(i)] for i in range(len(id2label))]

    @property
    def document_context(self) -> int:
        """Sub-tokens of document context the model was trained and scored with (0: sentences alone)."""
        results = self.source.results
        return results.model.document_context if results is not None else 0

    def window(self) -> tuple[int, int]:
        """Window size and stride in sub-tokens: the run's, else the model's limit and the default stride."""
        results = self.source.results
        if results is not None:
            return results.model.max_length, results.model.stride or 0
        limits = [DEFAULT_MAX_LENGTH, self.source.config.get("max_position_embeddings") or DEFAULT_MAX_LENGTH]
        if self.tokenizer.model_max_length and self.tokenizer.model_max_length < 1_000_000:
            limits.append(int(self.tokenizer.model_max_length))
        return min(limits), DEFAULT_STRIDE

    def features(self, ds: Dataset, pool: Sequence[Dataset] = ()) -> Dataset:
        """The model's feature rows of ``ds`` as in training: windows for long sentences and, for a model that
        reads document context, each sentence with its neighbours in its document (from ``ds`` and ``pool``)."""
        return tokenize_with_context(ds, self.tokenizer, self.max_length, self.stride, self.document_context,
                                     pool=pool, label_column=None)

    def tag(self, ds: Dataset, pool: Sequence[Dataset] = ()) -> list[list[int]]:
        features = self.features(ds, pool)
        lengths = [len(tokens) for tokens in ds["tokens"]]
        if self.variant == "pytorch":
            return self._tag_pytorch(features, lengths)
        return self._tag_onnx(features, lengths)

    def row_decoder(self, onnx_dir: Path) -> Decode:
        """How one row of the ONNX graph's outputs becomes label ids (``onnx_dir``: the graph's folder)."""
        return argmax

    def _tag_pytorch(self, features: Dataset, lengths: list[int]) -> list[list[int]]:
        model = load_token_classifier(self.source.model_dir, self.source.trust_remote_code, self.source.where)
        with tempfile.TemporaryDirectory() as tmp:
            args = TrainingArguments(output_dir=tmp, per_device_eval_batch_size=self.batch_size, report_to="none",
                                     dataloader_pin_memory=False)
            trainer = NerTrainer(model=model, args=args,
                                 data_collator=DataCollatorForTokenClassification(self.tokenizer),
                                 preprocess_logits_for_metrics=argmax_logits)
            return predict_words(trainer, features, lengths)

    def _tag_onnx(self, features: Dataset, lengths: list[int]) -> list[list[int]]:
        path = self.source.onnx_file(self.variant)
        forward, names = ort_forward(ort_session(path, self.threads))
        rows = input_rows(features)
        logits = feature_logits(forward, rows, names, self.tokenizer.pad_token_id or 0, self.batch_size)
        return decoded_words(self.row_decoder(path.parent), logits, rows, features, lengths)


DECODER = TokenClassificationDecoder
