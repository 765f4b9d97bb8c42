"""Tagging schemes: detection and conversion to IOB2.

Supported schemes:

- ``IOB2``: every entity starts with ``B-``; ``I-`` continues it.
- ``IOB1``: ``I-`` everywhere; ``B-`` only separates two adjacent entities of the same type.
- ``BIOES``/``BILOU``: ``S-``/``U-`` single-token entities, ``E-``/``L-`` entity ends.
- ``IO``: bare type names (Few-NERD: ``person-actor``) or ``I-`` only; adjacent entities of the same type
  cannot be told apart and merge into one entity when converted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SCHEMES = ("IOB2", "IOB1", "BIOES", "IO")
_PREFIXES = {"B", "I", "E", "S", "L", "U"}


def split_tag(tag: str) -> tuple[str, str | None]:
    """Split ``B-PER`` into (``B``, ``PER``); ``O`` gives (``O``, None); a bare ``PER`` gives (``I``, ``PER``)."""
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
