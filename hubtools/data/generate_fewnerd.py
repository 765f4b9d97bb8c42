"""Generated datasets in the exact schema of the Hub dataset ``DFKI-SLT/few-nerd`` (``supervised``).

Columns ``id`` (string), ``tokens``, ``ner_tags`` (8 coarse types) and ``fine_ner_tags`` (66 fine types), both
tagged IO: bare type names, no B-/I- prefixes. A token's coarse type is the prefix of its fine type (before
the first ``-``). The words in front of an entity name its fine type, each fine type has names of its own
(opening and following words, as given names and surnames) and the names end like their coarse type (``the
person actor Dovason Kelina``), so a tiny model can learn the task. Some clauses put two entities of one type
side by side, which IO cannot tell apart (the loader merges them into one IOB2 entity, as with the real data),
and others put two entities of different types side by side (a type change without a gap).
"""

from __future__ import annotations

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from hubtools.data.generate import load_label_list
from hubtools.errors import DataError

# ClassLabel orders of the Hub dataset: "O" first, then the types sorted (so location-GPE precedes
# location-bodiesofwater).
FEWNERD_COARSE_LABELS = ["O", "art", "building", "event", "location", "organization", "other", "person", "product"]
FEWNERD_FINE_LABELS: list[str] = load_label_list("few-nerd-fine")
# Few-NERD supervised: train 131,767 / dev 18,824 / test 37,648 sentences.
FEWNERD_SPLITS = {"train": 0.7, "validation": 0.1, "test": 0.2}

# Clause frames. "{E1}"/"{E2}": an entity of the clause's first/second type; "{K1}"/"{K2}": the words naming
# that type. A frame starting with "{E1}" gives sentence-initial entities when it opens the sentence.
_ONE = (
    "{E1} is a well known {K1}",
    "the report mentions the {K1} {E1} twice",
    "according to the archive , the {K1} {E1} was renamed later",
)
_SAME = ("the two {K1} entries {E1} {E1} were listed together",)
_TWO = (
    "the {K1} {E1} and the {K2} {E2} were compared",
    "both the {K1} and the {K2} , {E1} {E2} , were cited",
)
_PLAIN = (
    "it was revised and published again in the following year",
    "many readers wrote letters about it",
    "the details remain unclear",
    "this was later confirmed by several sources",
)
_CLAUSE_KINDS = (_PLAIN, _ONE, _SAME, _TWO)
_P_CLAUSE_KIND = (0.2, 0.45, 0.15, 0.2)
_P_NUM_CLAUSES = (0.5, 0.35, 0.15)
_P_NAME_WORDS = (0.45, 0.4, 0.15)
_SYLLABLES = ("ka", "lo", "mi", "ren", "do", "va", "sel", "tu", "bri", "an", "ko", "zu", "pe", "lan", "mor", "ti",
              "gar", "ne", "ol", "vis", "ra", "hu", "fen", "di")
_ENDINGS = {"art": ("ode", "ia"), "building": ("hall", "dome"), "event": ("fest", "cup"), "location": ("burg", "ville"),
            "organization": ("corp", "tek"), "other": ("ite", "ium"), "person": ("son", "ina"),
            "product": ("tron", "max")}


def fewnerd_features() -> Features:
    """Features of ``DFKI-SLT/few-nerd``."""
    return Features({
        "id": Value("string"),
        "tokens": Sequence(Value("string")),
        "ner_tags": Sequence(ClassLabel(names=FEWNERD_COARSE_LABELS)),
        "fine_ner_tags": Sequence(ClassLabel(names=FEWNERD_FINE_LABELS)),
    })


def type_words(fine_type: str) -> list[str]:
    """The context words naming a fine type: ``person-artist/author`` -> ``["person", "artist"]``."""
    coarse, _, sub = fine_type.partition("-")
    return [coarse, sub.split("/")[0].lower()]


def _names(rng: np.random.Generator, per_type: int = 12) -> dict[int, tuple[list[str], list[str]]]:
    """Capitalized pseudo-words per fine type (by label id), two syllables and an ending of its coarse type: the
    words that open its names and the words that continue them (as given names and surnames), no word shared."""
    out = {}
    for coarse, endings in _ENDINGS.items():
        words = [(a + b + end).capitalize() for a in _SYLLABLES for b in _SYLLABLES for end in endings]
        order = iter(rng.permutation(len(words)))
        for label, name in enumerate(FEWNERD_FINE_LABELS):
            if name.split("-")[0] == coarse:
                out[label] = tuple(sorted(words[next(order)] for _ in range(per_type)) for _ in range(2))
    return out


def _sentence(rng: np.random.Generator, names: dict[int, tuple[list[str], list[str]]]) -> tuple[list[str], list[int]]:
    """One sentence of 1-3 clauses joined by ``;``: its tokens and fine tag ids."""
    tokens: list[str] = []
    tags: list[int] = []
    num_types = len(FEWNERD_FINE_LABELS) - 1
    for c in range(rng.choice(3, p=_P_NUM_CLAUSES) + 1):
        if c:
            tokens.append(";")
            tags.append(0)
        frames = _CLAUSE_KINDS[rng.choice(4, p=_P_CLAUSE_KIND)]
        frame = frames[rng.integers(len(frames))]
        first, second = rng.choice(num_types, size=2, replace=False) + 1
        slots = {"1": first, "2": second}
        for piece in frame.split():
            if piece[:2] in ("{E", "{K"):
                label = slots[piece[2]]
                words = type_words(FEWNERD_FINE_LABELS[label])
                if piece[1] == "K":
                    tokens += words
                    tags += [0] * len(words)
                else:
                    opening, following = names[int(label)]
                    size = rng.choice(3, p=_P_NAME_WORDS) + 1
                    tokens += [opening[rng.integers(len(opening))]]
                    tokens += [following[i] for i in rng.integers(len(following), size=size - 1)]
                    tags += [int(label)] * size
            else:
                tokens.append(piece)
                tags.append(0)
    tokens[0] = tokens[0][0].upper() + tokens[0][1:]
    return tokens + ["."], tags + [0]


def generate_fewnerd(num_sentences: int = 3000, seed: int = 0,
                     splits: dict[str, float] | None = FEWNERD_SPLITS) -> DatasetDict:
    """Few-NERD-shaped corpus; ``splits`` maps split names to fractions (``None``: one "train" split).

    Split sizes are rounded, the last split takes the remainder; ids count from 0 in each split. The same
    seed gives the same data.
    """
    splits = splits or {"train": 1.0}
    if num_sentences < 1 or any(f <= 0 for f in splits.values()) or abs(sum(splits.values()) - 1) > 1e-6:
        raise DataError(f"generate_fewnerd: need num_sentences >= 1 and positive fractions summing to 1, "
                        f"got {num_sentences} and {splits}")
    rng = np.random.default_rng(seed)
    names = _names(rng)
    coarse_of = np.array([0] + [FEWNERD_COARSE_LABELS.index(n.split("-")[0]) for n in FEWNERD_FINE_LABELS[1:]])
    features = fewnerd_features()
    out, start = {}, 0
    for i, (split, frac) in enumerate(splits.items()):
        size = num_sentences - start if i == len(splits) - 1 else round(num_sentences * frac)
        rows = [_sentence(rng, names) for _ in range(size)]
        out[split] = Dataset.from_dict({
            "id": [str(j) for j in range(size)],
            "tokens": [tokens for tokens, _ in rows],
            "ner_tags": [coarse_of[fine].tolist() for _, fine in rows],
            "fine_ner_tags": [fine for _, fine in rows],
        }, features=features)
        start += size
    return DatasetDict(out)
