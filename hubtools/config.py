"""The sections of a recipe's configuration, typed and validated when parsed, and the YAML they are read from.

``data``, ``export`` and ``publish`` are the same for every model family; ``model`` holds the keys every family
reads (:class:`ModelConfig`), and each family's subclass adds the keys only it reads and types ``from_scratch``.
A section refuses a key it does not read with one line naming the key, where it was set and the family. The
whole configuration, with the Trainer's arguments and the family's own options section, is
:class:`hubtools.recipe.config.RecipeConfig`. Nothing here imports torch: results readers use these sections.
"""

from __future__ import annotations

import codecs
import dataclasses
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from hubtools.errors import ConfigError
from hubtools.paths import looks_like_path

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound="ModelConfig")
Where = Callable[[str], str]  # a dotted key (model.from_scratch.dim) -> where it was set, for error messages


def nowhere(key: str) -> str:
    """Where a key of a configuration given as a mapping was set: no file to name."""
    return "the configuration"


@dataclass
class DataConfig:
    """Where the sentences come from and how they are relabelled.

    Attributes:
        source: Hub dataset id, local file or folder, or ``generate:NAME`` for a generated dataset in the
            Hub schema (see ``hubtools.data.generate``).
        name: the published name of the built dataset (e.g. ``finer-selected-4-labels``).
        config_name: Hub dataset configuration (``supervised`` for Few-NERD).
        revision: Hub revision (branch, tag or commit) to load.
        data_files: split name -> file name inside a local ``source`` folder whose files are not named by split.
        tokens_column / tags_column: source column names, renamed to ``tokens`` / ``ner_tags``.
        document_column: the source column of document ids (tabular and Hub sources; column files use
            ``-DOCSTART-`` lines, brat corpora their documents): kept as ``document_id``, with each sentence's
            position in its document as ``sentence_id``, for ``model.document_context``.
        strip_token_prefix: remove this prefix from every token that has it (WikiANN's ``en:``).
        label_names: names of the integer tag ids, for a source whose tags are plain integers (no ClassLabel):
            Hub datasets, JSON lines or parquet files. For a source with a ClassLabel they must equal its names;
            with tag names (strings) they are refused.
        labels_file: the same names from a file, one per line in id order (blank lines ignored), read with
            ``encoding``; instead of ``label_names``.
        scheme: tagging scheme of the source (``auto`` detects it); everything is converted to IOB2.
        filters: keep only rows whose columns equal these values (``{"lang": "en"}``).
        num_types: select this many entity types with ``selection_rule`` (None keeps all).
        selection_rule: ``balanced`` or ``top`` (see ``hubtools.data.labels.select_types``).
        types: explicit source entity types to keep, every other tag set to O (overrides ``num_types``).
        rename: source type -> published type name.
        drop_without_entities: drop sentences that have no entity after relabelling.
        split_ratios: re-split all sentences (train/validation/test ratios, stratified by type); None keeps
            the source splits.
        max_samples: cap per split (``{"train": 1000}``), applied after building, for quick runs.
        generate: keyword arguments for the generator when ``source`` is ``generate:NAME``.
        skip_malformed: skip column-file lines whose column count differs from the file's (or whose token or
            tag is empty) instead of failing; how many were skipped is recorded in the build record
            (``skipped_lines``) and the dataset card.
        encoding: text encoding of local files (column files, JSON lines, brat, labels files): ``utf-8``
            (a byte-order mark is dropped), ``latin-1``, ``cp1252``, ``utf-16``... (any Python codec).
        license / license_name / license_link / language: metadata of the dataset card (a Hub license
            identifier, or ``other`` with its name; language codes). Unset, they come from the Hub dataset's
            own card, and the language from the encoder's card (``hubtools.metadata``); else ``unknown`` /
            not stated.
        seed: seed of the split.
    """

    source: str = ""
    name: str = ""
    config_name: str | None = None
    revision: str | None = None
    data_files: dict[str, str] = field(default_factory=dict)
    tokens_column: str = "tokens"
    tags_column: str = "ner_tags"
    document_column: str | None = None
    strip_token_prefix: str | None = None
    label_names: list[str] | None = None
    labels_file: str | None = None
    scheme: str = "auto"
    filters: dict[str, Any] = field(default_factory=dict)
    num_types: int | None = None
    selection_rule: str = "balanced"
    types: list[str] | None = None
    rename: dict[str, str] = field(default_factory=dict)
    drop_without_entities: bool = False
    split_ratios: list[float] | None = None
    max_samples: dict[str, int] = field(default_factory=dict)
    generate: dict[str, Any] = field(default_factory=dict)
    skip_malformed: bool = False
    encoding: str = "utf-8"
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    language: list[str] = field(default_factory=list)
    seed: int = 42

    def __post_init__(self) -> None:
        if not self.source:
            raise ConfigError("data.source is required (a Hub dataset id, a local path or generate:NAME)")
        if self.selection_rule not in ("balanced", "top"):
            raise ConfigError(f"data.selection_rule must be 'balanced' or 'top', got {self.selection_rule!r}")
        if self.num_types is not None and self.num_types < 1:
            raise ConfigError(f"data.num_types must be positive, got {self.num_types}")
        if self.split_ratios is not None:
            if len(self.split_ratios) != 3 or any(r <= 0 for r in self.split_ratios):
                raise ConfigError(f"data.split_ratios needs three positive numbers, got {self.split_ratios}")
            if abs(sum(self.split_ratios) - 1.0) > 1e-6:
                raise ConfigError(f"data.split_ratios must sum to 1, got {self.split_ratios}")
        if isinstance(self.language, str):
            self.language = [self.language]
        try:
            codecs.lookup(self.encoding)
        except (LookupError, TypeError):
            raise ConfigError(f"data.encoding: unknown encoding {self.encoding!r} (e.g. utf-8, latin-1, cp1252)") \
                from None
        if self.label_names is not None and self.labels_file:
            raise ConfigError("data.label_names and data.labels_file both name the labels; set one of them")
        if self.label_names is not None and (not isinstance(self.label_names, list) or not self.label_names
                                             or not all(isinstance(n, str) for n in self.label_names)):
            raise ConfigError(f"data.label_names must be a non-empty list of names, got {self.label_names!r}")


@dataclass
class Sizes:
    """The values of a model built from scratch (``model.from_scratch``): a family's subclass names the keys its
    model's configuration reads; a key left unset (None) keeps that configuration's default."""

    def given(self) -> dict[str, Any]:
        """The values set: what the model's configuration receives and results.json records."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


@dataclass
class ModelConfig:
    """The model to train: the keys every family reads. A family's subclass (its ``MODEL_OPTIONS``, see
    :mod:`hubtools.families`) adds the keys only it reads and names the architectures it builds from scratch.

    Attributes:
        name_or_path: Hub model id or local folder (weights and tokenizer).
        hub_id: the Hub id of the weights when ``name_or_path`` is a local folder (the card's ``base_model``;
            without it a model fine-tuned from a folder names no base model).
        from_scratch: when set, build an untrained model of ``architecture`` with these values (the family's
            sizes, below) and train its tokenizer on the training split (the tiny presets).
        architecture: the model ``from_scratch`` builds, one the family knows (``distilbert`` or ``bert`` for
            token classification and distillation, ``bert`` for SpanMarker, ``rnn-tagger``); the family's own by
            default.
        lowercase: lowercase in the tokenizer trained for a model built from scratch.
        max_length: maximum sub-tokens per window (capped by the model's position embeddings).
        stride: sub-tokens of overlap between windows of a long sentence.
    """

    FAMILY: ClassVar[str] = ""  # the family whose model options these are (named in error messages)
    ARCHITECTURES: ClassVar[dict[str, type[Sizes]]] = {}  # model.architecture -> its from_scratch class

    name_or_path: str = ""
    hub_id: str | None = None
    from_scratch: Sizes | None = None
    architecture: str = ""
    lowercase: bool = True
    max_length: int = 512
    stride: int = 32

    def __post_init__(self) -> None:
        if not self.name_or_path and self.from_scratch is None:
            raise ConfigError("model.name_or_path is required unless model.from_scratch is set")
        if self.from_scratch is not None and not isinstance(self.from_scratch, self.sizes_class(self.architecture)):
            raise ConfigError(f"model.from_scratch must be a mapping of {self.architecture} sizes "
                              f"({self.sizes_class(self.architecture).__name__}), got {self.from_scratch!r}")
        if self.max_length < 8:
            raise ConfigError(f"model.max_length must be at least 8, got {self.max_length}")
        if not 0 <= self.stride < self.max_length // 2:
            raise ConfigError(f"model.stride must be in [0, max_length/2), got {self.stride}")

    @classmethod
    def sizes_class(cls, architecture: str) -> type[Sizes]:
        """The class of ``from_scratch`` for ``architecture``; a ConfigError naming the family's architectures."""
        if architecture not in cls.ARCHITECTURES:
            built = ", ".join(cls.ARCHITECTURES) or "none"
            raise ConfigError(f"model.architecture {architecture!r} cannot be built from scratch; the "
                              f"{cls.FAMILY or 'shared'} model section builds: {built}")
        return cls.ARCHITECTURES[architecture]

    def scratch_values(self) -> dict[str, Any] | None:
        """``from_scratch`` as the values given (the keywords of the model's configuration), None for a pretrained
        model."""
        return None if self.from_scratch is None else self.from_scratch.given()

    def encoder_changes(self) -> dict[str, Any]:
        """What the section changes in a pretrained encoder as it is fine-tuned (the card lists it): none of the
        shared keys do; a family's own may."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """The section as YAML values, ``from_scratch`` as given (what results.json records)."""
        return {**dataclasses.asdict(self), "from_scratch": self.scratch_values()}

    @property
    def base_model_id(self) -> str | None:
        """The Hub id of the weights fine-tuned: ``hub_id``, else ``name_or_path`` unless it is a local folder;
        None for a model built from scratch."""
        if self.from_scratch is not None:
            return None
        if self.hub_id:
            return self.hub_id
        return None if looks_like_path(self.name_or_path) or Path(self.name_or_path).exists() else \
            self.name_or_path or None


@dataclass
class ExportConfig:
    """The ONNX stage. Each family's exporter reads some of these options; one set away from its default that the
    run's exporter does not read (``split_attention`` for an RNN tagger or a SpanMarker model) is refused.

    Attributes:
        enabled: run export, quantization, verification and benchmark after training.
        optimize_level: ORTOptimizer level applied before quantization (0 disables).
        gelu_approximation: fuse GELU in its tanh form (FastGelu) when optimizing instead of the exact erf form
            of BERT-family encoders (slower in ONNX Runtime 1.32 on one thread); every variant is verified.
        split_attention: replace each fused attention by int8 Q, K and V GEMMs and the ONNX ``Attention`` op
            (opset 23, onnxruntime >= 1.23) instead of ``QAttention``, whose per-head int8 GEMMs are slower on
            short inputs (see ``hubtools.families.token_classification.onnx_graph``); applies to the fused graph
            (``optimize_level`` > 0).
        drop_padding: with ``split_attention``, run every layer's projections, GELU and layer norms on the real
            tokens of a padded batch only (``hubtools.families.token_classification.onnx_graph.drop_padding``): much
            faster on batches
            of mixed lengths, a few percent slower on one sentence and on length-sorted batches with little
            padding (docs/decisions.md, docs/benchmarks.md).
        quantize: dynamic int8 quantization.
        per_channel: per-channel quantization of the MatMul weights (docs/decisions.md has the
            measurement); an attention left fused (``split_attention`` off) has its packed QKV weights per
            tensor.
        quantize_embeddings: also try quantizing the word embeddings (Gather); kept only if it verifies.
        instruction_set: ``auto`` (chosen for this CPU), ``avx2``, ``avx512``, ``avx512_vnni`` or ``arm64``.
        max_f1_drop: a variant whose test F1 drops by more than this many points is refused.
        min_word_agreement: the fp32 ONNX model of a word tagger must agree with PyTorch on at least this
            fraction of test words.
        min_sentence_agreement: the fp32 ONNX model of a span model (SpanMarker) must find exactly
            PyTorch's entities in at least this fraction of test sentences.
        reproduce_tolerance: the PyTorch model's test F1, recomputed before anything is exported, may differ from
            the run's recorded ``test.f1`` by at most this many points; otherwise the saved model, its labels or its
            tokenizer are not the evaluated ones and nothing is exported.
        max_export_logit_diff: a traced graph (SpanMarker) whose logits differ from PyTorch's by more than this on
            an example batch fails the export before any variant is verified.
        device: ``cpu`` or ``cuda`` (CUDA execution provider, needs onnxruntime-gpu).
        benchmark: measure size, memory, latency and throughput.
        benchmark_sentences: test sentences used by the benchmark (None: all).
    """

    enabled: bool = True
    optimize_level: int = 1
    gelu_approximation: bool = False
    split_attention: bool = True
    drop_padding: bool = True
    quantize: bool = True
    per_channel: bool = True
    quantize_embeddings: bool = True
    instruction_set: str = "auto"
    max_f1_drop: float = 0.5
    min_word_agreement: float = 0.999
    min_sentence_agreement: float = 0.995
    reproduce_tolerance: float = 0.2
    max_export_logit_diff: float = 1e-3
    device: str = "cpu"
    benchmark: bool = True
    benchmark_sentences: int | None = 200

    def __post_init__(self) -> None:
        if self.instruction_set not in ("auto", "avx2", "avx512", "avx512_vnni", "arm64"):
            raise ConfigError(f"export.instruction_set unknown: {self.instruction_set!r}")
        if self.device not in ("cpu", "cuda"):
            raise ConfigError(f"export.device must be cpu or cuda, got {self.device!r}")
        if self.optimize_level not in (0, 1, 2, 99):
            raise ConfigError(f"export.optimize_level must be 0, 1, 2 or 99, got {self.optimize_level}")
        for name in ("min_word_agreement", "min_sentence_agreement"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"export.{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass
class PublishConfig:
    """What the cards say and where the run is published.

    Attributes:
        model_repo_id / dataset_repo_id: default Hub repos of ``hubtools push``.
        license / license_name / license_link: the model's license, a Hub license identifier or ``other``
            with ``license_name`` (and ``license_link``); unset, the data's license (and its name and link). The
            dataset card states the data's.
        tags / widget / description: card metadata, widget sentences and the opening paragraph.
        templates: a folder of card templates that replace the shipped ones of the same name (``cards/``).
    """

    model_repo_id: str | None = None
    dataset_repo_id: str | None = None
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    tags: list[str] = field(default_factory=list)
    widget: list[str] = field(default_factory=list)
    description: str = ""
    templates: str | None = None


def deep_merge(base: dict, update: dict) -> dict:
    """Merge ``update`` into a copy of ``base``; nested dicts merge, other values replace. A mapping that is one
    choice (``rename``, ``filters``, ``data_files``, a distillation ``transfer`` set) replaces the old one whole:
    ``distillation.transfer={}`` means no transfer set, not the preset's."""
    out = dict(base)
    for key, value in update.items():
        replace_whole = key in ("rename", "filters", "data_files", "transfer")
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not replace_whole:
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(items: list[str]) -> dict:
    """Turn ``["training.learning_rate=1e-4", "data.types=[A, B]"]`` into a nested dict (values as YAML; a
    mapping is written in braces, so ``data.strip_token_prefix=en:`` stays the text ``en:``)."""
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        value = yaml.safe_load(raw)
        node[parts[-1]] = raw if isinstance(value, dict) and not raw.lstrip().startswith("{") else value
    return out


def coerce(cls: type, values: dict) -> dict:
    """Turn YAML strings such as ``5e-4`` (YAML 1.1 reads it as a string) into the field's number type."""
    hints = typing.get_type_hints(cls)
    out = dict(values)
    for name, value in values.items():
        hint = str(hints.get(name))
        if isinstance(value, str) and ("float" in hint or "int" in hint) and "str" not in hint:
            try:
                out[name] = int(value) if "float" not in hint else float(value)
            except ValueError:
                raise ConfigError(f"{cls.__name__}.{name}: expected a number, got {value!r}") from None
    return out


def mapping(name: str, values: Any) -> dict:
    """A section's YAML mapping (None: empty); anything else is a ConfigError."""
    if values is not None and not isinstance(values, dict):
        raise ConfigError(f"{name} must be a mapping of keys to values, got {values!r}")
    return dict(values or {})


def refuse_unknown(name: str, cls: type, values: dict, where: Where = nowhere, owner: str = "") -> None:
    """A ConfigError naming the keys of ``values`` that are no field of ``cls``, where the first was set and
    ``owner`` (the family); a class's ``REFUSED`` mapping (key -> why) adds the reason for a key refused on
    purpose."""
    known = {f.name for f in dataclasses.fields(cls)}
    bad = sorted(set(values) - known)
    if bad:
        reasons = "".join(f"; {key}: {why}" for key, why in getattr(cls, "REFUSED", {}).items() if key in bad)
        raise ConfigError(f"{where(f'{name}.{bad[0]}')}: unknown key(s) in {name}{f' ({owner})' if owner else ''}: "
                          f"{bad}; known: {sorted(known)}{reasons}")


def build(name: str, cls: type[T], values: dict) -> T:
    """``cls`` from a checked mapping: numbers coerced, a bad value a ConfigError naming ``name``."""
    try:
        return cls(**coerce(cls, values))
    except TypeError as err:
        raise ConfigError(f"{name}: {err}") from None


def parse_section(name: str, cls: type[T], values: Any, where: Where = nowhere, owner: str = "") -> T:
    """One dataclass section from its YAML mapping; unknown keys and bad values raise ConfigError."""
    values = mapping(name, values)
    refuse_unknown(name, cls, values, where, owner)
    return build(name, cls, values)


def model_section(cls: type[ModelT], values: Any, where: Where = nowhere) -> ModelT:
    """The ``model`` section read by a family's model options ``cls`` (a :class:`ModelConfig`): its keys and those
    of ``from_scratch`` (the sizes of ``model.architecture``) checked, a key the family does not read refused."""
    values = mapping("model", values)
    owner = f"{cls.FAMILY} family" if cls.FAMILY else ""
    refuse_unknown("model", cls, values, where, owner)
    if isinstance(values.get("from_scratch"), dict):
        architecture = values.get("architecture", cls.architecture)  # the class attribute is the field's default
        values["from_scratch"] = parse_section("model.from_scratch", cls.sizes_class(architecture),
                                               values["from_scratch"], where, f"{architecture}, {owner or 'shared'}")
    return build("model", cls, values)


def data_section(source: str, overrides: Sequence[str] = ()) -> DataConfig:
    """The ``data`` section a recipe would get from ``data.source=SOURCE`` plus ``data.key=value`` overrides."""
    parsed = parse_overrides(list(overrides))
    other = sorted(set(parsed) - {"data"})
    if other:
        raise ConfigError(f"only data.key=value settings apply to a data source, got {other}")
    values = parsed.get("data") or {}
    if not isinstance(values, dict):
        raise ConfigError(f"data: expected data.key=value settings, got {values!r}")
    known = {f.name for f in dataclasses.fields(DataConfig)} - {"source"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown key(s) in data: {unknown}; known: {sorted(known)} (the source is the first "
                          f"argument)")
    try:
        return DataConfig(source=source, **values)
    except TypeError as err:
        raise ConfigError(f"data: {err}") from None


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, with an error naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read configuration: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: configuration must be a mapping")
    return data
