"""A recipe run from Python: :func:`train` (``hubtools.train``), which returns the finished run as a
:class:`~hubtools.api.Run`.

It lives beside the recipes rather than in :mod:`hubtools.api` because it needs the training stack (Accelerate,
torch): ``hubtools.Run`` and the ``hubtools`` command load without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from hubtools.api import Run
from hubtools.config import deep_merge, parse_overrides
from hubtools.errors import UsageError
from hubtools.recipe.base import Recipe, command_line
from hubtools.recipe.config import RecipeConfig
from hubtools.recipe.scripts import default_config, recipe_module, recipe_parts, recipe_script


def train(recipe: str | type[Recipe], config: str | Path | RecipeConfig | None = None, *, preset: str | None = None,
          overrides: Sequence[str] = (), output_dir: str | Path | None = None, overwrite: bool = False,
          restart: bool = False) -> Run:
    """Run a recipe in this process and return its finished run folder (:meth:`Run.from_folder`).

    ``recipe`` is a recipe script's name (``"finer"``: the class ``recipes/finer.py`` runs and, without
    ``config``, its ``recipes/configs/finer.yaml``; a checkout of nerhub) or a
    :class:`~hubtools.recipe.base.Recipe` class. ``config`` is a YAML file or a
    :class:`~hubtools.config.RecipeConfig`; ``preset`` merges the file's ``NAME-PRESET.yaml`` over it
    (``"tiny"``), ``overrides`` are ``section.key=value`` settings (a script's variant is its overrides, e.g.
    ``system=B`` and the data keys ``recipes/multinerd.py`` adds), ``overwrite`` and ``restart`` are the
    recipes' options. A run by name records the script command that does the same
    (``python recipes/finer.py --preset tiny``) in results.json and its card; any other the command of this
    process."""
    if isinstance(recipe, str):
        recipe_class, script = recipe_parts(recipe_module(recipe))[0], recipe_script(recipe)
        config = default_config(recipe) if config is None else config
    elif config is None:
        raise UsageError(f"config: {recipe.__name__} needs a configuration (a YAML file or a RecipeConfig)")
    else:
        recipe_class, script = recipe, None
    cfg = recipe_config(recipe_class, config, preset, overrides, output_dir)
    command = None
    if script is not None and not isinstance(config, RecipeConfig):
        given = [] if Path(config) == default_config(recipe) else ["--config", str(config)]
        command = command_line([str(script), *given, *(["--preset", preset] if preset else []),
                                *(["--output-dir", str(output_dir)] if output_dir else []),
                                *(["--overwrite"] if overwrite else []), *(["--restart"] if restart else []),
                                *overrides])
    return Run.from_folder(recipe_class(cfg, command, overwrite=overwrite, restart=restart).run())


def recipe_config(recipe: type[Recipe], config: str | Path | RecipeConfig, preset: str | None = None,
                  overrides: Sequence[str] = (), output_dir: str | Path | None = None) -> RecipeConfig:
    """The configuration :func:`train` runs: a YAML file read as the recipe scripts read it, or a RecipeConfig
    with ``overrides`` applied (a preset is a file beside a YAML file, so it is refused with one)."""
    if not isinstance(config, RecipeConfig):
        return recipe.load_config(config, preset, list(overrides), str(output_dir) if output_dir else None)
    if preset:
        raise UsageError(f"preset {preset!r}: a preset merges NAME-{preset}.yaml beside a YAML configuration; "
                         "this one is a RecipeConfig")
    if overrides:
        config = recipe.config_from_dict(deep_merge(config.to_dict(), parse_overrides(list(overrides))))
    return dataclasses.replace(config, output_dir=str(output_dir)) if output_dir else config
