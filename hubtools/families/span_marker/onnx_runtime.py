"""Run an exported SpanMarker ONNX folder with the pre- and post-processing of ``SpanMarkerModel.predict``.

Tokenization (``SpanMarkerTokenizer``), splitting of sentences with more spans than fit one pass
(``Trainer.spread_sample``) and batching (``SpanMarkerDataCollator``) are span_marker's own code; the
greedy selection of non-overlapping spans by descending score is copied from ``SpanMarkerModel.predict``.
Document-level context (a ``Dataset`` with ``document_id``/``sentence_id``) is not supported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from span_marker.configuration import SpanMarkerConfig
from span_marker.data_collator import SpanMarkerDataCollator
from span_marker.tokenizer import SpanMarkerTokenizer
from span_marker.trainer import Trainer

from hubtools.errors import ExportError
from hubtools.export.inference import session_options

Entity = dict[str, Any]
Inputs = str | list[str] | list[list[str]]


def is_single_input(inputs: Inputs) -> bool:
    """True for one sentence: a string, or a list of words without spaces (SpanMarker's own rule)."""
    return isinstance(inputs, str) or all(isinstance(word, str) and " " not in word for word in inputs)


def compact(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A collated batch cut to the positions any of its samples uses.

    ``SpanMarkerDataCollator`` pads every sample to ``model_max_length + 2 * marker_max_length`` positions;
    a sample uses its text, then ``num_marker_pairs`` start and as many end markers from
    ``start_marker_indices`` on, and attends to nothing else. The rest is masked padding, so dropping it
    changes no logit of a used marker pair and saves most of the work on short sentences.
    """
    used = int((batch["start_marker_indices"] + 2 * batch["num_marker_pairs"]).max())
    used += used % 2  # the graph reads (sequence // 2) marker slots
    out = dict(batch)
    for name in ("input_ids", "position_ids"):
        out[name] = batch[name][:, :used]
    out["attention_mask"] = batch["attention_mask"][:, :used, :used]
    return out


class SpanMarkerOnnxRunner:
    """SpanMarker inference on onnxruntime; ``predict`` returns what ``SpanMarkerModel.predict`` returns."""

    def __init__(
        self,
        session: ort.InferenceSession,
        config: SpanMarkerConfig,
        tokenizer: SpanMarkerTokenizer,
        path: Path | None = None,
    ) -> None:
        self.session = session
        self.config = config
        self.tokenizer = tokenizer
        self.collator = SpanMarkerDataCollator(
            tokenizer=tokenizer, marker_max_length=config.marker_max_length
        )
        self.path = path
        self.input_names = [node.name for node in session.get_inputs()]

    @classmethod
    def from_pretrained(
        cls, onnx_dir: str | os.PathLike, file_name: str = "model.onnx", providers: list[str] | None = None,
        threads: int | None = None,
    ) -> SpanMarkerOnnxRunner:
        """Load ``onnx_dir/file_name`` with the SpanMarker config and tokenizer saved beside it, in the hubtools
        session (:func:`hubtools.export.inference.session_options`; ``threads`` intra-op threads, None: all
        cores)."""
        onnx_dir = Path(onnx_dir)
        path = onnx_dir / file_name
        if not path.is_file():
            raise ExportError(f"{path}: no such ONNX file")
        config = SpanMarkerConfig.from_pretrained(onnx_dir)
        tokenizer = SpanMarkerTokenizer.from_pretrained(str(onnx_dir), config=config)
        session = ort.InferenceSession(str(path), session_options(threads),
                                       providers=providers or ["CPUExecutionProvider"])
        return cls(session, config, tokenizer, path=path)

    def encode(self, sentences: list[str] | list[list[str]]) -> tuple[list[dict[str, Any]], Any]:
        """Tokenize and spread sentences into model samples (each keeps its sentence index as ``id``).

        Returns the samples and the tokenizer's ``BatchEncoding`` (for word-to-character offsets).
        """
        features = self.tokenizer({"tokens": sentences}, return_num_words=True, return_batch_encoding=True)
        batch_encoding = features.pop("batch_encoding")
        features["id"] = list(range(len(sentences)))
        spread = Trainer.spread_sample(
            features,
            model_max_length=self.tokenizer.model_max_length,
            marker_max_length=self.config.marker_max_length,
        )
        samples = [dict(zip(spread, values, strict=True)) for values in zip(*spread.values(), strict=True)]
        return samples, batch_encoding

    def forward(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """Span logits (batch, marker pairs, labels) for one collated batch (callers cut it with
        :func:`compact` first; the graph takes either)."""
        feeds = {name: batch[name].numpy() for name in self.input_names}
        return self.session.run(None, feeds)[0]

    def predict(self, sentences: Inputs, batch_size: int = 4) -> list[Entity] | list[list[Entity]]:
        """Entities per sentence: span, label, score and char (string input) or word (word list) indices.

        One sentence gives a list of entity dicts, several give a list of such lists.
        """
        if not sentences:
            return []
        single = is_single_input(sentences)
        inputs = [sentences] if single else list(sentences)
        samples, batch_encoding = self.encode(inputs)
        scores: list[list[float]] = [[] for _ in inputs]
        labels: list[list[int]] = [[] for _ in inputs]
        num_words = [0] * len(inputs)
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            logits = torch.from_numpy(self.forward(compact(self.collator(chunk))))
            chunk_scores, chunk_labels = logits.softmax(-1).max(-1)
            for row, sample in enumerate(chunk):
                index, pairs = sample["id"], sample["num_spans"]
                scores[index].extend(chunk_scores[row, :pairs].tolist())
                labels[index].extend(chunk_labels[row, :pairs].tolist())
                num_words[index] = sample["num_words"]
        entities = [
            self._select(inputs[i], i, num_words[i], scores[i], labels[i], batch_encoding)
            for i in range(len(inputs))
        ]
        return entities[0] if single else entities

    def _select(
        self,
        sentence: str | list[str],
        sample_idx: int,
        num_words: int,
        scores: list[float],
        labels: list[int],
        batch_encoding: Any,
    ) -> list[Entity]:
        """Greedy non-overlapping spans by descending score, as ``SpanMarkerModel.predict`` does."""
        spans = list(self.tokenizer.get_all_valid_spans(num_words, self.config.entity_max_length))
        if not len(spans) == len(scores) == len(labels):
            raise ExportError(
                f"{self.path}: {len(spans)} spans but {len(scores)} scores for sentence {sample_idx}"
            )
        word_selected = [False] * num_words
        found = []
        for (word_start, word_end), score, label_id in sorted(
            zip(spans, scores, labels, strict=True), key=lambda item: item[1], reverse=True
        ):
            if label_id == self.config.outside_id or any(word_selected[word_start:word_end]):
                continue
            entity: Entity
            if isinstance(sentence, str):
                char_start = batch_encoding.word_to_chars(sample_idx, word_start).start
                char_end = batch_encoding.word_to_chars(sample_idx, word_end - 1).end
                entity = {"span": sentence[char_start:char_end], "label": self.config.id2label[label_id]}
                entity.update(score=score, char_start_index=char_start, char_end_index=char_end)
            else:
                entity = {"span": sentence[word_start:word_end], "label": self.config.id2label[label_id]}
                entity.update(score=score, word_start_index=word_start, word_end_index=word_end)
            found.append(entity)
            word_selected[word_start:word_end] = [True] * (word_end - word_start)
        position = "char_start_index" if isinstance(sentence, str) else "word_start_index"
        return sorted(found, key=lambda entity: entity[position])
