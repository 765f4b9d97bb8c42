"""Check a finished transformers run folder against the device it trained on (the checks of ``check_cuda.sh``).

    python scripts/check_cuda_run.py RUN --device cuda --precision fp16
    python scripts/check_cuda_run.py RUN --device cpu --precision auto    # auto: what training.fp16/bf16=auto pick

Fails (exit 1, one ``FAILED`` line per problem) unless results.json records DEVICE and PRECISION and a fp32 ONNX
variant that passed the export's verification, the saved model on DEVICE reproduces the run's test F1, and the
saved model on the CPU and its fp32 ONNX file predict at least ``export.min_word_agreement`` of the test words as
the model on DEVICE does. Prints one line with the test F1, the training words/s and the inference words/s of the
saved model on DEVICE (the test split, a second, warm pass). A path that is not a run folder: exit 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from transformers import AutoModelForTokenClassification, AutoTokenizer

from hubtools.errors import ExportError, run_reporting_errors
from hubtools.export.base import AcceptancePolicy, ScoredModel, VariantScores, export_config
from hubtools.export.inference import feature_logits, ort_forward, ort_session, torch_forward
from hubtools.families.token_classification.decode import FP32_FILE
from hubtools.families.token_classification.verify import WordReference
from hubtools.results import Environment, RunResults
from hubtools.run import read_results
from hubtools.training.arguments import resolve_precision


def expected_precision(name: str) -> str:
    """``fp16``, ``bf16`` or ``fp32``; ``auto`` is what ``training.fp16=auto`` / ``bf16=auto`` pick here."""
    if name != "auto":
        return name
    fp16, bf16 = resolve_precision("auto", "auto")
    return "fp16" if fp16 else "bf16" if bf16 else "fp32"


def recorded_precision(environment: Environment) -> str:
    """The mixed precision results.json records: ``fp16``, ``bf16`` or ``fp32``."""
    return "fp16" if environment.fp16 else "bf16" if environment.bf16 else "fp32"


def record_problems(results: RunResults, device: str, precision: str) -> list[str]:
    """What results.json records that differs from the expected device, precision and a verified fp32 export."""
    problems = []
    environment = results.environment
    if environment.device.split(":")[0] != device:
        problems.append(f"results.json environment.device is {environment.device!r}, expected {device}")
    if recorded_precision(environment) != precision:
        problems.append(f"results.json records {recorded_precision(environment)} training, expected {precision}")
    fp32 = results.export.variant("onnx") if results.export else None
    if fp32 is None:
        problems.append("results.json has no fp32 ONNX variant (was the export stage skipped?)")
    elif not fp32.passed:
        problems.append(f"the fp32 ONNX variant failed the export's verification: {fp32.reason}")
    return problems


@dataclass
class DeviceCheck:
    """The saved model on the device against the saved model on the CPU and its fp32 ONNX file."""

    words_per_second: float
    cpu: VariantScores
    onnx: VariantScores


def check_on_device(run_dir: Path, results: RunResults, device: str) -> DeviceCheck:
    """Predict the test words with the saved model on ``device`` (it must reproduce the run's test F1: ExportError
    otherwise), time a second pass, and compare the CPU model and the fp32 ONNX file with those predictions."""
    model_dir = run_dir / "model"
    model = AutoModelForTokenClassification.from_pretrained(model_dir)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    forward, inputs = torch_forward(model, device)
    reference = WordReference.build(run_dir, ScoredModel(results.model, results.test), names,
                                    AutoTokenizer.from_pretrained(model_dir), forward, inputs)
    AcceptancePolicy.from_config(export_config(results), "word").check_reference(reference.model, results.test.f1,
                                                                               model_dir)
    start = time.perf_counter()
    feature_logits(forward, reference.rows, inputs, reference.pad_id)
    words_per_second = reference.model.num_words / (time.perf_counter() - start)
    cpu = reference.verify(*torch_forward(AutoModelForTokenClassification.from_pretrained(model_dir), "cpu"))
    onnx = reference.verify(*ort_forward(ort_session(run_dir / "onnx" / FP32_FILE)))
    return DeviceCheck(words_per_second, cpu, onnx)


def check_run(run_dir: Path, device: str, precision: str) -> list[str]:
    """Print the run's line; return its problems (empty: it passed)."""
    results = read_results(run_dir)
    precision = expected_precision(precision)
    problems = record_problems(results, device, precision)
    minimum = export_config(results).min_word_agreement
    speed = results.timings.train_words_per_second
    line = (f"{run_dir.name}: trained on {results.environment.device}, {recorded_precision(results.environment)}; "
            f"test F1 {results.test.f1:.4f}; training {'n/a' if speed is None else f'{speed:.0f}'} words/s")
    if not problems:
        try:
            found = check_on_device(run_dir, results, device)
        except ExportError as err:
            problems.append(f"the saved model on {device}: {err}")
        else:
            line += (f"; inference on {device} {found.words_per_second:.0f} words/s; agreement with the model on "
                     f"{device}: CPU PyTorch {found.cpu.agreement:.4f}, fp32 ONNX {found.onnx.agreement:.4f} "
                     f"(max |logit diff| {found.onnx.max_abs_logit_diff:.2g}), minimum {minimum}")
            problems += [f"{name} agrees with the model on {device} on {scores.agreement:.4f} of the test words, "
                         f"below {minimum}" for name, scores in (("the CPU model", found.cpu),
                                                                  ("the fp32 ONNX file", found.onnx))
                         if scores.agreement < minimum]
    print(line, flush=True)
    for problem in problems:
        print(f"{run_dir.name}: FAILED: {problem}", flush=True)
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a finished run folder of a transformers token classifier")
    parser.add_argument("--device", choices=("cuda", "cpu"), required=True, help="the device it trained on")
    parser.add_argument("--precision", choices=("fp16", "bf16", "fp32", "auto"), required=True,
                        help="the mixed precision it trained with (auto: what training.fp16/bf16=auto pick here)")
    args = parser.parse_args()
    problems = run_reporting_errors(parser.prog, lambda: check_run(args.run_dir, args.device, args.precision))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
