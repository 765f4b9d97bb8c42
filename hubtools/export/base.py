"""The one export path: build variants -> verify each against PyTorch -> one acceptance policy -> report.

An :class:`Exporter` is implemented once per model family (transformers models through Optimum in
:mod:`hubtools.export.optimum_onnx`, SpanMarker in :mod:`hubtools.spanmarker.export`, the RNN taggers in
:mod:`hubtools.rnn.export`); :meth:`Exporter.run` is the sequence they share. The variants are written to a
temporary folder that replaces ``RUN/onnx`` only when every variant has been verified, so a crash never
leaves a half-written export; a variant the policy refuses is reported and its file removed (never
published). Sizes are bytes (:mod:`hubtools.units`); statuses are ``passed`` or ``failed`` with a reason.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from hubtools.config import ExportConfig
from hubtools.console import quiet
from hubtools.errors import ConfigError
from hubtools.families import exporter_for
from hubtools.results import (
    Benchmark,
    ExportResult,
    ExportSettings,
    ModelResult,
    ReferenceModel,
    RunResults,
    TestScores,
    VariantReport,
)
from hubtools.run import read_results, swap_folder, update_results
from hubtools.units import file_bytes, megabytes

logger = logging.getLogger("hubtools")

LOSSLESS_VARIANT = "onnx"  # the fp32 graph: it must reproduce PyTorch's predictions, not only its F1


@dataclass(frozen=True)
class ScoredModel:
    """What an export needs of a run: its model section and the test scores the saved model must reproduce."""

    model: ModelResult
    test: TestScores


@dataclass(frozen=True)
class VariantScores:
    """What verification measured for one variant on the test split."""

    f1: float
    agreement: float
    max_abs_logit_diff: float
    num_sentences: int


@dataclass(frozen=True)
class AcceptancePolicy:
    """The bounds every exported variant is held to (``ExportConfig``): its test F1 may drop at most
    ``max_f1_drop`` points below PyTorch's, and the lossless fp32 variant must also agree with PyTorch on at
    least ``min_agreement`` of the test words (or sentences, for span models)."""

    max_f1_drop: float
    min_agreement: float
    unit: str

    @classmethod
    def from_config(cls, cfg: ExportConfig, unit: str) -> AcceptancePolicy:
        minimum = cfg.min_sentence_agreement if unit == "sentence" else cfg.min_word_agreement
        return cls(cfg.max_f1_drop, minimum, unit)

    def reason_to_refuse(self, name: str, scores: VariantScores, reference_f1: float) -> str | None:
        """None when the variant passes, else why it does not."""
        if name == LOSSLESS_VARIANT and scores.agreement < self.min_agreement:
            return (f"agrees with PyTorch on {scores.agreement:.4%} of {self.unit}s "
                    f"(min {self.min_agreement:.4%})")
        drop = (reference_f1 - scores.f1) * 100
        if drop > self.max_f1_drop:
            return (f"F1 {scores.f1:.4f} is {drop:.2f} points below PyTorch {reference_f1:.4f} "
                    f"(max {self.max_f1_drop})")
        return None


class Exporter(ABC):
    """Export a run folder's model to ONNX variants, verify and benchmark them (see the module docstring).

    A family implements: :meth:`check` (fail before anything is written), :meth:`reference` (the PyTorch
    model on the test split), :meth:`build_variants`, :meth:`verify` and :meth:`benchmark`; ``scored`` is the
    run's model section and test scores.
    """

    name: ClassVar[str]
    agreement_unit: ClassVar[str] = "word"

    def __init__(self, run_dir: str | Path, scored: ScoredModel, cfg: ExportConfig) -> None:
        self.run_dir = Path(run_dir)
        self.scored = scored
        self.cfg = cfg
        self.policy = AcceptancePolicy.from_config(cfg, self.agreement_unit)

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    @property
    def onnx_dir(self) -> Path:
        return self.run_dir / "onnx"

    @abstractmethod
    def check(self) -> None:
        """Raise ExportError when the saved model cannot be exported (nothing is written yet)."""

    @abstractmethod
    def reference(self) -> ReferenceModel:
        """Score the PyTorch model on the test split (kept for :meth:`verify`); its results section."""

    @abstractmethod
    def build_variants(self, out_dir: Path) -> dict[str, Path]:
        """Write every variant (and the files that load it) into ``out_dir``; ``{variant: file}``."""

    @abstractmethod
    def verify(self, name: str, path: Path) -> VariantScores:
        """Compare one variant with the PyTorch reference on the test split."""

    def benchmark(self, variants: dict[str, Path]) -> Benchmark | None:
        """Measure PyTorch and the published ``variants`` (files in ``RUN/onnx``); None when not supported."""
        return None

    def settings(self) -> ExportSettings:
        """How the variants were built, for results.json and the card."""
        return ExportSettings()

    def run(self) -> ExportResult:
        """Build, verify, judge and publish the variants into ``RUN/onnx``, then benchmark the published ones."""
        with quiet():
            self.check()
            reference = self.reference()
        staging = self.run_dir / f".onnx.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        reports = []
        try:
            with quiet():
                variants = self.build_variants(staging)
            for name, path in variants.items():
                with quiet():
                    reports.append(self.judge(name, path, reference))
            swap_folder(staging, self.onnx_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        published = {v.name: self.run_dir / v.file for v in reports if v.passed}
        benchmark = self.benchmark(published) if self.cfg.benchmark and published else None
        return ExportResult(exporter=self.name, agreement_unit=self.agreement_unit, reference=reference,
                            variants=reports, settings=self.settings(), benchmark=benchmark)

    def judge(self, name: str, path: Path, reference: ReferenceModel) -> VariantReport:
        """Verify one variant and apply the policy; a refused variant's file is removed."""
        scores = self.verify(name, path)
        reason = self.policy.reason_to_refuse(name, scores, reference.f1)
        report = VariantReport(name=name, file=f"onnx/{path.name}", status="failed" if reason else "passed",
                               reason=reason, size_bytes=file_bytes(path), f1=round(scores.f1, 6),
                               agreement=round(scores.agreement, 6),
                               max_abs_logit_diff=round(scores.max_abs_logit_diff, 6),
                               num_sentences=scores.num_sentences)
        if reason:
            logger.warning("export: variant %s refused and %s removed (not published): %s", name, path.name, reason)
            path.unlink()
        else:
            logger.info("export: %s verified: F1 %.4f (PyTorch %.4f), %s MB", name, scores.f1, reference.f1,
                        megabytes(report.size_bytes))
        return report


def export_config(results: RunResults, **overrides) -> ExportConfig:
    """The run's ``export`` configuration with overrides applied (None values ignored), validated; for
    ``hubtools export RUN [--no-benchmark] [--device] [--max-f1-drop]``."""
    raw = results.config.get("export") or {}
    known = {f.name for f in dataclasses.fields(ExportConfig)}
    try:
        cfg = ExportConfig(**{k: v for k, v in raw.items() if k in known})
        return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    except TypeError as err:
        raise ConfigError(f"export: {err}") from None


def export_run(run_dir: str | Path, cfg: ExportConfig | None = None) -> ExportResult:
    """Export a finished run folder with its family's exporter and record the result in its results.json;
    ``cfg`` defaults to the run's ``export`` configuration."""
    results = read_results(run_dir)
    scored = ScoredModel(results.model, results.test)
    export = exporter_for(results.model.family)(run_dir, scored, cfg or export_config(results)).run()
    update_results(run_dir, lambda recorded: dataclasses.replace(recorded, export=export))
    return export
