"""Card metadata a run takes from its data and its encoder when the configuration does not give it.

* language and license: ``data.language`` / ``data.license``, else the metadata of the dataset's card (a Hub
  dataset) and, for the language, of the encoder's card (a Hub model or a local folder with a README.md), read
  with huggingface_hub; nothing when neither says (the card then says it is not stated);
* widget examples: ``publish.widget``, else real sentences of the scored split that hold entities, chosen to
  show as many entity types as possible (SpanMarker's cards take theirs from the evaluation data too).
"""

from __future__ import annotations

import logging
from pathlib import Path

from datasets import Dataset
from huggingface_hub import DatasetCard, ModelCard
from huggingface_hub.errors import HFValidationError

from hubtools.data.schemes import split_tag
from hubtools.data.validation import label_names_of

logger = logging.getLogger(__name__)
WIDGET_WORDS = (5, 40)  # a widget sentence is a whole sentence of this many words


def card_metadata(repo_or_folder: str, repo_type: str) -> dict:
    """The YAML metadata of a Hub repo's card, or of ``FOLDER/README.md``; empty when there is none or the Hub
    cannot be reached."""
    card_class = DatasetCard if repo_type == "dataset" else ModelCard
    folder = Path(repo_or_folder).expanduser()
    try:
        if folder.is_dir():
            readme = folder / "README.md"
            return card_class.load(readme).data.to_dict() if readme.is_file() else {}
        return card_class.load(repo_or_folder, repo_type=repo_type).data.to_dict()
    except (OSError, HFValidationError, ValueError) as err:  # offline, no card, not a repo id
        logger.debug("no card metadata for %s: %s", repo_or_folder, err)
        return {}


def as_list(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def derived_language(source_card: dict, encoder_card: dict) -> list[str]:
    """The dataset card's languages, else the encoder's."""
    return as_list(source_card.get("language")) or as_list(encoder_card.get("language"))


def widget_sentences(ds: Dataset, count: int = 4) -> list[str]:
    """Up to ``count`` sentences of ``ds`` (words joined by spaces) that hold entities: greedily the one that
    adds the most entity types not yet shown, then the most entities, then the earliest."""
    names = label_names_of(ds)
    candidates = []
    for row, (words, tags) in enumerate(zip(ds["tokens"], ds["ner_tags"], strict=True)):
        if not WIDGET_WORDS[0] <= len(words) <= WIDGET_WORDS[1]:
            continue
        starts = [split_tag(names[t])[1] for t in tags if names[t].startswith("B-")]
        if starts:
            candidates.append((row, set(starts), len(starts), " ".join(words)))
    chosen: list[str] = []
    shown: set[str] = set()
    while candidates and len(chosen) < count:
        best = max(candidates, key=lambda c: (len(c[1] - shown), c[2], -c[0]))
        candidates.remove(best)
        chosen.append(best[3])
        shown |= best[1]
    return chosen
