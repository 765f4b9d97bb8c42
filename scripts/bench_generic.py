"""The generic recipe's defaults against the stock Trainer recipe, side by side in one run.

    python scripts/bench_generic.py --data ../shared/data/conll2003 --model PATH/TO/ENCODER \
        [--ood ../shared/data/wikiann-en --ood-option strip_token_prefix=en:] [--seeds 42,1,2] \
        [--variant "NAME: key=value ..."] [--output-dir runs/bench-generic]

The stock run is transformers' ``run_ner`` recipe tuned as the issue states it: the label on the first sub-token
of each word (-100 elsewhere), ``DataCollatorForTokenClassification``, 3 epochs, learning rate 1e-4, batches
of 16 sentences grouped by length, evaluation on the validation split after every epoch, the final model.
Ours is ``recipes/ner.py`` with its defaults (plus each ``--variant``'s overrides). Every run is scored on the
test split with seqeval on words; with ``--ood`` every model is also scored on that dataset's test split with
``hubtools evaluate``. Training time counts the validation passes (the Trainer's ``train()``; ours:
``timings.train_s``); CPU seconds (user + system of the run) are printed beside wall seconds because they move
less when other work shares the machine. Each run is one process, one after the other, with the same threads.
A finished run's row is kept beside its folder (``NAME-sSEED.json``, with the machine it ran on): running the
command again skips it and only adds out-of-domain scores that are missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stock_run(data: str, model: str, output_dir: Path, seed: int) -> dict:
    """The stock recipe in this process (run by a child process of the benchmark)."""
    import numpy as np
    from seqeval.metrics import f1_score
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from hubtools.data.loading import load_local

    set_seed(seed)
    dsd = load_local(data)
    names = dsd["train"].features["ner_tags"].feature.names
    tokenizer = AutoTokenizer.from_pretrained(model)

    def encode(batch: dict) -> dict:
        enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=512)
        labels = []
        for i, tags in enumerate(batch["ner_tags"]):
            previous, row = None, []
            for word in enc.word_ids(i):
                row.append(-100 if word is None or word == previous else tags[word])
                previous = word
            labels.append(row)
        enc["labels"] = labels
        return enc

    features = {s: ds.map(encode, batched=True, remove_columns=ds.column_names) for s, ds in dsd.items()}

    def tags(predictions: np.ndarray, labels: np.ndarray) -> tuple[list[list[str]], list[list[str]]]:
        gold, pred = [], []
        for p_row, l_row in zip(predictions, labels, strict=True):
            keep = l_row != -100
            gold.append([names[i] for i in l_row[keep]])
            pred.append([names[i] for i in p_row[keep]])
        return gold, pred

    def metrics(output) -> dict:
        gold, pred = tags(output.predictions.argmax(-1), output.label_ids)
        return {"f1": f1_score(gold, pred)}

    args = TrainingArguments(output_dir=str(output_dir), learning_rate=1e-4, per_device_train_batch_size=16,
                             per_device_eval_batch_size=32, num_train_epochs=3, group_by_length=True,
                             eval_strategy="epoch", save_strategy="no", report_to="none", seed=seed,
                             disable_tqdm=True, use_cpu=True)
    trainer = Trainer(model=AutoModelForTokenClassification.from_pretrained(
                          model, num_labels=len(names), id2label=dict(enumerate(names)),
                          label2id={n: i for i, n in enumerate(names)}),
                      args=args, train_dataset=features["train"], eval_dataset=features["validation"],
                      data_collator=DataCollatorForTokenClassification(tokenizer), compute_metrics=metrics)
    started = time.time()
    trainer.train()
    train_s = time.time() - started
    output = trainer.predict(features["test"])
    trainer.save_model(str(output_dir / "model"))
    tokenizer.save_pretrained(output_dir / "model")
    return {"f1": metrics(output)["f1"], "train_s": train_s, "epochs": 3}


def ours_run(data: str, model: str, output_dir: Path, seed: int, overrides: list[str]) -> dict:
    """``recipes/ner.py`` in a child process; its results.json."""
    cmd = [sys.executable, str(ROOT / "recipes" / "ner.py"), "--data", data, "--model", model, "--output-dir",
           str(output_dir), "--no-export", f"training.seed={seed}", *overrides]
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(output_dir.parent / f"{output_dir.name}.log", "w") as log:
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    results = json.loads((output_dir / "results.json").read_text())
    history = results["training"]["history"]
    return {"f1": results["test"]["f1"], "train_s": results["timings"]["train_s"],
            "epochs": max((row["epoch"] for row in history), default=0),
            "sentences_alone": results.get("extra_scores", {}).get("sentences_alone", {}).get("values", {}).get("f1")}


def ood_f1(run_dir: Path, ood: str, options: list[str]) -> float | None:
    """The run's model scored on the out-of-domain test split with ``hubtools evaluate``."""
    out = run_dir / "ood.json"
    cmd = [sys.executable, "-m", "hubtools", "evaluate", str(run_dir), "--data", ood, "--output", str(out),
           *[arg for option in options for arg in ("--data-option", option)]]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  hubtools evaluate failed: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return json.loads(out.read_text())["scores"]["f1"]


def timed(fn, *args) -> tuple[dict, float]:
    """``fn(*args)`` run in a child process (the stock run through ``--stock-child``), with its CPU seconds."""
    before = children_cpu_seconds()
    row = fn(*args)
    return row, children_cpu_seconds() - before


def run_stock_child(data: str, model: str, output_dir: Path, seed: int) -> dict:
    output_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--stock-child", "--data", data, "--model", model, "--output-dir",
           str(output_dir), "--seeds", str(seed)]
    with open(output_dir.parent / f"{output_dir.name}.log", "w") as log:
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    return json.loads((output_dir / "stock.json").read_text())


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").lower()


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f} (1 run)"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--ood", help="a second dataset scored with hubtools evaluate (its test split)")
    parser.add_argument("--ood-option", action="append", default=[], help="data key=value for --ood")
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--variant", action="append", default=[], help='"NAME: key=value ..." of ours')
    parser.add_argument("--no-stock", action="store_true")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "runs" / "bench-generic")
    parser.add_argument("--stock-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.stock_child:
        row = stock_run(args.data, args.model, args.output_dir, seeds[0])
        (args.output_dir / "stock.json").write_text(json.dumps(row))
        return
    variants = {"ours (defaults)": []}
    for spec in args.variant:
        name, _, overrides = spec.partition(":")
        variants[name.strip()] = overrides.split()
    machine = (f"{cpu_model()}, {len(os.sched_getaffinity(0))} of {os.cpu_count()} CPUs, "
               f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; {time.strftime('%Y-%m-%d')}")
    print(machine, flush=True)
    rows: dict[str, list[dict]] = {}
    for seed in seeds:
        runs = [] if args.no_stock else [("stock", lambda out, s=seed: run_stock_child(args.data, args.model, out, s))]
        runs += [(name, lambda out, s=seed, o=overrides: ours_run(args.data, args.model, out, s, o))
                 for name, overrides in variants.items()]
        for name, fn in runs:
            out = args.output_dir / f"{slug(name)}-s{seed}"
            saved = out.parent / f"{out.name}.json"
            if saved.is_file():  # finished before: kept, only its missing out-of-domain score is added
                row = json.loads(saved.read_text())
            else:
                row, cpu = timed(fn, out)
                row.update(cpu_s=cpu, seed=seed, machine=machine)
            if args.ood and row.get("ood_f1") is None:
                row["ood_f1"] = ood_f1(out if (out / "results.json").is_file() else out / "model", args.ood,
                                       args.ood_option)
            saved.write_text(json.dumps(row))
            rows.setdefault(name, []).append(row)
            print(f"  {name} seed {seed}: {json.dumps(row)}", flush=True)
    stock_s = statistics.mean(r["train_s"] for r in rows["stock"]) if "stock" in rows else None
    print("\n| run | test F1 | sentences alone | OOD F1 | epochs | train s (with validation) | vs stock | CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, runs in rows.items():
        train_s = statistics.mean(r["train_s"] for r in runs)
        ood = [r["ood_f1"] for r in runs if r.get("ood_f1") is not None]
        alone = [r["sentences_alone"] for r in runs if r.get("sentences_alone") is not None]
        ratio = f"{train_s / stock_s:.2f}x" if stock_s else "-"
        print(f"| {name} | {summary([r['f1'] for r in runs])} | {summary(alone)} | {summary(ood)} | "
              f"{statistics.mean(r['epochs'] for r in runs):.1f} | {train_s:.0f} | {ratio} | "
              f"{statistics.mean(r['cpu_s'] for r in runs):.0f} |")


if __name__ == "__main__":
    main()
