"""Loading a pretrained encoder for token classification: config values the recipe replaces."""

from __future__ import annotations

import pytest
from tiny_ner import LABELS, save_tiny_model
from transformers import BertConfig, BertModel, GPT2Config

from hubtools.errors import ConfigError
from hubtools.families.token_classification.model import load_pretrained, train_wordpiece_tokenizer
from hubtools.families.token_classification.options import BertSizes
from hubtools.families.token_classification.options import TokenClassificationModelOptions as ModelOptions


def save_tiny_bert_encoder(path):
    """A tiny BERT encoder without a head, as sentence encoders are published (attention dropout 0.1)."""
    tokenizer = train_wordpiece_tokenizer([["John", "lives", "in", "Paris"]] * 4, vocab_size=60)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=2, max_position_embeddings=64)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_dropouts_replace_the_checkpoints_values_under_the_names_its_architecture_gives_them(tmp_path):
    bert = save_tiny_bert_encoder(tmp_path / "bert")
    model, _ = load_pretrained(ModelOptions(name_or_path=str(bert), attention_dropout=0.0), LABELS)
    assert model.config.attention_probs_dropout_prob == 0.0
    assert model.config.hidden_dropout_prob == 0.1  # only attention dropout changes
    model, _ = load_pretrained(ModelOptions(name_or_path=str(bert), hidden_dropout=0.0), LABELS)
    assert model.config.hidden_dropout_prob == 0.0 and model.config.attention_probs_dropout_prob == 0.1
    assert model.config.num_labels == len(LABELS)

    kept, _ = load_pretrained(ModelOptions(name_or_path=str(bert)), LABELS)
    assert kept.config.attention_probs_dropout_prob == 0.1
    assert kept.config._attn_implementation == "sdpa"  # transformers' choice when none is given

    eager, _ = load_pretrained(ModelOptions(name_or_path=str(bert), attention_implementation="eager"), LABELS)
    assert eager.config._attn_implementation == "eager"

    # a checkpoint that already classifies tokens with these labels (DistilBERT names it attention_dropout)
    distil = save_tiny_model(tmp_path / "distil")
    model, _ = load_pretrained(ModelOptions(name_or_path=str(distil), attention_dropout=0.05, hidden_dropout=0.0),
                               LABELS)
    assert model.config.attention_dropout == 0.05 and model.config.dropout == 0.0
    assert model.distilbert.transformer.layer[0].attention.dropout.p == 0.05
    assert model.distilbert.embeddings.dropout.p == 0.0


def test_attention_dropout_on_an_architecture_without_it_names_the_keys(tmp_path):
    GPT2Config(n_layer=1, n_embd=16, n_head=2).save_pretrained(tmp_path / "gpt2")
    with pytest.raises(ConfigError, match="model.attention_dropout: .*gpt2.*attention_probs_dropout_prob"):
        load_pretrained(ModelOptions(name_or_path=str(tmp_path / "gpt2"), attention_dropout=0.0), LABELS)


@pytest.mark.parametrize("key", ["attention_dropout", "hidden_dropout"])
@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_dropout_out_of_range_is_refused(key, value):
    with pytest.raises(ConfigError, match=rf"model.{key} must be in \[0, 1\)"):
        ModelOptions(name_or_path="x", **{key: value})


def test_an_unknown_attention_implementation_is_refused():
    with pytest.raises(ConfigError, match="model.attention_implementation must be one of eager, sdpa"):
        ModelOptions(name_or_path="x", attention_implementation="fast")


def test_settings_for_a_pretrained_encoder_are_refused_for_a_model_built_from_scratch():
    with pytest.raises(ConfigError, match="model.freeze_embeddings, model.attention_dropout change a pretrained"):
        ModelOptions(architecture="bert", from_scratch=BertSizes(hidden_size=32), freeze_embeddings=True,
                     attention_dropout=0.0)
    kept = ModelOptions(architecture="bert", from_scratch=BertSizes(hidden_size=32), freeze_embeddings=False,
                        attention_dropout=None)
    assert kept.scratch_values() == {"hidden_size": 32} and not kept.freeze_embeddings
