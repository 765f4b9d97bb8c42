"""ONNX export and verification of RNN taggers (TorchScript-based ``torch.onnx.export``, dynamic axes).

The graph takes ``input_ids`` and ``attention_mask`` (int64, batch x sequence, right-padded) and returns

* ``logits`` (batch x sequence x labels) for a model without CRF: argmax gives the tags;
* ``emissions`` for a CRF model: the scores before the CRF. The CRF is not in the graph; its
  parameters are written to ``crf.json`` (``start``, ``end``, ``transitions[from][to]``) and
  :func:`viterbi_decode` turns emissions into tags exactly like the PyTorch model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer

from hubtools.rnn.modeling_rnn_tagger import RnnTaggerForTokenClassification

CRF_FILE = "crf.json"


class _Emissions(torch.nn.Module):
    def __init__(self, model: RnnTaggerForTokenClassification):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.emissions(input_ids, attention_mask)


def export_rnn_onnx(model_dir: str | Path, out_dir: str | Path, opset: int = 17) -> Path:
    """Export ``model_dir`` (save_pretrained folder) to ``out_dir/model.onnx``; the config, the tokenizer
    and, for a CRF model, ``crf.json`` are written beside it. Returns the ONNX path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = RnnTaggerForTokenClassification.from_pretrained(model_dir).eval()
    output_name = "emissions" if model.crf is not None else "logits"
    dummy = torch.tensor([[2, 3, 4], [5, 6, 0]]).clamp(max=model.config.vocab_size - 1)
    onnx_path = out_dir / "model.onnx"
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
    if model.crf is not None:
        crf = {name: getattr(model.crf, name).tolist() for name in ("start", "end", "transitions")}
        (out_dir / CRF_FILE).write_text(json.dumps(crf))
    return onnx_path


def viterbi_decode(emissions: np.ndarray, attention_mask: np.ndarray, crf: dict) -> np.ndarray:
    """Best tag path (batch x sequence) for right-padded ``emissions`` with the ``crf.json`` parameters;
    padding positions repeat the last tag."""
    start, end, trans = (np.asarray(crf[k], dtype=np.float64) for k in ("start", "end", "transitions"))
    paths = np.zeros(attention_mask.shape, dtype=np.int64)
    for b, length in enumerate(attention_mask.sum(axis=1)):
        if length == 0:
            continue
        score = start + emissions[b, 0]
        pointers = []
        for t in range(1, length):
            total = score[:, None] + trans
            pointers.append(total.argmax(axis=0))
            score = total.max(axis=0) + emissions[b, t]
        tag = int((score + end).argmax())
        paths[b, length - 1 :] = tag
        for t in range(length - 1, 0, -1):
            tag = int(pointers[t - 1][tag])
            paths[b, t - 1] = tag
    return paths


def verify_rnn_onnx(model_dir: str | Path, onnx_path: str | Path, sentences: Sequence[list[str]]) -> dict:
    """Run ``sentences`` (word lists, one padded batch) through PyTorch and ONNX Runtime.

    Returns ``max_abs_diff`` between the exported outputs (logits or emissions) at attended positions and
    ``argmax_agreement``: the share of attended positions where the predicted tags agree (Viterbi on
    both sides for a CRF model).
    """
    import onnxruntime as ort

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = RnnTaggerForTokenClassification.from_pretrained(model_dir).eval()
    batch = tokenizer(list(sentences), is_split_into_words=True, padding=True, return_tensors="np")
    feeds = {
        "input_ids": batch["input_ids"].astype(np.int64),
        "attention_mask": batch["attention_mask"].astype(np.int64),
    }
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, feeds)
    with torch.no_grad():
        ids, mask = torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"])
        torch_out = model.emissions(ids, mask).numpy()
        torch_tags = model(input_ids=ids, attention_mask=mask).logits.argmax(-1).numpy()
    if model.crf is not None:
        onnx_tags = viterbi_decode(
            onnx_out, feeds["attention_mask"], json.loads((Path(onnx_path).parent / CRF_FILE).read_text())
        )
    else:
        onnx_tags = onnx_out.argmax(-1)
    attended = feeds["attention_mask"].astype(bool)
    return {
        "max_abs_diff": float(np.abs(onnx_out - torch_out)[attended].max()),
        "argmax_agreement": float((onnx_tags == torch_tags)[attended].mean()),
    }
