"""ner-uk from scratch: the cells x seeds (x variants) of recipes/ner_uk.py, run one after the other, and the
side-by-side table of their scores.

    python scripts/bench_ner_uk.py --data PATH/ner-uk/v1.0                      # gru, lstm, rnn x seeds 1, 2, 3
    python scripts/bench_ner_uk.py --data PATH --cells gru --seeds 1,2 training.num_train_epochs=4
    python scripts/bench_ner_uk.py --data PATH --cells gru \\
        --variant "no CRF: model.from_scratch.use_crf=false" --variant "no context: model.document_context=0"
    python scripts/bench_ner_uk.py --data generate:ner-uk --preset tiny --seeds 1  # offline smoke run

Every run is ``recipes/ner_uk.py --cell CELL data.source=DATA training.seed=SEED [overrides] [variant]
--no-export`` in its own process, pinned to ``--threads`` threads, into ``OUTPUT/VARIANT/CELL-sSEED``; a run
whose results.json exists is read, not run again (``--report-only`` trains nothing and leaves unfinished runs out
of the table). ``training.seed`` varies; ``data.seed`` (the validation
split carved from the training documents) stays the configuration's unless ``--vary-data-seed``. The table
gives, per variant and cell, mean ± sample standard deviation over the seeds of the test entity F1, of the
per-type test F1, of the best validation F1 and of the gap between them, the test F1 of the same model reading
every sentence alone (runs with ``model.document_context``: results.json ``extra_scores.sentences_alone``), and
the minutes per run; ``OUTPUT/bench.json`` holds every run's figures (with the weight averaging's outcome:
whether the averaged weights were kept, and the test F1 of the weights not kept).

The ner-uk figures of docs/benchmarks.md are ``python scripts/bench_ner_uk.py --data PATH/ner-uk/v1.0 --seeds 42,1,2``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hubtools.run import read_results  # noqa: E402

RECIPE = ROOT / "recipes" / "ner_uk.py"
TYPES = ("PERS", "LOC", "ORG", "MISC")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``"NAME: key=value key=value"`` -> (NAME, overrides); ``"NAME:"`` is a variant without overrides."""
    name, _, rest = text.partition(":")
    if not name.strip() or not _:
        raise argparse.ArgumentTypeError(f"--variant {text!r}: expected 'NAME: key=value ...'")
    return name.strip(), rest.split()


def folder_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "default"


def run_one(out: Path, cell: str, seed: int, args: argparse.Namespace, overrides: list[str]) -> dict | None:
    """Train one run (unless its results.json exists) and return its figures (None: not run, ``--report-only``)."""
    results = out / "results.json"
    wall_file = out.parent / f"{out.name}.wall.json"
    if not results.is_file() and args.report_only:
        return None
    if not results.is_file():
        command = [sys.executable, str(RECIPE), "--cell", cell, "--output-dir", str(out), "--no-export",
                   *(["--preset", args.preset] if args.preset else []), f"data.source={args.data}",
                   f"training.seed={seed}"]  # the overrides last, in one block
        if args.vary_data_seed:
            command.append(f"data.seed={seed}")
        command += overrides
        threads = str(args.threads)
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        print(f"[bench] {' '.join(command)}", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        started = time.time()
        with open(out.parent / f"{out.name}.log", "w") as log:
            done = subprocess.run(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode:
            raise SystemExit(f"[bench] run failed ({done.returncode}): see {out.parent / f'{out.name}.log'}")
        wall_file.write_text(json.dumps({"wall_s": round(time.time() - started, 1)}))
    data = read_results(out)
    wall = json.loads(wall_file.read_text())["wall_s"] if wall_file.is_file() else None
    history = [h for h in data.training.history if h.f1 is not None]
    best = max(history, key=lambda h: h.f1, default=None)
    alone = data.extra_scores.get("sentences_alone")
    averaging = data.averaging
    return {
        "cell": cell, "seed": seed, "run": str(out),
        "test_f1": data.test.f1,
        "per_type_f1": {t: v.f1 for t, v in data.test.per_type.items()},
        "best_validation_f1": best.f1 if best else None,
        "best_epoch": best.epoch if best else None,
        "epochs": max((h.epoch for h in data.training.history), default=None),
        "minutes": round((wall if wall is not None else data.timings.train_s) / 60, 2),
        "train_minutes": round(data.timings.train_s / 60, 2),
        "machine": data.environment.machine if data.environment else None,
        "document_context": data.model.document_context,
        "test_sentences_alone_f1": alone.values["f1"] if alone else None,
        "averaged_weights_kept": averaging.kept if averaging else None,
        "test_f1_of_weights_not_kept": averaging.test_f1_not_kept if averaging else None,
    }


def mean_std(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def summarize(rows: list[dict]) -> dict:
    """Mean and standard deviation of the figures of one (variant, cell) group."""
    def stats(values):
        values = [v for v in values if v is not None]
        return {"mean": round(statistics.mean(values), 4),
                "std": round(statistics.stdev(values), 4) if len(values) > 1 else None,
                "values": values} if values else None
    return {
        "seeds": [r["seed"] for r in rows],
        "test_f1": stats([r["test_f1"] for r in rows]),
        "per_type_f1": {t: stats([r["per_type_f1"].get(t) for r in rows]) for t in TYPES},
        "best_validation_f1": stats([r["best_validation_f1"] for r in rows]),
        "gap": stats([r["best_validation_f1"] - r["test_f1"] for r in rows]),
        "test_sentences_alone_f1": stats([r["test_sentences_alone_f1"] for r in rows]),
        "minutes": stats([r["minutes"] for r in rows]),
    }


def table(groups: dict[tuple[str, str], list[dict]]) -> str:
    header = ["variant", "cell", "n", "test F1", *TYPES, "best val F1", "val-test gap", "test F1 alone",
              "min/run"]
    lines = [header]
    for (variant, cell), rows in groups.items():
        lines.append([variant, cell, str(len(rows)), mean_std([r["test_f1"] for r in rows]),
                      *(mean_std([r["per_type_f1"].get(t) for r in rows]) for t in TYPES),
                      mean_std([r["best_validation_f1"] for r in rows]),
                      mean_std([r["best_validation_f1"] - r["test_f1"] for r in rows]),
                      mean_std([r["test_sentences_alone_f1"] for r in rows]),
                      f"{statistics.mean(r['minutes'] for r in rows):.1f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--data", required=True, help="ner-uk brat folder (with dev-test-split.txt) or source")
    parser.add_argument("--cells", default="gru,lstm,rnn")
    parser.add_argument("--seeds", default="1,2,3", help="training.seed values")
    parser.add_argument("--vary-data-seed", action="store_true",
                        help="also set data.seed to the seed (a different validation carve-out per seed)")
    parser.add_argument("--variant", action="append", type=parse_variant, default=[],
                        help="'NAME: key=value ...' overrides of one row group (repeatable); default: one group")
    parser.add_argument("--preset", help="recipe preset, e.g. tiny")
    parser.add_argument("--output-dir", default=str(ROOT / "runs" / "bench-ner-uk"))
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL threads of each run")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: the table of the runs that have finished (others are left out)")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides for every run")
    args = parser.parse_args()
    cells = [c for c in args.cells.split(",") if c]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    variants = args.variant or [("default", [])]
    out = Path(args.output_dir)
    groups: dict[tuple[str, str], list[dict]] = {}
    for name, extra in variants:
        for cell in cells:
            for seed in seeds:
                row = run_one(out / folder_name(name) / f"{cell}-s{seed}", cell, seed, args,
                              list(args.overrides) + extra)
                if row is not None:
                    groups.setdefault((name, cell), []).append(row)
    machines = sorted({r["machine"] for rows in groups.values() for r in rows if r["machine"]})
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "data": args.data,
        "cpu": cpu_model(), "machines": machines, "threads": args.threads, "seeds": seeds,
        "data_seed": "= seed" if args.vary_data_seed else "configuration's", "overrides": args.overrides,
        "variants": {name: extra for name, extra in variants},
        "groups": [{"variant": v, "cell": c, **summarize(rows), "runs": rows} for (v, c), rows in groups.items()],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nner-uk from scratch, {args.data}; seeds {seeds} (training.seed"
          f"{', data.seed' if args.vary_data_seed else ''}); overrides: {' '.join(args.overrides) or '-'}")
    for name, extra in variants:
        if extra:
            print(f"  {name}: {' '.join(extra)}")
    print(table(groups))
    print(f"mean ± sample std over seeds; CPU: {cpu_model()}, {args.threads} thread(s) per run; {report['date']}")
    print(f"report: {out / 'bench.json'}")


if __name__ == "__main__":
    main()
