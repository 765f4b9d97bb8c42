"""A recipe's whole configuration (:class:`RecipeConfig`), from YAML with a preset and overrides.

A recipe's YAML file has the sections ``data``, ``model``, ``training`` (transformers' ``TrainingArguments``,
see :mod:`hubtools.training.arguments`), ``export``, ``publish`` and, for families that have them, their own
options section; a preset (``--preset tiny``) is a second YAML file merged over it, and command-line
overrides ``section.key=value`` (value parsed as YAML) are merged last. The recipe's family decides which keys
``model`` takes (its model options, :class:`hubtools.config.ModelConfig`); a key it does not read is refused
with the file (or the overrides) that set it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from hubtools.config import (
    DataConfig,
    ExportConfig,
    ModelConfig,
    PublishConfig,
    Where,
    coerce,
    deep_merge,
    mapping,
    model_section,
    nowhere,
    parse_overrides,
    parse_section,
    read_yaml,
)
from hubtools.errors import ConfigError
from hubtools.training.arguments import NerTrainingArguments

ModelT = TypeVar("ModelT", bound=ModelConfig)
OptionsT = TypeVar("OptionsT")

SECTIONS: dict[str, type] = {"data": DataConfig, "export": ExportConfig, "publish": PublishConfig}
OVERRIDES = "the overrides"  # where a key set by section.key=value is said to come from


@dataclass
class RecipeConfig(Generic[ModelT, OptionsT]):
    """A whole recipe: which system, where its run folder goes, and its sections.

    ``model`` is the family's model options (a :class:`~hubtools.config.ModelConfig`); ``options`` holds the
    family's own typed section (the recipe class's ``options_class``; its YAML key is the class's ``SECTION``,
    ``options`` unless it says otherwise), or None for a family without options.
    """

    recipe: str
    data: DataConfig
    model: ModelT
    training: NerTrainingArguments
    export: ExportConfig = field(default_factory=ExportConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    options: OptionsT | None = None
    system: str | None = None
    output_dir: str = "runs/run"

    def to_dict(self) -> dict[str, Any]:
        """The configuration as YAML-like values (what results.json records and :func:`from_dict` reads back)."""
        out: dict[str, Any] = {"recipe": self.recipe, "system": self.system, "output_dir": self.output_dir}
        for name in ("data", "model", "export", "publish"):
            out[name] = dataclasses.asdict(getattr(self, name)) if name != "model" else self.model.to_dict()
        out["training"] = self.training.given_values()
        if self.options is not None:
            out[options_section(type(self.options))] = dataclasses.asdict(self.options)
        return out


def options_section(options_class: type) -> str:
    """The YAML key of a family's options section."""
    return getattr(options_class, "SECTION", "options")


def from_dict(raw: dict, model_class: type[ModelConfig] = ModelConfig, options_class: type | None = None,
              where: Where = nowhere) -> RecipeConfig:
    """Build and validate a RecipeConfig: ``model_class`` (the family's model options) types the ``model``
    section, ``options_class`` the family's options section. Unknown keys raise ConfigError naming them and
    ``where`` they were set."""
    options_key = options_section(options_class) if options_class else None
    top = {f.name for f in dataclasses.fields(RecipeConfig)} - {"options"} | ({options_key} - {None})
    unknown = sorted(set(raw) - top)
    if unknown:
        hint = "" if options_class else " (this recipe takes no options section)"
        raise ConfigError(f"{where(unknown[0])}: unknown configuration key(s) {unknown}; known: {sorted(top)}{hint}")
    for required in ("recipe", "data", "model"):
        if required not in raw:
            raise ConfigError(f"configuration needs a {required!r} section")
    kwargs: dict[str, Any] = {key: raw[key] for key in ("recipe", "system", "output_dir") if key in raw}
    for key, cls in SECTIONS.items():
        if key in raw:
            kwargs[key] = parse_section(key, cls, raw[key], where)
    kwargs["model"] = model_section(model_class, raw["model"], where)
    training = mapping("training", raw.get("training"))
    kwargs["training"] = NerTrainingArguments.from_values(coerce(NerTrainingArguments, training))
    if options_class is not None:
        kwargs["options"] = parse_section(options_key, options_class, raw.get(options_key), where)
    return RecipeConfig(**kwargs)


def _sets(values: Any, key: str) -> bool:
    """The mapping ``values`` sets the dotted ``key``."""
    for part in key.split("."):
        if not isinstance(values, dict) or part not in values:
            return False
        values = values[part]
    return True


def load_config(path: str | Path, preset: str | None = None, overrides: list[str] | None = None,
                output_dir: str | None = None, model_class: type[ModelConfig] = ModelConfig,
                options_class: type | None = None) -> RecipeConfig:
    """Load ``path``, merge ``PATH_STEM-PRESET.yaml`` beside it if a preset is named, then overrides;
    ``model_class`` types the ``model`` section (the family's model options), ``options_class`` the family's
    options section. A refused key is named with the file, or the overrides, that set it."""
    path = Path(path)
    layers = [(str(path), read_yaml(path))]
    if preset:
        preset_path = path.with_name(f"{path.stem}-{preset}.yaml")
        if not preset_path.exists():
            raise ConfigError(f"preset {preset!r} not found: {preset_path} does not exist")
        layers.append((str(preset_path), read_yaml(preset_path)))
    layers.append((OVERRIDES, parse_overrides(overrides or [])))
    raw: dict = {}
    for _, values in layers:
        raw = deep_merge(raw, values)
    if output_dir:
        raw["output_dir"] = output_dir

    def where(key: str) -> str:
        return next((source for source, values in reversed(layers) if _sets(values, key)), nowhere(key))

    return from_dict(raw, model_class, options_class, where)
