"""The typed contract between a run's stages: everything a run records, as dataclasses with a schema version.

Each stage returns its own section (the dataset build a :class:`DatasetResult`, the evaluation a
:class:`TestScores`, the export an :class:`ExportResult`, ...); the recipe builds every section first, then
one :class:`RunResults`, which :class:`hubtools.run.RunFolder` writes as ``results.json`` (a later stage adds
its section to a finished run through :func:`hubtools.run.update_results`); nothing changes a section after it
is built. Cards, the ``hubtools`` command and push read it back with :func:`hubtools.run.read_results`, as typed
objects.

:meth:`RunResults.to_dict` / :meth:`RunResults.from_dict` convert to and from JSON values
(:mod:`hubtools.results_json`: strict, errors name the key path); a results.json of another schema version is
refused: the recipe that wrote it runs again to write the current one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from hubtools.config import PublishConfig
from hubtools.errors import ResultsError
from hubtools.results_json import from_dict, to_dict

# what a run is scored and tagged with: its PyTorch weights or an exported ONNX file (the names the exporters
# give them; `hubtools evaluate/predict --variant`)
VARIANTS = ("pytorch", "onnx", "onnx_int8", "onnx_int8_embeddings")

SCHEMA_VERSION = 3
RESULTS_FILE = "results.json"


@dataclass
class BuildRecord:
    """How the published dataset was built from its source (the dataset card's "How it was built")."""

    steps: list[str]
    split_method: str
    selection_rule: str | None = None
    selected_types: list[str] | None = None
    remap: dict[str, str] | None = None
    dropped_without_entities: int | None = None
    source_splits: dict[str, int] | None = None
    filters: dict[str, Any] | None = None
    skipped_lines: int = 0
    analysis: dict[str, Any] | None = None


@dataclass
class DatasetResult:
    """The dataset a run trained and was scored on (returned by :func:`hubtools.data.build.build_dataset`)."""

    name: str
    source: str
    license: str
    language: list[str]
    fingerprint: str
    label_names: list[str]
    entity_types: list[str]
    splits: dict[str, int]
    entity_counts: dict[str, dict[str, int]]
    build: BuildRecord
    source_config: str | None = None
    revision: str | None = None
    license_name: str | None = None
    license_link: str | None = None


@dataclass
class ModelResult:
    """The trained model: its family (which exporter and card usage apply), architecture and limits."""

    family: str
    architecture: str
    model_type: str
    num_parameters: int
    max_length: int
    stride: int | None = None
    base_model: str | None = None
    from_scratch: dict[str, Any] | None = None
    vocab_size: int | None = None
    library_name: str = "transformers"
    remote_code: bool = False
    encoder: str | None = None
    encoder_model_type: str | None = None
    entity_max_length: int | None = None
    marker_max_length: int | None = None
    document_context: int = 0
    case_tokens: int = 0  # cased pieces added to an uncased encoder's vocabulary (model.case_tokens)


@dataclass
class TypeScores:
    """Entity-level scores of one entity type."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Confusion:
    """Word-level confusion between entity types (rows gold, columns predicted, ``O`` first)."""

    labels: list[str]
    matrix: list[list[int]]


@dataclass
class TestScores:
    """Entity-level micro scores of the scored split (seqeval on words), per type and the type confusion.

    ``split`` is the split scored: ``test``, or ``validation`` for a dataset without a test split.
    """

    precision: float
    recall: float
    f1: float
    accuracy: float
    num_sentences: int
    num_words: int
    per_type: dict[str, TypeScores]
    confusion: Confusion
    split: str = "test"


@dataclass
class DatasetEvaluation:
    """The model scored on another dataset (``hubtools evaluate RUN --data SRC``): which entity types were
    matched and scored, which were not, and the word-level scores of the scored ones.

    ``label_map`` maps every scored model type to the data type it was scored as (identity for types matched
    by name). ``model_only`` holds the model's types without a data type, with the number of entities the model
    predicted of them; ``data_only`` the data's types without a model type, with their gold entities. Both were
    set to ``O`` before scoring, so they count neither as hits nor as misses. ``source`` is portable (no machine
    path); ``hub_id``, ``source_config`` and ``revision`` are set for a Hub dataset. ``model`` names what was
    evaluated (the run folder, a model folder or a Hub repo) and ``model_revision`` the Hub commit.
    """

    dataset: str
    source: str
    split: str
    variant: str
    label_map: dict[str, str]
    model_only: dict[str, int]
    data_only: dict[str, int]
    scores: TestScores
    model: str
    created: str
    machine: str
    seconds: float
    hub_id: str | None = None
    source_config: str | None = None
    revision: str | None = None
    model_revision: str | None = None

    def matched(self, data_type: str) -> str:
        """How a scored data type was matched: ``PER`` by name, ``person -> PER`` or ``GPE + LOC -> LOC``."""
        models = [m for m, d in self.label_map.items() if d == data_type]
        return data_type if models == [data_type] else f"{' + '.join(models)} -> {data_type}"

    def same_target(self, other: DatasetEvaluation) -> bool:
        """Whether ``other`` scored the same variant on the same dataset split (a re-evaluation replaces it)."""
        key = ("dataset", "source", "source_config", "revision", "split", "variant")
        return all(getattr(self, k) == getattr(other, k) for k in key)


@dataclass
class MetricSet:
    """Further scores of the test split, named by what they measure (``definition``)."""

    definition: str
    values: dict[str, float]


@dataclass
class EpochScores:
    """One row of the training history: losses and validation scores after an epoch."""

    epoch: float
    step: int
    training_loss: float | None = None
    validation_loss: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    accuracy: float | None = None


@dataclass
class TrainingResult:
    """The hyperparameters a model card lists and the per-epoch history (``validation_rows``: how its
    validation scores read the validation split, ``model.validation_rows`` of a model that reads document
    context; None otherwise)."""

    hyperparameters: dict[str, Any]
    history: list[EpochScores]
    validation_rows: str | None = None

    @property
    def best_validation_f1(self) -> float | None:
        scores = [row.f1 for row in self.history if row.f1 is not None]
        return max(scores) if scores else None


@dataclass
class Timings:
    """Wall-clock seconds of the stages and the training throughput (None for a resumed run)."""

    dataset_s: float
    train_s: float
    evaluate_s: float
    train_words_per_second: float | None = None
    total_s: float | None = None


@dataclass
class Environment:
    """Where the run trained."""

    device: str
    num_processes: int
    fp16: bool
    bf16: bool
    machine: str


@dataclass
class ReferenceModel:
    """The PyTorch model every exported variant is compared with (its weight files' bytes)."""

    file: str
    f1: float
    size_bytes: int
    num_sentences: int
    num_words: int


@dataclass
class VariantReport:
    """One exported file and its verification against PyTorch on the test split.

    ``status`` is ``passed`` or ``failed`` (``reason`` says why); ``agreement`` is the share of test words
    (or sentences, see :attr:`ExportResult.agreement_unit`) predicted exactly as PyTorch predicts them.
    ``size_bytes`` is the file's size (cards show MB, :mod:`hubtools.units`).
    """

    name: str
    file: str
    status: str
    size_bytes: int
    f1: float | None = None
    agreement: float | None = None
    max_abs_logit_diff: float | None = None
    num_sentences: int | None = None
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def file_name(self) -> str:
        """The file's name inside ``onnx/``."""
        return self.file.rsplit("/", 1)[-1]


@dataclass
class BenchmarkRow:
    """Latency at batch 1 and throughput at the benchmark batch size of one variant and thread setting, the
    variant's size and the measuring process's peak resident memory (bytes)."""

    variant: str
    threads: int | str
    latency_p50_ms: float
    latency_p95_ms: float
    throughput_words_s: float
    size_bytes: int
    peak_rss_bytes: int | None = None


@dataclass
class Benchmark:
    """The inference benchmark of the PyTorch model and the published variants."""

    machine: str
    device: str
    num_sentences: int
    num_words: int
    batch_size: int
    rows: list[BenchmarkRow]
    note: str | None = None


@dataclass
class ExportSettings:
    """How the variants were built (what applies to the exporter that ran)."""

    instruction_set: str | None = None
    optimize_level: int | None = None
    gelu_approximation: bool | None = None
    split_attention: bool | None = None
    drop_padding: bool | None = None
    per_channel: bool | None = None
    opset: int | None = None
    int8_scope: str | None = None  # SpanMarker: the nodes the int8 graph quantizes (onnx_export.QUANTIZATION_SCOPES)


@dataclass
class ExportResult:
    """The export stage: the variants written to ``onnx/``, each verified, and the benchmark."""

    exporter: str
    agreement_unit: str
    reference: ReferenceModel
    variants: list[VariantReport]
    settings: ExportSettings = field(default_factory=ExportSettings)
    benchmark: Benchmark | None = None

    def variant(self, name: str) -> VariantReport | None:
        return next((v for v in self.variants if v.name == name), None)

    @property
    def passed(self) -> list[VariantReport]:
        return [v for v in self.variants if v.passed]

    @property
    def smallest_passed(self) -> VariantReport | None:
        return min(self.passed, key=lambda v: v.size_bytes, default=None)


@dataclass
class SpanLengthReport:
    """What SpanMarker's length limits leave out, per split."""

    entity_max_length: int
    model_max_length: int
    entities_over_max_length: dict[str, int]
    sentences_truncated: dict[str, int]


@dataclass
class ModelScore:
    """A model of the distillation comparison on the test split: scores, size (parameter bytes) and PyTorch
    speed."""

    f1: float
    precision: float
    recall: float
    parameters: int
    size_bytes: int
    words_per_second: float
    latency_ms_per_sentence: float


@dataclass
class ComparisonRow(ModelScore):
    """One row of the distillation table: which model, and its speed-up over the teacher."""

    model: str = ""
    name_or_path: str = ""
    speedup: float = 1.0


@dataclass
class SearchRow:
    """One (alpha, temperature) pair of the distillation search and its score."""

    alpha: float
    temperature: float
    score: float


@dataclass
class TeacherReport:
    """The teacher: where it came from, how its labels map to the dataset's, its test scores."""

    model: str
    trained_by_recipe: bool
    label_permutation: list[int]
    test: ModelScore | None = None
    run: str | None = None


@dataclass
class StudentAloneReport:
    """The same student trained without the teacher."""

    run: str
    validation_f1: float | None
    test: ModelScore | None = None


@dataclass
class TransferReport:
    """The transfer set of unlabelled sentences the teacher read for the distilled students."""

    sentences: int
    words: int
    spec: dict[str, Any]


@dataclass
class DistillationReport:
    """The distillation recipe's evidence: chosen pair, search table, teacher, lone student, comparison."""

    alpha: float
    temperature: float
    search_metric: str
    search: list[SearchRow]
    teacher: TeacherReport
    student_alone: StudentAloneReport
    student_from_teacher: bool
    training_sentences: int
    test_split: int
    comparison: list[ComparisonRow]
    transfer: TransferReport | None = None


@dataclass
class WeightAveraging:
    """The mean of the weights at the end of the last epochs against the best checkpoint (RNN taggers'
    ``options.average_last``): both scored on validation, the one kept is the run's model.

    ``kept`` is True when the averaged weights were kept (they scored at least as well as the best checkpoint
    on ``metric``); ``test_f1_not_kept`` is the test F1 of the other weights, for comparison (None until the
    recipe has scored them)."""

    epochs: list[int]
    metric: str
    averaged_validation: float
    best_checkpoint_validation: float
    kept: bool
    test_f1_not_kept: float | None = None


@dataclass
class RunResults:
    """Everything a run records: results.json."""

    recipe: str
    command: str
    created: str
    config: dict[str, Any]
    publish: PublishConfig
    dataset: DatasetResult
    model: ModelResult
    training: TrainingResult
    test: TestScores
    timings: Timings
    environment: Environment
    versions: dict[str, str]
    system: str | None = None
    export: ExportResult | None = None
    extra_scores: dict[str, MetricSet] = field(default_factory=dict)
    span_lengths: SpanLengthReport | None = None
    distillation: DistillationReport | None = None
    averaging: WeightAveraging | None = None
    card_sections: list[str] = field(default_factory=list)
    evaluations: list[DatasetEvaluation] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.publish.license is None:  # the model is published under the data's license unless it has its own
            self.publish = dataclasses.replace(self.publish, license=self.dataset.license,
                                               license_name=self.dataset.license_name,
                                               license_link=self.dataset.license_link)

    def with_evaluation(self, evaluation: DatasetEvaluation) -> RunResults:
        """These results with ``evaluation`` added, replacing an earlier one of the same variant on the same
        dataset split."""
        kept = [e for e in self.evaluations if not e.same_target(evaluation)]
        return dataclasses.replace(self, evaluations=[*kept, evaluation])

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], file: str = RESULTS_FILE) -> RunResults:
        """Typed results from the JSON values of ``file`` (named in errors), of this schema version only."""
        if not isinstance(data, dict):
            raise ResultsError(f"{file} must hold a JSON object, found {type(data).__name__}")
        version = data.get("schema_version", 1)
        if isinstance(version, int) and not isinstance(version, bool) and version < SCHEMA_VERSION:
            raise ResultsError(f"{file}: written by an older nerhub (schema_version {version}, this one reads "
                               f"{SCHEMA_VERSION}); run the recipe again to write it anew")
        if version != SCHEMA_VERSION:
            raise ResultsError(f"{file} has schema_version {version!r}; this nerhub reads version {SCHEMA_VERSION}: "
                               "upgrade nerhub, or run the recipe again with this version")
        return from_dict(cls, data, "results")
