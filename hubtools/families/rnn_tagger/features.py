"""Word-level and WordPiece tokenizers for RNN taggers trained from scratch, built from the training split only.

A word-level vocabulary maps every unseen word to ``[UNK]`` (losing its case and suffix); a WordPiece
vocabulary splits it into known pieces, so the tagger still sees its capital letter and inflection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import WordLevel, WordPiece
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


def _normalizer(lowercase: bool) -> normalizers.Normalizer:
    return normalizers.Sequence([normalizers.NFC()] + ([normalizers.Lowercase()] if lowercase else []))


def _fast(backend: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=UNK_TOKEN,
        pad_token=PAD_TOKEN,
        padding_side="right",
        model_input_names=["input_ids", "attention_mask"],
    )


def piece_characters(tokenizer: PreTrainedTokenizerFast) -> tuple[list[list[int]], int]:
    """The characters of every vocabulary entry as ids, for a character encoder over tokens: 0 pads, 1 marks
    a ``##`` continuation, then the vocabulary's characters in sorted order; special tokens have none.

    Returns ``(rows, num_char_ids)``: ``rows[token_id]`` padded to the longest entry."""
    vocab = tokenizer.get_vocab()
    special = set(tokenizer.all_special_tokens)
    spelled = {i: ([1] if t.startswith("##") else [], t.removeprefix("##"))
               for t, i in vocab.items() if t not in special}
    chars = {c: i for i, c in enumerate(sorted({c for _, text in spelled.values() for c in text}), start=2)}
    width = max((len(mark) + len(text) for mark, text in spelled.values()), default=1)
    rows = [[0] * width for _ in range(len(vocab))]
    for i, (mark, text) in spelled.items():
        ids = mark + [chars[c] for c in text]
        rows[i][: len(ids)] = ids
    return rows, len(chars) + 2


def word_start_flags(tokenizer: PreTrainedTokenizerFast) -> list[int]:
    """1 for every vocabulary entry that starts a word, 0 for ``##`` continuation pieces and padding (the
    ``word_starts`` buffer of a tagger); ``[UNK]`` replaces a whole word, so it starts one."""
    flags = [1] * len(tokenizer)
    for token, i in tokenizer.get_vocab().items():
        if token.startswith("##") or i == tokenizer.pad_token_id:
            flags[i] = 0
    return flags


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
    normalizer = _normalizer(lowercase)
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
    return _fast(backend)


def build_wordpiece_tokenizer(
    train_sentences: Iterable[list[str]], vocab_size: int, min_frequency: int = 1, lowercase: bool = False
) -> PreTrainedTokenizerFast:
    """A WordPiece fast tokenizer (``##`` continuation pieces, greedy longest match) whose vocabulary comes
    from the pieces of ``train_sentences`` only, deterministically: ``[PAD]`` = 0, ``[UNK]`` = 1, every
    character seen (as a start and as a ``##`` continuation), then word prefixes (stems, whole words) and
    ``##`` suffixes (endings) seen at least ``min_frequency`` times, by decreasing count x length (ties by
    string), up to ``vocab_size`` entries.

    Same normalizer and pre-tokenizer as :func:`build_word_tokenizer`; an unseen word becomes known
    pieces (its case and ending kept), labelled through ``word_ids()`` like a transformer's sub-words.
    """
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    normalizer, pre_tokenizer = _normalizer(lowercase), _pre_tokenizer()
    words: Counter[str] = Counter()
    for sentence in train_sentences:
        for word in sentence:
            words.update(piece for piece, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(word)))
    chars = sorted({c for word in words for c in word})
    vocab = {token: i for i, token in enumerate([PAD_TOKEN, UNK_TOKEN, *chars, *(f"##{c}" for c in chars)])}
    if len(vocab) > vocab_size:
        raise ValueError(f"vocab_size {vocab_size} is below the {len(vocab)} special and character entries")
    candidates: Counter[str] = Counter()
    for word, n in words.items():
        candidates.update({word[:k]: n for k in range(2, len(word) + 1)})
        candidates.update({f"##{word[k:]}": n for k in range(1, len(word) - 1)})
    ranked = sorted((c for c, n in candidates.items() if n >= min_frequency and c not in vocab),
                    key=lambda c: (-candidates[c] * len(c.removeprefix("##")), c))
    for token in ranked[: vocab_size - len(vocab)]:
        vocab[token] = len(vocab)
    backend = Tokenizer(WordPiece(vocab=vocab, unk_token=UNK_TOKEN, continuing_subword_prefix="##"))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizer
    backend.decoder = decoders.WordPiece(prefix="##")
    return _fast(backend)
