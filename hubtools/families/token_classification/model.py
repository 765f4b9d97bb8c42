"""Models and tokenizers: pretrained checkpoints with label checks, or tiny models built from a config."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import (
    AutoConfig,
    AutoModelForTokenClassification,
    AutoTokenizer,
    BertTokenizerFast,
    DistilBertTokenizerFast,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from hubtools.errors import ConfigError, about
from hubtools.families.token_classification.options import TokenClassificationModelOptions
from hubtools.families.token_classification.wordpiece import PREFIX, wordpiece_vocabulary

_TOKENIZER_CLASSES = {"distilbert": DistilBertTokenizerFast, "bert": BertTokenizerFast}
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_tokenizer(sentences: Iterable[Sequence[str]], vocab_size: int = 2000,
                              lowercase: bool = True, architecture: str = "distilbert",
                              model_max_length: int = 512) -> PreTrainedTokenizerBase:
    """Train a BERT-style WordPiece tokenizer on word-split sentences (the same vocabulary on every run:
    :func:`hubtools.families.token_classification.wordpiece.wordpiece_vocabulary`) and wrap it as a fast tokenizer of
    the architecture's class,
    so ``AutoTokenizer`` and ``pipeline`` load it like any Hub tokenizer."""
    if architecture not in _TOKENIZER_CLASSES:
        raise ConfigError(f"model.architecture {architecture!r} has no tokenizer here; use one of "
                          f"{sorted(_TOKENIZER_CLASSES)}")
    normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts = Counter(word for words in sentences
                     for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(" ".join(words))))
    vocab = wordpiece_vocabulary(counts, vocab_size, SPECIAL_TOKENS)
    tok = Tokenizer(models.WordPiece({piece: i for i, piece in enumerate(vocab)}, unk_token="[UNK]",
                                     continuing_subword_prefix=PREFIX))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tok.decoder = decoders.WordPiece(prefix="##")
    cls = _TOKENIZER_CLASSES[architecture]
    return cls(tokenizer_object=tok, do_lower_case=lowercase, model_max_length=model_max_length,
               unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
               mask_token="[MASK]")


def label_maps(label_names: Sequence[str]) -> tuple[dict[int, str], dict[str, int]]:
    """``id2label`` and ``label2id`` for a label list."""
    return dict(enumerate(label_names)), {name: i for i, name in enumerate(label_names)}


def build_from_scratch(cfg: TokenClassificationModelOptions, label_names: Sequence[str],
                       train_sentences: Iterable[Sequence[str]]) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """An untrained model of ``cfg.architecture`` sized by ``cfg.from_scratch`` and a tokenizer trained on
    the training sentences."""
    tokenizer = train_wordpiece_tokenizer(train_sentences, cfg.vocab_size, cfg.lowercase, cfg.architecture,
                                          model_max_length=cfg.max_length)
    id2label, label2id = label_maps(label_names)
    try:
        config = AutoConfig.for_model(cfg.architecture, vocab_size=len(tokenizer), id2label=id2label,
                                      label2id=label2id, pad_token_id=tokenizer.pad_token_id,
                                      **(cfg.scratch_values() or {}))
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model.from_scratch: {err}") from None
    return AutoModelForTokenClassification.from_config(config), tokenizer


def check_label_compatibility(config, label_names: Sequence[str], source: str) -> list[int] | None:
    """For a checkpoint that is already a token classifier: None if its labels equal the dataset's, the
    permutation of classifier rows if they are the same set in another order; ConfigError otherwise."""
    own = [config.id2label[i] for i in range(len(config.id2label))]
    if own == list(label_names):
        return None
    if sorted(own) == sorted(label_names):
        return [own.index(name) for name in label_names]
    missing = sorted(set(label_names) - set(own))
    extra = sorted(set(own) - set(label_names))
    raise ConfigError(f"{source}: the model's labels do not match the dataset's (missing {missing}, extra "
                      f"{extra}); set model.reset_head=true to train a new classification head")


def _is_token_classifier(config) -> bool:
    archs = getattr(config, "architectures", None) or []
    return any(a.endswith("ForTokenClassification") for a in archs)


def permute_classifier(model: PreTrainedModel, order: list[int], label_names: Sequence[str]) -> None:
    """Reorder the output rows of the classification head so that row ``i`` predicts ``label_names[i]``."""
    head = model.get_output_embeddings() or getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear):
        raise ConfigError(f"cannot reorder the classification head of {type(model).__name__}")
    with torch.no_grad():
        head.weight.copy_(head.weight[order].clone())
        if head.bias is not None:
            head.bias.copy_(head.bias[order].clone())
    model.config.id2label, model.config.label2id = label_maps(label_names)


DROPOUT_KEYS = {  # what each dropout is called in the configs of BERT-like and DistilBERT-like encoders
    "attention_dropout": ("attention_probs_dropout_prob", "attention_dropout"),
    "hidden_dropout": ("hidden_dropout_prob", "dropout"),
}


def config_overrides(cfg: TokenClassificationModelOptions, config: PretrainedConfig) -> dict[str, float | str]:
    """What ``cfg`` changes in the checkpoint, as ``from_pretrained`` keywords: ``model.attention_dropout`` and
    ``model.hidden_dropout`` under the names this architecture gives them, ``model.attention_implementation``."""
    overrides: dict[str, float | str] = {}
    if cfg.attention_implementation:
        overrides["attn_implementation"] = cfg.attention_implementation
    for setting, keys in DROPOUT_KEYS.items():
        value = getattr(cfg, setting)
        if value is None:
            continue
        key = next((key for key in keys if hasattr(config, key)), None)
        if key is None:
            raise ConfigError(f"model.{setting}: {cfg.name_or_path} ({config.model_type}) has none of "
                              f"{', '.join(keys)} in its config")
        overrides[key] = value
    return overrides


def load_pretrained(cfg: TokenClassificationModelOptions,
                    label_names: Sequence[str]) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a checkpoint for token classification with the dataset's labels.

    A checkpoint that already classifies tokens must have the same label names (a different order is
    fixed by reordering its head); otherwise ``model.reset_head`` is required.
    """
    where = f"model.name_or_path {cfg.name_or_path!r}"
    with about(where):
        config = AutoConfig.from_pretrained(cfg.name_or_path)
    overrides = config_overrides(cfg, config)
    id2label, label2id = label_maps(label_names)
    with about(where):
        tokenizer = AutoTokenizer.from_pretrained(cfg.name_or_path)
    if not tokenizer.is_fast:
        raise ConfigError(f"{cfg.name_or_path}: a fast tokenizer is required for word alignment")
    if _is_token_classifier(config) and not cfg.reset_head:
        order = check_label_compatibility(config, label_names, cfg.name_or_path)
        model = AutoModelForTokenClassification.from_pretrained(cfg.name_or_path, **overrides)
        if order is not None:
            permute_classifier(model, order, label_names)
        return model, tokenizer
    model = AutoModelForTokenClassification.from_pretrained(
        cfg.name_or_path, num_labels=len(label_names), id2label=id2label, label2id=label2id,
        ignore_mismatched_sizes=cfg.reset_head, **overrides)
    return model, tokenizer


def effective_max_length(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, requested: int) -> int:
    """The window size: the requested length capped by the model's position embeddings and tokenizer."""
    limits = [requested]
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions:
        limits.append(int(positions))
    if tokenizer.model_max_length and tokenizer.model_max_length < 1_000_000:
        limits.append(int(tokenizer.model_max_length))
    return min(limits)
