"""Recipe configuration: the training section is transformers' TrainingArguments (every option, our defaults and
additions), family options and model keys are typed, unknown keys are named with where they were set, parsing
leaves the environment alone, and what results.json records reads back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from transformers import TrainingArguments

from hubtools.config import ModelConfig, parse_overrides
from hubtools.errors import ConfigError
from hubtools.families import FAMILIES, family
from hubtools.families.distillation.options import DistillationConfig
from hubtools.families.rnn_tagger.options import RnnOptions, RnnTaggerModelOptions, RnnTaggerSizes
from hubtools.families.span_marker.options import SpanMarkerModelOptions, SpanMarkerOptions
from hubtools.families.token_classification.options import (
    BertSizes,
    DistilBertSizes,
    TokenClassificationModelOptions,
    TokenClassificationOptions,
)
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
    again = from_dict(recorded, options_class=TokenClassificationOptions)
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


@pytest.mark.parametrize(("name", "model_class", "options_class"), [
    ("finer", TokenClassificationModelOptions, TokenClassificationOptions),
    ("fewnerd", TokenClassificationModelOptions, TokenClassificationOptions),
    ("multinerd", SpanMarkerModelOptions, SpanMarkerOptions), ("ner_uk", RnnTaggerModelOptions, RnnOptions),
    ("conll_distil", TokenClassificationModelOptions, DistillationConfig)])
def test_each_recipe_configuration_loads_with_its_family_options(name, model_class, options_class):
    for preset in (None, "tiny"):
        cfg = load_config(CONFIGS / f"{name}.yaml", preset, model_class=model_class, options_class=options_class)
        assert isinstance(cfg.options, options_class) and cfg.recipe == name
        assert type(cfg.model) is model_class


def test_options_sections_are_the_family_s():
    with pytest.raises(ConfigError, match="this recipe takes no options section"):
        from_dict({**RAW, "options": {"entity_max_length": 4}})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in options: \['entity_max_length'\]"):
        from_dict({**RAW, "options": {"entity_max_length": 4}}, options_class=TokenClassificationOptions)
    cfg = from_dict({**RAW, "options": {"entity_max_length": 4}}, options_class=SpanMarkerOptions)
    assert cfg.options == SpanMarkerOptions(entity_max_length=4)
    with pytest.raises(ConfigError, match="options.outside_weight must be positive"):
        from_dict({**RAW, "options": {"outside_weight": 0}}, options_class=SpanMarkerOptions)
    distil = from_dict({**RAW, "distillation": {"alphas": [0.5]}}, options_class=DistillationConfig)
    assert distil.options.alphas == [0.5] and "distillation" in distil.to_dict()


def test_override_values_are_yaml_but_text_that_looks_like_a_mapping_stays_text():
    parsed = parse_overrides(["data.strip_token_prefix=en:", "data.types=[A, B]", "training.seed=3",
                              "data.data_files={train: a.conll}", "data.label_names=null"])
    assert parsed["data"] == {"strip_token_prefix": "en:", "types": ["A", "B"], "data_files": {"train": "a.conll"},
                              "label_names": None}
    assert parsed["training"] == {"seed": 3}


def family_config(name: str, family_name: str, *overrides: str):
    """``recipes/configs/NAME.yaml`` with its tiny preset and ``overrides``, read with the classes of a family."""
    classes = family(family_name)
    return load_config(CONFIGS / f"{name}.yaml", "tiny", list(overrides), model_class=classes.model_options_class,
                       options_class=classes.options_class)


def test_every_family_has_model_options_that_extend_the_shared_keys():
    for fam in FAMILIES.values():
        cls = fam.model_options_class
        assert issubclass(cls, ModelConfig) and cls.FAMILY in FAMILIES and cls.ARCHITECTURES
    assert family("distillation").model_options_class is TokenClassificationModelOptions


def test_a_key_of_one_family_is_refused_by_another_naming_the_key_the_file_and_the_family(tmp_path):
    config = tmp_path / "spans.yaml"
    config.write_text(yaml.safe_dump({**RAW, "model": {"name_or_path": "x", "document_context": 64}}))
    with pytest.raises(ConfigError) as err:
        load_config(config, model_class=SpanMarkerModelOptions, options_class=SpanMarkerOptions)
    message = str(err.value)
    assert message.startswith(f"{config}: unknown key(s) in model (span-marker family): ['document_context']")
    assert "\n" not in message
    # the same key is the token-classification family's own
    cfg = load_config(config, model_class=TokenClassificationModelOptions)
    assert cfg.model.document_context == 64
    # a key set by an override is said to come from the overrides, one from a preset from the preset's file
    with pytest.raises(ConfigError, match=r"^the overrides: unknown key\(s\) in model \(rnn-tagger family\): "
                                          r"\['case_tokens'\]"):
        family_config("ner_uk", "rnn-tagger", "model.case_tokens=true")
    with pytest.raises(ConfigError) as err:
        family_config("finer", "rnn-tagger")
    assert str(err.value).startswith(f"{CONFIGS / 'finer-tiny.yaml'}: unknown key(s) in model (rnn-tagger family): "
                                     f"['vocab_size']")


@pytest.mark.parametrize(("name", "family_name", "key", "owner"), [
    ("finer", "token-classification", "hidden_size", "distilbert, token-classification family"),
    ("multinerd", "span-marker", "dim", "bert, span-marker family"),
    ("ner_uk", "rnn-tagger", "n_layers", "rnn-tagger, rnn-tagger family"),
])
def test_from_scratch_keys_are_the_family_s_sizes(name, family_name, key, owner):
    with pytest.raises(ConfigError) as err:
        family_config(name, family_name, f"model.from_scratch.{key}=2")
    assert str(err.value).startswith(f"the overrides: unknown key(s) in model.from_scratch ({owner}): ['{key}']")


def test_from_scratch_is_typed_and_records_the_values_given():
    finer = family_config("finer", "token-classification", "model.from_scratch.dropout=0.2")
    assert finer.model.from_scratch == DistilBertSizes(dim=128, n_layers=2, n_heads=4, hidden_dim=256,
                                                       max_position_embeddings=256, dropout=0.2)
    assert finer.to_dict()["model"]["from_scratch"] == {"dim": 128, "n_layers": 2, "n_heads": 4, "hidden_dim": 256,
                                                        "max_position_embeddings": 256, "dropout": 0.2}
    bert = from_dict({**RAW, "model": {"architecture": "bert", "from_scratch": {"hidden_size": 8}}},
                     TokenClassificationModelOptions)
    assert bert.model.from_scratch == BertSizes(hidden_size=8) and bert.model.scratch_values() == {"hidden_size": 8}
    uk = family_config("ner_uk", "rnn-tagger")
    assert isinstance(uk.model.from_scratch, RnnTaggerSizes) and uk.model.from_scratch.embedding_dim == 32
    with pytest.raises(ConfigError, match="model.architecture 'roberta' cannot be built from scratch; the "
                                          "token-classification model section builds: distilbert, bert"):
        family_config("finer", "token-classification", "model.architecture=roberta")
    with pytest.raises(ConfigError, match="cell: the cell is set by system"):
        family_config("ner_uk", "rnn-tagger", "model.from_scratch.cell=gru")
    with pytest.raises(ConfigError, match="model.from_scratch must hold the RNN tagger's values"):
        family_config("ner_uk", "rnn-tagger", "model.from_scratch=null")
    with pytest.raises(ConfigError, match=r"model.from_scratch must be a mapping of bert sizes \(BertSizes\)"):
        SpanMarkerModelOptions(from_scratch=DistilBertSizes(dim=8))


@pytest.fixture
def environment_restored():
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


def test_parsing_a_configuration_leaves_the_environment_alone(environment_restored):
    before = dict(os.environ)
    cfg = family_config("finer", "token-classification", "training.torch_compile=true", "training.bf16=false")
    assert dict(os.environ) == before
    args = cfg.training.for_run("checkpoints")
    assert dict(os.environ) == before
    # what transformers hands to Accelerate in the environment is set when a Trainer is built
    apply_environment(args)
    assert os.environ["ACCELERATE_DYNAMO_BACKEND"] == "inductor" and os.environ["ACCELERATE_MIXED_PRECISION"] == "no"
