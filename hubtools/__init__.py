"""nerhub's library: build, train, export and publish Named Entity Recognition models on the Hub.

    import hubtools

    run = hubtools.Run.load("runs/finer-tiny")   # a run folder, a pushed model folder or a Hub model repo id
    run.evaluate().scores.f1
    run.predict(["Revenues rose 4 % to $ 3.2 million ."])
    run = hubtools.train("finer", preset="tiny")

:class:`~hubtools.api.Run` and :func:`~hubtools.api.train` (:mod:`hubtools.api`) are imported on first use, so that
the modules that only read results (``hubtools.results``, ``hubtools.config``...) load without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubtools.api import Run, train

__version__ = "0.1.0"
__all__ = ["Run", "train", "__version__"]
_API = ("Run", "train")


def __getattr__(name: str) -> Any:
    """``hubtools.Run`` and ``hubtools.train``, from :mod:`hubtools.api` (imported on first use)."""
    if name in _API:
        return getattr(importlib.import_module("hubtools.api"), name)
    raise AttributeError(f"module 'hubtools' has no attribute {name!r}")
