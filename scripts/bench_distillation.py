"""Distillation benchmark: teacher, student trained alone, distilled student without and with a transfer set,
over several seeds, side by side in one table.

    python scripts/bench_distillation.py --output-dir OUT --preset tiny --seeds 1,2,3 \
        --transfer '{generate: {num_sentences: 2500, seed: 1}}' 'distillation.transfer={}'
    python scripts/bench_distillation.py --output-dir OUT --data ../shared/data/conll2003 \
        --teacher PATH/TO/TEACHER --seeds 1 [section.key=value ...]

Each seed runs ``recipes/conll_distil.py`` (its configuration, ``--preset`` and the overrides; ``--data`` and
``--teacher`` stand for ``data.source`` and ``distillation.teacher``) with ``training.seed``, in a fresh process,
into ``OUTPUT_DIR/seedN/plain`` (the override ``distillation.transfer={}`` leaves out a preset's transfer set).
With ``--transfer SPEC`` a second run adds ``distillation.transfer=SPEC`` (``OUTPUT_DIR/seedN/transfer``) and reads
with the first run's teacher, so the teacher is trained once per seed (that run trains its own lone student again,
which the table does not use). Test F1 is each run's distillation
comparison (every model scored on the same test words); minutes are the run folders' total times: the teacher's,
the lone student's, and for a distilled student its search runs plus its final run. Differences are paired by
seed. Bad arguments: one line, exit 2; a failed run: the end of its log, exit 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hubtools.run import machine_description, read_results

ROOT = Path(__file__).resolve().parents[1]
TEACHER, ALONE, DISTILLED, TRANSFER = "teacher", "student alone", "student distilled", "student distilled + transfer"


@dataclass
class Measure:
    """One model of one seed: test F1, inference words/s (the comparison's), training minutes (None: not
    trained here), and the chosen (alpha, T) of a distilled student."""

    f1: float
    words_per_second: float
    minutes: float | None
    pair: tuple[float, float] | None = None


@dataclass
class SeedResult:
    """The models of one seed, by row name (:data:`TEACHER`, :data:`ALONE`, :data:`DISTILLED`, :data:`TRANSFER`)."""

    seed: int
    models: dict[str, Measure] = field(default_factory=dict)


def run_minutes(run_dir: Path) -> float:
    """A finished run folder's total time in minutes."""
    return (read_results(run_dir).timings.total_s or 0.0) / 60


def read_distillation(run_dir: Path) -> dict[str, Measure]:
    """Teacher, lone student and distilled student of one finished conll_distil run folder."""
    report = read_results(run_dir).distillation
    rows = {row.model: row for row in report.comparison}
    teacher_run = run_dir.with_name(f"{run_dir.name}-teacher")
    search = sorted(run_dir.with_name(f"{run_dir.name}-search").glob("*/results.json"))
    return {
        TEACHER: Measure(rows["teacher"].f1, rows["teacher"].words_per_second,
                         run_minutes(teacher_run) if report.teacher.trained_by_recipe else None),
        ALONE: Measure(rows["student (alone)"].f1, rows["student (alone)"].words_per_second,
                       run_minutes(run_dir.with_name(f"{run_dir.name}-student-alone"))),
        DISTILLED: Measure(rows["student (distilled)"].f1, rows["student (distilled)"].words_per_second,
                           run_minutes(run_dir) + sum(run_minutes(p.parent) for p in search),
                           (report.alpha, report.temperature)),
    }


def mean_std(values: list[float]) -> str:
    """``mean ± sample std`` (± 0 for a single value), signed when a value is negative."""
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    sign = "+" if min(values) < 0 else ""
    return f"{statistics.mean(values):{sign}.4f} ± {spread:.4f}"


def format_table(results: list[SeedResult], header: str) -> str:
    """The benchmark table: per model test F1 (mean ± std and per seed), words/s, training minutes and the chosen
    (alpha, T); then the differences paired by seed."""
    names = [n for n in (TEACHER, ALONE, DISTILLED, TRANSFER) if all(n in r.models for r in results)]
    per_seed = f"per seed ({', '.join(str(r.seed) for r in results)})"
    width = max(len(per_seed), 7 * len(results))
    lines = [header, f"{'model':<30} {'test F1':<17} {per_seed:<{width}} {'words/s':>8} {'minutes':>8}  (alpha, T)"]
    for name in names:
        measures = [r.models[name] for r in results]
        minutes = [m.minutes for m in measures if m.minutes is not None]
        lines.append(f"{name:<30} {mean_std([m.f1 for m in measures]):<17} "
                     f"{' '.join(f'{m.f1:.4f}' for m in measures):<{width}} "
                     f"{statistics.mean(m.words_per_second for m in measures):8.0f} "
                     f"{f'{statistics.mean(minutes):.2f}' if minutes else 'given':>8}  "
                     + ", ".join(f"({m.pair[0]:g}, {m.pair[1]:g})" for m in measures if m.pair))
    for name, base in ((DISTILLED, ALONE), (TRANSFER, ALONE), (DISTILLED, TEACHER), (TRANSFER, TEACHER)):
        if name in names:
            diffs = [r.models[name].f1 - r.models[base].f1 for r in results]
            lines.append(f"{name + ' - ' + base:<48} {mean_std(diffs):<17} paired by seed, above 0 in "
                         f"{sum(d > 0 for d in diffs)} of {len(diffs)}")
    return "\n".join(lines).rstrip()


def run_recipe(out: Path, args: list[str]) -> Path:
    """``python recipes/conll_distil.py --output-dir OUT --no-export ARGS`` in a fresh process, logged to
    ``OUT.log``; exits 1 with the end of the log when it fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_name(f"{out.name}.log")
    command = [sys.executable, str(ROOT / "recipes" / "conll_distil.py"), "--output-dir", str(out), "--no-export",
               *args]
    print(f"bench_distillation: {' '.join(command[1:])}", flush=True)
    with log.open("w") as file:
        code = subprocess.run(command, stdout=file, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    if code != 0:
        print("\n".join(log.read_text(errors="replace").splitlines()[-20:]), file=sys.stderr)
        sys.exit(f"bench_distillation: {out}: the recipe failed (exit {code}); log {log}")
    return out


def bench_seed(seed: int, out: Path, common: list[str], transfer: str | None) -> SeedResult:
    """The runs of one seed: the recipe, then (``transfer``) the recipe with a transfer set and the same teacher."""
    result = SeedResult(seed)
    plain = run_recipe(out / "plain", [*common, f"training.seed={seed}"])
    result.models.update(read_distillation(plain))
    if transfer is not None:
        # a teacher trained by the first run is given to the second; a given teacher is in ``common`` already
        # (results.json records it without machine paths, so it is not read back from there)
        trained = read_results(plain).distillation.teacher.trained_by_recipe
        teacher = [f"distillation.teacher={plain.with_name(f'{plain.name}-teacher') / 'model'}"] if trained else []
        with_transfer = run_recipe(out / "transfer", [*common, f"training.seed={seed}", *teacher,
                                                      f"distillation.transfer={transfer}"])
        result.models[TRANSFER] = read_distillation(with_transfer)[DISTILLED]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--output-dir", type=Path, required=True, help="folder of the runs (OUTPUT_DIR/seedN/...)")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated training seeds (default 1,2,3)")
    parser.add_argument("--preset", help="preset of recipes/conll_distil.py, e.g. tiny")
    parser.add_argument("--data", help="data.source: a CoNLL-2003 folder or dataset id")
    parser.add_argument("--teacher", help="distillation.teacher: a token-classification checkpoint (default: the "
                                          "configuration's)")
    parser.add_argument("--transfer", help="distillation.transfer for a second run per seed, e.g. "
                                           "'{split: train, skip: 2000}'")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides of the recipe")
    args = parser.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not seeds:
        parser.error("--seeds names no seed")
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        parser.error(f"overrides must be section.key=value, got {bad}")
    if args.data and not (args.data.startswith("generate:") or Path(args.data).exists()):
        parser.error(f"--data {args.data}: no such file or folder")
    common = [*(["--preset", args.preset] if args.preset else []),
              *([f"data.source={args.data}"] if args.data else []),
              *([f"distillation.teacher={args.teacher}"] if args.teacher else []), *args.overrides]
    results = [bench_seed(seed, args.output_dir / f"seed{seed}", common, args.transfer) for seed in seeds]
    header = (f"conll_distil {' '.join(common)}; {date.today()}; {machine_description()}, "
              f"{len(os.sched_getaffinity(0))} of them for these runs; seeds {', '.join(map(str, seeds))}")
    print(format_table(results, header), flush=True)


if __name__ == "__main__":
    main()
