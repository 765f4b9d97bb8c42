"""The one export pipeline: stage -> build variants -> verify each against PyTorch -> one acceptance policy -> swap
into place -> benchmark.

An :class:`Exporter` is implemented once per model family (transformers models through Optimum in
:mod:`hubtools.families.token_classification.export`, SpanMarker in :mod:`hubtools.families.span_marker.export`, the
RNN taggers in :mod:`hubtools.families.rnn_tagger.export`): a family builds and verifies its variants, and
:meth:`Exporter.run` alone does the rest. The variants are written to a staging folder next to ``RUN/onnx`` that
replaces it (:func:`swap_folder`) only when every variant has been verified, so a crash never leaves a half-written
export; a variant the policy refuses is reported and its file removed (never published). Every tolerance is a field
of ``ExportConfig`` read by :class:`AcceptancePolicy`; an option the exporter does not read is refused
(:meth:`Exporter.check_options`). Sizes are bytes (:mod:`hubtools.units`); statuses are ``passed`` or ``failed``
with a reason.
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
from hubtools.errors import ConfigError, ExportError
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
    """The bounds an export is held to (``ExportConfig``): the PyTorch model must reproduce the run's test F1 within
    ``reproduce_tolerance`` points, a traced graph must give PyTorch's logits within ``max_export_logit_diff``, every
    variant's test F1 may drop at most ``max_f1_drop`` points below PyTorch's, and the lossless fp32 variant must
    also agree with PyTorch on at least ``min_agreement`` of the test words (or sentences, for span models)."""

    max_f1_drop: float
    min_agreement: float
    unit: str
    reproduce_tolerance: float
    max_export_logit_diff: float

    @classmethod
    def from_config(cls, cfg: ExportConfig, unit: str) -> AcceptancePolicy:
        minimum = cfg.min_sentence_agreement if unit == "sentence" else cfg.min_word_agreement
        return cls(cfg.max_f1_drop, minimum, unit, cfg.reproduce_tolerance, cfg.max_export_logit_diff)

    def check_reference(self, reference: ReferenceModel, recorded_f1: float, model_dir: Path) -> None:
        """ExportError when the PyTorch model's recomputed test F1 does not reproduce the run's ``recorded_f1``."""
        if abs(reference.f1 - recorded_f1) * 100 > self.reproduce_tolerance:
            raise ExportError(f"{model_dir}: PyTorch test F1 {reference.f1:.4f} does not reproduce the run's "
                              f"{recorded_f1:.4f} (tolerance {self.reproduce_tolerance} points); the saved model, its "
                              "labels or its tokenizer differ from the evaluated ones")

    def check_export_logits(self, path: Path, diff: float) -> None:
        """ExportError when a traced graph's largest absolute logit difference from PyTorch is too large."""
        if diff > self.max_export_logit_diff:
            raise ExportError(f"{path}: check: max abs logit difference {diff:.3g} > {self.max_export_logit_diff}")

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



# ExportConfig options the pipeline and the policy read for every exporter (the agreement minimum of its unit too).
SHARED_OPTIONS = ("enabled", "max_f1_drop", "reproduce_tolerance", "benchmark", "benchmark_sentences")


class Exporter(ABC):
    """Export a run folder's model to ONNX variants, verify and benchmark them (see the module docstring).

    A family implements :meth:`check` (fail before anything is written), :meth:`reference` (the PyTorch model on
    the test split), :meth:`build_variants`, :meth:`verify`, :meth:`benchmark` (through
    :mod:`hubtools.export.benchmark`) and :meth:`settings`, and declares in ``reads`` the ``ExportConfig`` options
    it reads beyond :data:`SHARED_OPTIONS`; staging, the policy and the swap are :meth:`run`'s alone;
    ``scored`` is the run's model section and test scores.
    """

    name: ClassVar[str]
    agreement_unit: ClassVar[str] = "word"
    reads: ClassVar[tuple[str, ...]] = ()

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

    @abstractmethod
    def benchmark(self, variants: dict[str, Path]) -> Benchmark:
        """Measure PyTorch and the published ``variants`` (files in ``RUN/onnx``)."""

    def settings(self) -> ExportSettings:
        """How the variants were built, for results.json and the card."""
        return ExportSettings()

    @classmethod
    def check_options(cls, cfg: ExportConfig) -> None:
        """ConfigError naming the options set away from their defaults that this exporter does not read."""
        read = {*SHARED_OPTIONS, f"min_{cls.agreement_unit}_agreement", *cls.reads}
        unused = [f.name for f in dataclasses.fields(cfg) if f.name not in read and getattr(cfg, f.name) != f.default]
        if unused:
            raise ConfigError(f"{', '.join(f'export.{name}' for name in unused)}: not read by the {cls.name} "
                              "exporter of this model family; leave it out")

    def run(self) -> ExportResult:
        """Check the options, build, verify, judge and swap the variants into ``RUN/onnx``, then benchmark the
        published ones."""
        self.check_options(self.cfg)
        with quiet():
            self.check()
            reference = self.reference()
        self.policy.check_reference(reference, self.scored.test.f1, self.model_dir)
        staging = self.run_dir / f".onnx.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            with quiet():
                variants = self.build_variants(staging)
            reports = []
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
