"""Model and dataset cards: card data built from a run's typed results, rendering, and local checks.

``render_cards(RUN)`` writes ``RUN/model/README.md`` and ``RUN/dataset/README.md`` (both or neither) from the
templates of ``cards/`` (:mod:`hubtools.cards.render`); ``check_cards(RUN)`` lists what is wrong with them
(:mod:`hubtools.cards.checks`). The metadata are huggingface_hub's ``ModelCardData`` / ``DatasetCardData``
(:mod:`hubtools.cards.data`). A recipe adds a section by listing template names in results ``card_sections``
(``["distillation"]`` includes ``section_distillation.md.j2``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hubtools.cards.checks import check_dataset_card, check_model_card
from hubtools.cards.data import CardContext
from hubtools.cards.render import render, template_dirs
from hubtools.results import RunResults
from hubtools.run import atomic_write_text, read_results

MODEL_TEMPLATE = "model_card.md.j2"
DATASET_TEMPLATE = "dataset_card.md.j2"


def card_texts(run_dir: str | Path, results: RunResults, *, model_repo_id: str | None = None,
               dataset_repo_id: str | None = None, templates: str | Path | None = None,
               space_repo_id: str | None = None) -> tuple[str, str]:
    """The model and dataset card texts of a run (rendered, not written): for the repos they are published to
    when repo ids are given, else for the run folder itself (its snippets load the folder they run from); the
    model card links the demo Space ``space_repo_id`` when given."""
    run_dir = Path(run_dir)
    context = CardContext.build(results, model_repo_id, dataset_repo_id,
                                benchmark_plot=(run_dir / "plots" / "benchmark.png").is_file(),
                                space_repo_id=space_repo_id)
    values = {"results": results, **{k: v for k, v in dataclasses.asdict(context).items() if v is not None}}
    dirs = template_dirs(templates or results.publish.templates)
    return render(MODEL_TEMPLATE, values, dirs), render(DATASET_TEMPLATE, values, dirs)


def card_paths(run_dir: str | Path) -> tuple[Path, Path]:
    """Where a run folder's model card and dataset card lie: ``RUN/model/README.md``, ``RUN/dataset/README.md``."""
    return Path(run_dir) / "model" / "README.md", Path(run_dir) / "dataset" / "README.md"


def render_cards(run_dir: str | Path, results: RunResults | None = None, *, model_repo_id: str | None = None,
                 dataset_repo_id: str | None = None, templates: str | Path | None = None) -> tuple[Path, Path]:
    """Write RUN/model/README.md and RUN/dataset/README.md (both or neither); ``results`` default to the run
    folder's results.json, ``templates`` to ``publish.templates``; without repo ids the cards describe the run
    folder (``hubtools push`` renders them again for the repos it publishes to)."""
    run_dir = Path(run_dir)
    results = results or read_results(run_dir)
    model_card, dataset_card = card_texts(run_dir, results, model_repo_id=model_repo_id,
                                          dataset_repo_id=dataset_repo_id, templates=templates)
    model_path, dataset_path = card_paths(run_dir)
    atomic_write_text(model_path, model_card)
    atomic_write_text(dataset_path, dataset_card)
    return model_path, dataset_path


def check_cards(run_dir: str | Path) -> list[str]:
    """Problems with the rendered cards of a run folder (empty when both are fine)."""
    run_dir = Path(run_dir)
    results = read_results(run_dir)
    return check_model_card(run_dir, results) + check_dataset_card(run_dir, results)
