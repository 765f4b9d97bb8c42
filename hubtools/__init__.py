"""nerhub's library: build, train, export and publish Named Entity Recognition models on the Hub.

    import hubtools

    run = hubtools.Run.load("runs/finer-tiny")   # a run folder, a pushed model folder or a Hub model repo id
    run.evaluate().scores.f1
    run.predict(["Revenues rose 4 % to $ 3.2 million ."])
    run = hubtools.train("finer", preset="tiny")

:class:`~hubtools.api.Run` and :func:`~hubtools.recipe.train.train` are imported on first use (PEP 562), so that
``import hubtools`` and the modules that only read results (``hubtools.results``, ``hubtools.config``...) load
without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubtools.api import Run
    from hubtools.recipe.train import train

__version__ = "0.1.0"
__all__ = ["Run", "train", "__version__"]
_API = {"Run": "hubtools.api", "train": "hubtools.recipe.train"}  # name -> the module that defines it


def __getattr__(name: str) -> Any:
    """``hubtools.Run`` and ``hubtools.train``, imported on first use."""
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'hubtools' has no attribute {name!r}")
