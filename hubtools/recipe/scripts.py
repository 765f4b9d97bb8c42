"""The recipe scripts of a checkout (``recipes/NAME.py``): each one as a module, the recipe class, variant option
and shortcuts it names, and its configuration (``recipes/configs/NAME.yaml``). The documentation site lists them
and :func:`hubtools.train` runs one by name."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

from hubtools.errors import UsageError
from hubtools.recipe.base import Recipe
from hubtools.recipe.cli import Shortcut, Variants

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"


def recipe_script(name: str) -> Path:
    """``recipes/NAME.py`` of the checkout; UsageError when there is none."""
    path = RECIPES_DIR / f"{name}.py"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.py"))) or "none: not a checkout of nerhub"
        raise UsageError(f"recipe {name!r}: no recipes/{name}.py (known: {known}); pass a Recipe class and a "
                         "configuration instead")
    return path


def default_config(name: str) -> Path:
    """The configuration ``recipes/NAME.py`` runs without ``--config``."""
    return RECIPES_DIR / "configs" / f"{name}.yaml"


def recipe_module(name: str) -> ModuleType:
    """``recipes/NAME.py`` imported as a module (a recipe script runs only as ``__main__``)."""
    spec = importlib.util.spec_from_file_location(f"nerhub_recipe_{name}", recipe_script(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recipe_parts(module: ModuleType) -> tuple[type[Recipe], Variants | None, tuple[Shortcut, ...]]:
    """The recipe class, the :class:`~hubtools.recipe.cli.Variants` option (or None) and the
    :class:`~hubtools.recipe.cli.Shortcut` options a recipe script names."""
    values = list(vars(module).values())
    values += [item for value in values if isinstance(value, tuple) for item in value]
    recipes = [v for v in values if inspect.isclass(v) and issubclass(v, Recipe) and v is not Recipe]
    variants = [v for v in values if isinstance(v, Variants)]
    shortcuts = tuple(dict.fromkeys(v for v in values if isinstance(v, Shortcut)))
    return recipes[0], (variants[0] if variants else None), shortcuts
