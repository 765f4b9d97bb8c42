"""The run's scored split, which every exporter verifies its variants on."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from hubtools.errors import ExportError
from hubtools.export.base import ScoredModel


def load_test_split(run_dir: Path, scored: ScoredModel) -> Dataset:
    """The run's scored split (``RUN/dataset/test.parquet``, or ``validation.parquet`` for a dataset without a
    test split) with its ClassLabel names."""
    path = run_dir / "dataset" / f"{scored.test.split}.parquet"
    if not path.is_file():
        raise ExportError(f"{path}: missing; verification needs the run's {scored.test.split} split")
    return Dataset.from_parquet(str(path))
