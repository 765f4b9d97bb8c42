"""Generated datasets in the schema of the Hub dataset CoNLL-2003 (``eriktks/conll2003``).

Newswire-like sentences from templates: ``tokens`` and ``ner_tags`` (a ClassLabel in the CoNLL-2003
order, IOB2), plus ``id``. Entities are drawn from small per-type lexicons and the words around them
name their type, so a tiny model learns the task in a few epochs; a few names are shared between types
(a city that is also a club) so that context matters.
"""

from __future__ import annotations

import random

from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from hubtools.data.generate import DEFAULT_SPLITS, split_by_fractions

CONLL_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]

_NAMES = {
    "PER": ["John Smith", "Anna Petrova", "Boris Becker", "Carlos Moya", "Helmut Kohl", "Yasser Arafat",
            "Wasim Akram", "Steffi Graf", "Bill Clinton", "Nelson Mandela", "Mario Cipollini", "Jacques Chirac",
            "Smith", "Kohl", "Graf", "Clinton"],
    "ORG": ["Reuters", "Ajax", "Barcelona", "Bayern Munich", "European Union", "United Nations", "Commerzbank",
            "Boeing", "Ford Motor Co", "Bank of England", "Chelsea", "NATO", "Leeds United", "Moody 's"],
    "LOC": ["Germany", "France", "London", "Paris", "New York", "Moscow", "Bonn", "Sydney", "South Africa",
            "Hong Kong", "Iraq", "Barcelona", "Chelsea", "Lebanon"],
    "MISC": ["German", "French", "British", "Russian", "Olympic Games", "World Cup", "Dutch", "Australian Open",
             "Israeli", "Euro 96", "Tour de France", "Chinese"],
}
# "{PER}" etc. are entity slots; every other word is O.
_TEMPLATES = [
    "{PER} said on Tuesday that {ORG} would cut jobs in {LOC} .",
    "{ORG} shares rose 3.5 percent in {LOC} after the {MISC} report .",
    "{PER} , the {MISC} champion , beat {PER} 6-3 6-4 .",
    "Police in {LOC} arrested two men , a spokesman for {ORG} said .",
    "{ORG} beat {ORG} 2-1 in the {MISC} match on Saturday .",
    "The {MISC} government in {LOC} rejected the plan , {PER} told {ORG} .",
    "{PER} arrived in {LOC} for talks with {PER} .",
    "Analysts at {ORG} expect the {MISC} economy to grow .",
    "Fighting broke out near {LOC} on Sunday .",
    "Prices were steady on Monday .",
    "{LOC} 's prime minister {PER} will visit {LOC} next week .",
    "{PER} joined {ORG} from {ORG} in {LOC} .",
]
_PLAIN_FILLERS = ["The market closed higher .", "Results were not available .", "-- Newsroom 12 34 56 ."]


def conll_features() -> Features:
    """Features of CoNLL-2003 on the Hub (the NER columns: ``id``, ``tokens``, ``ner_tags``)."""
    return Features({
        "id": Value("string"),
        "tokens": Sequence(Value("string")),
        "ner_tags": Sequence(ClassLabel(names=CONLL_LABELS)),
    })


def _sentence(rng: random.Random) -> tuple[list[str], list[int]]:
    template = rng.choice(_TEMPLATES) if rng.random() > 0.1 else rng.choice(_PLAIN_FILLERS)
    tokens: list[str] = []
    tags: list[int] = []
    for word in template.split():
        if word.startswith("{") and word.endswith("}"):
            kind = word[1:-1]
            name = rng.choice(_NAMES[kind]).split()
            tokens += name
            tags += [CONLL_LABELS.index(f"B-{kind}")] + [CONLL_LABELS.index(f"I-{kind}")] * (len(name) - 1)
        else:
            tokens.append(word)
            tags.append(0)
    return tokens, tags


def generate_conll(
    num_sentences: int = 1000,
    seed: int = 0,
    splits: dict[str, float] | None = DEFAULT_SPLITS,
) -> DatasetDict:
    """CoNLL-2003-shaped corpus; ``splits`` maps split names to fractions (``None``: one "train" split).

    The same seed gives the same data.
    """
    rng = random.Random(seed)
    rows = [_sentence(rng) for _ in range(max(num_sentences, 0))]
    ds = Dataset.from_dict(
        {"id": [str(i) for i in range(len(rows))], "tokens": [r[0] for r in rows], "ner_tags": [r[1] for r in rows]},
        features=conll_features(),
    )
    return split_by_fractions(ds, splits, "generate_conll")
