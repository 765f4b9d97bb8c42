"""The SpanMarker family's exporter: fp32 and int8 ONNX graphs of a saved SpanMarker model.

``RUN/onnx`` gets ``model.onnx`` (fp32, :mod:`hubtools.families.span_marker.onnx_export`), ``model_quantized.onnx``
(dynamic int8 weights of the encoder's linear layers; embeddings and span classifier stay fp32) and the config
and tokenizer files :class:`~hubtools.families.span_marker.onnx_runtime.SpanMarkerOnnxRunner` reads. Each variant
predicts every test sentence end to end (tokenization, spreading, span selection) and is compared with
``SpanMarkerModel.predict``: agreement is the share of sentences with exactly PyTorch's entities. The benchmark
times the same end-to-end ``predict`` of both sides (:func:`hubtools.export.benchmark.benchmark_in_process`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch

from hubtools.errors import ExportError
from hubtools.export.base import Exporter, VariantScores
from hubtools.export.benchmark import benchmark_in_process
from hubtools.export.timing import BATCH_SIZE, Predict, Workload
from hubtools.export.words import load_test_split
from hubtools.families.span_marker.decode import VARIANT_FILES, gold_tags, tags_to_spans
from hubtools.families.span_marker.model import load_saved_spanmarker
from hubtools.families.span_marker.onnx_export import export_spanmarker_onnx, quantize_spanmarker_onnx
from hubtools.families.span_marker.onnx_runtime import SpanMarkerOnnxRunner
from hubtools.families.span_marker.onnx_verify import entity_f1, verify_spanmarker_onnx
from hubtools.results import Benchmark, ExportSettings, ReferenceModel
from hubtools.units import file_bytes


class SpanMarkerExporter(Exporter):
    """SpanMarker models: fp32 and dynamic int8 variants, verified sentence by sentence."""

    name = "span-marker-onnx"
    agreement_unit = "sentence"
    reads = ("quantize", "per_channel", "max_export_logit_diff")

    def check(self) -> None:
        if not (self.model_dir / "config.json").is_file():
            raise ExportError(f"{self.model_dir}: no config.json; the run has no saved SpanMarker model")
        self.model = load_saved_spanmarker(self.model_dir).eval()
        test = load_test_split(self.run_dir, self.scored)
        self.sentences = list(test["tokens"])
        self.gold = [tags_to_spans(tags) for tags in gold_tags(test)]

    def reference(self) -> ReferenceModel:
        self.torch_entities = self.model.predict(self.sentences, batch_size=32)
        f1 = entity_f1(self.torch_entities, self.gold)
        weights = sorted(self.model_dir.glob("*.safetensors"))
        return ReferenceModel(file=f"model/{weights[0].name}" if weights else "model", f1=round(f1, 6),
                              size_bytes=file_bytes(*weights), num_sentences=len(self.sentences),
                              num_words=sum(map(len, self.sentences)))

    def build_variants(self, out_dir: Path) -> dict[str, Path]:
        export_spanmarker_onnx(self.model, out_dir, policy=self.policy)
        if self.cfg.quantize:
            quantize_spanmarker_onnx(out_dir / VARIANT_FILES["onnx"], out_dir / VARIANT_FILES["onnx_int8"],
                                     per_channel=self.cfg.per_channel)
        return {name: out_dir / file for name, file in VARIANT_FILES.items() if (out_dir / file).is_file()}

    def verify(self, name: str, path: Path) -> VariantScores:
        runner = SpanMarkerOnnxRunner.from_pretrained(path.parent, path.name)
        report = verify_spanmarker_onnx(self.model, runner, self.sentences, self.gold,
                                        torch_entities=self.torch_entities)
        return VariantScores(f1=report["f1_onnx"], agreement=report["sentence_agreement"],
                             max_abs_logit_diff=report["max_abs_logit_diff"], num_sentences=len(self.sentences))

    def benchmark(self, variants: dict[str, Path]) -> Benchmark:
        """End-to-end ``predict`` of both sides (tokenization and span decoding included)."""
        sample = self.sentences[: self.cfg.benchmark_sentences or len(self.sentences)]
        lengths = list(map(len, sample))
        threads = torch.get_num_threads()
        try:
            return benchmark_in_process(self.run_dir, variants, self.cfg, self.predictor,
                                        Workload.of(sample, lengths, lengths, list), len(sample),
                                        "end-to-end SpanMarker predict (tokenization and span decoding included)")
        finally:
            torch.set_num_threads(threads)

    def predictor(self, name: str, path: Path, threads: int | None) -> Predict:
        """``predict`` of PyTorch (``pytorch``) or of a variant's file with ``threads`` threads."""
        if name == "pytorch":
            torch.set_num_threads(threads or torch.get_num_threads())
            return partial(self.model.predict, batch_size=BATCH_SIZE)
        runner = SpanMarkerOnnxRunner.from_pretrained(path.parent, path.name, threads=threads)
        return partial(runner.predict, batch_size=BATCH_SIZE)

    def settings(self) -> ExportSettings:
        return ExportSettings(per_channel=self.cfg.per_channel if self.cfg.quantize else None, opset=17,
                              int8_scope="encoder_linear" if self.cfg.quantize else None)

EXPORTER = SpanMarkerExporter
