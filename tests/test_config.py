"""Recipe configuration: the training section is transformers' TrainingArguments (every option, our defaults and
additions), family options are typed, unknown keys are named, parsing leaves the environment alone, and what
results.json records reads back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from transformers import TrainingArguments

from hubtools.config import parse_overrides
from hubtools.errors import ConfigError
from hubtools.families.distillation.options import DistillationConfig
from hubtools.families.rnn_tagger.options import RnnOptions
from hubtools.families.span_marker.options import SpanMarkerOptions
from hubtools.families.token_classification.options import TokenClassificationOptions
from hubtools.recipe.config import from_dict, load_config
from hubtools.training.arguments import NerTrainingArguments, apply_environment

CONFIGS = Path(__file__).resolve().parents[1] / "recipes" / "configs"
RAW = {"recipe": "test", "data": {"source": "generate:conll2003"}, "model": {"name_or_path": "bert-base-cased"}}


def test_every_trainer_option_is_a_training_key():
    cfg = from_dict({**RAW, "training": {"lr_scheduler_type": "cosine", "gradient_checkpointing": True,
                                         "label_smoothing_factor": 0.1, "optim": "adafactor",
                                         "max_tokens_per_batch": 512, "learning_rate": "5e-4"}})
    args = cfg.training
    assert isinstance(args, TrainingArguments) and isinstance(args, NerTrainingArguments)
    assert (args.lr_scheduler_type.value, args.gradient_checkpointing, args.label_smoothing_factor) == (
        "cosine", True, 0.1)
    assert args.optim.value == "adafactor" and args.max_tokens_per_batch == 512 and args.learning_rate == 5e-4
    # nerhub's defaults where the configuration says nothing
    assert (args.eval_strategy.value, args.save_strategy.value, args.metric_for_best_model) == ("epoch", "epoch", "f1")
    assert args.load_best_model_at_end and args.save_total_limit == 2 and args.report_to == []
    assert args.per_device_train_batch_size == 16 and args.per_device_eval_batch_size == 32


def test_results_record_the_values_given_and_they_read_back():
    cfg = from_dict({**RAW, "training": {"lr_scheduler_type": "cosine", "num_train_epochs": 2}})
    recorded = cfg.to_dict()
    assert recorded["training"] == {"lr_scheduler_type": "cosine", "num_train_epochs": 2}
    assert "output_dir" not in recorded["training"] and "logging_dir" not in recorded["training"]
    again = from_dict(recorded, TokenClassificationOptions)
    assert again.training.to_dict() == cfg.training.to_dict() and again.to_dict() == {**recorded, "options": {
        "io_scores": False, "references": {}}}


@pytest.mark.parametrize(("training", "message"), [
    ({"learnin_rate": 1e-3}, r"unknown key\(s\) in training: \['learnin_rate'\]"),
    ({"learning_rate": -1}, "training.learning_rate must be positive"),
    ({"learning_rate": "fast"}, "expected a number, got 'fast'"),
    ({"eval_strategy": "no"}, "training: --load_best_model_at_end requires the save and eval strategy to match"),
    ({"bf16": "sometimes"}, "training.bf16 must be auto, true or false"),
    ({"max_tokens_per_batch": 8}, "max_tokens_per_batch must be at least 16"),
])
def test_bad_training_values_are_named(training, message):
    with pytest.raises(ConfigError, match=message) as err:
        from_dict({**RAW, "training": training})
    assert "\n" not in str(err.value)  # one line, even for transformers' own multi-line messages


@pytest.mark.parametrize(("name", "options_class"), [
    ("finer", TokenClassificationOptions), ("fewnerd", TokenClassificationOptions), ("multinerd", SpanMarkerOptions),
    ("ner_uk", RnnOptions), ("conll_distil", DistillationConfig)])
def test_each_recipe_configuration_loads_with_its_family_options(name, options_class):
    for preset in (None, "tiny"):
        cfg = load_config(CONFIGS / f"{name}.yaml", preset, options_class=options_class)
        assert isinstance(cfg.options, options_class) and cfg.recipe == name


def test_options_sections_are_the_family_s():
    with pytest.raises(ConfigError, match="this recipe takes no options section"):
        from_dict({**RAW, "options": {"entity_max_length": 4}})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in options: \['entity_max_length'\]"):
        from_dict({**RAW, "options": {"entity_max_length": 4}}, TokenClassificationOptions)
    cfg = from_dict({**RAW, "options": {"entity_max_length": 4}}, SpanMarkerOptions)
    assert cfg.options == SpanMarkerOptions(entity_max_length=4)
    with pytest.raises(ConfigError, match="options.outside_weight must be positive"):
        from_dict({**RAW, "options": {"outside_weight": 0}}, SpanMarkerOptions)
    distil = from_dict({**RAW, "distillation": {"alphas": [0.5]}}, DistillationConfig)
    assert distil.options.alphas == [0.5] and "distillation" in distil.to_dict()


def test_override_values_are_yaml_but_text_that_looks_like_a_mapping_stays_text():
    parsed = parse_overrides(["data.strip_token_prefix=en:", "data.types=[A, B]", "training.seed=3",
                              "data.data_files={train: a.conll}", "data.label_names=null"])
    assert parsed["data"] == {"strip_token_prefix": "en:", "types": ["A", "B"], "data_files": {"train": "a.conll"},
                              "label_names": None}
    assert parsed["training"] == {"seed": 3}


@pytest.fixture
def environment_restored():
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


def test_parsing_a_configuration_leaves_the_environment_alone(environment_restored):
    before = dict(os.environ)
    cfg = load_config(CONFIGS / "finer.yaml", "tiny", ["training.torch_compile=true", "training.bf16=false"])
    assert dict(os.environ) == before
    args = cfg.training.for_run("checkpoints")
    assert dict(os.environ) == before
    # what transformers hands to Accelerate in the environment is set when a Trainer is built
    apply_environment(args)
    assert os.environ["ACCELERATE_DYNAMO_BACKEND"] == "inductor" and os.environ["ACCELERATE_MIXED_PRECISION"] == "no"
