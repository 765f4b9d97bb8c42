"""Generated sentences in the schema of the Hub dataset ``benjamin/ner-uk`` (Ukrainian, PERS/LOC/ORG/MISC).

Schema: ``tokens`` (Sequence(string)) and ``ner_tags`` (Sequence(ClassLabel)) with the IOB2 names of
``NER_UK_LABELS``: ``O`` then B-/I- pairs in the order PERS, ORG, LOC, MISC, as the Hub dataset lists them
(the order of its card; not checked against the Hub here, which is offline). Sentences are filled from
templates whose context words name the type (so a tiny model learns the task); every token is one piece
of the word tokenizer. A year drawn from a wide range makes some test words unseen in training.
"""

from __future__ import annotations

import random

from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from hubtools.errors import DataError

NER_UK_LABELS = ["O", "B-PERS", "I-PERS", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
DEFAULT_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}

_ENTITIES = {
    "PERS": ("Тарас Шевченко", "Леся Українка", "Іван Франко", "Олена Коваленко", "Петро Мельник",
             "Оксана Бондар", "Марія Ткачук", "Андрій", "Наталія Гнатюк", "Богдан Хмельницький"),
    "ORG": ("Верховна Рада", "Національний банк України", "Укрзалізниця", "Київський університет",
            "Міністерство освіти", "Нафтогаз", "Львівська політехніка", "ООН"),
    "LOC": ("Київ", "Львів", "Харків", "Одеса", "Полтава", "Івано-Франківськ", "Дніпро", "Карпати",
            "Україна", "Чернігів"),
    "MISC": ("Євробачення", "Кобзар", "Олімпійські ігри", "Різдво", "Лісова пісня", "Майдан"),
}
_TEMPLATES = (
    "{PERS} приїхав до міста {LOC} у {YEAR} році .",
    "{PERS} працює в організації {ORG} .",
    "Учора {ORG} оголосила про нові правила .",
    "У місті {LOC} відбувся фестиваль {MISC} .",
    "Керівник {ORG} {PERS} заявив , що ситуація стабільна .",
    "{PERS} прочитала книжку « {MISC} » у {YEAR} році .",
    "Делегація з міста {LOC} відвідала {ORG} .",
    "Погода сьогодні тепла і сонячна .",
    "Ціни на хліб знову зросли у {YEAR} році .",
    "Діти гралися на подвір'ї до вечора .",
)


def _sentence(rng: random.Random) -> tuple[list[str], list[str]]:
    tokens: list[str] = []
    tags: list[str] = []
    for word in rng.choice(_TEMPLATES).split():
        entity_type = word[1:-1] if word.startswith("{") else None
        if entity_type in _ENTITIES:
            words = rng.choice(_ENTITIES[entity_type]).split()
            tokens += words
            tags += [f"B-{entity_type}"] + [f"I-{entity_type}"] * (len(words) - 1)
        else:
            tokens.append(str(rng.randint(1800, 2024)) if entity_type == "YEAR" else word)
            tags.append("O")
    return tokens, tags


def ner_uk_features() -> Features:
    """Features of ``benjamin/ner-uk``."""
    return Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=NER_UK_LABELS))})


def generate_ner_uk(num_sentences: int = 1000, seed: int = 0,
                    splits: dict[str, float] | None = DEFAULT_SPLITS) -> DatasetDict:
    """A ner-uk-shaped corpus; ``splits`` maps split names to fractions (the last takes the remainder)."""
    splits = splits or {"train": 1.0}
    if num_sentences < 1 or any(f <= 0 for f in splits.values()) or abs(sum(splits.values()) - 1) > 1e-6:
        raise DataError(f"generate_ner_uk: need num_sentences >= 1 and positive fractions summing to 1, "
                        f"got {num_sentences} and {splits}")
    rng = random.Random(seed)
    rows = [_sentence(rng) for _ in range(num_sentences)]
    label_id = {name: i for i, name in enumerate(NER_UK_LABELS)}
    out, start = {}, 0
    for i, (name, frac) in enumerate(splits.items()):
        size = num_sentences - start if i == len(splits) - 1 else round(num_sentences * frac)
        part = rows[start:start + size]
        out[name] = Dataset.from_dict({"tokens": [t for t, _ in part],
                                       "ner_tags": [[label_id[g] for g in tags] for _, tags in part]},
                                      features=ner_uk_features())
        start += size
    return DatasetDict(out)
