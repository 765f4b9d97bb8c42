"""Training throughput: the stock transformers NER recipe, the same with group_by_length, and hubtools.

    python scripts/bench_train.py --data ../shared/data/conll2003 --model PATH [--train-sentences 3000]
        [--epochs 1] [--test-sentences N] [--threads 1] [--max-tokens 1024] [--ours-lr 5e-4]
        [--variants stock,grouped,ours[,ours-fp32,budget,ours-compile]]

``stock`` reimplements what transformers' ``examples/pytorch/token-classification/run_ner.py`` does by default:
word-split tokenization without padding or a length limit beyond the model's, the first sub-token of a word
labelled (``label_all_tokens`` false), ``DataCollatorForTokenClassification`` (``pad_to_multiple_of=8`` only
under fp16), a random sampler, 8 sentences per batch, learning rate 5e-5, seed 42, the Trainer's default
optimizer. ``grouped`` is the same with ``group_by_length=True``. ``ours`` is the hubtools trainer
(``NerTrainer``) as the recipes build it: token-budget batches of at most ``--max-tokens`` padded tokens, the
learning rate ``--ours-lr`` (fewer, larger batches), the cached tokenization and ``training.bf16=auto`` (bf16
autocast on a CPU with native bf16; fp16 on CUDA). Ablations: ``ours-fp32`` (bf16 off), ``budget`` (token
budget only, learning rate 5e-5, fp32), ``ours-compile`` (``torch_compile``). All variants train the same
model on the same first ``--train-sentences`` training sentences with the same seed, epochs and thread count,
one after the other in this process; each is then scored on the same test sentences (entity F1 on words,
seqeval). Throughput counts the training time only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    EvalPrediction,
    Trainer,
    TrainingArguments,
    set_seed,
)

from hubtools.config import DataConfig
from hubtools.data.build import build_dataset
from hubtools.data.validation import label_names_of
from hubtools.families.token_classification.model import label_maps
from hubtools.families.token_classification.trainer import WordMetrics, build_trainer
from hubtools.tokenization import IGNORE, tokenize_dataset
from hubtools.training.arguments import NerTrainingArguments, reset_mixed_precision
from hubtools.training.batching import feature_lengths

SEED = 42
LEARNING_RATE = 5e-5  # run_ner's (TrainingArguments') default
STOCK_BATCH = 8  # run_ner's per_device_train_batch_size default


def stock_features(ds: Dataset, tokenizer) -> Dataset:
    """run_ner's ``tokenize_and_align_labels``: no padding, first sub-token labelled, others -100."""

    def align(batch: dict) -> dict:
        enc = tokenizer(batch["tokens"], truncation=True, is_split_into_words=True)
        labels = []
        for i, tags in enumerate(batch["ner_tags"]):
            prev, row = None, []
            for w in enc.word_ids(i):
                row.append(IGNORE if w is None or w == prev else tags[w])
                prev = w
            labels.append(row)
        enc["labels"] = labels
        return enc

    return ds.map(align, batched=True, remove_columns=ds.column_names)


def load_model(path: str, label_names: list[str]):
    set_seed(SEED)
    id2label, label2id = label_maps(label_names)
    return AutoModelForTokenClassification.from_pretrained(path, num_labels=len(label_names), id2label=id2label,
                                                           label2id=label2id)


def stock_trainer(model, tokenizer, features: Dataset, out: Path, epochs: float, grouped: bool) -> Trainer:
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=STOCK_BATCH,
                             learning_rate=LEARNING_RATE, num_train_epochs=epochs, seed=SEED,
                             group_by_length=grouped, save_strategy="no", report_to="none", disable_tqdm=True,
                             per_device_eval_batch_size=64)
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8 if args.fp16 else None)
    return Trainer(model=model, args=args, train_dataset=features, data_collator=collator,
                   processing_class=tokenizer)


def ours_trainer(model, tokenizer, features: Dataset, out: Path, epochs: float, max_tokens: int,
                 learning_rate: float, bf16: str | bool, extra: dict) -> Trainer:
    """The recipe's training section (``NerTrainingArguments``) without evaluation or checkpoints."""
    args = NerTrainingArguments.from_values(dict(
        output_dir=str(out), learning_rate=learning_rate, num_train_epochs=epochs, seed=SEED, bf16=bf16,
        per_device_eval_batch_size=64, max_tokens_per_batch=max_tokens, eval_strategy="no", save_strategy="no",
        load_best_model_at_end=False, disable_tqdm=True, **extra))
    return build_trainer(model, tokenizer, args, features, None, None)


def test_f1(trainer: Trainer, test_features: Dataset, metrics: WordMetrics) -> float:
    """Entity F1 on the test words (``predict`` on the hubtools test features, windows merged)."""
    predictions = trainer.predict(test_features).predictions
    if predictions.ndim == 3:  # logits (the stock Trainer); hubtools keeps only the argmax
        predictions = predictions.argmax(-1)
    return metrics(EvalPrediction(predictions=predictions, label_ids=None))["f1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="CoNLL-2003 folder (train.txt, valid.txt, test.txt)")
    parser.add_argument("--model", required=True, help="pretrained checkpoint folder")
    parser.add_argument("--train-sentences", type=int, default=3000)
    parser.add_argument("--test-sentences", type=int, default=None, help="first N test sentences (default: all)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for every variant")
    parser.add_argument("--max-tokens", type=int, default=1024, help="ours: padded tokens per batch")
    parser.add_argument("--ours-lr", type=float, default=5e-4, help="ours: learning rate for the larger batches")
    parser.add_argument("--variants", default="stock,grouped,ours")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    dsd, _ = build_dataset(DataConfig(source=args.data))
    train = dsd["train"].select(range(min(args.train_sentences, len(dsd["train"]))))
    test = dsd["test"]
    if args.test_sentences:
        test = test.select(range(min(args.test_sentences, len(test))))
    label_names = label_names_of(train)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    words = sum(len(t) for t in train["tokens"])
    test_features = tokenize_dataset(test, tokenizer, 512, desc="tokenize test")
    test_features = test_features.select(np.argsort(feature_lengths(test_features), kind="stable"))  # fast eval
    metrics = WordMetrics(test_features, test["ner_tags"], label_names)
    print(f"bench_train: {len(train)} training sentences ({words} words), {len(test)} test sentences, "
          f"{args.epochs:g} epoch(s), {torch.get_num_threads()} threads, device "
          f"{'cuda' if torch.cuda.is_available() else 'cpu'}", flush=True)

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants.split(","):
            reset_mixed_precision()  # the stock variants build plain TrainingArguments
            model = load_model(args.model, label_names)
            if name in ("ours", "ours-fp32", "budget", "ours-compile"):
                started = time.perf_counter()
                features = tokenize_dataset(train, tokenizer, 512, desc="tokenize train")
                tokenize_s = time.perf_counter() - started
                lr = LEARNING_RATE if name == "budget" else args.ours_lr
                bf16 = False if name in ("ours-fp32", "budget") else "auto"
                trainer = ours_trainer(model, tokenizer, features, Path(tmp) / name, args.epochs, args.max_tokens,
                                       lr, bf16, {"torch_compile": name == "ours-compile"})
            elif name in ("stock", "grouped"):
                started = time.perf_counter()
                features = stock_features(train, tokenizer)
                tokenize_s = time.perf_counter() - started
                trainer = stock_trainer(model, tokenizer, features, Path(tmp) / name, args.epochs,
                                        grouped=name == "grouped")
            else:
                raise SystemExit(f"unknown variant {name!r}")
            tokens = sum(feature_lengths(features))
            started, cpu_started = time.perf_counter(), time.process_time()
            output = trainer.train()
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            f1 = test_f1(trainer, test_features, metrics)
            results[name] = {"words_s": words * args.epochs / seconds, "cpu_words_s": words * args.epochs / cpu_seconds,
                             "f1": f1}
            print(f"bench_train: {name}: {seconds:.1f} s ({cpu_seconds:.1f} s CPU), {output.global_step} steps, "
                  f"lr {trainer.args.learning_rate:g}, bf16 {trainer.args.bf16}, "
                  f"{words * args.epochs / seconds:.0f} words/s, {tokens * args.epochs / seconds:.0f} tokens/s "
                  f"(per CPU second: {words * args.epochs / cpu_seconds:.0f} words, "
                  f"{tokens * args.epochs / cpu_seconds:.0f} tokens), tokenize {tokenize_s:.2f} s, "
                  f"test F1 {100 * f1:.2f}", flush=True)
    if {"stock", "grouped", "ours"} <= set(results):
        x, y, z = (results[k]["words_s"] for k in ("stock", "grouped", "ours"))
        a, b, c = (100 * results[k]["f1"] for k in ("stock", "grouped", "ours"))
        print(f"bench_train: stock {x:.0f} words/s, grouped {y:.0f}, ours {z:.0f} ({z / x:.2f}x, {z / y:.2f}x); "
              f"F1 stock {a:.2f}, grouped {b:.2f}, ours {c:.2f}")
        x, y, z = (results[k]["cpu_words_s"] for k in ("stock", "grouped", "ours"))
        print(f"bench_train: per CPU second (robust to other load): stock {x:.0f} words, grouped {y:.0f}, "
              f"ours {z:.0f} ({z / x:.2f}x, {z / y:.2f}x)")


if __name__ == "__main__":
    main()
