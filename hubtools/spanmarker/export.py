"""The SpanMarker family's exporter: fp32 and int8 ONNX graphs of a saved SpanMarker model.

``RUN/onnx`` gets ``model.onnx`` (fp32, :mod:`hubtools.spanmarker.onnx_export`), ``model_quantized.onnx``
(dynamic int8 weights of the encoder's linear layers; embeddings and span classifier stay fp32) and the config
and tokenizer files :class:`~hubtools.spanmarker.onnx_runtime.SpanMarkerOnnxRunner` reads. Each variant
predicts every test sentence end to end (tokenization, spreading, span selection) and is compared with
``SpanMarkerModel.predict``: agreement is the share of sentences with exactly PyTorch's entities.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hubtools.errors import ExportError
from hubtools.export.base import Exporter, VariantScores
from hubtools.export.words import load_test_split
from hubtools.results import Benchmark, BenchmarkRow, ExportSettings, ReferenceModel
from hubtools.spanmarker.evaluation import gold_tags, tags_to_spans
from hubtools.spanmarker.modeling import load_saved_spanmarker
from hubtools.spanmarker.onnx_export import export_spanmarker_onnx, quantize_spanmarker_onnx
from hubtools.spanmarker.onnx_runtime import SpanMarkerOnnxRunner
from hubtools.spanmarker.onnx_verify import benchmark_spanmarker, entity_f1, verify_spanmarker_onnx
from hubtools.units import file_bytes

VARIANT_FILES = {"onnx": "model.onnx", "onnx_int8": "model_quantized.onnx"}
REPRODUCE_TOLERANCE = 0.2  # F1 points between the recomputed PyTorch F1 and the run's test F1


class SpanMarkerExporter(Exporter):
    """SpanMarker models: fp32 and dynamic int8 variants, verified sentence by sentence."""

    name = "span-marker-onnx"
    agreement_unit = "sentence"

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
        if abs(f1 - self.scored.test.f1) * 100 > REPRODUCE_TOLERANCE:
            raise ExportError(f"{self.model_dir}: PyTorch test F1 {f1:.4f} does not reproduce the run's "
                              f"{self.scored.test.f1:.4f}; the saved model differs from the evaluated one")
        weights = sorted(self.model_dir.glob("*.safetensors"))
        return ReferenceModel(file=f"model/{weights[0].name}" if weights else "model", f1=round(f1, 6),
                              size_bytes=file_bytes(*weights), num_sentences=len(self.sentences),
                              num_words=sum(map(len, self.sentences)))

    def build_variants(self, out_dir: Path) -> dict[str, Path]:
        export_spanmarker_onnx(self.model, out_dir)
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
        from hubtools import plots
        from hubtools.run import machine_description

        sample = self.sentences[: self.cfg.benchmark_sentences or len(self.sentences)]
        runners = {name: SpanMarkerOnnxRunner.from_pretrained(path.parent, path.name)
                   for name, path in variants.items()}
        timings = benchmark_spanmarker(self.model, runners, sample)
        words_per_sentence = sum(map(len, sample)) / len(sample)
        rows = [BenchmarkRow(variant=name, threads=torch.get_num_threads(), latency_p50_ms=row["latency_ms_p50"],
                             latency_p95_ms=row["latency_ms_p95"], size_bytes=row["size_bytes"],
                             throughput_words_s=round(row["sentences_per_s"] * words_per_sentence, 1))
                for name, row in timings.items()]
        plots.benchmark_bars(rows, self.run_dir / "plots" / "benchmark.png", "SpanMarker: PyTorch vs ONNX")
        return Benchmark(machine=machine_description(), device="cpu", num_sentences=len(sample),
                         num_words=sum(map(len, sample)), batch_size=32, rows=rows,
                         note="end-to-end SpanMarker predict (tokenization and span decoding included)")

    def settings(self) -> ExportSettings:
        return ExportSettings(per_channel=self.cfg.per_channel if self.cfg.quantize else None, opset=17,
                              int8_scope="encoder_linear" if self.cfg.quantize else None)
