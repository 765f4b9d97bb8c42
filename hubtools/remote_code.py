"""Which code a model folder runs when hubtools loads it: none of its own unless the user passes
``--trust-remote-code``.

A ``config.json`` that maps the Auto classes to code files of the folder or repo (``auto_map``) runs those files
only when trusted. The project's own RNN taggers (the rnn-tagger family) are saved with copies of
``configuration_rnn_tagger.py`` and ``modeling_rnn_tagger.py`` (so that transformers users load them with
``trust_remote_code=True``); hubtools loads them with the classes of the installed package instead (the family's
``model`` module, found through :mod:`hubtools.families`), so that a run folder of this project needs no trust and
runs nothing of its own.
When the folder's copies are not the installed files, a note says so (and which version made the run);
``--trust-remote-code`` runs the folder's own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hubtools
from hubtools.errors import UsageError
from hubtools.families import Family, family_of_config

if TYPE_CHECKING:
    from transformers import PreTrainedModel

logger = logging.getLogger(__name__)


def code_family(config: Mapping[str, Any]) -> Family | None:
    """The family of ``config`` (config.json) when its saved models carry code of their own (RNN taggers)."""
    own = family_of_config(config)
    return own if own.code_files else None


def own_code(config: Mapping[str, Any]) -> bool:
    """True for a config.json of this project's RNN taggers: its ``auto_map`` names the project's classes only."""
    own = code_family(config)
    return own is not None and config.get("auto_map") == own.module("model").AUTO_MAP


def check_code(config: Mapping[str, Any], where: str, trusted: bool) -> None:
    """UsageError naming ``where`` when ``config`` (config.json) runs code of its own folder or repo (other than
    this project's RNN tagger classes) and ``trusted`` (``--trust-remote-code``) is not given."""
    auto_map = config.get("auto_map") or {}
    if auto_map and not trusted and not own_code(config):
        modules = sorted({str(v if isinstance(v, str) else v[0]).split(".")[0] for v in auto_map.values() if v})
        raise UsageError(f"{where}: the model runs code of its own folder or repo (config.json auto_map: "
                         f"{', '.join(f'{m}.py' for m in modules)}); pass --trust-remote-code to run it")


def read_config(model_dir: str | Path) -> dict[str, Any]:
    """The config.json of ``model_dir`` ({} when it has none)."""
    path = Path(model_dir) / "config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def changed_code_files(model_dir: Path) -> list[str]:
    """The RNN tagger code files in ``model_dir`` whose content is not the installed package's."""
    own = code_family(read_config(model_dir))
    changed = []
    for module in own.module("model").CODE_MODULES if own is not None else ():
        installed = Path(module.__file__)
        copy = model_dir / installed.name
        if copy.is_file() and copy.read_bytes() != installed.read_bytes():
            changed.append(installed.name)
    return changed


def code_note(model_dir: Path, where: str, made_with: str | None) -> str | None:
    """For an RNN tagger folder whose code files are not the installed ones: one line saying that the installed
    classes are used, the version that made it (``made_with``) and how to run the folder's own instead."""
    changed = changed_code_files(model_dir)
    if not changed:
        return None
    made = f"made with hubtools {made_with}" if made_with else "made with another version of hubtools"
    return (f"{where}: its code ({', '.join(changed)}) is not the installed hubtools {hubtools.__version__}'s "
            f"({made}); loading it with the installed classes; --trust-remote-code runs the folder's own code instead")


def load_token_classifier(model_dir: str | Path, trust_remote_code: bool = False,
                          where: str | None = None) -> PreTrainedModel:
    """The token classifier of ``model_dir``: with ``trust_remote_code`` as its config.json's ``auto_map`` says
    (the folder's own code); otherwise with the installed classes (transformers', this project's RNN tagger; for
    the latter UsageError naming ``where`` when they do not fit its weights: keys missing, unexpected or of
    another shape)."""
    from transformers import AutoModelForTokenClassification

    if trust_remote_code:
        return AutoModelForTokenClassification.from_pretrained(model_dir, trust_remote_code=True)
    own = code_family(read_config(model_dir))
    if own is not None:
        return own.module("model").load_installed(model_dir, where or str(model_dir))
    return AutoModelForTokenClassification.from_pretrained(model_dir, trust_remote_code=False)
