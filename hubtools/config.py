"""Recipe configuration: typed sections validated in ``__post_init__``, loaded from YAML with overrides.

A recipe's YAML file has the sections below; a preset (``--preset tiny``) is a second YAML file merged over
it, and command-line overrides ``section.key=value`` (value parsed as YAML) are merged last.
"""

from __future__ import annotations

import codecs
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hubtools.data.schemes import SCHEMES
from hubtools.errors import ConfigError


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
        license / language: metadata inherited by the dataset card.
        seed: seed of the split.
    """

    source: str = ""
    name: str = ""
    config_name: str | None = None
    revision: str | None = None
    data_files: dict[str, str] = field(default_factory=dict)
    tokens_column: str = "tokens"
    tags_column: str = "ner_tags"
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
    license: str = "other"
    language: list[str] = field(default_factory=lambda: ["en"])
    seed: int = 42

    def __post_init__(self) -> None:
        if not self.source:
            raise ConfigError("data.source is required (a Hub dataset id, a local path or generate:NAME)")
        if self.scheme != "auto" and self.scheme not in SCHEMES:
            raise ConfigError(f"data.scheme must be auto or one of {SCHEMES}, got {self.scheme!r}")
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
class ModelConfig:
    """The model to fine-tune.

    Attributes:
        name_or_path: Hub model id or local folder (weights and tokenizer).
        from_scratch: when set, build an untrained model of ``architecture`` with these config values and
            train a WordPiece tokenizer on the training split (the tiny presets).
        architecture: model type for ``from_scratch`` (``distilbert``, ``bert``).
        vocab_size: WordPiece vocabulary size for ``from_scratch``.
        lowercase: lowercase in the trained tokenizer.
        max_length: maximum sub-tokens per window (capped by the model's position embeddings).
        stride: sub-tokens of overlap between windows of a long sentence.
        reset_head: allow a checkpoint whose classifier has other labels (the head is re-initialized).
    """

    name_or_path: str = ""
    from_scratch: dict[str, Any] | None = None
    architecture: str = "distilbert"
    vocab_size: int = 2000
    lowercase: bool = True
    max_length: int = 512
    stride: int = 32
    reset_head: bool = False

    def __post_init__(self) -> None:
        if not self.name_or_path and self.from_scratch is None:
            raise ConfigError("model.name_or_path is required unless model.from_scratch is set")
        if self.max_length < 8:
            raise ConfigError(f"model.max_length must be at least 8, got {self.max_length}")
        if not 0 <= self.stride < self.max_length // 2:
            raise ConfigError(f"model.stride must be in [0, max_length/2), got {self.stride}")


@dataclass
class TrainingConfig:
    """Hyperparameters, passed to ``transformers.TrainingArguments``.

    ``fp16`` is ``auto`` (on when CUDA is available), ``true`` or ``false``. ``bf16`` is ``auto`` (bf16
    autocast on a CPU run where the CPU has native bf16 instructions, AVX512-BF16 or AMX: 1.5-1.7x the words/s
    of fp32 for MiniLM on CoNLL here, same test F1), ``true`` or ``false``. ``max_tokens_per_batch``
    switches to token-budget batches (sentences sorted into batches of at most this many padded tokens, see
    ``hubtools.training.batching``; ``per_device_train_batch_size`` is then ignored for training).
    ``extra`` is passed to TrainingArguments unchanged.
    """

    learning_rate: float = 5e-5
    num_train_epochs: float = 3.0
    per_device_train_batch_size: int = 16
    per_device_eval_batch_size: int = 32
    gradient_accumulation_steps: int = 1
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    lr_scheduler_type: str = "linear"
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    seed: int = 42
    fp16: str | bool = "auto"
    bf16: str | bool = "auto"
    save_total_limit: int = 2
    metric_for_best_model: str = "f1"
    group_by_length: bool = False
    max_tokens_per_batch: int | None = None
    dataloader_num_workers: int = 0
    logging_steps: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ConfigError(f"training.learning_rate must be positive, got {self.learning_rate}")
        if self.num_train_epochs <= 0:
            raise ConfigError(f"training.num_train_epochs must be positive, got {self.num_train_epochs}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"training.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        for name in ("fp16", "bf16"):
            if getattr(self, name) not in ("auto", True, False):
                raise ConfigError(f"training.{name} must be auto, true or false, got {getattr(self, name)!r}")
        if self.fp16 is True and self.bf16 is True:
            raise ConfigError("training.fp16 and training.bf16 cannot both be true")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"training.{name} must be at least 1, got {getattr(self, name)}")
        if self.max_tokens_per_batch is not None and self.max_tokens_per_batch < 16:
            raise ConfigError(f"training.max_tokens_per_batch must be at least 16, got {self.max_tokens_per_batch}")


@dataclass
class ExportConfig:
    """The ONNX stage.

    Attributes:
        enabled: run export, quantization, verification and benchmark after training.
        optimize_level: ORTOptimizer level applied before quantization (0 disables).
        gelu_approximation: fuse GELU in its tanh form (FastGelu) when optimizing; every variant is verified.
        split_attention: replace each fused attention by one int8 QKV GEMM and the ONNX ``Attention`` op
            (opset 23, onnxruntime >= 1.23) instead of ``QAttention``, whose per-head int8 GEMMs are slower on
            short inputs (see ``hubtools.onnx_graph``); applies to the fused graph (``optimize_level`` > 0).
        quantize: dynamic int8 quantization.
        per_channel: per-channel quantization of the MatMul weights (kept on: MiniLM on CoNLL lost 0.44 F1
            points per tensor, 0.07 per channel); an attention left fused (``split_attention`` off)
            has its packed QKV weights per tensor.
        quantize_embeddings: also try quantizing the word embeddings (Gather); kept only if it verifies.
        instruction_set: ``auto`` (chosen for this CPU), ``avx2``, ``avx512``, ``avx512_vnni`` or ``arm64``.
        max_f1_drop: a variant whose test F1 drops by more than this many points is refused.
        min_word_agreement: fp32 ONNX must agree with PyTorch on at least this fraction of words.
        device: ``cpu`` or ``cuda`` (CUDA execution provider, needs onnxruntime-gpu).
        benchmark: measure size, memory, latency and throughput.
        benchmark_sentences: test sentences used by the benchmark (None: all).
    """

    enabled: bool = True
    optimize_level: int = 1
    gelu_approximation: bool = True
    split_attention: bool = True
    quantize: bool = True
    per_channel: bool = True
    quantize_embeddings: bool = True
    instruction_set: str = "auto"
    max_f1_drop: float = 0.5
    min_word_agreement: float = 0.999
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


@dataclass
class PublishConfig:
    """Metadata for the cards and the default Hub repos."""

    model_repo_id: str | None = None
    dataset_repo_id: str | None = None
    license: str = "apache-2.0"
    tags: list[str] = field(default_factory=list)
    widget: list[str] = field(default_factory=list)
    description: str = ""


@dataclass
class DistillationConfig:
    """Knowledge distillation of a teacher into the run's model (the student), see ``recipe_distillation``.

    Attributes:
        teacher: token-classification model id or folder; its labels are mapped to the dataset's by name.
            ``None`` trains the teacher first (as does ``train_teacher``).
        train_teacher: train the teacher with the same recipe into the sibling run ``OUTPUT_DIR-teacher``.
        teacher_model / teacher_training: values replacing the ``model`` / ``training`` sections for
            training the teacher (e.g. ``{name_or_path: ..., from_scratch: null}``).
        student_from_teacher: the student is ``build_student_from_teacher`` (teacher layers copied) with
            the teacher's tokenizer, instead of the ``model`` section.
        student_layers: layers of that student (None: half the teacher's).
        alphas / temperatures: the grid searched on validation F1 (alpha-major order).
        search_budget: at most this many (alpha, temperature) pairs (None: the whole grid).
        transfer: a transfer set: unlabelled sentences the teacher reads for the distilled students (its
            logits as soft targets, its argmax as their labels), added to the training split; ``{}`` for none.
            Keys: ``split`` (default ``train``), ``skip`` (leading sentences left out, e.g. the ones
            ``data.max_samples`` kept as labelled data), ``max_sentences``, and any ``data`` key (default:
            the ``data`` section without ``max_samples``). Gold tags there are never read.
    """

    teacher: str | None = "dslim/bert-base-NER"
    train_teacher: bool = False
    teacher_model: dict[str, Any] = field(default_factory=dict)
    teacher_training: dict[str, Any] = field(default_factory=dict)
    student_from_teacher: bool = False
    student_layers: int | None = None
    alphas: list[float] = field(default_factory=lambda: [0.25, 0.5])
    temperatures: list[float] = field(default_factory=lambda: [2.0, 4.0])
    search_budget: int | None = None
    transfer: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {"split", "skip", "max_sentences"} | {f.name for f in dataclasses.fields(DataConfig)}
        unknown = sorted(set(self.transfer) - known)
        if unknown:
            raise ConfigError(f"distillation.transfer: unknown key(s) {unknown}; known: {sorted(known)}")
        if int(self.transfer.get("skip", 0)) < 0 or int(self.transfer.get("max_sentences", 1)) < 1:
            raise ConfigError(f"distillation.transfer: skip must be >= 0 and max_sentences >= 1, got {self.transfer}")
        if not self.alphas or not self.temperatures:
            raise ConfigError("distillation.alphas and distillation.temperatures need at least one value each")
        if any(not 0 <= a <= 1 for a in self.alphas) or any(t <= 0 for t in self.temperatures):
            raise ConfigError(f"distillation: alphas must be in [0, 1] and temperatures > 0, got "
                              f"{self.alphas} and {self.temperatures}")
        if self.search_budget is not None and self.search_budget < 1:
            raise ConfigError(f"distillation.search_budget must be at least 1, got {self.search_budget}")
        if self.student_layers is not None and self.student_layers < 1:
            raise ConfigError(f"distillation.student_layers must be at least 1, got {self.student_layers}")

    @property
    def trains_teacher(self) -> bool:
        return self.train_teacher or not self.teacher


@dataclass
class RecipeConfig:
    """A whole recipe: which system, where its run folder goes, and its sections (``distillation`` only in
    distillation recipes)."""

    recipe: str
    data: DataConfig
    model: ModelConfig
    training: TrainingConfig = field(default_factory=TrainingConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    distillation: DistillationConfig | None = None
    system: str | None = None
    output_dir: str = "runs/run"
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain dict for results.json."""
        return dataclasses.asdict(self)


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "training": TrainingConfig, "export": ExportConfig,
             "publish": PublishConfig, "distillation": DistillationConfig}


def deep_merge(base: dict, update: dict) -> dict:
    """Merge ``update`` into a copy of ``base``; nested dicts merge, other values replace."""
    out = dict(base)
    for key, value in update.items():
        replace_whole = key in ("rename", "filters", "data_files")
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not replace_whole:
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(items: list[str]) -> dict:
    """Turn ``["training.learning_rate=1e-4", "data.types=[A, B]"]`` into a nested dict (values as YAML)."""
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return out


def _coerce(cls: type, values: dict) -> dict:
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


def from_dict(raw: dict) -> RecipeConfig:
    """Build and validate a RecipeConfig; unknown keys raise ConfigError naming them."""
    top = {f.name for f in dataclasses.fields(RecipeConfig)}
    unknown = set(raw) - top
    if unknown:
        raise ConfigError(f"unknown configuration key(s) {sorted(unknown)}; known: {sorted(top)}")
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        cls = _SECTIONS.get(key)
        if cls is None:
            kwargs[key] = value
            continue
        known = {f.name for f in dataclasses.fields(cls)}
        bad = set(value or {}) - known
        if bad:
            raise ConfigError(f"unknown key(s) in {key}: {sorted(bad)}; known: {sorted(known)}")
        try:
            kwargs[key] = cls(**_coerce(cls, value or {}))
        except TypeError as err:
            raise ConfigError(f"{key}: {err}") from None
    for required in ("recipe", "data", "model"):
        if required not in kwargs:
            raise ConfigError(f"configuration needs a {required!r} section")
    return RecipeConfig(**kwargs)


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


def load_config(path: str | Path, preset: str | None = None, overrides: list[str] | None = None,
                output_dir: str | None = None) -> RecipeConfig:
    """Load ``path``, merge ``PATH_STEM-PRESET.yaml`` beside it if a preset is named, then overrides."""
    path = Path(path)
    raw = read_yaml(path)
    if preset:
        preset_path = path.with_name(f"{path.stem}-{preset}.yaml")
        if not preset_path.exists():
            raise ConfigError(f"preset {preset!r} not found: {preset_path} does not exist")
        raw = deep_merge(raw, read_yaml(preset_path))
    raw = deep_merge(raw, parse_overrides(overrides or []))
    if output_dir:
        raw["output_dir"] = output_dir
    return from_dict(raw)
