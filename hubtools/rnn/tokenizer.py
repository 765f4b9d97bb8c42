"""Word-level tokenizer for RNN taggers trained from scratch, built from the training split only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

PAD_TOKEN, UNK_TOKEN = "[PAD]", "[UNK]"
# A piece is a run of letters/marks/digits, joined across inner - ' ’ ʼ . , ("Івано-Франківськ",
# "В'ячеслав", "2017-го", "0,5"); any other non-space character is a piece of its own, so raw text
# ("Харків.") splits like the pre-tokenized ner-uk corpus ("Харків ."). Corpus tokens made of several
# pieces ("...", "?!") are handled by word_ids like sub-words.
_WORD = r"[\p{L}\p{M}\p{N}]+(?:[-'’ʼ.,][\p{L}\p{M}\p{N}]+)*"
_PIECES = Regex(rf"{_WORD}|[^\p{{L}}\p{{M}}\p{{N}}\s]")


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(_PIECES, behavior="isolated")]
    )


def build_word_tokenizer(
    train_sentences: Iterable[list[str]], min_frequency: int = 1, lowercase: bool = False
) -> PreTrainedTokenizerFast:
    """A WordLevel fast tokenizer whose vocabulary is the pieces of ``train_sentences`` seen at least
    ``min_frequency`` times: ``[PAD]`` = 0, ``[UNK]`` = 1, then by decreasing count (ties by string).

    Pass only the training split: words of other splits must map to ``[UNK]``. No special tokens are
    added around sentences, so every id is a word piece and ``word_ids()`` align labels.
    """
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    normalizer = normalizers.Sequence([normalizers.NFC()] + ([normalizers.Lowercase()] if lowercase else []))
    pre_tokenizer = _pre_tokenizer()
    counts: Counter[str] = Counter()
    for sentence in train_sentences:
        for word in sentence:
            counts.update(
                piece for piece, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(word))
            )
    kept = sorted((w for w, n in counts.items() if n >= min_frequency), key=lambda w: (-counts[w], w))
    vocab = {PAD_TOKEN: 0, UNK_TOKEN: 1}
    for word in kept:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(WordLevel(vocab=vocab, unk_token=UNK_TOKEN))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizer
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=UNK_TOKEN,
        pad_token=PAD_TOKEN,
        padding_side="right",
        model_input_names=["input_ids", "attention_mask"],
    )
