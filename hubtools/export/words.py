"""The run's scored split, which every exporter verifies its variants on."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from hubtools.errors import ExportError
from hubtools.results import RunResults


def load_test_split(run_dir: Path, results: RunResults) -> Dataset:
    """The run's scored split (``RUN/dataset/test.parquet``, or ``validation.parquet`` for a dataset without a
    test split) with its ClassLabel names."""
    path = run_dir / "dataset" / f"{results.test.split}.parquet"
    if not path.is_file():
        raise ExportError(f"{path}: missing; verification needs the run's {results.test.split} split")
    return Dataset.from_parquet(str(path))
