"""Token-budget batches (hubtools.training.batching), their Trainer wiring, and the tokenization cache."""

from __future__ import annotations

import random

import pytest
import torch
from accelerate.data_loader import BatchSamplerShard
from helpers import LABELS, SENTENCES, tiny_dataset, tiny_tokenizer
from transformers import DataCollatorForTokenClassification, DistilBertConfig, DistilBertForTokenClassification, Trainer

from hubtools.errors import ConfigError
from hubtools.families.token_classification.trainer import WordMetrics, build_trainer, length_order
from hubtools.tokenization import tokenize_dataset
from hubtools.training.arguments import NerTrainingArguments, cpu_has_native_bf16
from hubtools.training.batching import TokenBudgetBatchSampler, feature_lengths, pack, padded

LENGTHS = [random.Random(0).choice([3, 5, 9, 17, 30, 64]) for _ in range(500)] + [300]


def sampler(seed: int = 1, **kwargs) -> TokenBudgetBatchSampler:
    return TokenBudgetBatchSampler(LENGTHS, max_tokens=kwargs.pop("max_tokens", 128), seed=seed,
                                   bucket_size=kwargs.pop("bucket_size", 100), **kwargs)


@pytest.mark.parametrize("multiple", [None, 8])
def test_batches_stay_within_the_budget_except_a_lone_long_row(multiple):
    batches = sampler(pad_to_multiple_of=multiple).batches()
    for batch in batches:
        width = max(padded(LENGTHS[i], multiple) for i in batch)
        if width > 128:
            assert batch == [len(LENGTHS) - 1]  # the 300-token row, alone
        else:
            assert len(batch) * width <= 128
    assert sum(map(len, batches)) / len(batches) > 4  # short rows really share batches


def test_every_row_once_per_epoch_and_epochs_differ_deterministically():
    s = sampler()
    epochs = []
    for epoch in range(3):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(s) == len(batches)
        assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
        epochs.append(batches)
    assert epochs[0] != epochs[1] != epochs[2]
    again = sampler()
    again.set_epoch(1)
    assert list(again) == epochs[1]
    assert list(sampler(seed=2)) != epochs[0]


def test_pack_sorts_each_bucket_longest_first():
    assert pack([0, 1, 2, 3], [2, 8, 4, 8], max_tokens=16) == [[1, 3], [2, 0]]


def test_sharding_over_two_processes_is_even_and_covers_everything():
    s = sampler()
    s.set_epoch(3)
    shards = [list(BatchSamplerShard(s, num_processes=2, process_index=p)) for p in range(2)]
    assert len(shards[0]) == len(shards[1]) == len(BatchSamplerShard(s, num_processes=2)) == -(-len(s) // 2)
    seen = [i for shard in shards for b in shard for i in b]
    assert set(seen) == set(range(len(LENGTHS)))
    assert len(seen) - len(LENGTHS) <= max(map(len, s.batches()))  # at most one batch repeated to even out
    assert shards[0][0] != shards[1][0]


def test_trainer_trains_with_token_budget_batches(tmp_path):
    tokenizer = tiny_tokenizer()
    ds = tiny_dataset(SENTENCES * 8)
    features = tokenize_dataset(ds, tokenizer, max_length=32, cache_dir=tmp_path / "cache")
    torch.manual_seed(0)
    model = DistilBertForTokenClassification(DistilBertConfig(
        vocab_size=len(tokenizer), dim=32, n_layers=1, n_heads=2, hidden_dim=64, num_labels=len(LABELS)))
    args = NerTrainingArguments.from_values(dict(
        output_dir=str(tmp_path / "out"), learning_rate=5e-3, num_train_epochs=6, fp16=False, logging_strategy="steps",
        logging_steps=1, eval_strategy="no", save_strategy="no", load_best_model_at_end=False, disable_tqdm=True,
        max_tokens_per_batch=40))
    trainer = build_trainer(model, tokenizer, args, features, None, None)
    loader = trainer.get_train_dataloader()
    sizes = [tuple(batch["input_ids"].shape) for batch in loader]
    assert all(rows * width <= 40 for rows, width in sizes) and max(rows for rows, _ in sizes) > 1
    assert sum(rows for rows, _ in sizes) == len(features)
    trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert len(losses) == 6 * len(sizes)
    assert sum(losses[-3:]) < sum(losses[:3])


def test_bf16_autocast_by_default_only_where_the_cpu_has_it(tmp_path):
    def args(**values):
        return NerTrainingArguments.from_values({"output_dir": str(tmp_path), **values})

    native = not torch.cuda.is_available() and cpu_has_native_bf16()
    assert args().bf16 is native and args(bf16="auto").bf16 is native
    assert args(bf16=False).bf16 is False
    assert args().for_run(tmp_path / "run").bf16 is native  # the request, not its resolution, is copied
    for bad in ({"bf16": "yes"}, {"fp16": True, "bf16": True}):
        with pytest.raises(ConfigError, match="bf16"):
            args(**bad)


def test_tokenization_is_cached_by_fingerprint(tmp_path):
    tokenizer = tiny_tokenizer()
    ds = tiny_dataset()
    first = tokenize_dataset(ds, tokenizer, max_length=16, cache_dir=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and first.cache_files[0]["filename"].endswith(files[0])
    tokenizer(["some", "words"], is_split_into_words=True, truncation=True, max_length=4)  # leaves state behind
    second = tokenize_dataset(ds, tokenizer, max_length=16, cache_dir=tmp_path)
    assert second._fingerprint == first._fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # loaded, not written again
    assert second["input_ids"] == first["input_ids"]
    other = tokenize_dataset(ds, tokenizer, max_length=12, cache_dir=tmp_path)
    assert other._fingerprint != first._fingerprint and len(list(tmp_path.iterdir())) == 2
    assert feature_lengths(first) == [len(ids) for ids in first["input_ids"]]


def test_evaluation_reads_longest_first_and_answers_in_dataset_order(tmp_path):
    tokenizer = tiny_tokenizer()
    ds = tiny_dataset(SENTENCES * 3)
    features = tokenize_dataset(ds, tokenizer, max_length=32, cache_dir=tmp_path / "cache")
    lengths = feature_lengths(features)
    order = length_order(features)
    assert [lengths[i] for i in order] == sorted(lengths, reverse=True) and order != sorted(order)
    torch.manual_seed(0)
    model = DistilBertForTokenClassification(DistilBertConfig(
        vocab_size=len(tokenizer), dim=32, n_layers=1, n_heads=2, hidden_dim=64, num_labels=len(LABELS)))
    args = NerTrainingArguments.from_values(dict(output_dir=str(tmp_path / "out"), per_device_eval_batch_size=4,
                                                 eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
                                                 disable_tqdm=True, report_to="none"))
    metrics = WordMetrics(features, ds["ner_tags"], LABELS)
    ours = build_trainer(model, tokenizer, args, features, features, metrics)
    stock = Trainer(model=model, args=args, data_collator=DataCollatorForTokenClassification(tokenizer))
    ours_out, stock_out = ours.predict(features), stock.predict(features)
    assert (ours_out.label_ids == stock_out.label_ids).all()
    scored = stock_out.label_ids != -100
    assert (ours_out.predictions[scored] == stock_out.predictions.argmax(-1)[scored]).all()
    expected = metrics(type("Pred", (), {"predictions": stock_out.predictions.argmax(-1)}))
    assert ours.evaluate()["eval_f1"] == pytest.approx(expected["f1"])
