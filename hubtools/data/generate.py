"""Generated datasets in the exact schema of the Hub dataset ``nlpaueb/finer-139``.

Sentences imitate 10-K/10-Q prose: numbers and ``$`` / ``%`` are separate tokens, only numeric tokens carry
entity tags, and the words around a number name its XBRL type (so a tiny model can learn the task). The
corpus is assembled with numpy from token-id templates, so the full FiNER-139 size (about 1.1M sentences)
takes seconds.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Sequence, Value

from hubtools.data.schemes import types_of
from hubtools.errors import DataError

DEFAULT_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}
_LABEL_FILES = {"finer-139": "finer139_labels.txt", "few-nerd-fine": "fewnerd_fine_labels.txt"}
# Share of sentences with entities, and chance that each of their first two extra clauses names one more.
_P_ENTITY_SENTENCE = 0.75
_P_ENTITY_TAIL = 0.5
_ZIPF_EXPONENT = 1.1
# The most frequent types, in this order; the other types follow in a fixed shuffled order.
_HEAD_TYPES = (
    "DebtInstrumentInterestRateStatedPercentage",
    "Revenues",
    "DebtInstrumentFaceAmount",
    "LineOfCreditFacilityMaximumBorrowingCapacity",
    "IncomeTaxExpenseBenefit",
    "ShareBasedCompensation",
    "EffectiveIncomeTaxRateContinuingOperations",
    "AmortizationOfIntangibleAssets",
)


def load_label_list(name: str) -> list[str]:
    """Label names of a known dataset (``"finer-139"``), in ClassLabel order."""
    if name not in _LABEL_FILES:
        raise DataError(f"unknown label list {name!r}; known: {sorted(_LABEL_FILES)}")
    text = resources.files("hubtools").joinpath("resources", _LABEL_FILES[name]).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


FINER_LABELS: list[str] = load_label_list("finer-139")

# Sentence frames per value unit. "{P}"/"{Pc}": the type's phrase (capitalised); "<V>": the tagged value;
# "[KIND]": an untagged number of that kind.
_VALUE = {
    "money": "$ [MONEY]* million",
    "pct": "[PCT]* %",
    "count": "[COUNT]*",
    "years": "[SMALL]* years",
    "years2": "[TENS]* [UNITS]+ years",
    "price": "$ [PRICE]*",
    "area": "[COUNT]* square feet",
    "date": "[YEAR]*",
}
_FRAMES = {
    "money": (
        "The Company recorded {P} of <V> for the year ended December 31 , [YEAR]",
        "{Pc} was <V> and <V> for the years ended December 31 , [YEAR] and [YEAR] , respectively",
        "As of December 31 , [YEAR] , {P} totaled <V> , compared with <V> as of December 31 , [YEAR]",
        "During fiscal [YEAR] , we recognized <V> of {P}",
    ),
    "pct": (
        "The {P} was <V> as of December 31 , [YEAR]",
        "The Company reported {P} of <V> and <V> for [YEAR] and [YEAR] , respectively",
        "At December 31 , [YEAR] , the {P} ranged from <V> to <V>",
    ),
    "count": (
        "As of December 31 , [YEAR] , {P} was <V>",
        "{Pc} amounted to <V> during [YEAR] and <V> during [YEAR]",
    ),
    "years": (
        "The {P} is <V> as of December 31 , [YEAR]",
        "{Pc} of <V> applies to the awards granted in [YEAR]",
        "The {P} is approximately <V2>",
    ),
    "price": (
        "The {P} was <V> per share as of December 31 , [YEAR]",
        "{Pc} of <V> and <V> per share were reported for [YEAR] and [YEAR] , respectively",
    ),
    "area": (
        "The {P} was approximately <V> at December 31 , [YEAR]",
        "We own {P} of approximately <V> located in [COUNT] states",
    ),
    "date": (
        "The {P} is [MONTH] [DAY] , <V>",
        "The notes bear a {P} in [MONTH] <V>",
    ),
}
_TAIL_ENTITY = ", while {P} was <V>"
_TAILS = (
    ", primarily due to higher sales volumes in North America",
    ", as described in Note [NOTE] to the consolidated financial statements",
    ", which is included in selling , general and administrative expenses in the consolidated statements of "
    "operations",
    ", net of tax , and is subject to the covenants of the credit agreement",
    ", partially offset by lower demand in our industrial segment",
    ", reflecting the impact of foreign currency exchange rates",
    ", and there were no material changes to our estimates during the period",
    ", as amended on [MONTH] [DAY] , [YEAR]",
)
_PLAIN = (
    "The Company operates [COUNT] stores in [SMALL] states and employs approximately [COUNT] people",
    "See Note [NOTE] for additional information regarding our commitments and contingencies",
    "We believe that our existing cash and cash equivalents will be sufficient to meet our needs for at "
    "least the next [SMALL] months",
    "In [MONTH] [YEAR] , the Board of Directors approved a plan to restructure our European operations",
    "The following table presents the changes in the carrying amount by reportable segment for [YEAR] and "
    "[YEAR]",
    "Our fiscal year ends on the last Saturday of [MONTH] , and fiscal [YEAR] included [SMALL] weeks",
    "The preparation of financial statements requires management to make estimates and assumptions that "
    "affect the reported amounts",
    "There were no transfers between Level [SMALL] and Level [SMALL] of the fair value hierarchy during "
    "[YEAR]",
    "On [MONTH] [DAY] , [YEAR] , we entered into an amendment to our revolving credit facility with a "
    "syndicate of lenders",
    "The Company is subject to legal proceedings and claims that arise in the ordinary course of business",
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_TENS = ("twenty", "thirty", "forty")
_UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_SHORTEN = (
    ("ShareBasedCompensationArrangementByShareBasedPaymentAward", "ShareBasedAward"),
    ("SharebasedCompensationArrangementBySharebasedPaymentAward", "ShareBasedAwardRights"),
    ("BusinessCombinationRecognizedIdentifiableAssetsAcquiredAndLiabilitiesAssumed", "AcquiredNet"),
    ("EquityInstrumentsOtherThanOptions", "StockUnits"),
    ("WeightedAverage", "Average"),
)


def _number_pools(rng: np.random.Generator) -> dict[str, list[str]]:
    """Distinct number strings per kind, formatted like FiNER tokens."""
    money = rng.lognormal(3.0, 1.4, 3000)
    count = rng.lognormal(11.0, 2.0, 3000).astype(np.int64) + 1
    return {
        "MONEY": [f"{v:,.1f}" if v < 100 else f"{v:,.0f}" for v in money],
        "PCT": [f"{v:.2f}".rstrip("0").rstrip(".") for v in rng.uniform(0.1, 40.0, 2000)],
        "COUNT": [f"{v:,}" for v in count],
        "PRICE": [f"{v:.2f}" for v in rng.lognormal(2.5, 1.0, 2000)],
        "SMALL": [str(v) for v in range(2, 31)],
        "YEAR": [str(v) for v in range(2009, 2022)],
        "NOTE": [str(v) for v in range(1, 21)],
        "DAY": [str(v) for v in range(1, 29)],
        "MONTH": list(_MONTHS),
        "TENS": list(_TENS),
        "UNITS": list(_UNITS),
    }


_KINDS = ("MONEY", "PCT", "COUNT", "PRICE", "SMALL", "YEAR", "NOTE", "DAY", "MONTH", "TENS", "UNITS")


def _unit(type_name: str) -> str:
    """Value unit of an XBRL type, guessed from its name."""
    base = type_name.rstrip("0123456789")
    if "Percent" in base or base.endswith("Rate") or "RateAt" in base or "RateEffective" in base:
        return "pct"
    if base.endswith(("Life", "Term", "Period")):
        return "years"
    if base.endswith("Date"):
        return "date"
    if "Price" in base or base.endswith("GrantDateFairValue"):
        return "price"
    if base.startswith("Area"):
        return "area"
    if "Shares" in base or base.endswith("Number") or "NumberOf" in base:
        return "count"
    return "money"


def _phrase(type_name: str) -> list[str]:
    """Lower-case words naming a type, e.g. ``AmortizationOfIntangibleAssets`` -> amortization of ..."""
    name = type_name.rstrip("0123456789")
    for long, short in _SHORTEN:
        name = name.replace(long, short)
    return [w.lower() for w in re.findall(r"[A-Z][a-z]*|[0-9]+", name)]


class _Templates:
    """Token-id templates: a padded matrix of token ids (negative = number slot) and one of tag ids."""

    def __init__(self, labels: list[str]):
        self.label_id = {lab: i for i, lab in enumerate(labels)}
        self.words: dict[str, int] = {}
        self.rows: list[tuple[list[int], list[int]]] = []

    def add(self, text: str, type_name: str | None = None, phrase: list[str] | None = None) -> int:
        """Adds one template; returns its row."""
        value = _VALUE[_unit(type_name)] if type_name else ""
        text = text.replace("<V2>", _VALUE["years2"]).replace("<V>", value)
        toks, tags = [], []
        for piece in text.split():
            if piece in ("{P}", "{Pc}"):
                words = list(phrase or [])
                if piece == "{Pc}":
                    words[0] = words[0].capitalize()
                toks += [self._word(w) for w in words]
                tags += [0] * len(words)
            elif piece.startswith("["):
                kind, mark = piece[1:].split("]")
                toks.append(-1 - _KINDS.index(kind))
                tags.append(self.label_id[f"{'B' if mark == '*' else 'I'}-{type_name}"] if mark else 0)
            else:
                toks.append(self._word(piece))
                tags.append(0)
        self.rows.append((toks, tags))
        return len(self.rows) - 1

    def _word(self, word: str) -> int:
        return self.words.setdefault(word, len(self.words))

    def matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lengths = np.array([len(t) for t, _ in self.rows], dtype=np.int64)
        toks = np.zeros((len(self.rows), lengths.max()), dtype=np.int32)
        tags = np.zeros_like(toks)
        for i, (t, g) in enumerate(self.rows):
            toks[i, : len(t)] = t
            tags[i, : len(g)] = g
        return toks, tags, lengths


@cache
def _finer_templates() -> dict:
    """All FiNER templates, built once: per-type main and tail rows, plain rows, tails, the period."""
    types = types_of(FINER_LABELS)
    tpl = _Templates(FINER_LABELS)
    main_base, main_count, tail_row = [], [], []
    for name in types:
        frames = _FRAMES[_unit(name)]
        main_base.append(len(tpl.rows))
        main_count.append(len(frames))
        for frame in frames:
            tpl.add(frame, name, _phrase(name))
    for name in types:
        tail_row.append(tpl.add(_TAIL_ENTITY, name, _phrase(name)))
    plain = [tpl.add(t) for t in _PLAIN]
    tails = [tpl.add(t) for t in _TAILS]
    period = tpl.add(".")
    order = list(_HEAD_TYPES) + [t for t in types if t not in _HEAD_TYPES]
    rest = np.random.default_rng(139).permutation(len(order) - len(_HEAD_TYPES)) + len(_HEAD_TYPES)
    ranked = [order[i] for i in range(len(_HEAD_TYPES))] + [order[i] for i in rest]
    weights = np.empty(len(types))
    weights[[types.index(t) for t in ranked]] = 1.0 / np.arange(1, len(types) + 1) ** _ZIPF_EXPONENT
    toks, tags, lengths = tpl.matrices()
    return {
        "toks": toks, "tags": tags, "lengths": lengths, "words": list(tpl.words),
        "main_base": np.array(main_base), "main_count": np.array(main_count), "tail_row": np.array(tail_row),
        "plain": np.array(plain), "tails": np.array(tails), "period": period,
        "p_type": weights / weights.sum(),
    }


def _segments(n: int, t: dict, rng: np.random.Generator) -> np.ndarray:
    """Template rows per sentence, shape (n, 5): main clause, up to three tails, period (-1 = none)."""
    num_types = len(t["p_type"])
    has_entity = rng.random(n) < _P_ENTITY_SENTENCE
    types = rng.choice(num_types, size=n, p=t["p_type"])
    frame = (rng.random(n) * t["main_count"][types]).astype(np.int64)
    plain = t["plain"][rng.integers(len(t["plain"]), size=n)]
    main = np.where(has_entity, t["main_base"][types] + frame, plain)
    segs = np.full((n, 5), -1, dtype=np.int64)
    segs[:, 0] = main
    segs[:, 4] = t["period"]
    num_tails = rng.choice(4, size=n, p=[0.1, 0.25, 0.35, 0.3])
    plain_tails = t["tails"][rng.integers(len(t["tails"]), size=(n, 3))]
    segs[:, 1:4] = np.where(np.arange(3) < num_tails[:, None], plain_tails, -1)
    for col in (1, 2):
        tail_types = rng.choice(num_types, size=n, p=t["p_type"])
        entity_tail = has_entity & (num_tails >= col) & (rng.random(n) < _P_ENTITY_TAIL)
        segs[entity_tail, col] = t["tail_row"][tail_types[entity_tail]]
    return segs


def _corpus(n: int, seed: int) -> pa.Table:
    """Arrow table (id, tokens, ner_tags) of n generated sentences."""
    t = _finer_templates()
    rng = np.random.default_rng(seed)
    segs = _segments(n, t, rng)
    seg_len = np.where(segs >= 0, t["lengths"][np.maximum(segs, 0)], 0)
    flat = segs[segs >= 0]
    flat_len = t["lengths"][flat]
    total = int(flat_len.sum())
    seg_start = np.cumsum(flat_len) - flat_len
    rows = np.repeat(flat.astype(np.int32), flat_len)
    pos = np.arange(total, dtype=np.int64) - np.repeat(seg_start, flat_len)
    tok = t["toks"][rows, pos].astype(np.int64)
    tag = t["tags"][rows, pos].astype(np.int64)
    del rows, pos
    pools = _number_pools(np.random.default_rng(seed + 1))
    vocab = list(t["words"])
    offsets, sizes = np.empty(len(_KINDS), np.int64), np.empty(len(_KINDS), np.int64)
    for k, kind in enumerate(_KINDS):
        offsets[k], sizes[k] = len(vocab), len(pools[kind])
        vocab += pools[kind]
    slot = tok < 0
    kinds = -tok[slot] - 1
    tok[slot] = offsets[kinds] + (rng.random(kinds.size) * sizes[kinds]).astype(np.int64)
    sent_off = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(seg_len.sum(axis=1), out=sent_off[1:])
    tokens = pa.array(vocab, pa.string()).take(pa.array(tok))
    return pa.table({
        "id": pa.array(np.arange(n).astype(str)),
        "tokens": pa.ListArray.from_arrays(pa.array(sent_off), tokens),
        "ner_tags": pa.ListArray.from_arrays(pa.array(sent_off), pa.array(tag)),
    })


def finer_features() -> Features:
    """Features of ``nlpaueb/finer-139``."""
    return Features({
        "id": Value("string"),
        "tokens": Sequence(Value("string")),
        "ner_tags": Sequence(ClassLabel(names=FINER_LABELS)),
    })


def split_by_fractions(ds: Dataset, splits: dict[str, float] | None, source: str) -> DatasetDict:
    """Consecutive slices of ``ds`` named and sized by ``splits`` (``None``: one "train" split).

    Split sizes are rounded, the last split takes the remainder.
    """
    splits = splits or {"train": 1.0}
    if len(ds) < 1 or any(f <= 0 for f in splits.values()) or abs(sum(splits.values()) - 1) > 1e-6:
        raise DataError(f"{source}: need num_sentences >= 1 and positive fractions summing to 1, "
                        f"got {len(ds)} and {splits}")
    out, start = {}, 0
    for i, (name, frac) in enumerate(splits.items()):
        size = len(ds) - start if i == len(splits) - 1 else round(len(ds) * frac)
        out[name] = ds.select(range(start, start + size))
        start += size
    return DatasetDict(out)


def generate_finer(
    num_sentences: int = 3000,
    seed: int = 0,
    splits: dict[str, float] | None = DEFAULT_SPLITS,
) -> DatasetDict:
    """FiNER-139-shaped corpus; ``splits`` maps split names to fractions, ``None`` gives one "train" split.

    Split sizes are rounded, the last split takes the remainder. The same seed gives the same data.
    """
    if num_sentences < 1:
        raise DataError(f"generate_finer: need num_sentences >= 1 and positive fractions summing to 1, "
                        f"got {num_sentences} and {splits}")
    features = finer_features()
    table = _corpus(num_sentences, seed).cast(features.arrow_schema)
    return split_by_fractions(Dataset(table, info=DatasetInfo(features=features)), splits, "generate_finer")
