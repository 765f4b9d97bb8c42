"""The RNN tagger's classes as hubtools loads a saved tagger: the installed package's, never the copies of its code
that a saved folder carries for ``trust_remote_code=True`` users (:mod:`hubtools.remote_code`)."""

from __future__ import annotations

from pathlib import Path

from hubtools.errors import UsageError
from hubtools.families.rnn_tagger import configuration_rnn_tagger, modeling_rnn_tagger
from hubtools.families.rnn_tagger.modeling_rnn_tagger import RnnTaggerForTokenClassification

# the auto_map that RnnTaggerConfig / RnnTaggerForTokenClassification.register_for_auto_class() write
AUTO_MAP = {"AutoConfig": "configuration_rnn_tagger.RnnTaggerConfig",
            "AutoModelForTokenClassification": "modeling_rnn_tagger.RnnTaggerForTokenClassification"}
# the installed modules whose copies a saved tagger carries
CODE_MODULES = (configuration_rnn_tagger, modeling_rnn_tagger)


def load_installed(model_dir: str | Path, where: str) -> RnnTaggerForTokenClassification:
    """The tagger of ``model_dir`` loaded with the installed classes; UsageError naming ``where`` when they do not
    fit its weights (keys missing, unexpected or of another shape)."""
    model, info = RnnTaggerForTokenClassification.from_pretrained(model_dir, output_loading_info=True,
                                                                  ignore_mismatched_sizes=True)
    bad = sorted({*info["missing_keys"], *info["unexpected_keys"], *(key for key, *_ in info["mismatched_keys"])})
    if bad:
        raise UsageError(f"{where}: the installed RNN tagger classes do not fit its weights (keys "
                         f"{', '.join(bad[:3])}); --trust-remote-code loads it with the folder's own code")
    return model
