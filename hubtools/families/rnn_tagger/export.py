"""The RNN-tagger family's exporter: ``torch.onnx.export`` (TorchScript-based, dynamic axes) and verification.

The graph takes ``input_ids`` and ``attention_mask`` (int64, batch x sequence, right-padded) and returns

* ``logits`` (batch x sequence x labels) for a model without CRF: argmax gives the tags;
* ``emissions`` for a CRF model: the scores before the CRF. The CRF is not in the graph; its
  parameters are written to ``crf.json`` (``start``, ``end``, ``transitions[from][to]``) and
  :func:`viterbi_decode` turns emissions into tags exactly like the PyTorch model. A model with
  ``config.word_starts`` also writes ``word_starts`` (1 per vocabulary entry that starts a word): the CRF then runs
  over the word starts and every other piece takes its word's tag.

:class:`RnnExporter` verifies the file on every test word like the transformers exporter
(:mod:`hubtools.families.token_classification.verify`), comparing the emissions and the decoded tags of both sides.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer

from hubtools.errors import ExportError
from hubtools.export.base import Exporter, VariantScores
from hubtools.export.benchmark import benchmark_run
from hubtools.export.inference import Forward, ort_forward, ort_session
from hubtools.families.rnn_tagger.modeling_rnn_tagger import RnnTaggerForTokenClassification
from hubtools.families.token_classification.decode import FP32_FILE, Decode, argmax
from hubtools.families.token_classification.verify import WordReference
from hubtools.results import Benchmark, ExportSettings, ReferenceModel

CRF_FILE = "crf.json"


class _Emissions(torch.nn.Module):
    def __init__(self, model: RnnTaggerForTokenClassification):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.emissions(input_ids, attention_mask)


OPSET = 17


def export_rnn_onnx(model_dir: str | Path, out_dir: str | Path, opset: int = OPSET) -> Path:
    """Export ``model_dir`` (save_pretrained folder) to ``out_dir/model.onnx``; the config, the tokenizer
    and, for a CRF model, ``crf.json`` are written beside it. Returns the ONNX path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = RnnTaggerForTokenClassification.from_pretrained(model_dir).eval()
    output_name = "emissions" if model.crf is not None else "logits"
    dummy = torch.tensor([[2, 3, 4], [5, 6, 0]]).clamp(max=model.config.vocab_size - 1)
    onnx_path = out_dir / FP32_FILE
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            _Emissions(model),
            (dummy, torch.tensor([[1, 1, 1], [1, 1, 0]])),
            str(onnx_path),
            input_names=["input_ids", "attention_mask"],
            output_names=[output_name],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, output_name: axes},
            opset_version=opset,
            dynamo=False,
        )
    model.config.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out_dir)
    crf = crf_parameters(model)
    if crf is not None:
        (out_dir / CRF_FILE).write_text(json.dumps(crf))
    return onnx_path


def crf_parameters(model: RnnTaggerForTokenClassification) -> dict | None:
    """What ``crf.json`` holds (None without CRF): ``start``, ``end``, ``transitions`` and, for a model with
    ``config.word_starts``, ``word_starts``."""
    if model.crf is None:
        return None
    crf = {name: getattr(model.crf, name).tolist() for name in ("start", "end", "transitions")}
    if model.config.word_starts:
        crf["word_starts"] = model.word_starts.tolist()
    return crf


def viterbi_decode(emissions: np.ndarray, attention_mask: np.ndarray, crf: dict,
                   input_ids: np.ndarray | None = None) -> np.ndarray:
    """Best tag path (batch x sequence) for right-padded ``emissions`` with the ``crf.json`` parameters.

    The path runs over the attended positions, or, when ``crf`` has ``word_starts`` (a model with
    ``config.word_starts``, ``input_ids`` required), over the pieces that start a word (and the first piece);
    every other position repeats the tag of the last decoded position before it."""
    start, end, trans = (np.asarray(crf[k], dtype=np.float64) for k in ("start", "end", "transitions"))
    attended = attention_mask.astype(bool)
    if "word_starts" in crf:
        if input_ids is None:
            raise ValueError("this CRF decodes words: pass the input_ids")
        decoded = attended & (np.asarray(crf["word_starts"])[input_ids] > 0)
        decoded[:, 0] |= attended[:, 0]
    else:
        decoded = attended
    paths = np.zeros(attention_mask.shape, dtype=np.int64)
    for b in range(attention_mask.shape[0]):
        positions = np.flatnonzero(decoded[b])
        if positions.size == 0:
            continue
        score = start + emissions[b, positions[0]]
        pointers = []
        for t in positions[1:]:
            total = score[:, None] + trans
            pointers.append(total.argmax(axis=0))
            score = total.max(axis=0) + emissions[b, t]
        tags = [int((score + end).argmax())]
        for pointer in reversed(pointers):
            tags.append(int(pointer[tags[-1]]))
        tags = np.asarray(tags[::-1])
        paths[b] = tags[np.clip(np.cumsum(decoded[b]) - 1, 0, None)]
    return paths


def emissions_forward(model: RnnTaggerForTokenClassification) -> tuple[Forward, list[str]]:
    """The PyTorch side of the exported graph: emissions (or logits without CRF) of a padded batch."""
    model.eval()

    def forward(batch: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            ids, mask = torch.from_numpy(batch["input_ids"]), torch.from_numpy(batch["attention_mask"])
            return model.emissions(ids, mask).float().numpy()

    return forward, ["input_ids", "attention_mask"]


def decoder(crf: dict | None) -> Decode:
    """Label ids of one row of outputs: Viterbi with the CRF parameters (``crf.json``), else argmax."""
    if crf is None:
        return argmax

    def decode(row: np.ndarray, input_ids: Sequence[int]) -> np.ndarray:
        return viterbi_decode(row[None], np.ones((1, len(row)), dtype=np.int64), crf,
                              np.asarray(input_ids, dtype=np.int64)[None])[0]

    return decode


class RnnExporter(Exporter):
    """RNN taggers: the fp32 graph, verified on every test word (emissions and Viterbi tags)."""

    name = "rnn-onnx"
    agreement_unit = "word"
    reads = ("device",)

    def check(self) -> None:
        if not (self.model_dir / "config.json").is_file():
            raise ExportError(f"{self.model_dir}: no config.json; the run has no saved tagger to export")

    def reference(self) -> ReferenceModel:
        model = RnnTaggerForTokenClassification.from_pretrained(self.model_dir).eval()
        names = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self.words = WordReference.build(self.run_dir, self.scored, names,
                                         AutoTokenizer.from_pretrained(self.model_dir), *emissions_forward(model),
                                         decode=decoder(crf_parameters(model)))
        return self.words.model

    def build_variants(self, out_dir: Path) -> dict[str, Path]:
        return {"onnx": export_rnn_onnx(self.model_dir, out_dir)}

    def verify(self, name: str, path: Path) -> VariantScores:
        return self.words.verify(*ort_forward(ort_session(path, device=self.cfg.device)))

    def benchmark(self, variants: dict[str, Path]) -> Benchmark:
        return benchmark_run(self.run_dir, self.scored, variants, self.cfg)

    def settings(self) -> ExportSettings:
        return ExportSettings(opset=OPSET)

EXPORTER = RnnExporter
