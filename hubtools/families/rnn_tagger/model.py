"""The RNN tagger built from the training split (:func:`build_tagger`), and its classes as hubtools loads a saved
tagger: the installed package's, never the copies of its code that a saved folder carries for
``trust_remote_code=True`` users (:mod:`hubtools.remote_code`)."""

from __future__ import annotations

from pathlib import Path

from transformers import PreTrainedTokenizerFast

from hubtools.errors import ConfigError, UsageError
from hubtools.families.rnn_tagger import configuration_rnn_tagger, modeling_rnn_tagger
from hubtools.families.rnn_tagger.configuration_rnn_tagger import RnnTaggerConfig
from hubtools.families.rnn_tagger.features import (
    build_word_tokenizer,
    build_wordpiece_tokenizer,
    piece_characters,
    word_start_flags,
)
from hubtools.families.rnn_tagger.modeling_rnn_tagger import RnnTaggerForTokenClassification
from hubtools.recipe.config import RecipeConfig

# the auto_map that RnnTaggerConfig / RnnTaggerForTokenClassification.register_for_auto_class() write
AUTO_MAP = {"AutoConfig": "configuration_rnn_tagger.RnnTaggerConfig",
            "AutoModelForTokenClassification": "modeling_rnn_tagger.RnnTaggerForTokenClassification"}
# the installed modules whose copies a saved tagger carries
CODE_MODULES = (configuration_rnn_tagger, modeling_rnn_tagger)


def load_installed(model_dir: str | Path, where: str) -> RnnTaggerForTokenClassification:
    """The tagger of ``model_dir`` loaded with the installed classes; UsageError naming ``where`` when they do not
    fit its weights (keys missing, unexpected or of another shape)."""
    model, info = RnnTaggerForTokenClassification.from_pretrained(model_dir, output_loading_info=True,
                                                                  ignore_mismatched_sizes=True)
    bad = sorted({*info["missing_keys"], *info["unexpected_keys"], *(key for key, *_ in info["mismatched_keys"])})
    if bad:
        raise UsageError(f"{where}: the installed RNN tagger classes do not fit its weights (keys "
                         f"{', '.join(bad[:3])}); --trust-remote-code loads it with the folder's own code")
    return model


def build_tagger(cfg: RecipeConfig, label_names: list[str],
             sentences: list[list[str]]) -> tuple[RnnTaggerForTokenClassification, PreTrainedTokenizerFast]:
    """The untrained tagger of ``cfg`` (the cell: ``system``) and its tokenizer for ``label_names``, vocabulary from
    ``sentences`` (the training split only), saved with its code (``auto_map``) so that ``trust_remote_code=True``
    loads it."""
    options, scratch = cfg.options, cfg.model.from_scratch
    if options.tokenizer == "wordpiece":
        tokenizer = build_wordpiece_tokenizer(sentences, options.subword_vocab_size,
                                              min_frequency=options.min_frequency,
                                              lowercase=cfg.model.lowercase)
    else:
        tokenizer = build_word_tokenizer(sentences, min_frequency=options.min_frequency,
                                         lowercase=cfg.model.lowercase)
    token_chars, char_sizes = None, {}
    if scratch.char_embedding_dim:  # spell the vocabulary only for the character encoder
        token_chars, num_chars = piece_characters(tokenizer)
        char_sizes = {"char_vocab_size": num_chars, "max_token_chars": len(token_chars[0])}
    try:
        config = RnnTaggerConfig(vocab_size=len(tokenizer), cell=cfg.system,
                                 pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
                                 id2label=dict(enumerate(label_names)),
                                 label2id={name: i for i, name in enumerate(label_names)},
                                 **char_sizes, **scratch.given())
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model.from_scratch: {err}") from None
    RnnTaggerConfig.register_for_auto_class()
    RnnTaggerForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")
    model = RnnTaggerForTokenClassification(config)
    if token_chars is not None:
        model.chars.set_token_characters(token_chars)
    if config.word_starts:
        model.set_word_starts(word_start_flags(tokenizer))
    return model, tokenizer
