"""Generated datasets in the schema of the Hub dataset ``Babelscape/multinerd``.

Columns ``tokens``, ``ner_tags`` (IOB2 ClassLabel with MultiNERD's 31 names and ids) and ``lang`` (ten
languages in one table, as on the Hub). Each entity type has its own names and its own context words, so a
tiny model can learn the task; a few titles are longer than SpanMarker's default maximum entity length
(8 words) and a few sentences carry a long tail, so length limits are exercised.
"""

from __future__ import annotations

import random

from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from hubtools.data.schemes import iob2_label_names
from hubtools.errors import DataError

MULTINERD_TYPES = ("PER", "ORG", "LOC", "ANIM", "BIO", "CEL", "DIS", "EVE", "FOOD", "INST", "MEDIA", "MYTH",
                   "PLANT", "TIME", "VEHI")
MULTINERD_LABELS: list[str] = iob2_label_names(MULTINERD_TYPES)
LANGUAGES = ("en", "de", "es", "fr", "it", "nl", "pl", "pt", "ru", "zh")
DEFAULT_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}

_NAMES = {
    "PER": ["Anna Berg", "John Smith", "Maria Rossi", "Karl Otto Weber", "Li Wei", "Sofia Costa", "Ahmed Khan"],
    "ORG": ["Acme Corporation", "Globex", "United Nations", "Real Madrid", "Initech Labs", "Red Cross"],
    "LOC": ["Paris", "New York", "Berlin", "Lake Geneva", "Mount Everest", "Tokyo", "Sahara"],
    "ANIM": ["red fox", "Bengal tiger", "honey bee", "blue whale", "grey wolf"],
    "BIO": ["Escherichia coli", "influenza virus", "Streptococcus", "yeast cells"],
    "CEL": ["Mars", "the Moon", "Andromeda Galaxy", "Jupiter", "Halley's Comet"],
    "DIS": ["malaria", "diabetes", "influenza", "tuberculosis", "Parkinson's disease"],
    "EVE": ["World War II", "the Olympic Games", "the French Revolution", "Woodstock"],
    "FOOD": ["pizza", "sushi", "apple pie", "paella", "green tea"],
    "INST": ["violin", "electric guitar", "grand piano", "saxophone"],
    "MEDIA": ["The Times", "Star Wars", "Hamlet", "Abbey Road",
              "The Long Night of the Old Grey Stone House by the River"],
    "MYTH": ["Zeus", "Thor", "Medusa", "Anubis", "the Minotaur"],
    "PLANT": ["oak tree", "sunflower", "bamboo", "red rose"],
    "TIME": ["the Middle Ages", "the Bronze Age", "the Renaissance", "the 1990s"],
    "VEHI": ["Ford Mustang", "Boeing 747", "Titanic", "Tesla Model S"],
}
_CONTEXT = {
    "PER": ("the writer", "was born in 1950"), "ORG": ("the members of", "announced a new plan"),
    "LOC": ("they travelled to", "is a popular destination"), "ANIM": ("a wild", "hunts at night"),
    "BIO": ("the bacterium", "was found in the sample"), "CEL": ("the telescope observed", "is visible tonight"),
    "DIS": ("patients with", "need treatment"), "EVE": ("he fought in", "took place long ago"),
    "FOOD": ("she cooked", "tastes delicious"), "INST": ("he played the", "sounds beautiful"),
    "MEDIA": ("the critics reviewed", "was published last year"), "MYTH": ("the legend of", "ruled the gods"),
    "PLANT": ("the garden has a", "grows in spring"), "TIME": ("during", "was a period of change"),
    "VEHI": ("they drove a", "was built in Detroit"),
}
_FILLER = {
    "en": "the a it was and of in on with many people there today".split(),
    "de": "der die das und ist mit von im auf heute viele".split(),
    "es": "el la los y es con de en muy hoy muchos".split(),
    "fr": "le la les et est avec de dans sur aujourd'hui".split(),
    "it": "il la gli e con di in su oggi molti".split(),
    "nl": "de het een en is met van in op vandaag".split(),
    "pl": "i w na z jest to nie dzisiaj wiele".split(),
    "pt": "o a os e com de em hoje muitos".split(),
    "ru": "и в на с это не сегодня много".split(),
    "zh": "的 是 在 了 和 有 今天 很多".split(),
}
_P_LONG_TAIL = 0.02  # share of sentences with 80-150 extra filler words (cut by short maximum lengths)


def multinerd_features() -> Features:
    """Features of ``Babelscape/multinerd`` (tags as a ClassLabel sequence with the dataset's names)."""
    return Features({
        "tokens": Sequence(Value("string")),
        "ner_tags": Sequence(ClassLabel(names=MULTINERD_LABELS)),
        "lang": Value("string"),
    })


def _sentence(rng: random.Random, lang: str) -> tuple[list[str], list[int]]:
    """One sentence of 1-3 clauses, each naming one entity between its type's context words."""
    tokens: list[str] = []
    tags: list[int] = []
    filler = _FILLER[lang]
    for clause in range(rng.randint(1, 3)):
        if clause:
            tokens.append(rng.choice(filler))
            tags.append(0)
        if rng.random() < 0.2:
            words = [rng.choice(filler) for _ in range(rng.randint(3, 7))]
            tokens += words
            tags += [0] * len(words)
            continue
        entity_type = rng.choice(MULTINERD_TYPES)
        before, after = (phrase.split() for phrase in _CONTEXT[entity_type])
        name = rng.choice(_NAMES[entity_type]).split()
        begin = MULTINERD_LABELS.index(f"B-{entity_type}")
        tokens += before + name + after
        tags += [0] * len(before) + [begin] + [begin + 1] * (len(name) - 1) + [0] * len(after)
    if rng.random() < _P_LONG_TAIL:
        tail = [rng.choice(filler) for _ in range(rng.randint(80, 150))]
        tokens += tail
        tags += [0] * len(tail)
    tokens.append(".")
    tags.append(0)
    return tokens, tags


def generate_multinerd(
    num_sentences: int = 2000,
    seed: int = 0,
    english_share: float = 0.5,
    splits: dict[str, float] | None = DEFAULT_SPLITS,
) -> DatasetDict:
    """MultiNERD-shaped corpus: ``english_share`` of the rows have ``lang == "en"``, the rest are spread
    over the other nine languages. ``splits`` maps split names to fractions (``None``: one "train" split);
    the last split takes the remainder. The same seed gives the same data."""
    splits = splits or {"train": 1.0}
    if num_sentences < 1 or not 0 < english_share <= 1 or any(f <= 0 for f in splits.values()) \
            or abs(sum(splits.values()) - 1) > 1e-6:
        raise DataError(f"generate_multinerd: need num_sentences >= 1, 0 < english_share <= 1 and positive "
                        f"split fractions summing to 1, got {num_sentences}, {english_share} and {splits}")
    rng = random.Random(seed)
    rows: dict[str, list] = {"tokens": [], "ner_tags": [], "lang": []}
    for _ in range(num_sentences):
        lang = "en" if rng.random() < english_share else rng.choice(LANGUAGES[1:])
        tokens, tags = _sentence(rng, lang)
        rows["tokens"].append(tokens)
        rows["ner_tags"].append(tags)
        rows["lang"].append(lang)
    everything = Dataset.from_dict(rows, features=multinerd_features())
    out, start = {}, 0
    for i, (name, fraction) in enumerate(splits.items()):
        size = num_sentences - start if i == len(splits) - 1 else round(num_sentences * fraction)
        out[name] = everything.select(range(start, start + size))
        start += size
    return DatasetDict(out)
