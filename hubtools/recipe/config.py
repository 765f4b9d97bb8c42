"""A recipe's whole configuration (:class:`RecipeConfig`), from YAML with a preset and overrides.

A recipe's YAML file has the sections ``data``, ``model``, ``training`` (transformers' ``TrainingArguments``,
see :mod:`hubtools.training.arguments`), ``export``, ``publish`` and, for families that have them, their own
options section; a preset (``--preset tiny``) is a second YAML file merged over it, and command-line
overrides ``section.key=value`` (value parsed as YAML) are merged last.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubtools.config import (
    DataConfig,
    ExportConfig,
    ModelConfig,
    PublishConfig,
    coerce,
    deep_merge,
    parse_overrides,
    parse_section,
    read_yaml,
)
from hubtools.errors import ConfigError
from hubtools.training.arguments import NerTrainingArguments

SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "export": ExportConfig,
                             "publish": PublishConfig}


@dataclass
class RecipeConfig:
    """A whole recipe: which system, where its run folder goes, and its sections.

    ``options`` holds the family's own typed section (the recipe class's ``options_class``; its YAML key is the
    class's ``SECTION``, ``options`` unless it says otherwise), or None for a family without options.
    """

    recipe: str
    data: DataConfig
    model: ModelConfig
    training: NerTrainingArguments
    export: ExportConfig = field(default_factory=ExportConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    options: Any = None
    system: str | None = None
    output_dir: str = "runs/run"

    def to_dict(self) -> dict[str, Any]:
        """The configuration as YAML-like values (what results.json records and :func:`from_dict` reads back)."""
        out: dict[str, Any] = {"recipe": self.recipe, "system": self.system, "output_dir": self.output_dir}
        for name in ("data", "model", "export", "publish"):
            out[name] = dataclasses.asdict(getattr(self, name))
        out["training"] = self.training.given_values()
        if self.options is not None:
            out[options_section(type(self.options))] = dataclasses.asdict(self.options)
        return out


def options_section(options_class: type) -> str:
    """The YAML key of a family's options section."""
    return getattr(options_class, "SECTION", "options")


def from_dict(raw: dict, options_class: type | None = None) -> RecipeConfig:
    """Build and validate a RecipeConfig; ``options_class`` types the family's options section. Unknown keys
    raise ConfigError naming them."""
    options_key = options_section(options_class) if options_class else None
    top = {f.name for f in dataclasses.fields(RecipeConfig)} - {"options"} | ({options_key} - {None})
    unknown = set(raw) - top
    if unknown:
        hint = "" if options_class else " (this recipe takes no options section)"
        raise ConfigError(f"unknown configuration key(s) {sorted(unknown)}; known: {sorted(top)}{hint}")
    for required in ("recipe", "data", "model"):
        if required not in raw:
            raise ConfigError(f"configuration needs a {required!r} section")
    kwargs: dict[str, Any] = {key: raw[key] for key in ("recipe", "system", "output_dir") if key in raw}
    for key, cls in SECTIONS.items():
        if key in raw:
            kwargs[key] = parse_section(key, cls, raw[key])
    training = raw.get("training") or {}
    if not isinstance(training, dict):
        raise ConfigError(f"training must be a mapping of keys to values, got {training!r}")
    kwargs["training"] = NerTrainingArguments.from_values(coerce(NerTrainingArguments, training))
    if options_class is not None:
        kwargs["options"] = parse_section(options_key, options_class, raw.get(options_key))
    return RecipeConfig(**kwargs)


def load_config(path: str | Path, preset: str | None = None, overrides: list[str] | None = None,
                output_dir: str | None = None, options_class: type | None = None) -> RecipeConfig:
    """Load ``path``, merge ``PATH_STEM-PRESET.yaml`` beside it if a preset is named, then overrides;
    ``options_class`` types the family's options section."""
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
    return from_dict(raw, options_class)
