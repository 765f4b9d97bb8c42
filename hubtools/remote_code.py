"""Which code a model folder runs when hubtools loads it: none of its own unless the user passes
``--trust-remote-code``.

A ``config.json`` that maps the Auto classes to code files of the folder or repo (``auto_map``) runs those files
only when trusted. The project's own RNN taggers (:mod:`hubtools.families.rnn_tagger`) are saved with copies of
``configuration_rnn_tagger.py`` and ``modeling_rnn_tagger.py`` (so that transformers users load them with
``trust_remote_code=True``); hubtools loads them with the classes of the installed package instead, registered with
the transformers Auto classes, so that a run folder of this project needs no trust and runs nothing of its own.
When the folder's copies are not the installed files, a note says so (and which version made the run);
``--trust-remote-code`` runs the folder's own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.errors import UsageError

if TYPE_CHECKING:
    from transformers import PreTrainedModel

logger = logging.getLogger(__name__)

# the auto_map that RnnTaggerConfig / RnnTaggerForTokenClassification.register_for_auto_class() write
OWN_AUTO_MAP = {"AutoConfig": "configuration_rnn_tagger.RnnTaggerConfig",
                "AutoModelForTokenClassification": "modeling_rnn_tagger.RnnTaggerForTokenClassification"}
OWN_MODEL_TYPE = "rnn-tagger"


def own_code(config: dict[str, Any]) -> bool:
    """True for a config.json of this project's RNN taggers: its ``auto_map`` names the project's classes only."""
    return config.get("model_type") == OWN_MODEL_TYPE and config.get("auto_map") == OWN_AUTO_MAP


def check_code(config: dict[str, Any], where: str, trusted: bool) -> None:
    """UsageError naming ``where`` when ``config`` (config.json) runs code of its own folder or repo (other than
    this project's RNN tagger classes) and ``trusted`` (``--trust-remote-code``) is not given."""
    auto_map = config.get("auto_map") or {}
    if auto_map and not trusted and not own_code(config):
        modules = sorted({str(v if isinstance(v, str) else v[0]).split(".")[0] for v in auto_map.values() if v})
        raise UsageError(f"{where}: the model runs code of its own folder or repo (config.json auto_map: "
                         f"{', '.join(f'{m}.py' for m in modules)}); pass --trust-remote-code to run it")


def changed_code_files(model_dir: Path) -> list[str]:
    """The RNN tagger code files in ``model_dir`` whose content is not the installed package's."""
    from hubtools.families.rnn_tagger import configuration_rnn_tagger, modeling_rnn_tagger

    changed = []
    for module in (configuration_rnn_tagger, modeling_rnn_tagger):
        installed = Path(module.__file__)
        copy = model_dir / installed.name
        if copy.is_file() and copy.read_bytes() != installed.read_bytes():
            changed.append(installed.name)
    return changed


def code_note(model_dir: Path, where: str, made_with: str | None) -> str | None:
    """For an RNN tagger folder whose code files are not the installed ones: one line saying that the installed
    classes are used, the version that made it (``made_with``) and how to run the folder's own instead."""
    from hubtools import __version__

    changed = changed_code_files(model_dir)
    if not changed:
        return None
    made = f"made with hubtools {made_with}" if made_with else "made with another version of hubtools"
    return (f"{where}: its code ({', '.join(changed)}) is not the installed hubtools {__version__}'s ({made}); "
            "loading it with the installed classes; --trust-remote-code runs the folder's own code instead")


def register_own_classes() -> None:
    """Register the installed RNN tagger classes with AutoConfig and AutoModelForTokenClassification, so that a
    folder of ``model_type`` rnn-tagger loads with them when remote code is not trusted."""
    from transformers import AutoConfig, AutoModelForTokenClassification

    from hubtools.families.rnn_tagger.configuration_rnn_tagger import RnnTaggerConfig
    from hubtools.families.rnn_tagger.modeling_rnn_tagger import RnnTaggerForTokenClassification

    AutoConfig.register(OWN_MODEL_TYPE, RnnTaggerConfig, exist_ok=True)
    AutoModelForTokenClassification.register(RnnTaggerConfig, RnnTaggerForTokenClassification, exist_ok=True)


def load_token_classifier(model_dir: str | Path, trust_remote_code: bool = False,
                          where: str | None = None) -> PreTrainedModel:
    """The token classifier of ``model_dir``: with ``trust_remote_code`` as its config.json's ``auto_map`` says
    (the folder's own code); otherwise with the installed classes (transformers', this project's RNN tagger; for
    the latter UsageError naming ``where`` when they do not fit its weights: keys missing, unexpected or of
    another shape)."""
    from transformers import AutoConfig, AutoModelForTokenClassification

    if trust_remote_code:
        return AutoModelForTokenClassification.from_pretrained(model_dir, trust_remote_code=True)
    register_own_classes()
    if AutoConfig.from_pretrained(model_dir, trust_remote_code=False).model_type != OWN_MODEL_TYPE:
        return AutoModelForTokenClassification.from_pretrained(model_dir, trust_remote_code=False)
    from hubtools.families.rnn_tagger.modeling_rnn_tagger import RnnTaggerForTokenClassification

    model, info = RnnTaggerForTokenClassification.from_pretrained(model_dir, output_loading_info=True,
                                                                  ignore_mismatched_sizes=True)
    bad = sorted({*info["missing_keys"], *info["unexpected_keys"], *(key for key, *_ in info["mismatched_keys"])})
    if bad:
        raise UsageError(f"{where or model_dir}: the installed RNN tagger classes do not fit its weights (keys "
                         f"{', '.join(bad[:3])}); --trust-remote-code loads it with the folder's own code")
    return model
