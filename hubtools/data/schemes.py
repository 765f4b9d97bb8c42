"""Tagging schemes: tag syntax, detection and conversion to IOB2.

Supported schemes:

- ``IOB2``: every entity starts with ``B-``; ``I-`` continues it.
- ``IOB1``: ``I-`` everywhere; ``B-`` only separates two adjacent entities of the same type.
- ``BIOES``/``BILOU``: ``S-``/``U-`` single-token entities, ``E-``/``L-`` entity ends.
- ``IO``: bare type names (Few-NERD: ``person-actor``) or ``I-`` only; adjacent entities of the same type
  cannot be told apart and merge into one entity when converted.

Tag syntax (:func:`tag_problem`), checked once per distinct tag before any conversion:

- ``O`` is outside (exactly ``O``: ``o`` and ``0`` are refused).
- A prefixed tag is ``P-TYPE``: ``P`` one upper-case letter of the scheme (IOB1/IOB2: ``B I``; BIOES:
  ``B I E S L U``; IO: ``I``), then exactly one ``-``, then a non-empty type, which may itself hold hyphens
  (``B-person-actor``: type ``person-actor``). No whitespace anywhere in a tag.
- A bare type name (no prefix) is an IO tag: accepted with ``scheme: IO`` and with ``auto``, refused by
  IOB1, IOB2 and BIOES. A bare name must not look like a prefixed tag gone wrong: a name whose first or
  last part (split at ``-``, ``_``, ``.``, ``:``) is one character is refused in every scheme. This refuses
  ``X-PER`` (unknown prefix), ``B_PER`` (wrong separator), ``b-per`` (lower-case prefix), ``PER-B``
  (prefix after the type) and one-letter names, and keeps ``person-actor``, ``art-film``, ``location-GPE``.
  A type that really starts or ends with one letter can still be used with a prefix (``I-X-ray``).
- ``auto`` accepts every tag of some scheme but refuses a label set that mixes bare names with prefixed
  tags (``LOC`` next to ``B-PER``): that is not one scheme, and guessing would invent entities. The scheme
  is then detected from the prefixes present (:func:`detect_scheme`, :func:`detect_scheme_ids`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

SCHEMES = ("IOB2", "IOB1", "BIOES", "IO")
_PREFIXES = {"B", "I", "E", "S", "L", "U"}
SCHEME_PREFIXES = {"IOB2": ("B", "I"), "IOB1": ("B", "I"), "BIOES": ("B", "I", "E", "S", "L", "U"), "IO": ("I",),
                   "auto": ("B", "I", "E", "S", "L", "U")}
_PARTS = re.compile(r"[-_.:]")


def tag_problem(tag: str, scheme: str = "auto") -> str | None:
    """Why ``tag`` is not a tag of ``scheme`` (``auto``: of any scheme), or None when it is one.

    See the module docstring for the rule; the text says what is wrong and what a correct tag looks like.
    """
    if tag == "O":
        return None
    allowed = SCHEME_PREFIXES[scheme]
    listed = ", ".join(f"{p}-TYPE" for p in allowed)
    if not tag:
        return "empty tag"
    if any(c.isspace() for c in tag):
        return "whitespace inside a tag"
    prefix, sep, rest = tag.partition("-")
    if sep and prefix in _PREFIXES:
        if not rest or rest.startswith("-"):
            return f"prefix {prefix}- must be followed by one '-' and an entity type"
        if prefix not in allowed:
            return f"prefix {prefix}- is not part of the {scheme} scheme (tags O, {listed})"
        return None
    parts = _PARTS.split(tag)
    if not parts[0] or not parts[-1]:
        return "a type name cannot start or end with a separator (-, _, ., :)"
    if len(tag) == 1:
        return "one-character tag: the outside tag is O, entity tags look like B-PER"
    first, last = parts[0], parts[-1]
    if len(first) == 1:
        separator = tag[1]
        if first.upper() in _PREFIXES and first != first.upper():
            return f"lower-case prefix {first!r}: prefixes are upper case ({first.upper()}-TYPE)"
        if first in _PREFIXES:
            return f"separator {separator!r} after prefix {first}: the separator is '-' ({first}-TYPE)"
        return f"unknown prefix {first + separator!r}: prefixes are {', '.join(f'{p}-' for p in sorted(_PREFIXES))}"
    if len(last) == 1:
        return f"one-letter part {tag[-2:]!r} at the end: the prefix comes first ({last.upper()}-{tag[:-2]})"
    if scheme not in ("IO", "auto"):
        return f"bare type name without a prefix: {scheme} tags are O, {listed} (bare names are IO tags)"
    return None


def is_bare(tag: str) -> bool:
    """True for a bare type name (an IO tag without prefix), False for ``O`` and prefixed tags."""
    return tag != "O" and not _has_prefix(tag)


def invalid_tags(tags: Iterable[str], scheme: str = "auto") -> dict[str, str]:
    """Every invalid tag among distinct ``tags`` with its problem (empty when the label set is valid).

    With ``auto``, bare names next to prefixed tags are all invalid (see the module docstring)."""
    tags = list(dict.fromkeys(tags))
    bad = {t: problem for t in tags if (problem := tag_problem(t, scheme)) is not None}
    if scheme == "auto":
        valid = [t for t in tags if t not in bad]
        prefixed = [t for t in valid if _has_prefix(t)]
        if prefixed:
            for tag in valid:
                if is_bare(tag):
                    bad[tag] = (f"bare type name next to prefixed tags such as {prefixed[0]!r}: not one scheme; "
                                f"prefix every tag (I-{tag}), or set data.scheme=IO if all are IO types")
    return bad


def split_tag(tag: str) -> tuple[str, str | None]:
    """Split ``B-PER`` into (``B``, ``PER``); ``O`` gives (``O``, None); a bare ``PER`` gives (``I``, ``PER``).

    The tag is assumed valid (:func:`tag_problem` is None): the loaders check every distinct tag first."""
    if tag == "O":
        return "O", None
    prefix, sep, rest = tag.partition("-")
    if sep and prefix in _PREFIXES and rest:
        return prefix, rest
    return "I", tag


def _has_prefix(tag: str) -> bool:
    return len(tag) > 2 and tag[1] == "-" and tag[0] in _PREFIXES


def entity_type(tag: str) -> str | None:
    """The entity type of a tag, None for ``O``."""
    return split_tag(tag)[1]


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of tag sequences (``IOB2``, ``IOB1``, ``BIOES`` or ``IO``).

    ``IOB2`` is returned when no sequence contradicts it; ``IOB1`` when some entity starts with ``I-``
    and ``B-`` is used; ``IO`` when tags carry no prefixes or only ``I-``.
    """
    prefixes: set[str] = set()
    starts_with_i = False
    bare = False
    for tags in sequences:
        prev_type = None
        for tag in tags:
            prefix, typ = split_tag(tag)
            bare = bare or (typ is not None and not _has_prefix(tag))
            prefixes.add(prefix)
            if prefix == "I" and typ != prev_type:
                starts_with_i = True
            prev_type = typ
    if prefixes & {"E", "S", "L", "U"}:
        return "BIOES"
    if bare or (prefixes <= {"O", "I"} and "I" in prefixes):
        return "IO"
    if starts_with_i:
        return "IOB1"
    return "IOB2"


def _sentence_starts(offsets: np.ndarray, size: int) -> np.ndarray:
    starts = np.zeros(size, dtype=bool)
    first = offsets[:-1][offsets[:-1] < offsets[1:]]
    starts[first] = True
    return starts


def _previous(values: np.ndarray, offsets: np.ndarray, reset: np.ndarray | None = None) -> np.ndarray:
    """Per token, the value of the token before it in the same sentence (0 at a sentence start or after a
    token where ``reset`` is True)."""
    prev = np.zeros_like(values)
    if values.size > 1:
        prev[1:] = values[:-1] if reset is None else np.where(reset[:-1], 0, values[:-1])
    prev[_sentence_starts(offsets, values.size)] = 0
    return prev


def detect_scheme_ids(names: Sequence[str], values: np.ndarray, offsets: np.ndarray) -> str:
    """:func:`detect_scheme` for tags given as ids into ``names`` (flat ``values`` with list ``offsets``
    starting at 0), vectorized: the per-token work is a few numpy gathers."""
    parsed = [split_tag(n) for n in names]
    prefixes = {p for p, _ in parsed}
    if prefixes & {"E", "S", "L", "U"}:
        return "BIOES"
    if any(is_bare(n) for n in names) or (prefixes <= {"O", "I"} and "I" in prefixes):
        return "IO"
    if values.size == 0:
        return "IOB2"
    types = {t: i + 1 for i, t in enumerate(dict.fromkeys(t for _, t in parsed if t is not None))}
    type_of = np.array([0 if t is None else types[t] for _, t in parsed], dtype=np.int64)
    is_inside = np.array([p == "I" for p, _ in parsed], dtype=bool)
    token_type = type_of[values]
    iob1_start = is_inside[values] & (token_type != _previous(token_type, offsets))
    return "IOB1" if iob1_start.any() else "IOB2"


def to_iob2_ids(names: Sequence[str], values: np.ndarray, offsets: np.ndarray, scheme: str,
                types: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """:func:`to_iob2` for tags given as ids into ``names``, vectorized: returns the new ids and the IOB2
    label list ``iob2_label_names(types)`` (``types``: every type of ``names``, default in order of first
    appearance)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    parsed = [split_tag(n) for n in names]
    types = list(types) if types is not None else types_of(names)
    index = {t: i + 1 for i, t in enumerate(types)}
    type_of = np.array([0 if t is None else index[t] for _, t in parsed], dtype=np.int64)
    begins = np.array([p in ("B", "S", "U") for p, _ in parsed], dtype=bool)
    closes = np.array([scheme == "BIOES" and p in ("E", "S", "L", "U") for p, _ in parsed], dtype=bool)
    token_type = type_of[values] if values.size else np.zeros(0, dtype=np.int64)
    prev = _previous(token_type, offsets, closes[values] if values.size else None)
    starts = begins[values] | (token_type != prev) if values.size else np.zeros(0, dtype=bool)
    new = np.where(token_type == 0, 0, np.where(starts, 2 * token_type - 1, 2 * token_type))
    return new.astype(np.int64), iob2_label_names(types)


def to_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """Convert one sentence's tags from ``scheme`` to IOB2."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    out: list[str] = []
    prev_type: str | None = None
    for tag in tags:
        prefix, typ = split_tag(tag)
        if typ is None:
            out.append("O")
        else:
            # In every scheme an entity starts at an explicit begin prefix or where the type changes;
            # an I- that follows O or another type (IOB1, IO, or broken IOB2) starts a new entity.
            starts = prefix in {"B", "S", "U"} or typ != prev_type
            out.append(f"B-{typ}" if starts else f"I-{typ}")
        # A BIOES end (E-/S-/L-/U-) closes the entity: a following I- of the same type starts anew.
        prev_type = None if scheme == "BIOES" and prefix in {"E", "S", "L", "U"} else typ
    return out


def iob2_label_names(types: Sequence[str]) -> list[str]:
    """The IOB2 label list ``O, B-T1, I-T1, B-T2, ...`` for entity types in the given order."""
    names = ["O"]
    for typ in types:
        names += [f"B-{typ}", f"I-{typ}"]
    return names


def types_of(label_names: Sequence[str]) -> list[str]:
    """Entity types named by a label list, in first-appearance order."""
    seen: dict[str, None] = {}
    for name in label_names:
        typ = entity_type(name)
        if typ is not None:
            seen.setdefault(typ)
    return list(seen)
