"""RNN taggers tagging words: the token-classification decoder, the CRF's Viterbi decoding for ONNX.

PyTorch runs the tagger's own forward (a CRF model decodes inside it); the ONNX graph returns a CRF model's
emissions, decoded with the CRF parameters the exporter writes beside it (``onnx/crf.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

from hubtools.families.rnn_tagger.export import CRF_FILE, decoder
from hubtools.families.token_classification.decode import FP32_FILE, Decode, TokenClassificationDecoder


class RnnTaggerDecoder(TokenClassificationDecoder):
    """An RNN tagger (with or without CRF) tagging words."""

    variant_files = {"onnx": FP32_FILE}  # the exporter writes the fp32 graph only

    def row_decoder(self, onnx_dir: Path) -> Decode:
        crf = onnx_dir / CRF_FILE
        return decoder(json.loads(crf.read_text(encoding="utf-8")) if crf.is_file() else None)


DECODER = RnnTaggerDecoder
