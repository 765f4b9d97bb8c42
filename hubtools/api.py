"""nerhub as a library: a trained model to call (:class:`Run`); a recipe is run with ``hubtools.train``
(:func:`hubtools.recipe.train.train`), which returns one.

    import hubtools

    run = hubtools.Run.load("runs/finer-tiny")      # a run folder, a pushed model folder or a Hub model repo id
    run.results.test.f1                              # results.json, typed
    run.evaluate().scores.f1                         # its own test split again (data="SRC": any other dataset)
    run.predict(["Revenues rose 4 % ."])             # one object per sentence, as `hubtools predict` writes it
    run.export()                                     # the family's ONNX exporter, every variant verified
    run.card()                                       # the cards rendered into the run folder
    run.push("NS/finer-tiny")                        # `hubtools push`, with the same checks

    run = hubtools.train("finer", preset="tiny")     # recipes/finer.py --preset tiny, in this process

The ``hubtools`` command is a thin layer over these (its arguments and printing); errors are the one-line
classes of :mod:`hubtools.errors`, their messages naming the command-line argument that takes the value. This module
does not load torch or Accelerate (a model loads them when it is scored or tags).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubtools.cards import check_cards, render_cards
from hubtools.config import DataConfig
from hubtools.errors import UsageError
from hubtools.evaluation import evaluate_model, record_evaluation
from hubtools.export.base import export_config, export_run
from hubtools.prediction import dataset_rows, text_rows, text_sentences
from hubtools.push import PushReport, Visibility, plan_files, publish_problems, push_run
from hubtools.results import DatasetEvaluation, ExportResult, RunResults
from hubtools.run import read_results
from hubtools.tagging import ModelSource, chosen_split, data_argument, load_data, resolve_model

# the repos `check` renders the cards for when neither the arguments nor the run's publish section name them
PLACEHOLDER_REPO, PLACEHOLDER_DATASET = "NAMESPACE/MODEL", "NAMESPACE/DATASET"


@dataclass
class Run:
    """A trained model to score, tag with, export, card and publish (:meth:`load` it).

    Attributes:
        name: the run folder, model folder or Hub repo id it was loaded from, as given.
        folder: the run folder; None for a model folder or a Hub repo, which are scored and tagged only.
        variant: what :meth:`evaluate` and :meth:`predict` run unless told otherwise: ``pytorch`` or an exported
            ONNX file (``onnx``, ``onnx_int8``, ``onnx_int8_embeddings``).
        revision: the Hub commit a repo was loaded at.
        trust_remote_code: run the model's own code (config.json ``auto_map``) from its folder or repo.
    """

    name: str
    folder: Path | None = None
    variant: str = "pytorch"
    revision: str | None = None
    trust_remote_code: bool = False
    _sources: dict[str, ModelSource] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def load(cls, model: str | Path, *, variant: str = "pytorch", revision: str | None = None,
             trust_remote_code: bool = False) -> Run:
        """The model of a run folder, of a model folder (the layout ``push`` publishes) or of a Hub model repo,
        checked now (:func:`hubtools.tagging.resolve_model`); from the Hub, the files ``variant`` needs are
        downloaded (``HF_ENDPOINT``, ``HF_TOKEN``), at ``revision``."""
        source = resolve_model(str(model), variant, revision, trust_remote_code)
        run = cls(str(model), source.run_dir, variant, source.revision, trust_remote_code)
        run._sources[variant] = source
        return run

    @classmethod
    def from_folder(cls, folder: str | Path) -> Run:
        """A run folder as it lies: nothing is read until it is used, and its model is checked only when it tags
        (export, cards and push need no more)."""
        return cls(str(folder), Path(folder))

    @property
    def results(self) -> RunResults | None:
        """The run's typed results.json, read anew (an export or a recorded evaluation shows at once); for a
        model folder or Hub repo the one it carries, None without."""
        if self.folder is not None:
            return read_results(self.folder)
        return self.source().results

    def source(self, variant: str | None = None) -> ModelSource:
        """The model resolved for ``variant`` (default :attr:`variant`), once."""
        variant = variant or self.variant
        if variant not in self._sources:
            self._sources[variant] = resolve_model(self.name, variant, self.revision, self.trust_remote_code)
        return self._sources[variant]

    def evaluate(self, data: str | Path | DataConfig | None = None, *, split: str | None = None,
                 label_map: str | None = None, variant: str | None = None, batch_size: int = 32) -> DatasetEvaluation:
        """Scores on words, as ``hubtools evaluate``: a split of ``data`` (:func:`data_config`; default the run's
        own saved splits) with entity types matched by name or ``label_map`` (``"MODEL=DATA,..."``), the types
        left unmatched counted, not scored. ``split`` defaults to the split the run was scored on for its own
        data, else to a one-split source's split, else to ``test``. ``.scores`` are the typed
        :class:`~hubtools.results.TestScores`; :meth:`record` adds the evaluation to results.json."""
        variant = variant or self.variant
        return evaluate_model(self.source(variant), data_config(data), split, label_map, variant, batch_size)[0]

    def record(self, evaluation: DatasetEvaluation) -> None:
        """Add ``evaluation`` to the run folder's results.json (``evaluations``; the next card shows it)."""
        record_evaluation(self._run_folder("recording an evaluation"), evaluation)

    def predict(self, texts: str | Iterable[str] | None = None, *, data: str | Path | DataConfig | None = None,
                split: str | None = None, variant: str | None = None, batch_size: int = 32) -> list[dict[str, Any]]:
        """Tag ``texts`` (one text or several; words split at whitespace) or the sentences of ``data``
        (:func:`data_config`; the split ``split``, default every split), as ``hubtools predict`` writes them: one
        object per sentence with its ``tokens``, IOB2 ``tags`` and ``entities`` (``type``, word span ``start`` /
        ``end``, ``text``). For texts also ``line`` (the text's number, from 1: a blank text is skipped), ``text``
        and each entity's character span ``start_char`` / ``end_char``; for data ``split`` and ``index``."""
        if (texts is None) == (data is None):
            raise UsageError("predict: pass texts or data, one of them")
        variant = variant or self.variant
        if texts is not None:
            sentences, lines = text_sentences([texts] if isinstance(texts, str) else texts)
            if not lines:
                return []
        tagger = self.source(variant).decoder(variant, batch_size)
        if texts is not None:
            return list(text_rows(tagger, sentences, lines))
        cfg = data_config(data)
        splits = load_data(cfg)[0]
        return list(dataset_rows(tagger, splits, chosen_split(splits, split, cfg.source, default=None)))

    def export(self, **overrides: Any) -> ExportResult:
        """Export the run's model with its family's exporter (:mod:`hubtools.families`): the ONNX variants built,
        verified against PyTorch, refused past the acceptance policy and benchmarked, into ``RUN/onnx`` and
        results.json. ``overrides`` set keys of the run's ``export`` configuration (``device``, ``benchmark``,
        ``max_f1_drop``...; None keeps the run's)."""
        folder = self._run_folder("export")
        export = export_run(folder, export_config(read_results(folder), **overrides))
        self._sources.clear()  # resolved against the previous export
        return export

    def card(self, *, model_repo_id: str | None = None, dataset_repo_id: str | None = None,
             templates: str | Path | None = None) -> str:
        """Render the model and dataset cards into the run folder (``RUN/model/README.md``,
        ``RUN/dataset/README.md``: :func:`hubtools.cards.render_cards`), for the repos named or else for the
        folder itself; returns the model card's text."""
        model_card, _ = render_cards(self._run_folder("card"), model_repo_id=model_repo_id,
                                     dataset_repo_id=dataset_repo_id, templates=templates)
        return model_card.read_text(encoding="utf-8")

    def check(self, repo_id: str | None = None, dataset_repo_id: str | None = None) -> list[str]:
        """What is wrong with the run's cards and with what a push to ``repo_id`` / ``dataset_repo_id`` (default
        the run's ``publish`` repos, else placeholders) would publish, offline; empty when nothing is."""
        folder = self._run_folder("check")
        publish = read_results(folder).publish
        repo_id = repo_id or publish.model_repo_id or PLACEHOLDER_REPO
        dataset_repo_id = dataset_repo_id or publish.dataset_repo_id or PLACEHOLDER_DATASET
        return check_cards(folder) + [problem for target in plan_files(folder, repo_id, dataset_repo_id)
                                      for problem in publish_problems(target)]

    def push(self, repo_id: str | None = None, *, dataset_repo_id: str | None = None,
             space_repo_id: str | None = None, private: bool = False, visibility: Visibility | None = None,
             revision: str | None = None, commit_message: str | None = None, dry_run: bool = False,
             token: str | None = None, endpoint: str | None = None) -> PushReport:
        """Publish the run folder to the Hub as ``hubtools push`` does (:func:`hubtools.push.push_run`: every
        check first, the dataset repo first, one commit per repo); ``token`` and ``endpoint`` default to
        huggingface_hub's (``HF_TOKEN``, ``HF_ENDPOINT``)."""
        return push_run(self._run_folder("push"), repo_id, dataset_repo_id=dataset_repo_id,
                        space_repo_id=space_repo_id, private=private, visibility=visibility, revision=revision,
                        commit_message=commit_message, dry_run=dry_run, token=token, endpoint=endpoint)

    def _run_folder(self, what: str) -> Path:
        if self.folder is None:
            raise UsageError(f"{self.name}: not a run folder, which {what} needs (a model folder or Hub repo is "
                             "scored and tagged only)")
        return self.folder


def data_config(data: str | Path | DataConfig | None) -> DataConfig | None:
    """``data`` as evaluate and predict read it: a :class:`~hubtools.config.DataConfig` as it is; a Hub dataset
    id, a local file or folder or ``generate:NAME`` read as ``--data SRC`` reads it
    (:func:`hubtools.tagging.data_argument`)."""
    if data is None or isinstance(data, DataConfig):
        return data
    return data_argument(str(data))
